"""From forecasts to portfolios: shrink, allocate and hold, one month at a time.

At each rebalancing date ``t`` (a forecast origin) and for each strategy::

    view = MarketView(returns up to t, a model's forecast of t+1, forecasts scored by t)
    mu_log = clone(strategy).fit(view).mu_
    weights[t] = allocator.allocate(simple_mu(mu_log), ledoit_wolf(simple returns up to t))

then each weight row earns month ``t + 1``'s realised simple returns
(:func:`backtest.portfolio.pnl.simulate_portfolio`). Nothing dated after ``t`` enters
``view``: past forecasts join it only once their month is realised.

Longer than ~300 lines because the one rebalancing decision serves both the backtest loop and
``forecast``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from backtest.engine.panel import ForecastPanel
from backtest.portfolio.pnl import PortfolioResult, simulate_portfolio
from strategies import (
    EqualWeight,
    MarketView,
    MeanVariance,
    MinimumVariance,
    StrategyName,
    ledoit_wolf_covariance,
    make_strategy,
    simple_expected_returns,
)

EQUAL_WEIGHT = "equal_weight"
MIN_VARIANCE = "min_variance"
MARKET = "SPY"
BASELINE = StrategyName.HIST_MEAN.value
"""Mean-variance on the historical mean: a strategy and the benchmark every one must beat."""


@dataclass(frozen=True)
class StrategyBacktest:
    """What every strategy and benchmark did, month by month.

    Attributes
    ----------
    expected : DataFrame
        Tidy: origin, date (the month forecast), ticker, strategy, mu (log),
        mu_simple, intensity (weight on the shrinkage target; 0 = historical mean).
    results : dict of str to PortfolioResult
        Strategies first, then benchmarks (equal weight, minimum variance, SPY).
    benchmarks : tuple of str
        Which entries of ``results`` are benchmarks rather than forecast strategies.
    """

    expected: pd.DataFrame
    results: dict[str, PortfolioResult]
    benchmarks: tuple[str, ...]

    def frame(self, field: str) -> pd.DataFrame:
        """One column per strategy of a :class:`PortfolioResult` series (net, gross, ...)."""
        return pd.DataFrame({name: getattr(r, field) for name, r in self.results.items()})

    def weights_tidy(self) -> pd.DataFrame:
        """Tidy weights: origin (decision date), strategy, ticker, weight."""
        frames = []
        for name, result in self.results.items():
            w = result.weights.rename_axis("origin").reset_index()
            long = w.melt(id_vars="origin", var_name="ticker", value_name="weight")
            long.insert(1, "strategy", name)
            frames.append(long)
        return pd.concat(frames, ignore_index=True)


def views(
    panel: ForecastPanel, target_returns: pd.DataFrame, model: str | None = None
) -> list[tuple[pd.Timestamp, MarketView]]:
    """The :class:`MarketView` of every rebalancing date, in date order.

    The view's forecast is ``model``'s (default: the panel's primary model).
    """
    forecasts = panel.forecast(model)
    out = []
    for i in range(len(forecasts)):
        origin = panel.origin[i]
        history = target_returns.loc[panel.train_start[i] : origin]
        scored = forecasts.index <= origin
        out.append(
            (
                origin,
                MarketView(
                    returns=history.to_numpy(),
                    forecast=forecasts.iloc[i].to_numpy(),
                    past_forecasts=forecasts.loc[scored].to_numpy(),
                    past_benchmarks=panel.hist_mean.loc[scored].to_numpy(),
                    past_realised=panel.realised.loc[scored].to_numpy(),
                ),
            )
        )
    return out


@dataclass(frozen=True)
class Decision:
    """One rebalancing decision: each strategy's expected returns and each portfolio's weights.

    Attributes
    ----------
    origin : Timestamp
        Decision date.
    hist_mean : Series of shape (n_assets,)
        Historical mean log return of the view's window.
    mu, mu_simple, intensity : DataFrame of shape (n_assets, n_strategies)
        Shrunk expected monthly log return, its simple-return equivalent, and the weight on
        the shrinkage target (0 = historical mean).
    weights : DataFrame of shape (n_assets, n_strategies + n_benchmarks)
        Mean-variance weights of each strategy, then minimum variance and 1/N.
    benchmarks : tuple of str
        Which columns of ``weights`` are benchmarks.
    """

    origin: pd.Timestamp
    hist_mean: pd.Series
    mu: pd.DataFrame
    mu_simple: pd.DataFrame
    intensity: pd.DataFrame
    weights: pd.DataFrame
    benchmarks: tuple[str, ...] = (MIN_VARIANCE, EQUAL_WEIGHT)


def decide(
    origin: pd.Timestamp,
    view: MarketView,
    tickers: Sequence[str],
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
) -> Decision:
    """Shrink, convert and allocate at one rebalancing date, for every strategy and benchmark.

    Runs with one BLAS thread: multi-threaded BLAS changes the last bits of the
    covariance and so the optimiser's weights, and the same inputs must give the same
    weights in any process (a test runner, a resumed run, a worker).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _decide(origin, view, tickers, strategies, risk_aversion, max_weight)


def _decide(
    origin: pd.Timestamp,
    view: MarketView,
    tickers: Sequence[str],
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
) -> Decision:
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
    index = pd.Index(list(tickers), name="ticker")
    return Decision(
        origin=origin,
        hist_mean=pd.Series(view.historical_mean, index=index),
        mu=pd.DataFrame(mu, index=index),
        mu_simple=pd.DataFrame(mu_simple, index=index),
        intensity=pd.DataFrame(intensity, index=index),
        weights=pd.DataFrame(weights, index=index),
    )


FORECAST_FREE = (
    StrategyName.HIST_MEAN.value,
    StrategyName.JAMES_STEIN.value,
    StrategyName.BAYES_STEIN.value,
)
"""Strategies that ignore the forecast: they run once, not once per model."""


def model_strategy(name: str, model: str, primary: str) -> str:
    """Filename-safe name of a forecast-based strategy on ``model``: ``skill@ridge``.

    The primary model's strategies keep their plain names (``skill``).
    """
    return name if model == primary else f"{name}@{model}"


def _merge(decisions: dict[str, Decision], primary: str) -> Decision:
    """One decision holding every model's forecast-based strategies, suffixed by model."""
    first = decisions[primary]
    frames: dict[str, list[pd.DataFrame]] = {"mu": [], "mu_simple": [], "intensity": []}
    weights = [first.weights.drop(columns=list(first.benchmarks))]
    for model, d in decisions.items():
        rename = {c: model_strategy(c, model, primary) for c in d.mu.columns}
        for field, parts in frames.items():
            parts.append(getattr(d, field).rename(columns=rename))
        if model != primary:
            weights.append(d.weights.drop(columns=list(d.benchmarks)).rename(columns=rename))
    weights.append(first.weights[list(first.benchmarks)])
    return dataclasses.replace(
        first,
        **{field: pd.concat(parts, axis=1) for field, parts in frames.items()},
        weights=pd.concat(weights, axis=1),
    )


def decide_every_model(
    panel: ForecastPanel,
    target_returns: pd.DataFrame,
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
    last_only: bool = False,
) -> list[Decision]:
    """Every rebalancing decision, the forecast-based strategies once per model.

    The primary model's view runs every strategy; each other model's view runs only the
    strategies that use a forecast (not :data:`FORECAST_FREE`), named ``strategy@model``.
    ``last_only`` decides at the last origin only (the live decision).
    """
    per_model: dict[str, list[Decision]] = {}
    for model in panel.models:
        names = list(strategies)
        if model != panel.primary:
            names = [s for s in strategies if s not in FORECAST_FREE]
            if not names:
                continue
        dated = views(panel, target_returns, model)
        # One BLAS limit around every decision (as decide sets for one): threadpoolctl scans
        # the loaded libraries on every entry, ~5-15 ms, a second or more over a run.
        with threadpool_limits(limits=1, user_api="blas"):
            per_model[model] = [
                _decide(origin, view, panel.tickers, names, risk_aversion, max_weight)
                for origin, view in (dated[-1:] if last_only else dated)
            ]
    models = list(per_model)
    return [
        _merge(dict(zip(models, same_origin, strict=True)), panel.primary)
        for same_origin in zip(*per_model.values(), strict=True)
    ]


FIELDS = ("mu", "mu_simple", "intensity")
"""The per-strategy, per-ticker fields of a :class:`Decision` in the expected-returns table."""


def _expected_rows(
    decisions: Sequence[Decision], dates: pd.DatetimeIndex, tickers: Sequence[str]
) -> pd.DataFrame:
    """Long table of every decision's mu, mu_simple and intensity: date, then strategy, ticker."""
    tickers = list(tickers)
    n_assets = len(tickers)
    parts = []
    for d, date in zip(decisions, dates, strict=True):
        names = list(d.mu.columns)
        n_rows = len(names) * n_assets
        parts.append(
            pd.DataFrame(
                {
                    "origin": [d.origin] * n_rows,
                    "date": [date] * n_rows,
                    "ticker": tickers * len(names),
                    "strategy": np.repeat(names, n_assets).tolist(),
                    **{
                        field: getattr(d, field).loc[tickers, names].to_numpy().T.ravel()
                        for field in FIELDS
                    },
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["origin", "date", "ticker", "strategy", *FIELDS])
    return pd.concat(parts, ignore_index=True)


def backtest_strategies(
    panel: ForecastPanel,
    target_returns: pd.DataFrame,
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
    cost_bps: float,
    market_returns: pd.Series | None = None,
) -> StrategyBacktest:
    """Run every strategy and benchmark over the panel's forecast months.

    Parameters
    ----------
    panel : ForecastPanel
        Out-of-sample forecasts of one variant.
    target_returns : DataFrame of shape (n_months, n_targets)
        Monthly log returns of the targets over the whole data (only rows up to each
        origin are read at that origin; the realised month is read to score it).
    strategies : sequence of str
        Names from :class:`strategies.StrategyName`.
    risk_aversion, max_weight : float
        Mean-variance settings (``max_weight`` also caps minimum variance).
    cost_bps : float
        Proportional trading cost in basis points of turnover.
    market_returns : Series, optional
        Monthly log returns of a market ETF (SPY), held as a buy-and-hold benchmark.
    """
    tickers = panel.tickers
    decisions = decide_every_model(panel, target_returns, strategies, risk_aversion, max_weight)
    expected = _expected_rows(decisions, panel.dates, tickers)
    realised_simple = np.expm1(target_returns[tickers])
    index = pd.DatetimeIndex([d.origin for d in decisions], name="origin")
    names = decisions[0].weights.columns
    # (n_origins, n_assets, n_columns): every decision's weights, each column a strategy.
    stacked = np.stack([d.weights.loc[list(tickers), names].to_numpy() for d in decisions])
    results = {
        name: simulate_portfolio(
            pd.DataFrame(stacked[:, :, j], index=index, columns=pd.Index(tickers, name="ticker")),
            realised_simple,
            cost_bps,
        )
        for j, name in enumerate(names)
    }
    benchmarks = [MIN_VARIANCE, EQUAL_WEIGHT]
    if market_returns is not None:
        market = np.expm1(market_returns.rename(MARKET).to_frame())
        hold = pd.DataFrame(1.0, index=index, columns=[MARKET])
        results[MARKET] = simulate_portfolio(hold, market, cost_bps)
        benchmarks.append(MARKET)
    return StrategyBacktest(expected=expected, results=results, benchmarks=tuple(benchmarks))
