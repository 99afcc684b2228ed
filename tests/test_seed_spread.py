"""The seed spread: an ensemble's members kept through the engine and scored one by one.

A fake ensemble whose members we choose (the training mean plus a member's own multiple of
last month's return) runs through the engine; the stored members, their R2_OS and its
spread are checked against a hand computation on the raw prices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_mapping
from backtest.engine.local import local_runner
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import walk_forward
from backtest.evaluation.models import POOLED, SPREAD_COLUMNS, models_table, seed_sentence
from backtest.features import Variant
from backtest.reports.files import write_forecast_outputs
from models import registry
from models.base import Forecaster

TARGETS = ("A", "B", "C")
OFFSETS = (0.0, 0.3, -0.5, 0.8)


class FakeEnsemble(Forecaster):
    """Member ``k`` forecasts the training mean plus ``offsets[k]`` times last month's return."""

    def __init__(self, offsets: tuple[float, ...] = OFFSETS, random_state: int = 0) -> None:
        self.offsets = offsets
        self.random_state = random_state

    def fit(self, X, y):
        self.mean_ = np.asarray(y).mean(axis=0)
        return self

    def member_predictions(self, X):
        last = np.asarray(X)[:, -1, : len(self.mean_)]
        return np.stack([self.mean_ + k * last for k in self.offsets])

    def predict(self, X):
        return self.member_predictions(X).mean(axis=0)


class Single(Forecaster):
    """A one-member model: the training mean, for the rows without a spread."""

    def fit(self, X, y):
        self.mean_ = np.asarray(y).mean(axis=0)
        return self

    def predict(self, X):
        return np.tile(self.mean_, (len(X), 1))


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "fake", FakeEnsemble)
    monkeypatch.setitem(registry._REGISTRY, "single", Single)


def _prices(rng, n_months=48):
    index = pd.date_range("2012-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(n_months, len(TARGETS) + 1))
    frame = pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index)
    frame.columns = [*TARGETS, "X"]
    return frame


def _panel(prices, tmp_path, models=("fake", "single")):
    config = config_from_mapping(
        dict(
            targets=TARGETS,
            relatives=("X",),
            variant=Variant.BASE,
            min_train=24,
            models=list(models),
            model=dict(lookback=3),
        )
    )
    return walk_forward(config, prices, WindowStore(tmp_path / "store"), local_runner(1))


def _naive_r2_os(realised, forecast, benchmark):
    num = sum((r - f) ** 2 for r, f in zip(realised.ravel(), forecast.ravel(), strict=True))
    den = sum((r - b) ** 2 for r, b in zip(realised.ravel(), benchmark.ravel(), strict=True))
    return 1.0 - num / den


def test_the_panel_keeps_each_member_and_the_ensemble_is_their_mean(rng, tmp_path, fake_models):
    prices = _prices(rng)
    panel = _panel(prices, tmp_path)
    assert list(panel.members) == ["fake"]  # a one-member model keeps no members
    members = panel.members["fake"]
    assert len(members) == len(OFFSETS)
    stacked = np.stack([m.to_numpy() for m in members])
    np.testing.assert_allclose(panel.forecasts["fake"].to_numpy(), stacked.mean(axis=0), rtol=1e-12)
    # member k - member 0 = (offset_k - offset_0) x the return of the month before the one forecast
    returns = np.log(prices[list(TARGETS)]).diff()
    previous = returns.shift(1).loc[panel.dates].to_numpy()
    for k, member in enumerate(members):
        assert member.index.equals(panel.dates) and list(member.columns) == list(TARGETS)
        np.testing.assert_allclose(
            member.to_numpy() - stacked[0], (OFFSETS[k] - OFFSETS[0]) * previous, atol=1e-12
        )


def test_member_r2_os_and_its_spread_match_a_hand_computation(rng, tmp_path, fake_models):
    prices = _prices(rng)
    panel = _panel(prices, tmp_path)
    write_forecast_outputs(panel, tmp_path)
    # the benchmark by hand: the mean of every target return up to the month before each date
    returns = np.log(prices[list(TARGETS)]).diff().iloc[1:]
    bench = np.array([returns.loc[: returns.index[returns.index.get_loc(d) - 1]].mean()
                      for d in panel.dates])  # fmt: skip
    realised = returns.loc[panel.dates].to_numpy()
    stacked = np.stack([m.to_numpy() for m in panel.members["fake"]])
    expected = [_naive_r2_os(realised, stacked[k], bench) for k in range(len(OFFSETS))]
    ensemble = _naive_r2_os(realised, stacked.mean(axis=0), bench)
    assert len(set(np.round(expected, 6))) == len(OFFSETS)  # the members do differ

    table = pd.read_csv(tmp_path / "member_metrics.csv")
    pooled = table[table.ticker == POOLED].sort_values("member")
    assert list(pooled.model) == ["fake"] * len(OFFSETS)
    np.testing.assert_allclose(pooled.r2_os_vs_mean, expected, rtol=1e-9)

    metrics = pd.read_csv(tmp_path / "forecast_metrics.csv")
    row = metrics[(metrics.model == "fake") & (metrics.ticker == POOLED)].iloc[0]
    assert row.n_members == len(OFFSETS)
    np.testing.assert_allclose(
        [row.r2_os_member_min, row.r2_os_member_median, row.r2_os_member_max, row.r2_os_vs_mean],
        [min(expected), np.median(expected), max(expected), ensemble],
        rtol=1e-9,
    )
    # per ticker, too: ticker B's members
    b = metrics[(metrics.model == "fake") & (metrics.ticker == "B")].iloc[0]
    per_b = [_naive_r2_os(realised[:, 1], stacked[k][:, 1], bench[:, 1]) for k in range(4)]
    np.testing.assert_allclose(b.r2_os_member_max, max(per_b), rtol=1e-9)
    for single in ("single", "hist_mean"):
        rows = metrics[metrics.model == single]
        assert (rows.n_members == 1).all() and rows.r2_os_member_median.isna().all()


def _models_table(panel, out):
    return models_table(*write_forecast_outputs(panel, out), panel.primary)


def test_the_models_table_and_sentence_describe_the_spread(rng, tmp_path, fake_models):
    table = _models_table(_panel(_prices(rng), tmp_path), tmp_path)
    assert list(table.columns[-4:]) == SPREAD_COLUMNS
    low, mid, high, ens = table.loc[
        "fake", ["r2_os_member_min", "r2_os_member_median", "r2_os_member_max", "r2_os_vs_mean"]
    ]
    sentence = seed_sentence(table)
    assert sentence.startswith("Seed spread (a description, not a test): ")
    assert f"fake's 4 members runs from {low:+.2%} to {high:+.2%} (median {mid:+.2%})" in sentence
    assert f"the ensemble, scores {ens:+.2%}." in sentence
    assert "single" not in sentence


def test_one_member_models_write_nothing_new(rng, tmp_path, fake_models):
    panel = _panel(_prices(rng), tmp_path, models=("single",))
    table = _models_table(panel, tmp_path)
    assert panel.members == {}
    assert not (tmp_path / "member_metrics.csv").exists()
    assert not set(SPREAD_COLUMNS) & set(pd.read_csv(tmp_path / "forecast_metrics.csv").columns)
    assert not set(SPREAD_COLUMNS) & set(table.columns) and seed_sentence(table) == ""


def test_members_before_a_date_ignore_prices_after_it(rng, tmp_path, fake_models):
    prices = _prices(rng)
    cut = prices.index[40]
    changed = prices.copy()
    changed.loc[changed.index > cut] *= 1.5
    a = _panel(prices, tmp_path / "a", models=("fake",)).members["fake"]
    b = _panel(changed, tmp_path / "b", models=("fake",)).members["fake"]
    for before, after in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(before.loc[:cut], after.loc[:cut])
        assert not before.loc[cut:].iloc[2:].equals(after.loc[cut:].iloc[2:])
