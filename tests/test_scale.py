"""Inputs tried at scale: property tests of the splitter and of target alignment.

Random lengths, window settings, column orders and gaps: either a clear error or a
correct result, checked against naive loops; never a silent misalignment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backtest.config import ModelConfig, config_from_mapping
from backtest.engine.walkforward import plan_jobs, prepare
from backtest.features import FeatureSet, Variant, make_sequences
from backtest.splits import WalkForward, WindowKind

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the splitter --------------------------------------------------------------------------


@st.composite
def walk_forwards(draw):
    min_train = draw(st.integers(1, 60))
    window = draw(st.sampled_from(WindowKind))
    train_size = draw(st.one_of(st.none(), st.integers(min_train, min_train + 40)))
    refit_every = draw(st.integers(1, 15))
    n_samples = draw(st.integers(1, 200))
    return WalkForward(min_train, window, train_size, refit_every), n_samples


@SETTINGS
@given(walk_forwards())
def test_splits_partition_the_forecast_months_and_never_look_ahead(case):
    splitter, n = case
    if n <= splitter.min_train_size:
        with pytest.raises(ValueError, match=rf"Too few samples={n} for min_train_size="):
            list(splitter.split(n))
        return
    splits = list(splitter.split(n))
    assert len(splits) == splitter.get_n_splits(n)
    forecast = np.concatenate([s.test for s in splits])
    # every sample after the first training window is forecast exactly once, in order
    np.testing.assert_array_equal(forecast, np.arange(splitter.min_train_size, n))
    size = splitter.train_size or splitter.min_train_size
    previous = None
    for split in splits:
        train, test = split.train, split.test
        assert 1 <= len(test) <= splitter.refit_every
        assert len(train) >= 1 and train.min() >= 0
        assert train.max() < test.min(), "a training sample at or after the forecast origin"
        assert not set(train) & set(test)
        np.testing.assert_array_equal(train, np.arange(train[0], train[-1] + 1))
        assert train[-1] + 1 == test[0], "the newest known sample must be used"
        if splitter.window == WindowKind.EXPANDING:
            assert train[0] == 0
        else:
            assert len(train) == min(size, test[0])
        if previous is not None:
            assert test[0] > previous.test[0] and train[0] >= previous.train[0]
        previous = split


# --- target alignment: a sequence ending at month t is paired with month t + 1 -------------


def _month_ends(n: int, start: str = "2001-01-31") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="ME", name="date")


@st.composite
def feature_sets(draw):
    n_months = draw(st.integers(2, 40))
    lookback = draw(st.integers(1, n_months - 1))
    n_features, n_targets = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    index = _month_ends(n_months)
    features = pd.DataFrame(
        rng.normal(size=(n_months, n_features)),
        index=index,
        columns=[f"f{i}" for i in rng.permutation(n_features)],
    )
    targets = pd.DataFrame(
        rng.normal(size=(n_months, n_targets)),
        index=index,
        columns=[f"t{i}" for i in rng.permutation(n_targets)],
    )
    return FeatureSet(features, targets), lookback


@SETTINGS
@given(feature_sets())
def test_sequences_pair_each_window_with_the_next_months_targets(case):
    feature_set, lookback = case
    features, targets = feature_set.features, feature_set.targets
    seq = make_sequences(feature_set, lookback)
    assert seq.feature_names == tuple(features.columns)
    assert seq.target_names == tuple(targets.columns)
    n_samples = len(features) - lookback + 1
    assert seq.X.shape == (n_samples, lookback, features.shape[1])
    assert seq.n_labelled == n_samples - 1
    for i in range(n_samples):  # the naive loop
        window = features.iloc[i : i + lookback]
        np.testing.assert_array_equal(seq.X[i], window.to_numpy())
        assert seq.origins[i] == window.index[-1]
        assert seq.target_dates[i] == seq.origins[i] + pd.offsets.MonthEnd(1)
        if i < n_samples - 1:
            np.testing.assert_array_equal(seq.y[i], targets.loc[seq.target_dates[i]].to_numpy())
        else:
            assert np.isnan(seq.y[i]).all(), "the live sample has no target"


@st.composite
def price_panels(draw):
    """Month-end prices in a random column order, sometimes with months missing."""
    names = ["A", "B", "C", "X", "Y"]
    n_months = draw(st.integers(20, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    index = _month_ends(n_months)
    n_gaps = draw(st.sampled_from([0, 0, 1, 2]))
    if n_gaps:
        drop = rng.choice(np.arange(1, n_months - 1), size=n_gaps, replace=False)
        index = index.delete(drop)
    order = [names[i] for i in rng.permutation(len(names))]
    steps = rng.normal(0.0, 0.05, size=(len(index), len(names)))
    prices = pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=order)
    targets = tuple(names[i] for i in rng.permutation(3))
    relatives = tuple(draw(st.permutations(["X", "Y"])))
    return prices, targets, relatives, n_gaps


@SETTINGS
@given(price_panels(), st.sampled_from([Variant.BASE, Variant.RELATIVES]), st.integers(1, 6))
def test_prepared_targets_are_next_months_log_returns_by_name_or_an_error(case, variant, lookback):
    prices, targets, relatives, n_gaps = case
    config = config_from_mapping(
        {
            "targets": targets,
            "relatives": relatives,
            "variant": variant,
            "min_train": 8,
            "model": ModelConfig(lookback=lookback),
        }
    )
    assume(len(prices) >= 1 + lookback - 1 + config.walk_forward.min_train + 1)
    if n_gaps:
        with pytest.raises(ValueError, match=r"missing month|consecutive month"):
            prepare(config, prices)
        return
    seq, _ = prepare(config, prices)
    assert seq.target_names == targets
    inputs = list(targets) if variant is Variant.BASE else list(relatives)
    assert seq.feature_names == tuple(inputs)
    log_prices = np.log(prices)
    for i in range(seq.n_labelled):  # the naive loop, by name and date
        t, t1 = seq.origins[i], seq.target_dates[i]
        assert t1 == t + pd.offsets.MonthEnd(1)
        expected = (log_prices.loc[t1] - log_prices.loc[t])[list(targets)].to_numpy()
        np.testing.assert_allclose(seq.y[i], expected, rtol=1e-12, atol=1e-15)
        last_inputs = (log_prices.loc[t] - log_prices.shift(1).loc[t])[inputs].to_numpy()
        np.testing.assert_allclose(seq.X[i, -1], last_inputs, rtol=1e-12, atol=1e-15)
    # and the windows the engine plans train only on targets known at their origin
    for job in plan_jobs(config, seq):
        a, b, c, _ = job.rows
        assert seq.target_dates[b - 1] <= seq.origins[c]
        np.testing.assert_array_equal(job.y_train, seq.y[a:b])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.drop(p.index[16]), "2002-04 is followed by 2002-06"),
        (lambda p: pd.concat([p.iloc[:5], p.iloc[4:]]), "2001-05 is followed by 2001-05"),
        (
            lambda p: p.iloc[[*range(10), 11, 10, *range(12, len(p))]],
            "2001-10 is followed by 2001-12",
        ),
    ],
    ids=["missing-month", "duplicate-month", "unsorted"],
)
def test_prices_with_a_broken_monthly_index_are_rejected_naming_the_months(rng, edit, message):
    index = _month_ends(40)
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.05, (40, 2)), axis=0)),
        index=index,
        columns=["A", "X"],
    )
    config = config_from_mapping(
        {
            "targets": ("A",),
            "relatives": ("X",),
            "variant": Variant.BASE,
            "min_train": 8,
            "model": ModelConfig(lookback=3),
        }
    )
    prepare(config, prices)  # the intact panel is fine
    with pytest.raises(
        ValueError,
        match=rf"`prices` must hold consecutive months, one row each: "
        rf"{message}; fill the gap",
    ):
        prepare(config, edit(prices))
