from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.evaluation.performance import (
    annualised_volatility,
    cagr,
    calmar_ratio,
    deflated_sharpe_ratio,
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

# Bailey & Lopez de Prado (2014) example, annual figures converted with 250 days a year
PAPER = {"n": 100, "var_sr": 0.5 / 250, "sr": 2.5 / np.sqrt(250), "t": 1250, "g3": -3, "g4": 10}
TOL = {"SR0": 5e-5, "DSR": 5e-5}


def test_deflated_sharpe_paper_example():
    sr0 = expected_max_sharpe(PAPER["n"], PAPER["var_sr"])
    assert sr0 == pytest.approx(0.11317, abs=TOL["SR0"])
    dsr = psr_from_moments(PAPER["sr"], PAPER["t"], PAPER["g3"], PAPER["g4"], sr_benchmark=sr0)
    assert dsr == pytest.approx(0.9004, abs=TOL["DSR"])


def test_psr_rejects_excess_kurtosis():
    with pytest.raises(ValueError, match=r"raw kurtosis .*got 0.5; .*add 3"):
        psr_from_moments(0.1, 100, 0.0, 0.5)
    with pytest.raises(ValueError, match="`n_obs` must be at least 2, got 1"):
        psr_from_moments(0.1, 1, 0.0, 3.0)


def test_psr_normal_case_and_monotonicity():
    # normal returns: var term 1 + SR^2 / 2
    expected = stats.norm.cdf(0.1 * np.sqrt(99) / np.sqrt(1 + 0.1**2 / 2))
    assert psr_from_moments(0.1, 100, 0.0, 3.0) == pytest.approx(expected)
    assert psr_from_moments(0.1, 400, 0.0, 3.0) > psr_from_moments(0.1, 100, 0.0, 3.0)
    assert psr_from_moments(0.1, 100, 0.0, 3.0, sr_benchmark=0.1) == pytest.approx(0.5)
    # fat tails and negative skew widen the SR's distribution, lowering PSR
    assert psr_from_moments(0.1, 100, -1.0, 8.0) < psr_from_moments(0.1, 100, 0.0, 3.0)


def test_psr_from_returns_uses_raw_sample_moments(rng):
    r = rng.standard_t(5, size=120) * 0.04 + 0.01
    expected = psr_from_moments(
        r.mean() / r.std(ddof=1), 120, stats.skew(r), stats.kurtosis(r, fisher=False), 0.05
    )
    assert probabilistic_sharpe_ratio(r, sr_benchmark=0.05) == pytest.approx(expected)
    sr0 = expected_max_sharpe(10, 0.01)
    assert deflated_sharpe_ratio(r, 10, 0.01) == pytest.approx(probabilistic_sharpe_ratio(r, sr0))


def test_expected_max_sharpe_matches_simulated_maximum(rng):
    simulated = rng.standard_normal((20000, 100)).max(axis=1).mean()
    # the formula is an approximation of E[max of N normals]; within 2% at N = 100
    assert expected_max_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.02)
    assert expected_max_sharpe(100, 4.0) == pytest.approx(2 * expected_max_sharpe(100, 1.0))
    assert expected_max_sharpe(1, 1.0) == 0.0
    assert expected_max_sharpe(10, 1.0) < expected_max_sharpe(1000, 1.0)


def test_expected_max_sharpe_errors():
    with pytest.raises(ValueError, match="`n_trials` must be a positive integer, got 0"):
        expected_max_sharpe(0, 1.0)
    with pytest.raises(ValueError, match="`var_sharpe` must be non-negative, got -1"):
        expected_max_sharpe(5, -1.0)


def test_growth_and_volatility_hand_computed():
    r = np.array([0.1, -0.1])
    assert cagr(r) == pytest.approx(0.99**6 - 1)
    assert cagr(r, periods_per_year=2) == pytest.approx(-0.01)
    assert cagr([-1.0, 0.5]) == -1.0
    assert annualised_volatility(r) == pytest.approx(np.std(r, ddof=1) * np.sqrt(12))


def test_sharpe_and_sortino_hand_computed():
    r = np.array([0.02, -0.01, 0.03, 0.0, 0.01, -0.02])
    assert sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(12))
    rf = 1.12 ** (1 / 12) - 1
    ex = r - rf
    assert sharpe_ratio(r, risk_free=0.12) == pytest.approx(
        ex.mean() / ex.std(ddof=1) * np.sqrt(12)
    )
    downside = np.sqrt((0.01**2 + 0.02**2) / 6)
    assert sortino_ratio(r) == pytest.approx(r.mean() / downside * np.sqrt(12))
    assert sharpe_ratio(r, periods_per_year=1) == pytest.approx(r.mean() / r.std(ddof=1))


def test_drawdowns_hand_computed():
    r = pd.Series([0.1, -0.2, 0.05, 0.3], index=pd.date_range("2020-01-31", periods=4, freq="ME"))
    dd = drawdown_series(r)
    assert isinstance(dd, pd.Series) and dd.index.equals(r.index)
    np.testing.assert_allclose(dd, [0.0, -0.2, 0.924 / 1.1 - 1, 0.0])
    assert max_drawdown(r) == pytest.approx(-0.2)
    np.testing.assert_allclose(drawdown_series([-0.1, 0.05]), [-0.1, 0.945 - 1])
    assert calmar_ratio(r) == pytest.approx(cagr(r) / 0.2)
    assert hit_rate(r) == pytest.approx(0.75)


def test_returns_validation():
    with pytest.raises(ValueError, match="`returns` contains NaN"):
        sharpe_ratio([0.01, np.nan, 0.02])
    with pytest.raises(ValueError, match=r"`returns` must be 1-D, got shape \(2, 2\)"):
        max_drawdown(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least 2 observations, got 1"):
        annualised_volatility([0.01])


def _strategies(rng, n_periods=120):
    index = pd.date_range("2010-01-31", periods=n_periods, freq="ME", name="date")
    return pd.DataFrame(
        rng.normal([0.01, 0.005, 0.0], 0.04, (n_periods, 3)), index, ["ew", "mv", "lstm"]
    )


def test_performance_table_matches_pure_functions(rng):
    returns = _strategies(rng)
    turnover = pd.DataFrame(0.2, returns.index, returns.columns)
    costs = turnover * 0.001
    table = performance_table(returns, turnover, costs, n_trials=50, risk_free=0.02)
    assert list(table.columns) == [
        "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "avg_turnover",
        "total_costs", "hit_rate", "psr", "dsr",
    ]  # fmt: skip
    assert table.index.name == "strategy" and list(table.index) == ["ew", "mv", "lstm"]
    r = returns["mv"]
    row = table.loc["mv"]
    assert row["sharpe"] == pytest.approx(sharpe_ratio(r, 0.02))
    assert row["max_drawdown"] == pytest.approx(max_drawdown(r)) and row["max_drawdown"] < 0
    assert row["avg_turnover"] == pytest.approx(0.2)
    assert row["total_costs"] == pytest.approx(0.2 * 0.001 * 120)
    ex = returns - (1.02 ** (1 / 12) - 1)
    per_period_sr = ex.mean() / ex.std(ddof=1)
    sr0 = expected_max_sharpe(50, per_period_sr.var(ddof=1))
    assert row["psr"] == pytest.approx(probabilistic_sharpe_ratio(ex["mv"]))
    assert row["dsr"] == pytest.approx(probabilistic_sharpe_ratio(ex["mv"], sr0))
    assert table["dsr"].notna().sum() == 1  # only the selected (best) configuration
    assert row["dsr"] < row["psr"]


def test_performance_table_deflates_over_trials_only(rng):
    returns = pd.DataFrame(rng.normal(0.01, 0.04, (120, 4)), columns=["a", "b", "c", "bench"])
    returns["bench"] = rng.normal(0.03, 0.02, 120)  # a benchmark with a very different Sharpe
    table = performance_table(returns, trials=["a", "b", "c"])
    sr = returns[["a", "b", "c"]].mean() / returns[["a", "b", "c"]].std(ddof=1)
    sr0 = expected_max_sharpe(3, sr.var(ddof=1))
    best = sr.idxmax()
    assert table.loc[best, "dsr"] == pytest.approx(probabilistic_sharpe_ratio(returns[best], sr0))
    assert np.isnan(table.loc["bench", "dsr"])


def test_performance_table_defaults(rng):
    returns = _strategies(rng)
    returns.iloc[:10, 2] = np.nan  # a strategy that starts later
    table = performance_table(returns)
    assert table[["avg_turnover", "total_costs"]].isna().all().all()
    assert table.loc["lstm", "cagr"] == pytest.approx(cagr(returns["lstm"].iloc[10:]))
    sr = returns.mean() / returns.std(ddof=1)
    sr0 = expected_max_sharpe(3, sr.var(ddof=1))
    best = sr.idxmax()
    expected = probabilistic_sharpe_ratio(returns[best].dropna(), sr0)
    assert table.loc[best, "dsr"] == pytest.approx(expected)
    single = performance_table(returns[["ew"]])
    assert single.loc["ew", "dsr"] == pytest.approx(single.loc["ew", "psr"])


def test_performance_table_errors(rng):
    returns = _strategies(rng)
    with pytest.raises(ValueError, match=r"columns of `turnover` \['ew', 'mv'\] differ"):
        performance_table(returns, turnover=returns[["ew", "mv"]])
    with pytest.raises(ValueError, match="`returns` must be a pandas DataFrame, got ndarray"):
        performance_table(returns.to_numpy())
