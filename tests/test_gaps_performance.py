"""Performance statistics against hand examples and naive loops (issue 15)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.evaluation.performance import (
    annualised_volatility,
    cagr,
    calmar_ratio,
    drawdown_series,
    expected_max_sharpe,
    hit_rate,
    max_drawdown,
    performance_table,
    probabilistic_sharpe_ratio,
    psr_from_moments,
    sharpe_ratio,
    sortino_ratio,
)


def _naive_max_drawdown(returns):
    """Empyrical's definition: start at wealth 1, worst fall from any running peak."""
    wealth, peak, worst = 1.0, 1.0, 0.0
    for r in returns:
        wealth *= 1.0 + r
        peak = max(peak, wealth)
        worst = min(worst, wealth / peak - 1.0)
    return worst


def test_max_drawdown_spans_consecutive_losing_months():
    # Wealth 1.10 -> 0.99 -> 0.891 -> 0.93555 -> 0.916839: peak 1.10, trough 0.891.
    returns = [0.10, -0.10, -0.10, 0.05, -0.02]
    assert max_drawdown(returns) == pytest.approx(0.891 / 1.10 - 1.0, abs=1e-12)  # -0.19
    assert max_drawdown(returns) < min(returns)  # deeper than the worst single month


def test_drawdown_counts_losses_from_the_starting_wealth():
    returns = pd.Series([-0.1, -0.1, 0.3], index=pd.date_range("2020-01-31", periods=3, freq="ME"))
    dd = drawdown_series(returns)
    np.testing.assert_allclose(dd, [-0.1, -0.19, 0.0], atol=1e-12)  # 0.81 * 1.3 = 1.053
    assert isinstance(dd, pd.Series) and dd.name == "drawdown" and dd.index.equals(returns.index)
    assert max_drawdown(returns) == pytest.approx(-0.19)


def test_max_drawdown_matches_a_naive_loop_on_random_returns():
    rng = np.random.default_rng(8)
    for _ in range(20):
        r = rng.normal(0.005, 0.06, 60)
        assert max_drawdown(r) == pytest.approx(_naive_max_drawdown(r), abs=1e-12)


# --- what mutation testing found unchecked in backtest.evaluation.performance ---------


def test_one_month_is_enough_for_wealth_statistics_and_not_for_ratios():
    assert cagr([0.01]) == pytest.approx(1.01**12 - 1)
    assert max_drawdown([-0.1]) == pytest.approx(-0.1)
    assert hit_rate([0.1]) == 1.0
    with pytest.raises(ValueError, match=r"^`returns` needs at least 2 observations, got 1\.$"):
        sharpe_ratio([0.01])
    # two months are enough for a Sharpe ratio: mean 0.02, sd 0.01 sqrt(2)
    assert sharpe_ratio([0.01, 0.03]) == pytest.approx(np.sqrt(12) * 0.02 / (0.01 * np.sqrt(2)))
    with pytest.raises(ValueError, match=r"^`returns` needs at least 3 observations, got 2\.$"):
        probabilistic_sharpe_ratio([0.01, 0.03])
    assert 0 < probabilistic_sharpe_ratio([0.01, 0.03, 0.02]) < 1


def test_non_finite_returns_message():
    message = "`returns` contains NaN or inf; drop those periods first."
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        cagr([0.1, np.nan])


def test_object_dtype_series_are_read_as_floats():
    r = pd.Series([0.10, -0.10, -0.10, 0.05], dtype=object)
    assert max_drawdown(r) == pytest.approx(-0.19)
    assert cagr(r) == pytest.approx((1.1 * 0.81 * 1.05) ** 3 - 1)
    table = performance_table(pd.DataFrame({"a": r, "b": r * 0.5}))
    assert table.loc["a", "max_drawdown"] == pytest.approx(-0.19)


def test_constant_returns_give_inf_or_nan_ratios_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sharpe_ratio([0.01, 0.01]) == np.inf
        assert np.isnan(sharpe_ratio([0.0, 0.0]))
        assert sortino_ratio([0.01, 0.02]) == np.inf
        assert np.isnan(calmar_ratio([0.0, 0.0]))
        one = pd.DataFrame({"only": [0.01, -0.02, 0.03]})
        alone, tried = performance_table(one), performance_table(one, n_trials=5)
    # One column, one trial: no selection, DSR = PSR; five trials and one Sharpe: undefined.
    assert alone.loc["only", "dsr"] == pytest.approx(alone.loc["only", "psr"])
    assert np.isnan(tried.loc["only", "dsr"]) and np.isfinite(tried.loc["only", "psr"])


def test_a_loss_beyond_everything_is_ruin():
    assert cagr([-1.5, 0.1]) == -1.0  # a negative wealth is not raised to a power
    assert cagr([-1.0, 0.1]) == -1.0


def test_a_flat_month_is_not_a_hit():
    assert hit_rate([0.0, 0.1, -0.1, 0.2]) == 0.5


def test_psr_edges_two_observations_and_raw_kurtosis_down_to_one():
    # T = 2: sqrt(T - 1) = 1; normal kurtosis: var = 1 + (3 - 1) / 4 * 0.01
    assert psr_from_moments(0.1, 2, 0.0, 3.0) == pytest.approx(stats.norm.cdf(0.1 / np.sqrt(1.005)))
    # raw kurtosis 1 (a two-point distribution) is valid: var = 1 - 0 + 0 = 1
    assert psr_from_moments(0.2, 5, 0.0, 1.0) == pytest.approx(stats.norm.cdf(0.4))
    assert psr_from_moments(0.2, 5, 0.0, 1.5) == pytest.approx(
        stats.norm.cdf(0.4 / np.sqrt(1 + 0.125 * 0.04))
    )
    with pytest.raises(ValueError, match=r"^`n_obs` must be at least 2, got 1\.$"):
        psr_from_moments(0.1, 1, 0.0, 3.0)
    message = (
        "`kurtosis` must be the raw kurtosis (>= 1, normal = 3), got 0.5; "
        "if you have excess kurtosis, add 3."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        psr_from_moments(0.1, 10, 0.0, 0.5)


def test_zero_sharpe_variance_means_no_selection_bias():
    assert expected_max_sharpe(10, 0.0) == 0.0
    with pytest.raises(ValueError, match=r"^`var_sharpe` must be non-negative, got -0\.1\.$"):
        expected_max_sharpe(10, -0.1)


def _naive_row(r, rf_annual, k):
    rf = (1 + rf_annual) ** (1 / k) - 1
    ex = r - rf
    wealth = np.cumprod(1 + r)
    cagr_ = wealth[-1] ** (k / len(r)) - 1
    peak = np.maximum.accumulate(np.r_[1.0, wealth])[1:]
    mdd = np.min(wealth / peak - 1)
    return {
        "cagr": cagr_,
        "ann_vol": r.std(ddof=1) * np.sqrt(k),
        "sharpe": ex.mean() / ex.std(ddof=1) * np.sqrt(k),
        "sortino": ex.mean() / np.sqrt(np.mean(np.minimum(ex, 0) ** 2)) * np.sqrt(k),
        "max_drawdown": mdd,
        "calmar": cagr_ / -mdd,
        "hit_rate": np.mean(r > 0),
    }


def test_performance_table_uses_its_annualisation_and_rate_everywhere():
    rng = np.random.default_rng(5)
    returns = pd.DataFrame(rng.normal(0.02, 0.06, (40, 2)), columns=["x", "y"])
    k, rf = 4, 0.02  # quarterly data, 2% a year
    table = performance_table(returns, risk_free=rf, periods_per_year=k)
    for col in returns:
        for stat, value in _naive_row(returns[col].to_numpy(), rf, k).items():
            assert table.loc[col, stat] == pytest.approx(value, rel=1e-10), (col, stat)
    best = table["sharpe"].idxmax()  # two columns: V[SR] is defined, DSR of the selected one
    assert np.isfinite(table.loc[best, "dsr"]) and table["dsr"].notna().sum() == 1
    assert annualised_volatility(returns["x"], k) == pytest.approx(table.loc["x", "ann_vol"])


def test_performance_table_checks_cost_columns_by_name():
    returns = pd.DataFrame({"x": [0.01, 0.02, 0.03], "y": [0.0, 0.01, 0.02]})
    message = (
        "columns of `costs` ['y', 'x'] differ from the columns of `returns` ['x', 'y']; "
        "pass one column per strategy, in the same order."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        performance_table(returns, costs=returns[["y", "x"]])
    table = performance_table(returns, turnover=returns * 10, costs=returns)
    assert table.loc["x", "total_costs"] == pytest.approx(0.06)
    assert table.loc["y", "avg_turnover"] == pytest.approx(0.1)


def test_performance_table_with_no_defined_sharpe_ratio_has_no_dsr():
    # Every column flat at zero: no Sharpe ratio, so no selected column and no DSR.
    table = performance_table(pd.DataFrame({"a": [0.0, 0.0, 0.0], "b": [0.0, 0.0, 0.0]}))
    assert table["sharpe"].isna().all() and table["dsr"].isna().all()
