"""Performance statistics against hand examples and naive loops (issue 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.evaluation.performance import drawdown_series, max_drawdown


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
