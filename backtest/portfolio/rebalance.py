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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from backtest.engine.panel import ForecastPanel
from backtest.portfolio.pnl import PortfolioResult, simulate_portfolio
from strategies import (
    CheckedCovariance,
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
        """Tidy weights: origin (decision date), strategy, ticker, weight.

        Each strategy's rows run ticker by ticker, origins in order within a ticker (the
        order of ``DataFrame.melt``), built from the arrays in one frame.
        """
        parts: dict[str, list[np.ndarray]] = {"origin": [], "strategy": [], "ticker": []}
        weights = []
        for name, result in self.results.items():
            w = result.weights
            n_origins, n_tickers = w.shape
            parts["origin"].append(np.tile(w.index.to_numpy(), n_tickers))
            parts["strategy"].append(np.full(w.size, name, dtype=object))
            parts["ticker"].append(np.repeat(w.columns.to_numpy(dtype=object), n_origins))
            weights.append(w.to_numpy().T.ravel())
        if not weights:
            return pd.DataFrame(columns=["origin", "strategy", "ticker", "weight"])
        columns = {key: np.concatenate(arrays) for key, arrays in parts.items()}
        return pd.DataFrame({**columns, "weight": np.concatenate(weights)})


def views(
    panel: ForecastPanel, target_returns: pd.DataFrame, model: str | None = None
) -> list[tuple[pd.Timestamp, MarketView]]:
    """The :class:`MarketView` of every rebalancing date, in date order.

    The view's forecast is ``model``'s (default: the panel's primary model).
    """
    forecasts = panel.forecast(model)
    returns = target_returns.to_numpy()
    months = forecasts.index
    frames = (forecasts, panel.hist_mean, panel.realised)
    predicted, benchmarks, realised = (frame.to_numpy() for frame in frames)
    out = []
    for i in range(len(forecasts)):
        origin = panel.origin[i]
        history = target_returns.index.slice_indexer(panel.train_start[i], origin)
        # Column-major, as a frame's rows read by .loc are: the strategies' sums over months
        # then run in the same order (a row-major copy changes their last bits).
        past = (np.asfortranarray(x[months <= origin]) for x in (predicted, benchmarks, realised))
        out.append((origin, MarketView(returns[history], predicted[i], *past)))
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
        choice = _choose(origin, {"": view}, {"": list(strategies)}, "", risk_aversion, max_weight)
    return choice.decision(tickers)


@dataclass(frozen=True)
class _Choice:
    """One rebalancing decision as arrays: row ``j`` of each is the column ``names[j]``.

    ``mu``, ``mu_simple`` and ``intensity`` are (n_strategies, n_assets); ``weights`` is
    (n_strategies + 2, n_assets), the strategies then minimum variance and 1/N. The
    per-date :class:`Decision` frames cost more to build than the decision itself, so the
    backtest reads these and builds frames once for the whole run.
    """

    origin: pd.Timestamp
    hist_mean: np.ndarray
    names: list[str]
    mu: np.ndarray
    mu_simple: np.ndarray
    intensity: np.ndarray
    weights: np.ndarray

    def decision(self, tickers: Sequence[str]) -> Decision:
        """The same decision as frames indexed by ticker."""
        index = pd.Index(list(tickers), name="ticker")

        def frame(rows: np.ndarray, names: list[str]) -> pd.DataFrame:
            return pd.DataFrame(dict(zip(names, rows, strict=True)), index=index)

        return Decision(
            origin=self.origin,
            hist_mean=pd.Series(self.hist_mean, index=index),
            mu=frame(self.mu, self.names),
            mu_simple=frame(self.mu_simple, self.names),
            intensity=frame(self.intensity, self.names),
            weights=frame(self.weights, [*self.names, MIN_VARIANCE, EQUAL_WEIGHT]),
        )


def _choose(
    origin: pd.Timestamp,
    views_by_model: dict[str, MarketView],
    strategies_by_model: dict[str, list[str]],
    primary: str,
    risk_aversion: float,
    max_weight: float,
) -> _Choice:
    """Every model's strategies and the benchmarks at one date (caller limits BLAS threads).

    Every model's view holds the same returns, so the covariances (Ledoit-Wolf for the
    allocator, the sample one for the simple-return conversion) are estimated once for all.
    """
    label = f"{origin:%Y-%m-%d}"
    first = views_by_model[primary]
    cov_log = first.sample_covariance
    # Checked once (finite, symmetric, positive semi-definite) for the date's allocators.
    cov_simple = CheckedCovariance(ledoit_wolf_covariance(np.expm1(first.returns)), label)
    mean_variance = MeanVariance(risk_aversion=risk_aversion, max_weight=max_weight)
    names, mu, mu_simple, intensity, weights = [], [], [], [], []
    for model, view in views_by_model.items():
        for name in strategies_by_model[model]:
            est = make_strategy(name).fit(view)
            names.append(model_strategy(name, model, primary))
            mu.append(est.mu_)
            mu_simple.append(simple_expected_returns(est.mu_, cov_log))
            intensity.append(np.broadcast_to(np.asarray(est.intensity_, float), (view.n_assets,)))
            weights.append(mean_variance.allocate(mu_simple[-1], cov_simple, label=label))
    hist_mean = first.historical_mean
    weights.append(MinimumVariance(max_weight=max_weight).allocate(hist_mean, cov_simple, label))
    weights.append(EqualWeight().allocate(hist_mean, cov_simple, label=label))
    rows = (np.reshape(x, (-1, first.n_assets)) for x in (mu, mu_simple, intensity))
    return _Choice(origin, hist_mean, names, *rows, weights=np.array(weights))


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


def _choose_every_model(
    panel: ForecastPanel,
    target_returns: pd.DataFrame,
    strategies: Sequence[str],
    risk_aversion: float,
    max_weight: float,
    last_only: bool = False,
) -> list[_Choice]:
    """:func:`decide_every_model` as arrays."""
    names = {panel.primary: list(strategies)}
    for model in panel.models[1:]:
        if forecast_based := [s for s in strategies if s not in FORECAST_FREE]:
            names[model] = forecast_based
    dated = {model: views(panel, target_returns, model) for model in names}
    dates = range(len(panel.origin))[-1:] if last_only else range(len(panel.origin))
    # One BLAS limit around every decision (as decide sets for one): threadpoolctl scans
    # the loaded libraries on every entry, ~5-15 ms, a second or more over a run.
    with threadpool_limits(limits=1, user_api="blas"):
        return [
            _choose(
                panel.origin[i],
                {model: dated[model][i][1] for model in names},
                names,
                panel.primary,
                risk_aversion,
                max_weight,
            )
            for i in dates
        ]


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
    choices = _choose_every_model(
        panel, target_returns, strategies, risk_aversion, max_weight, last_only
    )
    return [choice.decision(panel.tickers) for choice in choices]


FIELDS = ("mu", "mu_simple", "intensity")
"""The per-strategy, per-ticker fields of a :class:`Decision` in the expected-returns table."""


def _expected_rows(
    choices: Sequence[_Choice], dates: pd.DatetimeIndex, tickers: Sequence[str]
) -> pd.DataFrame:
    """Long table of every decision's mu, mu_simple and intensity: date, then strategy, ticker."""
    if not choices:
        return pd.DataFrame(columns=["origin", "date", "ticker", "strategy", *FIELDS])
    tickers = list(tickers)
    sizes = [len(c.names) * len(tickers) for c in choices]
    columns = {
        "origin": pd.DatetimeIndex([c.origin for c in choices]).repeat(sizes),
        "date": pd.DatetimeIndex(dates).repeat(sizes),
        "ticker": [t for c in choices for _ in c.names for t in tickers],
        "strategy": [name for c in choices for name in c.names for _ in tickers],
        **{f: np.concatenate([getattr(c, f).ravel() for c in choices]) for f in FIELDS},
    }
    return pd.DataFrame(columns)


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
    choices = _choose_every_model(panel, target_returns, strategies, risk_aversion, max_weight)
    expected = _expected_rows(choices, panel.dates, tickers)
    realised_simple = np.expm1(target_returns[tickers])
    index = pd.DatetimeIndex([c.origin for c in choices], name="origin")
    names = [*choices[0].names, MIN_VARIANCE, EQUAL_WEIGHT]
    # (n_columns, n_origins, n_assets): every decision's weights, each column a strategy.
    stacked = np.stack([c.weights for c in choices], axis=1)
    columns = pd.Index(tickers, name="ticker")
    results = {
        name: simulate_portfolio(
            pd.DataFrame(stacked[j], index=index, columns=columns), realised_simple, cost_bps
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
