from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.features import Variant, build_features, log_returns, make_sequences


def _prices(rng, n_months=60, names=("A", "B", "C")):
    index = pd.date_range("2010-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.05, size=(n_months, len(names)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list(names))


def test_log_returns_are_log_not_simple(rng):
    prices = _prices(rng)
    r = log_returns(prices)
    np.testing.assert_allclose(r.to_numpy(), np.log(prices.to_numpy()[1:] / prices.to_numpy()[:-1]))
    assert r.index[0] == prices.index[1]


def test_target_of_window_ending_at_t_is_return_of_t_plus_1():
    # A hand-made series whose log return in month k is k / 1000: alignment is readable.
    index = pd.date_range("2020-01-31", periods=8, freq="ME", name="date")
    prices = pd.DataFrame({"A": np.exp(np.cumsum(np.arange(8) / 1000))}, index=index)
    fs = build_features("base", prices, ["A"])
    seq = make_sequences(fs, lookback=3)
    # features: returns of months 1..7 -> values 0.001 .. 0.007
    np.testing.assert_allclose(seq.X[0, :, 0], [0.001, 0.002, 0.003])
    assert seq.origins[0] == index[3]
    np.testing.assert_allclose(seq.y[0], [0.004])  # t+1, not t+2 (the seed's defect 2)
    assert seq.target_dates[0] == index[4]
    # the last sample is the live one: it ends at the last month and has no target yet
    assert seq.origins[-1] == index[-1]
    assert np.isnan(seq.y[-1]).all()
    assert seq.target_dates[-1] == index[-1] + pd.offsets.MonthEnd(1)
    assert seq.n_labelled == len(seq.X) - 1


def test_relatives_features_are_the_relatives_log_returns(rng):
    prices = _prices(rng, names=("A", "B", "X", "Y"))
    fs = build_features(Variant.RELATIVES, prices, ["A", "B"], ["Y", "X"])
    assert list(fs.features.columns) == ["Y", "X"]
    pd.testing.assert_frame_equal(fs.features, log_returns(prices)[["Y", "X"]])
    pd.testing.assert_frame_equal(fs.targets, log_returns(prices)[["A", "B"]])


def test_columns_are_labelled_by_the_data_not_a_separate_list(rng):
    prices = _prices(rng, names=("A", "B", "C"))
    shuffled = prices[["C", "A", "B"]]
    a = build_features("base", prices, ["A", "B", "C"])
    b = build_features("base", shuffled, ["A", "B", "C"])
    pd.testing.assert_frame_equal(a.targets, b.targets)
    pd.testing.assert_frame_equal(a.features, b.features)


def test_indicators_are_stationary_transforms_and_warmup_is_reported(rng):
    prices = _prices(rng, n_months=80, names=("A", "B"))
    fs = build_features("indicators", prices, ["A", "B"])
    assert list(fs.features.columns[:5]) == ["A", "A_rsi", "A_sma_gap", "A_bb_pctb", "A_macd"]
    assert fs.features.notna().all().all()
    assert fs.features.index.equals(fs.targets.index)
    assert fs.notes and "warm-up" in fs.notes[0]
    n_dropped = len(log_returns(prices)) - len(fs.features)
    assert str(n_dropped) in fs.notes[0]
    rsi = fs.features.filter(like="_rsi").to_numpy()
    assert ((rsi >= 0) & (rsi <= 1)).all()
    # scale-free: multiplying every price by 1000 leaves the indicators unchanged
    scaled = build_features("indicators", prices * 1000, ["A", "B"])
    np.testing.assert_allclose(scaled.features.to_numpy(), fs.features.to_numpy(), atol=1e-9)


@pytest.mark.parametrize("variant", list(Variant))
def test_features_are_causal(rng, variant):
    prices = _prices(rng, n_months=70, names=("A", "B", "X"))
    cut = prices.index[50]
    perturbed = prices.copy()
    perturbed.loc[perturbed.index > cut] *= np.exp(rng.normal(0, 0.2, size=(19, 3)))
    a = build_features(variant, prices, ["A", "B"], ["X"])
    b = build_features(variant, perturbed, ["A", "B"], ["X"])
    pd.testing.assert_frame_equal(a.features.loc[:cut], b.features.loc[:cut])
    pd.testing.assert_frame_equal(a.targets.loc[:cut], b.targets.loc[:cut])
    assert not a.features.loc[cut:].iloc[1:].equals(b.features.loc[cut:].iloc[1:])


def test_sequences_need_enough_months(rng):
    fs = build_features("base", _prices(rng, n_months=5), ["A"])
    with pytest.raises(
        ValueError, match=r"lookback=12 needs at least 13 months of features, got 4"
    ):
        make_sequences(fs, lookback=12)


def test_relatives_variant_needs_relatives(rng):
    with pytest.raises(ValueError, match="needs at least one relative ticker"):
        build_features("relatives", _prices(rng), ["A"], [])
