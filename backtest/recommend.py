"""One rebalancing decision, made exactly as the backtest makes it at each origin.

For the last row of a forecast panel::

    origin, view = views(panel, returns)[-1]      # backtest.rebalance's MarketView
    mu_log = clone(strategy).fit(view).mu_
    weights = MeanVariance(gamma, cap).allocate(simple_mu(mu_log), ledoit_wolf(simple returns))

``forecast`` calls it on the walk-forward panel extended by the live month; a test
checks it against :func:`backtest.rebalance.backtest_strategies` at a past origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine import ForecastPanel
from backtest.rebalance import EQUAL_WEIGHT, MIN_VARIANCE, views
from strategies import (
    EqualWeight,
    MeanVariance,
    MinimumVariance,
    ledoit_wolf_covariance,
    make_strategy,
    simple_expected_returns,
)

__all__ = ["Recommendation", "recommend"]


@dataclass(frozen=True)
class Recommendation:
    """One rebalancing decision: every strategy's expected returns and every portfolio's weights.

    Attributes
    ----------
    origin : Timestamp
        Decision date (the last month of data).
    hist_mean : Series of shape (n_assets,)
        Historical mean log return of the view's window.
    mu, mu_simple, intensity : DataFrame of shape (n_assets, n_strategies)
        Shrunk expected monthly log return, its simple-return equivalent, and the weight on
        the shrinkage target (0 = historical mean).
    weights : DataFrame of shape (n_assets, n_strategies + n_benchmarks)
        Mean-variance weights of each strategy, then the benchmarks' weights.
    benchmarks : tuple of str
        Which columns of ``weights`` are benchmarks.
    """

    origin: pd.Timestamp
    hist_mean: pd.Series
    mu: pd.DataFrame
    mu_simple: pd.DataFrame
    intensity: pd.DataFrame
    weights: pd.DataFrame
    benchmarks: tuple[str, ...]


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
    origin, view = views(panel, target_returns)[-1]
    tickers = list(panel.lstm.columns)
    label = f"{origin:%Y-%m-%d}"
    cov_log = view.sample_covariance
    cov_simple = ledoit_wolf_covariance(np.expm1(view.returns))
    mean_variance = MeanVariance(risk_aversion=risk_aversion, max_weight=max_weight)
    mu, mu_simple, intensity, weights = {}, {}, {}, {}
    for name in strategies:
        est = make_strategy(name).fit(view)
        mu[name] = est.mu_
        mu_simple[name] = simple_expected_returns(est.mu_, cov_log)
        intensity[name] = np.broadcast_to(np.asarray(est.intensity_, float), (len(tickers),))
        weights[name] = mean_variance.allocate(mu_simple[name], cov_simple, label=label)
    weights[MIN_VARIANCE] = MinimumVariance(max_weight=max_weight).allocate(
        view.historical_mean, cov_simple, label=label
    )
    weights[EQUAL_WEIGHT] = EqualWeight().allocate(view.historical_mean, cov_simple, label=label)
    frame = lambda d: pd.DataFrame(d, index=pd.Index(tickers, name="ticker"))  # noqa: E731
    return Recommendation(
        origin=origin,
        hist_mean=pd.Series(view.historical_mean, index=tickers),
        mu=frame(mu),
        mu_simple=frame(mu_simple),
        intensity=frame(intensity),
        weights=frame(weights),
        benchmarks=(MIN_VARIANCE, EQUAL_WEIGHT),
    )
