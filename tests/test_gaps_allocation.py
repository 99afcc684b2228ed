"""The allocators' risk model is Ledoit-Wolf on the window's simple returns (issue 15).

Expected weights are the closed-form minimum-variance portfolio ``S^-1 1 / 1' S^-1 1``
on sklearn's ``LedoitWolf`` covariance of the view's window (long-only and the cap do
not bind on this data), and the same on the sample covariance must differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

from backtest.portfolio.rebalance import EQUAL_WEIGHT, MIN_VARIANCE, decide
from strategies.allocation import ledoit_wolf_covariance
from strategies.inputs import MarketView


def _view(seed=4, n_periods=30, n_assets=4):
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 0.03, (n_periods, 1))
    returns = 0.008 + common + rng.normal(0.0, 0.04, (n_periods, n_assets))
    return MarketView(
        returns=returns,
        forecast=np.full(n_assets, 0.01),
        past_forecasts=np.zeros((0, n_assets)),
        past_benchmarks=np.zeros((0, n_assets)),
        past_realised=np.zeros((0, n_assets)),
    )


def _min_variance(cov):
    w = np.linalg.solve(cov, np.ones(len(cov)))
    return w / w.sum()


def _naive_ledoit_wolf(x):
    """Ledoit & Wolf (2004), eq. (14)-(15): shrink the ML covariance toward m I."""
    t, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    m = np.trace(s) / n
    d2 = np.sum((s - m * np.eye(n)) ** 2) / n
    b2_bar = sum(np.sum((np.outer(row, row) - s) ** 2) for row in xc) / n / t**2
    b2 = min(b2_bar, d2)
    return b2 / d2 * m * np.eye(n) + (1 - b2 / d2) * s


def test_ledoit_wolf_covariance_matches_the_paper_and_sklearn():
    x = np.expm1(_view().returns)
    np.testing.assert_allclose(ledoit_wolf_covariance(x), _naive_ledoit_wolf(x), rtol=1e-10)
    np.testing.assert_allclose(ledoit_wolf_covariance(x), LedoitWolf().fit(x).covariance_)
    with pytest.raises(ValueError, match=r"^`simple_returns` must have shape \(n_periods, n_as"):
        ledoit_wolf_covariance(x[:1])


def test_minimum_variance_benchmark_uses_ledoit_wolf_of_the_simple_window_returns():
    view = _view()
    tickers = ["A", "B", "C", "D"]
    decision = decide(pd.Timestamp("2020-01-31"), view, tickers, ["hist_mean"], 5.0, 1.0)
    simple = np.expm1(view.returns)
    expected = _min_variance(LedoitWolf().fit(simple).covariance_)
    assert np.all(expected > 0.05)  # interior: long-only and the cap do not bind
    got = decision.weights[MIN_VARIANCE].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    sample = _min_variance(np.cov(simple, rowvar=False, bias=True))
    assert np.max(np.abs(sample - expected)) > 1e-2  # the test can tell the two apart
    log_lw = _min_variance(LedoitWolf().fit(view.returns).covariance_)
    assert np.max(np.abs(log_lw - expected)) > 1e-6
    np.testing.assert_allclose(decision.weights[EQUAL_WEIGHT], 0.25)


def test_mean_variance_strategy_uses_ledoit_wolf_too():
    # Interior mean-variance optimum: w = S^-1 (mu - eta 1) / gamma, eta from the budget.
    view = _view()
    gamma = 50.0
    decision = decide(pd.Timestamp("2020-01-31"), view, list("ABCD"), ["hist_mean"], gamma, 1.0)
    mu = decision.mu_simple["hist_mean"].to_numpy()

    def optimum(cov):
        inv_mu, inv_one = np.linalg.solve(cov, mu), np.linalg.solve(cov, np.ones(4))
        eta = (inv_mu.sum() - gamma) / inv_one.sum()
        return (inv_mu - eta * inv_one) / gamma

    simple = np.expm1(view.returns)
    expected = optimum(LedoitWolf().fit(simple).covariance_)
    assert np.all(expected > 0.05)  # long-only and the cap do not bind
    np.testing.assert_allclose(decision.weights["hist_mean"], expected, atol=1e-6)
    sample = optimum(np.cov(simple, rowvar=False, bias=True))
    assert np.max(np.abs(sample - expected)) > 1e-2
