from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.demo import DEMO_RELATIVES, DEMO_TARGETS
from backtest.data.synthetic import MarketModel, SyntheticMarket, conditional_mean, signal_loadings

TARGETS = list(DEMO_TARGETS)
RELATIVES = list(DEMO_RELATIVES)
N_LONG = 20_000
# Tolerances in standard errors of the statistic under normal iid sampling. With 13 assets and
# 136 correlations, 4.5 SE keeps a correct generator passing for any seed with high probability.
N_SE = 4.5


@pytest.fixture(scope="module")
def calibration_prices(real_prices) -> pd.DataFrame:
    """The demo dataset's month-end prices (conftest)."""
    return real_prices.prices[TARGETS + RELATIVES]


@pytest.fixture(scope="module")
def model(calibration_prices) -> MarketModel:
    return MarketModel.calibrate(calibration_prices, TARGETS, RELATIVES)


def small_model(rho: float = 0.6) -> MarketModel:
    """Two targets, two relatives; target i correlates rho with relative i."""
    corr = np.eye(4)
    corr[0, 2] = corr[2, 0] = corr[1, 3] = corr[3, 1] = rho
    vol = np.array([0.08, 0.10, 0.04, 0.05])
    return MarketModel(
        ("A", "B"),
        ("X", "Y"),
        np.array([0.01, 0.02]),
        np.array([0.005, 0.0]),
        corr * np.outer(vol, vol),
    )


def ols_r2(y: np.ndarray, x: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return 1.0 - resid @ resid / np.sum((y - y.mean()) ** 2)


# --- calibration ------------------------------------------------------------------------------


def test_calibrate_uses_sample_means_vols_and_shrunk_correlation(model, calibration_prices):
    log_returns = np.log(calibration_prices).diff().dropna()
    assert model.target_names == tuple(TARGETS) and model.relative_names == tuple(RELATIVES)
    np.testing.assert_allclose(model.target_mean, log_returns[TARGETS].mean(), rtol=1e-12)
    np.testing.assert_allclose(model.relative_mean, log_returns[RELATIVES].mean(), rtol=1e-12)
    np.testing.assert_allclose(model.volatility, log_returns.std(ddof=1), rtol=1e-12)
    sample_corr = log_returns.corr().to_numpy()
    off = ~np.eye(len(sample_corr), dtype=bool)
    # Ledoit-Wolf toward the identity scales every off-diagonal correlation by one factor < 1.
    ratio = model.correlation[off] / sample_corr[off]
    assert 0.8 < ratio.min() and ratio.max() < 1.0
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)


def test_long_simulation_reproduces_calibrated_moments(model):
    sim = model.simulate(N_LONG, signal_r2=0.0, random_state=1).log_returns.to_numpy()
    mean = np.concatenate([model.target_mean, model.relative_mean])
    vol, corr = model.volatility, model.correlation
    # SE(mean) = vol / sqrt(T); SE(std) ~ vol / sqrt(2T); SE(corr) ~ (1 - rho^2) / sqrt(T).
    assert np.all(np.abs(sim.mean(0) - mean) < N_SE * vol / np.sqrt(N_LONG))
    assert np.all(np.abs(sim.std(0, ddof=1) - vol) < N_SE * vol / np.sqrt(2 * N_LONG))
    se_corr = (1 - corr**2) / np.sqrt(N_LONG) + 1e-12
    assert np.all(np.abs(np.corrcoef(sim.T) - corr) < N_SE * se_corr)


# --- planted signal ---------------------------------------------------------------------------


def test_realised_r2_approaches_planted_population_r2(model):
    market = model.simulate(N_LONG, signal_r2=0.05, random_state=2)
    np.testing.assert_allclose(market.population_r2(), 0.05, rtol=1e-10)
    r = market.log_returns[TARGETS].to_numpy()[1:]
    x = market.log_returns[RELATIVES].to_numpy()[:-1]
    realised = np.array([ols_r2(r[:, i], x) for i in range(len(TARGETS))])
    # SE(R2) ~ 2 sqrt(R2) (1 - R2) / sqrt(T); in-sample R2 is biased up by about k / T.
    se = 2 * np.sqrt(0.05) * 0.95 / np.sqrt(N_LONG)
    assert np.all(np.abs(realised - 0.05 - len(RELATIVES) / N_LONG) < N_SE * se)


def test_zero_signal_has_zero_loadings_and_constant_conditional_mean(model):
    market = model.simulate(120, signal_r2=0.0, random_state=3)
    assert market.loadings.shape == (len(TARGETS), len(RELATIVES))
    assert np.all(market.loadings == 0.0)
    np.testing.assert_array_equal(market.population_r2(), 0.0)
    expected = np.broadcast_to(model.target_mean, market.conditional_mean.shape)
    np.testing.assert_array_equal(market.conditional_mean.to_numpy(), expected)
    pd.testing.assert_series_equal(
        market.unconditional_mean,
        pd.Series(model.target_mean, index=TARGETS, name="unconditional_mean"),
    )


@pytest.mark.parametrize("signal_r2", [0.0, 0.05, 0.2])
def test_total_variance_and_comovement_unchanged_by_signal(model, signal_r2):
    market = model.simulate(N_LONG, signal_r2=signal_r2, random_state=4)
    sim = market.log_returns.to_numpy()
    n_tgt, vol = len(TARGETS), model.volatility
    # r_t is serially correlated when signal_r2 > 0: Cov(r_t, r_{t-1}) = (B S_xx G')_ii, so
    # |rho_1| <= sqrt(R2 (1 - R2)) < 0.4 at R2 = 0.2 and the iid standard errors grow by at most
    # sqrt(1 + 2 rho_1^2) < 1.15.
    inflate = 1.15
    se_std = inflate * vol[:n_tgt] / np.sqrt(2 * N_LONG)
    assert np.all(np.abs(sim[:, :n_tgt].std(0, ddof=1) - vol[:n_tgt]) < N_SE * se_std)
    corr = model.correlation[:n_tgt, n_tgt:]
    cross = np.corrcoef(sim.T)[:n_tgt, n_tgt:]
    assert np.all(np.abs(cross - corr) < N_SE * inflate * ((1 - corr**2) / np.sqrt(N_LONG)))
    implied = (market.loadings @ model.covariance[n_tgt:, n_tgt:] @ market.loadings.T).diagonal()
    np.testing.assert_allclose(implied / vol[:n_tgt] ** 2, signal_r2, atol=1e-12)


def test_max_signal_r2_one_pair_is_one_minus_rho_squared():
    # Target i relates only to relative i with correlation rho: C_ii = var_i (1 - rho^2).
    assert small_model(0.6).max_signal_r2() == pytest.approx(1 - 0.36)
    market = small_model(0.6).simulate(24, signal_r2=0.64, random_state=0)
    np.testing.assert_allclose(market.population_r2(), 0.64, rtol=1e-9)


def test_more_targets_than_relatives_hits_the_requested_r2():
    corr = np.array(
        [[1.0, 0.3, 0.2, 0.5], [0.3, 1.0, 0.1, 0.4], [0.2, 0.1, 1.0, 0.3], [0.5, 0.4, 0.3, 1.0]]
    )
    model = MarketModel(("A", "B", "C"), ("X",), np.zeros(3), np.zeros(1), corr * 0.01)
    market = model.simulate(24, signal_r2=0.1, random_state=5)
    np.testing.assert_allclose(market.population_r2(), 0.1, rtol=1e-9)


def test_signal_loadings_scale_and_rejects_bad_r2():
    model = small_model()
    directions = np.eye(2)
    loadings = signal_loadings(model, 0.3, directions)
    s_xx = model.covariance[2:, 2:]
    np.testing.assert_allclose(
        np.diag(loadings @ s_xx @ loadings.T), 0.3 * model.volatility[:2] ** 2
    )
    with pytest.raises(ValueError, match=r"`signal_r2` must be a number in \[0, 1\), got 1.0"):
        signal_loadings(model, 1.0, directions)


# --- output layout, seeds and causality --------------------------------------------------------


def test_simulated_frames_layout(model):
    market = model.simulate(36, signal_r2=0.05, random_state=6, start="2001-02")
    assert isinstance(market, SyntheticMarket)
    prices, log_returns = market.prices, market.log_returns
    assert prices.shape == (37, 13) and log_returns.shape == (36, 13)
    assert list(prices.columns) == TARGETS + RELATIVES
    assert prices.index.name == "date" and log_returns.index.name == "date"
    assert prices.index[0] == pd.Timestamp("2001-02-28")
    assert prices.index[-1] == pd.Timestamp("2004-02-29")
    assert bool((prices.index == prices.index + pd.offsets.MonthEnd(0)).all())
    np.testing.assert_array_equal(prices.iloc[0].to_numpy(), 100.0)
    pd.testing.assert_frame_equal(np.log(prices).diff().iloc[1:], log_returns, atol=1e-12)
    assert market.conditional_mean.index.equals(log_returns.index)
    assert list(market.conditional_mean.columns) == TARGETS


def test_prices_overflow_is_reported(model):
    # 60,000 months of the demo's largest drift (AMD, ~2.6% a month) pass exp(709).
    market = model.simulate(3 * N_LONG, signal_r2=0.0, random_state=7)
    with pytest.raises(OverflowError, match="overflow float64.*use `log_returns`"):
        _ = market.prices


def test_same_seed_same_output_different_seed_different_output(model):
    first = model.simulate(60, signal_r2=0.05, random_state=8)
    again = model.simulate(60, signal_r2=0.05, random_state=8)
    other = model.simulate(60, signal_r2=0.05, random_state=9)
    pd.testing.assert_frame_equal(first.prices, again.prices)
    pd.testing.assert_frame_equal(first.conditional_mean, again.conditional_mean)
    np.testing.assert_array_equal(first.loadings, again.loadings)
    assert not np.allclose(first.log_returns, other.log_returns)
    assert not np.allclose(first.loadings, other.loadings)
    # For one seed the relatives' path does not depend on the signal strength.
    weaker = model.simulate(60, signal_r2=0.0, random_state=8)
    pd.testing.assert_frame_equal(first.log_returns[RELATIVES], weaker.log_returns[RELATIVES])


def test_conditional_mean_uses_only_previous_month(model, rng):
    market = model.simulate(48, signal_r2=0.05, random_state=10)
    x = market.log_returns[RELATIVES].to_numpy()
    from_frame = conditional_mean(model, market.loadings, x[:-1])
    np.testing.assert_allclose(market.conditional_mean.to_numpy()[1:], from_frame, rtol=1e-12)
    k = 20
    perturbed = x.copy()
    perturbed[k:] += rng.normal(0.0, 0.05, size=perturbed[k:].shape)
    after = conditional_mean(model, market.loadings, perturbed)
    before = conditional_mean(model, market.loadings, x)
    # Row t is the mean for month t + 1; rows up to k - 1 see x only up to k - 1.
    np.testing.assert_array_equal(after[:k], before[:k])
    assert np.all(np.abs(after[k:] - before[k:]) > 0)


def test_conditional_mean_rejects_wrong_shape(model):
    match = r"`relative_log_returns` must have shape \(n_periods, 6\)"
    with pytest.raises(ValueError, match=match):
        conditional_mean(model, np.zeros((7, 6)), np.zeros((5, 3)))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"signal_r2": 1.0}, ValueError, r"`signal_r2` must be a number in \[0, 1\), got 1.0"),
        ({"signal_r2": -0.01}, ValueError, r"`signal_r2` must be a number in \[0, 1\), got -0.01"),
        ({"signal_r2": 0.9}, ValueError, r"`signal_r2`=0.9 is infeasible.*at most 0.64"),
        ({"n_months": 1}, ValueError, r"`n_months` must be an integer >= 2, got 1"),
        ({"n_months": 12.0}, ValueError, r"`n_months` must be an integer >= 2, got 12.0"),
        ({"random_state": "7"}, TypeError, r"`random_state` must be an int or None, got '7'"),
        ({"start": "not a month"}, ValueError, r"`start` must be a month such as '2000-01'"),
    ],
)
def test_simulate_rejects_bad_arguments(kwargs, error, match):
    arguments = {"n_months": 12, "signal_r2": 0.05, "random_state": 0} | kwargs
    with pytest.raises(error, match=match):
        small_model(0.6).simulate(**arguments)


def test_unseeded_simulation_runs():
    assert small_model().simulate(5, 0.0, None).log_returns.shape == (5, 4)


def test_calibrate_rejects_missing_columns_and_gaps(calibration_prices):
    real_prices = calibration_prices
    with pytest.raises(ValueError, match=r"`prices` has no column\(s\) \['XYZ'\]"):
        MarketModel.calibrate(real_prices, ["XYZ"], RELATIVES)
    gappy = real_prices.copy()
    gappy.iloc[3, 0] = np.nan
    with pytest.raises(ValueError, match="positive with no missing values"):
        MarketModel.calibrate(gappy, TARGETS, RELATIVES)


def test_model_rejects_bad_parameters():
    good = small_model()
    with pytest.raises(ValueError, match=r"`target_mean` must have shape \(2,\).*got \(3,\)"):
        MarketModel(("A", "B"), ("X", "Y"), np.zeros(3), np.zeros(2), good.covariance)
    with pytest.raises(ValueError, match="asset names must be unique"):
        MarketModel(("A", "X"), ("X", "Y"), np.zeros(2), np.zeros(2), good.covariance)
    with pytest.raises(ValueError, match="positive semi-definite"):
        MarketModel(("A", "B"), ("X", "Y"), np.zeros(2), np.zeros(2), -good.covariance)
    singular = good.covariance.copy()
    singular[2:, 2:] = 0.0025
    singular[2:, :2] = singular[:2, 2:] = 0.0
    with pytest.raises(ValueError, match="relatives' covariance block must be positive definite"):
        MarketModel(("A", "B"), ("X", "Y"), np.zeros(2), np.zeros(2), singular)


# --- TOML --------------------------------------------------------------------------------------


def test_toml_round_trip(model, tmp_path):
    path = tmp_path / "market.toml"
    model.to_toml(path)
    loaded = MarketModel.from_toml(path)
    assert loaded.target_names == model.target_names
    assert loaded.relative_names == model.relative_names
    np.testing.assert_array_equal(loaded.target_mean, model.target_mean)
    np.testing.assert_array_equal(loaded.relative_mean, model.relative_mean)
    np.testing.assert_allclose(loaded.covariance, model.covariance, rtol=1e-13, atol=0)
    pd.testing.assert_frame_equal(
        loaded.simulate(24, 0.05, 11).log_returns,
        model.simulate(24, 0.05, 11).log_returns,
        atol=1e-12,
    )


TOML_OK = """\
target_names = ["A", "B"]
relative_names = ["X"]
target_mean = [0.01, 0.02]
relative_mean = [0.005]
target_vol = [0.08, 0.10]
relative_vol = [0.04]
correlation = [[1.0, 0.3, 0.5], [0.3, 1.0, 0.4], [0.5, 0.4, 1.0]]
"""


def test_from_toml_reads_hand_written_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(TOML_OK)
    model = MarketModel.from_toml(path)
    np.testing.assert_allclose(model.volatility, [0.08, 0.10, 0.04])
    assert model.covariance[0, 2] == pytest.approx(0.5 * 0.08 * 0.04)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("relative_vol =", "# relative_vol =", r"missing key\(s\) \['relative_vol'\]"),
        ("relative_vol =", "relative_vols =", r"unknown key\(s\) \['relative_vols'\]"),
        ("target_vol = [0.08, 0.10]", "target_vol = [0.08]", r"`target_vol` .* have 2 entries"),
        ("target_vol = [0.08, 0.10]", "target_vol = [0.08, -0.1]", "volatilities .* be positive"),
        ("target_mean = [0.01, 0.02]", "target_mean = [0.01]", r"`target_mean` must have shape"),
        ("[0.5, 0.4, 1.0]]", "]", r"`correlation` .* must have shape \(3, 3\)"),
        ("[1.0, 0.3, 0.5]", "[1.1, 0.3, 0.5]", "symmetric with unit diagonal"),
        (
            "[[1.0, 0.3, 0.5], [0.3, 1.0, 0.4], [0.5, 0.4, 1.0]]",
            "[[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]",
            "not positive semi-definite",
        ),
    ],
)
def test_from_toml_errors(tmp_path, old, new, match):
    assert old in TOML_OK
    path = tmp_path / "bad.toml"
    path.write_text(TOML_OK.replace(old, new))
    with pytest.raises(ValueError, match=match):
        MarketModel.from_toml(path)
