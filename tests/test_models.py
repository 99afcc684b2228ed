"""The forecaster contract, the registry, and a new model run end to end through ``run``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from backtest.cli import main
from models import registry
from models.base import Forecaster, HistoricalMean, Zero
from models.lstm import LSTMForecaster

TARGETS, RELATIVES = ("A", "B", "C"), ("X", "Y")


def _prices_csv(rng, path, n_months=70):
    dates = pd.date_range("2015-01-31", periods=n_months, freq="ME")
    names = [*TARGETS, *RELATIVES]
    log_prices = np.cumsum(rng.normal(0.005, 0.05, (n_months, len(names))), axis=0)
    frame = pd.DataFrame(100 * np.exp(log_prices), index=dates, columns=names)
    frame.rename_axis("date").to_csv(path)
    return path


def test_forecasters_clone_with_their_parameters():
    lstm = LSTMForecaster(units=(8, 4), epochs=3, random_state=7)
    copy = clone(lstm)
    assert copy is not lstm and copy.get_params() == lstm.get_params()
    assert clone(Zero()).get_params() == {}
    X, y = np.zeros((5, 2, 3)), np.arange(10.0).reshape(5, 2)
    np.testing.assert_allclose(HistoricalMean().fit(X, y).predict(X[:2]), [[4, 5], [4, 5]])
    np.testing.assert_array_equal(Zero().fit(X, y).predict(X[:3]), np.zeros((3, 2)))


def test_the_registry_names_unknown_models_and_guards_the_benchmark():
    with pytest.raises(ValueError, match=r"unknown model 'nope'; choose from \['lstm'"):
        registry.forecaster_class("nope")
    with pytest.raises(ValueError, match="'hist_mean' is the benchmark every run has"):
        registry.register("hist_mean", Zero)
    with pytest.raises(ValueError, match="a forecaster named 'lstm' is already registered"):
        registry.register("lstm", Zero)


def test_a_registered_toy_forecaster_runs_end_to_end(rng, tmp_path, monkeypatch):
    class Toy(Forecaster):
        def __init__(self, shift: float = 0.001):
            self.shift = shift

        def fit(self, X, y):
            self.mean_ = np.mean(y, axis=0) + self.shift
            return self

        def predict(self, X):
            return np.tile(self.mean_, (len(X), 1))

    monkeypatch.setitem(registry._REGISTRY, "toy", Toy)
    prices = _prices_csv(rng, tmp_path / "prices.csv")
    argv = [
        "run", "--prices", str(prices), "--tickers", *TARGETS, "--relatives", *RELATIVES,
        "--models", "toy", "--lookback", "3", "--min-train", "40", "--n-jobs", "1",
        "--no-progress", "--strategies", "hist_mean", "lstm", "skill",
        "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
        "--run-name", "toy", "--start", "2015-01-01", "--end", "2020-10-01",
    ]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "results" / "toy"
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert set(forecasts.model) == {"toy", "hist_mean"}
    toy = forecasts[forecasts.model == "toy"].set_index(["date", "ticker"]).forecast
    hist = forecasts[forecasts.model == "hist_mean"].set_index(["date", "ticker"]).forecast
    # the toy is the mean of its training targets plus its shift; the first window's
    # targets are the baseline's months, so the two differ by the shift there
    first = forecasts.date.min()
    np.testing.assert_allclose(toy.loc[first], hist.loc[first] + 0.001, rtol=1e-9)
    assert (out / "performance.csv").exists()
