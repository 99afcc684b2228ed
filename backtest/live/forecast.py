"""Looking forward: next month's forecast, shrunk expected returns and recommended weights.

The live decision is the walk-forward's next step, made with the same code::

    panel = walk_forward(config, prices, ...)          # scored out-of-sample history
    forecast = fit(all labelled samples).predict(last window)
    view = views(panel + live row, returns)[-1]         # backtest.portfolio.rebalance's MarketView
    mu = clone(strategy).fit(view).mu_ ; weights = MeanVariance(...).allocate(...)

The walk-forward panel is needed because the ``skill`` and ``black_litterman``
strategies weigh the forecast by its trailing out-of-sample errors; its windows come
from the same :class:`backtest.engine.store.WindowStore` as ``run``, so after a ``run`` (or a
first ``forecast``) only the live window is new, and a rerun is instant.

Longer than ~300 lines because next month's window, its forecast path and the recommendation
built on them read best together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.engine.panel import ForecastPanel
from backtest.engine.store import WindowStore, digest
from backtest.engine.walkforward import (
    Runner,
    WindowJob,
    history_window,
    model_specs,
    prepare,
    run_jobs,
    splitter,
    walk_forward,
    window_key,
    window_seed,
)
from backtest.features import Sequences, Variant, log_returns
from backtest.live.recommend import Recommendation, recommend
from models.base import HistoricalMean
from models.horizon import check_horizon, fit_path

__all__ = [
    "LiveForecast",
    "LiveWindow",
    "extend_panel",
    "forecast_next",
    "live_window",
]


@dataclass(frozen=True)
class LiveWindow:
    """The live fit: every labelled sample of the configured window, forecasting the next month.

    Attributes
    ----------
    jobs : dict of str to WindowJob
        One per model: train on the labelled samples (all of them, or the last
        ``train_size`` for a rolling window); test on the final, unlabelled sample. Keys
        are built like :func:`~backtest.engine.walkforward.plan_jobs`' (so the store
        shares them with ``plan_jobs(live=True)``).
    origin, forecast_month : Timestamp
        The data's last month and the month forecast.
    fit_start : Timestamp
        First target month of the models' training samples.
    train_start : Timestamp
        First month of the returns the historical mean and the sample moments use.
    hist_mean : Series of shape (n_targets,)
        Mean log return of those months: the historical-mean forecast.
    feature_names, target_names : tuple of str
        Input and target columns of the sequences.
    """

    jobs: dict[str, WindowJob]
    origin: pd.Timestamp
    forecast_month: pd.Timestamp
    fit_start: pd.Timestamp
    train_start: pd.Timestamp
    hist_mean: pd.Series
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    @property
    def job(self) -> WindowJob:
        """The primary model's live job."""
        return next(iter(self.jobs.values()))

    @property
    def n_train(self) -> int:
        """Training samples of the live fit."""
        return len(self.job.X_train)


def live_window(config: RunConfig, seq: Sequences, returns: pd.DataFrame) -> LiveWindow:
    """The live window of ``seq``: train on labelled samples, forecast the unlabelled one.

    Unlike the last job of ``plan_jobs(config, seq, live=True)``, it always trains on the
    latest labelled samples, whatever ``refit_every`` is: a decision taken today uses the
    model refitted today. With ``refit_every=1`` the two are the same job. Which samples
    train it, and which months of ``returns`` (the targets' monthly log returns) give the
    historical mean, is the engine's one window rule
    (:meth:`backtest.splits.WalkForward.train_rows`, :func:`history_window`).
    """
    n = seq.n_labelled
    train = splitter(config).train_rows(n)
    first = int(train[0])
    origin = seq.origins[n]
    history = history_window(config, returns[list(seq.target_names)], origin)
    seed = window_seed(config.random_state, config.variant, origin)
    arrays = seq.X[train], seq.y[train], seq.X[n:]
    rows = (first, n, n, n + 1)
    jobs = {
        spec.name: WindowJob(window_key(arrays, spec, seed), *arrays, spec, seed, rows)
        for spec in model_specs(config)
    }
    return LiveWindow(
        jobs=jobs,
        origin=origin,
        forecast_month=seq.target_dates[n],
        fit_start=seq.target_dates[first],
        train_start=history.index[0],
        hist_mean=pd.Series(
            HistoricalMean().fit(None, history.to_numpy()).predict([origin])[0],
            index=list(seq.target_names),
        ),
        feature_names=seq.feature_names,
        target_names=seq.target_names,
    )


def extend_panel(panel: ForecastPanel, live: LiveWindow, forecasts: pd.DataFrame) -> ForecastPanel:
    """``panel`` with the live month appended (realised return unknown: NaN).

    ``forecasts`` holds one column per model (tickers as index). The live row is never
    scored: :func:`backtest.portfolio.rebalance.views` only lets forecasts of months up to
    each origin into a view's past errors.
    """
    names = panel.tickers
    date = pd.DatetimeIndex([live.forecast_month], name=panel.dates.name)

    def append(frame: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        return pd.concat([frame, pd.DataFrame([values], index=date, columns=names)])

    def stamp(index: pd.DatetimeIndex, value: pd.Timestamp) -> pd.DatetimeIndex:
        return pd.DatetimeIndex([*index, value], name=index.name)

    return dataclasses.replace(
        panel,
        forecasts={
            model: append(frame, forecasts[model].reindex(names).to_numpy(dtype=float))
            for model, frame in panel.forecasts.items()
        },
        hist_mean=append(panel.hist_mean, live.hist_mean.reindex(names).to_numpy(dtype=float)),
        realised=append(panel.realised, np.full(len(names), np.nan)),
        origin=stamp(panel.origin, live.origin),
        train_start=stamp(panel.train_start, live.train_start),
        train_end=stamp(panel.train_end, live.origin),
    )


@dataclass(frozen=True)
class LiveForecast:
    """The forward-looking answer of one variant.

    Attributes
    ----------
    variant : Variant
        The models' inputs.
    live : LiveWindow
        The live fits (origin, forecast month, training window).
    horizon : int
        Months averaged in ``forecasts``.
    paths : dict of str to DataFrame of shape (horizon, n_targets)
        Each model's forecast log return of each month ahead (one row for ``horizon=1``).
    recommendation : Recommendation
        Shrunk expected returns and weights built on the mean of the primary model's path.
    panel : ForecastPanel
        The walk-forward history whose errors the strategies weigh.
    live_cached : bool
        Whether the live fit was read from the store.
    """

    variant: Variant
    live: LiveWindow
    horizon: int
    paths: dict[str, pd.DataFrame]
    recommendation: Recommendation
    panel: ForecastPanel
    live_cached: bool

    @property
    def path(self) -> pd.DataFrame:
        """The primary model's path."""
        return next(iter(self.paths.values()))

    @property
    def forecasts(self) -> pd.DataFrame:
        """Each model's mean monthly log return over the ``horizon`` months (tickers x models)."""
        return pd.DataFrame({model: path.mean(axis=0) for model, path in self.paths.items()})

    @property
    def forecast(self) -> pd.Series:
        """The primary model's forecast."""
        return self.path.mean(axis=0)

    def tidy(self) -> pd.DataFrame:
        """The ``forecast.csv`` table, one value per row.

        Columns: variant, origin (last data month), forecast_month (first month ahead),
        horizon, ticker, quantity, strategy, value. ``quantity`` is ``<model>_forecast``
        (one per model) or ``hist_mean`` (``strategy`` empty), or ``mu``, ``mu_simple``,
        ``intensity`` of a strategy, or ``weight`` of a strategy or benchmark. Returns are
        monthly: ``mu`` and the forecasts in log units, ``mu_simple`` in simple units.
        """
        rec = self.recommendation
        parts = [
            *(_long(f.to_frame(""), f"{model}_forecast") for model, f in self.forecasts.items()),
            _long(rec.hist_mean.to_frame(""), "hist_mean"),
            _long(rec.mu, "mu"),
            _long(rec.mu_simple, "mu_simple"),
            _long(rec.intensity, "intensity"),
            _long(rec.weights, "weight"),
        ]
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "horizon", self.horizon)
        out.insert(0, "forecast_month", f"{self.live.forecast_month:%Y-%m-%d}")
        out.insert(0, "origin", f"{self.live.origin:%Y-%m-%d}")
        out.insert(0, "variant", self.variant.value)
        return out


def _long(frame: pd.DataFrame, quantity: str) -> pd.DataFrame:
    long = (
        frame.rename_axis("ticker")
        .reset_index()
        .melt(id_vars="ticker", var_name="strategy", value_name="value")
    )
    long.insert(1, "quantity", quantity)
    return long[["ticker", "quantity", "strategy", "value"]]


def _live_path(
    job: WindowJob, live: LiveWindow, horizon: int, store: WindowStore, runner: Runner
) -> tuple[np.ndarray, bool]:
    """One model's forecast path of ``horizon`` months, and whether it came from the store."""
    if horizon == 1:
        (output,), n_cached = run_jobs([job], store, runner)
        return output["forecast"][:1], n_cached == 1
    # The path needs the fitted model itself, so it is fitted here (one fit, seeded as
    # the one-step live window); the path, not the model, is what the store keeps.
    key = digest("live-path", job.key, horizon)
    output = store.load(key)
    if output is not None:
        return output["path"], True
    output = fit_path(
        job.X_train, job.y_train, job.X_test[0], job.model, job.seed, horizon,
        live.feature_names, live.target_names,
    )  # fmt: skip
    store.save(key, output)
    return output["path"], False


def forecast_next(
    config: RunConfig,
    prices: pd.DataFrame,
    store: WindowStore,
    runner: Runner,
    strategies: Sequence[str],
    horizon: int = 1,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> LiveForecast:
    """Forecast the month after ``prices`` ends and decide the portfolios for it.

    Parameters
    ----------
    config : RunConfig
        Variant, model, window and portfolio settings.
    prices : DataFrame of shape (n_months, n_tickers)
        Month-end prices; the last row is the decision month (nothing after it is read).
    store : WindowStore
        Cache of window fits, shared with ``run``.
    runner : callable
        Window runner (see :mod:`backtest.engine.local`).
    strategies : sequence of str
        Strategies to evaluate.
    horizon : int, default 1
        Months ahead to average (above 1 only for the ``base`` variant).
    progress : callable, optional
        Progress wrapper of the walk-forward windows.

    Returns
    -------
    LiveForecast
        The forecast path, the shrunk expected returns and the recommended weights.

    Raises
    ------
    ValueError
        If the variant cannot forecast ``horizon`` months (see
        :func:`models.horizon.check_horizon`) or the data are too short.
    """
    horizon = check_horizon(config.variant, horizon)
    seq, _ = prepare(config, prices)
    target_returns = log_returns(prices)[list(seq.target_names)]
    live = live_window(config, seq, target_returns)
    panel = walk_forward(config, prices, store, runner, progress)
    paths, cached = {}, []
    for model, job in live.jobs.items():
        path, was_cached = _live_path(job, live, horizon, store, runner)
        months = pd.date_range(live.forecast_month, periods=horizon, freq="ME", name="date")
        paths[model] = pd.DataFrame(path, index=months, columns=list(seq.target_names))
        cached.append(was_cached)
    forecasts = pd.DataFrame({model: path.mean(axis=0) for model, path in paths.items()})
    recommendation = recommend(
        extend_panel(panel, live, forecasts),
        target_returns,
        strategies,
        config.portfolio.risk_aversion,
        config.portfolio.max_weight,
    )
    live_cached = all(cached)
    return LiveForecast(
        variant=config.variant,
        live=live,
        horizon=horizon,
        paths=paths,
        recommendation=recommendation,
        panel=panel,
        live_cached=live_cached,
    )
