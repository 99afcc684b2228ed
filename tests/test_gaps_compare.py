"""The cross-run comparison's deflated Sharpe table, checked by hand (issue 15).

SR0 (the expected maximum Sharpe ratio of N unskilled configurations) is computed on
per-period Sharpe ratios and reported annualised by sqrt(12), not 12; each column's DSR
is the probabilistic Sharpe ratio against the per-period SR0 (Bailey & Lopez de Prado).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.compare.stats import sharpe_table

EULER_GAMMA = 0.5772156649015329


def _returns(seed=2, n_months=48):
    rng = np.random.default_rng(seed)
    cols = {"1/N": rng.normal(0.008, 0.04, n_months)}
    for k, drift in enumerate((0.004, 0.010, 0.015)):
        cols[f"cfg{k}"] = rng.normal(drift, 0.05, n_months)
    return pd.DataFrame(cols)


def _per_period_sharpe(x):
    return x.mean() / x.std(ddof=1)


def test_sr0_is_the_expected_maximum_sharpe_annualised_by_sqrt_12():
    returns = _returns()
    table, sr0 = sharpe_table(returns, "1/N", n_boot=50)
    per_period = np.array([_per_period_sharpe(returns[c].to_numpy()) for c in returns])
    n = len(per_period)
    z = (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n) + EULER_GAMMA * stats.norm.ppf(
        1 - 1 / (n * np.e)
    )
    expected_per_period = np.sqrt(np.var(per_period, ddof=1)) * z
    assert sr0 == pytest.approx(expected_per_period * np.sqrt(12), rel=1e-10)
    np.testing.assert_allclose(table["sharpe"], per_period * np.sqrt(12), rtol=1e-10)

    for col in returns:
        x = returns[col].to_numpy()
        sr, g3, g4 = _per_period_sharpe(x), stats.skew(x), stats.kurtosis(x, fisher=False)
        psr = stats.norm.cdf(
            (sr - expected_per_period) * np.sqrt(len(x) - 1)
            / np.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
        )  # fmt: skip
        assert table.loc[col, "dsr"] == pytest.approx(psr, rel=1e-8), col


def test_sharpe_table_subtracts_the_monthly_risk_free_rate():
    returns = _returns()
    rf = 0.03
    table, _ = sharpe_table(returns, "1/N", risk_free=rf, n_boot=50)
    monthly = 1.03 ** (1 / 12) - 1
    for col in returns:
        x = returns[col].to_numpy() - monthly
        assert table.loc[col, "sharpe"] == pytest.approx(_per_period_sharpe(x) * np.sqrt(12))
    assert np.isnan(table.loc["1/N", "p_value"]) and np.isnan(table.loc["1/N", "p_holm"])


def test_sharpe_table_needs_the_benchmark_column():
    with pytest.raises(ValueError, match=r"^`benchmark`='EW' is not a column of `returns`"):
        sharpe_table(_returns(), "EW", n_boot=10)
