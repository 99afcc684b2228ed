"""One rebalancing decision, made exactly as the backtest makes it at each origin.

For the last row of a forecast panel::

    origin, view = views(panel, returns)[-1]      # backtest.portfolio.rebalance's MarketView
    mu_log = clone(strategy).fit(view).mu_
    weights = MeanVariance(gamma, cap).allocate(simple_mu(mu_log), ledoit_wolf(simple returns))

``forecast`` calls it on the walk-forward panel extended by the live month; a test
checks it against :func:`backtest.portfolio.rebalance.backtest_strategies` at a past origin.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from backtest.engine.panel import ForecastPanel
from backtest.portfolio.rebalance import Decision, decide_every_model

__all__ = ["Recommendation", "recommend"]

Recommendation = Decision
"""A recommendation is one :class:`backtest.portfolio.rebalance.Decision`, for the live month."""


def recommend(
    panel: ForecastPanel,
    target_returns: pd.DataFrame,
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
) -> Recommendation:
    """The decision at the origin of ``panel``'s last row, as ``backtest_strategies`` makes it.

    Parameters
    ----------
    panel : ForecastPanel
        Forecasts whose last row is the month to decide for (e.g. from :func:`extend_panel`).
    target_returns : DataFrame of shape (n_months, n_targets)
        Monthly log returns; rows after the last origin are not read.
    strategies : sequence of str
        Names from :class:`strategies.StrategyName`.
    risk_aversion, max_weight : float
        Mean-variance settings (``max_weight`` also caps minimum variance).
    """
    (decision,) = decide_every_model(
        panel, target_returns, strategies, risk_aversion, max_weight, last_only=True
    )
    return decision
