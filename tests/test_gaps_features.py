"""Features and splits: the gaps mutation testing found (issue 15).

Expected values come from naive loops written here (Wilder's RSI, simple moving
averages, Bollinger %B, MACD of recursive EMAs), never from ``ta`` or the code tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.features import (
    FeatureSet,
    IndicatorWindows,
    build_features,
    indicator_features,
    make_sequences,
)
from backtest.splits import WalkForward

# Non-default windows: a builder that ignores one (uses ta's default) is caught.
WINDOWS = IndicatorWindows(rsi=5, sma=4, bollinger=6, macd_fast=3, macd_slow=7)


def _prices(n_months=40, names=("A", "B"), seed=3):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2010-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.05, size=(n_months, len(names)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list(names))


def _recursive(x, alpha, first_valid):
    """s_0 = x_0, s_t = s_{t-1} + alpha (x_t - s_{t-1}); NaN before ``first_valid``."""
    out, s = np.full(len(x), np.nan), x[0]
    for t, value in enumerate(x):
        s = value if t == 0 else s + alpha * (value - s)
        if t >= first_valid:
            out[t] = s
    return out


def _naive_indicators(p, w):
    n = len(p)
    diff = np.r_[0.0, np.diff(p)]
    up = _recursive(np.maximum(diff, 0.0), 1 / w.rsi, w.rsi - 1)
    down = _recursive(np.maximum(-diff, 0.0), 1 / w.rsi, w.rsi - 1)
    with np.errstate(divide="ignore"):  # no down move yet: RSI is 100
        rsi = 1.0 - 1.0 / (1.0 + up / down)
    sma = np.full(n, np.nan)
    for t in range(w.sma - 1, n):
        sma[t] = p[t - w.sma + 1 : t + 1].mean()
    pctb = np.full(n, np.nan)
    for t in range(w.bollinger - 1, n):
        window = p[t - w.bollinger + 1 : t + 1]
        mean, sd = window.mean(), window.std()  # population sd, two of them each side
        pctb[t] = (p[t] - (mean - 2 * sd)) / (4 * sd)
    fast = _recursive(p, 2 / (w.macd_fast + 1), w.macd_fast - 1)
    slow = _recursive(p, 2 / (w.macd_slow + 1), w.macd_slow - 1)
    return np.column_stack([rsi, p / sma - 1.0, pctb, (fast - slow) / p])


def test_indicators_match_naive_formulas_with_their_own_windows():
    prices = _prices()["A"]
    got = indicator_features(prices, WINDOWS)
    assert list(got.columns) == ["A_rsi", "A_sma_gap", "A_bb_pctb", "A_macd"]
    expected = _naive_indicators(prices.to_numpy(), WINDOWS)
    rows = slice(WINDOWS.warmup, None)
    np.testing.assert_allclose(got.to_numpy()[rows], expected[rows], rtol=1e-9, atol=1e-12)
    # With the default windows too (12-month RSI, SMA, Bollinger; MACD 6/12).
    default = IndicatorWindows()
    got = indicator_features(prices, default).to_numpy()[default.warmup :]
    expected = _naive_indicators(prices.to_numpy(), default)[default.warmup :]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_indicator_variant_uses_the_windows_it_is_given_and_reports_the_warmup():
    prices = _prices()
    fs = build_features("indicators", prices, ["A", "B"], windows=WINDOWS)
    returns = np.log(prices).diff()
    naive = _naive_indicators(prices["B"].to_numpy(), WINDOWS)
    complete = ~np.isnan(
        np.column_stack([_naive_indicators(prices[c].to_numpy(), WINDOWS) for c in ("A", "B")])
    ).any(axis=1)
    first = int(np.argmax(complete[1:])) + 1  # first price row (after the first return)
    assert fs.features.index[0] == prices.index[first]
    np.testing.assert_allclose(fs.features["B"], returns["B"].iloc[first:], rtol=1e-12)
    np.testing.assert_allclose(fs.features.iloc[:, 6:].to_numpy(), naive[first:], rtol=1e-9)
    n_dropped = first - 1
    assert fs.notes == (
        f"indicators: dropped the first {n_dropped} months ({prices.index[1]:%Y-%m} .. "
        f"{prices.index[first - 1]:%Y-%m}) as indicator warm-up",
    )


def test_indicator_rows_align_with_returns_when_the_warmup_is_one_month():
    # Windows of 2 give every indicator a value from the second price on: the features
    # then start at the first return, none dropped.
    tiny = IndicatorWindows(rsi=2, sma=2, bollinger=2, macd_fast=1, macd_slow=2)
    prices = _prices(n_months=12)
    fs = build_features("indicators", prices, ["A"], windows=tiny)
    assert fs.features.index[0] == prices.index[1]
    naive = _naive_indicators(prices["A"].to_numpy(), tiny)
    np.testing.assert_allclose(fs.features.iloc[:, 1:].to_numpy(), naive[1:], rtol=1e-9)


def test_indicator_gap_after_the_warmup_is_an_error():
    prices = _prices()
    prices.iloc[25, 0] = np.nan  # a hole well after the warm-up
    with pytest.raises(ValueError, match=r"incomplete at 2012-02, after their warm-up"):
        build_features("indicators", prices, ["A", "B"], windows=WINDOWS)


def test_too_short_for_the_indicators_names_the_months_needed():
    # The naive reference says on which price the last indicator gets its first value
    # (MACD's slow EMA, on the 7th with these windows): that many prices give one feature
    # row, one fewer gives none and an error that names the number.
    first_values = np.isnan(_naive_indicators(_prices()["A"].to_numpy(), WINDOWS)).argmin(axis=0)
    needed = int(first_values.max()) + 1
    assert needed == 7
    fs = build_features("indicators", _prices(n_months=needed), ["A"], windows=WINDOWS)
    assert len(fs.features) == 1
    with pytest.raises(ValueError, match=rf"need at least {needed} months of prices .*, got 6$"):
        build_features("indicators", _prices(n_months=needed - 1), ["A"], windows=WINDOWS)


def test_relatives_variant_message():
    with pytest.raises(ValueError, match=r"^variant 'relatives' needs at least one relative"):
        build_features("relatives", _prices(), ["A"])


def _feature_set(n_months, dtype=np.float64):
    index = pd.date_range("2020-01-31", periods=n_months, freq="ME", name="month")
    values = np.arange(2 * n_months).reshape(n_months, 2).astype(dtype)
    features = pd.DataFrame(values, index=index, columns=["f1", "f2"])
    targets = pd.DataFrame(values[:, :1] * 2, index=index, columns=["t1"])
    return FeatureSet(features=features, targets=targets)


def test_sequences_boundary_is_lookback_plus_one_months():
    seq = make_sequences(_feature_set(4), lookback=3)  # 4 = lookback + 1: one labelled
    assert len(seq.X) == 2 and seq.n_labelled == 1
    with pytest.raises(ValueError, match=r"^lookback=3 needs at least 4 months of features, got 3"):
        make_sequences(_feature_set(3), lookback=3)
    with pytest.raises(ValueError, match=r"^lookback=4 needs at least 5 months of features, got 3"):
        make_sequences(_feature_set(3), lookback=4)


def test_sequences_reject_misaligned_targets_with_a_message():
    fs = _feature_set(6)
    shifted = FeatureSet(features=fs.features, targets=fs.targets.shift(1, freq="ME"))
    with pytest.raises(ValueError, match=r"^features and targets must share one monthly index$"):
        make_sequences(shifted, lookback=2)


def test_sequences_are_float64_named_by_date_and_labelled_by_columns():
    seq = make_sequences(_feature_set(6, dtype=np.float32), lookback=2)
    assert seq.X.dtype == np.float64 and seq.y.dtype == np.float64
    np.testing.assert_array_equal(seq.X[0], [[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(seq.y[:-1, 0], [8.0, 12.0, 16.0, 20.0])
    assert seq.origins.name == "date" and seq.target_dates.name == "date"
    assert seq.feature_names == ("f1", "f2") and seq.target_names == ("t1",)


def test_walk_forward_defaults_are_36_months_expanding_monthly_refits():
    splits = list(WalkForward().split(40))
    assert [len(s.train) for s in splits] == [36, 37, 38, 39]
    assert all(s.train[0] == 0 and len(s.test) == 1 for s in splits)


def test_rolling_train_size_equal_to_min_train_is_allowed():
    splits = list(WalkForward(min_train_size=5, window="rolling", train_size=5).split(8))
    assert [(s.train[0], s.train[-1]) for s in splits] == [(0, 4), (1, 5), (2, 6)]
