"""The walk-forward forecasting engine: one fit per window and model, in parallel, cached.

The core loop, stripped of bookkeeping::

    for split in WalkForward(...).split(n_samples):
        for spec in model_specs(config):            # e.g. lstm, ridge
            model = registry.build(spec, seed=window_seed(...))
            forecasts[spec.name][split.test] = model.fit(X[split.train], y[split.train]).predict(
                X[split.test])
    for each month forecast, origin t:
        hist_mean[t + 1] = HistoricalMean().fit(None, returns[train_rows(t)]).predict(...)

The engine knows no model: a :class:`models.registry.ModelSpec` (name and parameters)
travels in each :class:`WindowJob`, enters its cache key, and the worker asks the
registry for the forecaster. Windows are independent, so they run through joblib
(loky processes locally, or a Dask cluster); each worker returns numpy arrays, never
Keras objects. Each window's seed derives from (base seed, variant, origin month),
never from scheduling order, and every worker runs TensorFlow single-threaded and
deterministic: the numbers are the same whatever ``n_jobs`` is.

Just over ~300 lines: the jobs, the window fit and the assembly of one walk-forward read best in
one file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.config import EstimatorConfig, ModelConfig, RunConfig
from backtest.engine.panel import ForecastPanel
from backtest.engine.store import WindowStore, digest
from backtest.features import (
    Sequences,
    Variant,
    build_features,
    leading_months,
    log_returns,
    make_sequences,
)
from backtest.splits import WalkForward
from models.base import HistoricalMean
from models.registry import ModelSpec, build, validate

# "3": a window's record holds its ensemble members' forecasts (``members``) too.
ENGINE_VERSION = "3"
MEMBERS = "members"
"""Record entry of an ensemble's members' forecasts, ``(n_members, n_test, n_outputs)``."""
_VARIANT_CODES = {Variant.BASE: 1, Variant.INDICATORS: 2, Variant.RELATIVES: 3}


@dataclass(frozen=True)
class WindowJob:
    """Everything one worker needs to fit one window; small and picklable.

    ``rows`` is where the arrays come from in the variant's :class:`Sequences`:
    ``X_train, y_train = X[a:b], y[a:b]`` and ``X_test = X[c:d]`` for
    ``rows = (a, b, c, d)``. Distributed runners use it to ship the sequences once and
    each window as four integers (:mod:`backtest.engine.cluster`); ``None`` when unknown.
    ``model`` names the forecaster and its parameters; the worker builds it from the
    registry (:func:`models.registry.build`).
    """

    key: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    model: ModelSpec
    seed: int
    rows: tuple[int, int, int, int] | None = None


def window_seed(random_state: int, variant: Variant, origin: pd.Timestamp) -> int:
    """Seed of the window at ``origin``: a function of (base seed, variant, month) only."""
    sequence = np.random.SeedSequence(
        entropy=random_state, spawn_key=(_VARIANT_CODES[variant], origin.year * 100 + origin.month)
    )
    return int(sequence.generate_state(1)[0])


def minimum_months(config: RunConfig) -> int:
    """Monthly prices a variant needs for one forecast.

    The rows before its first feature row (:func:`backtest.features.leading_months`), then
    ``lookback`` months of features for the first sequence, one month more for each of the
    ``min_train`` labelled samples after it, and the month forecast.
    """
    lead = leading_months(config.variant)
    return lead + config.model.lookback + config.walk_forward.min_train + 1


def prepare(config: RunConfig, prices: pd.DataFrame) -> tuple[Sequences, tuple[str, ...]]:
    """Features and sequences of the configured variant, with a clear error when too short."""
    needed = minimum_months(config)
    if len(prices) < needed:
        raise ValueError(
            f"too little history: variant {config.variant.value!r} with lookback="
            f"{config.model.lookback} and min_train={config.walk_forward.min_train} needs at "
            f"least {needed} monthly prices, the data has {len(prices)} "
            f"({prices.index[0]:%Y-%m} .. {prices.index[-1]:%Y-%m}); widen --start/--end or "
            "lower --min-train/--lookback"
        )
    months = pd.PeriodIndex(prices.index, freq="M")
    steps = np.diff(months.asi8)
    if (steps != 1).any():
        k = int(np.argmax(steps != 1))
        # A missing month would silently pair a sequence with the return two months on.
        raise ValueError(
            f"`prices` must hold consecutive months, one row each: {months[k]} is followed by "
            f"{months[k + 1]}; fill the gap, or load the prices with "
            "backtest.data.prices.load_prices"
        )
    feature_set = build_features(config.variant, prices, config.data.targets, config.data.relatives)
    return make_sequences(feature_set, config.model.lookback), feature_set.notes


def splitter(config: RunConfig) -> WalkForward:
    """The configured walk-forward splitter."""
    return WalkForward(
        min_train_size=config.walk_forward.min_train,
        window=config.walk_forward.window,
        train_size=config.walk_forward.train_size,
        refit_every=config.walk_forward.refit_every,
    )


def model_specs(config: RunConfig) -> list[ModelSpec]:
    """The configured forecasters' identities, in the configured order.

    A model's parameters come from its ``[models.<name>]`` table; the model that the
    ``[model]`` section configures (the LSTM) takes that section's settings first. Each
    is checked (:func:`models.registry.validate`): a bad name, estimator path or
    parameter fails here, before any window is fitted.
    """
    specs = []
    for name in config.models.names:
        table = config.models.table(name) or EstimatorConfig()
        params = dict(table.params)
        if name == ModelConfig.configures:
            params = {**config.model.estimator_params(), **params}
        specs.append(validate(ModelSpec.of(name, params, table.estimator)))
    if not specs:
        raise ValueError("no model to run: list at least one, e.g. --models lstm ridge")
    if len(set(config.models.names)) != len(config.models.names):
        raise ValueError(f"models are listed twice: {list(config.models.names)}")
    return specs


def window_key(job_arrays: tuple[np.ndarray, np.ndarray, np.ndarray], spec: ModelSpec, seed: int):
    """Cache key of one window's fit: its arrays, the model's identity and the seed."""
    X_train, y_train, X_test = job_arrays
    return digest(ENGINE_VERSION, X_train, y_train, X_test, spec.identity(), seed)


def plan_jobs(config: RunConfig, seq: Sequences, live: bool = False) -> list[WindowJob]:
    """One job per refit and model (split-major); ``live`` adds a final fit on every sample."""
    specs = model_specs(config)
    n = seq.n_labelled + (1 if live else 0)
    jobs = []
    for split in splitter(config).split(n):
        origin = seq.origins[split.test[0]]
        seed = window_seed(config.random_state, config.variant, origin)
        arrays = seq.X[split.train], seq.y[split.train], seq.X[split.test]
        train, test = split.train, split.test
        rows = (int(train[0]), int(train[-1]) + 1, int(test[0]), int(test[-1]) + 1)
        for spec in specs:
            key = window_key(arrays, spec, seed)
            jobs.append(WindowJob(key, *arrays, spec, seed, rows))
    return jobs


def fit_window(job: WindowJob) -> dict[str, np.ndarray]:
    """Fit one window's forecaster and forecast its test samples (runs in a worker).

    Returns the ``forecast``, the model's optional extras
    (:meth:`models.base.Forecaster.diagnostics`) and, for an ensemble of more than one
    member, each member's forecasts under :data:`MEMBERS`
    (:meth:`models.base.Forecaster.member_predictions`).
    """
    model = build(job.model, random_state=job.seed).fit(job.X_train, job.y_train)
    output = {
        "forecast": np.asarray(model.predict(job.X_test), dtype=np.float64),
        **model.diagnostics(),
    }
    members = np.asarray(model.member_predictions(job.X_test), dtype=np.float64)
    if len(members) > 1:
        output[MEMBERS] = members
    return output


Runner = Callable[[Callable[[WindowJob], dict[str, np.ndarray]], list[WindowJob]], Iterator]


def run_jobs(
    jobs: list[WindowJob],
    store: WindowStore,
    runner: Runner,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> tuple[list[dict[str, np.ndarray]], int]:
    """Load finished windows, compute the rest with ``runner``, store each on arrival."""
    results: dict[str, dict[str, np.ndarray]] = {}
    todo = []
    for job in jobs:
        cached = store.load(job.key, job.model)
        if cached is None:
            todo.append(job)
        else:
            results[job.key] = cached
    stream = runner(fit_window, todo) if todo else iter(())
    if progress is not None:
        stream = progress(stream, len(todo))
    models = {job.key: job.model for job in todo}
    for key, arrays in stream:
        store.save(key, arrays, models[key])
        results[key] = arrays
    return [results[job.key] for job in jobs], len(jobs) - len(todo)


def _diagnostics(
    splits: list, origins: list, jobs: list[WindowJob], outputs: list[dict[str, np.ndarray]]
) -> pd.DataFrame:
    """Per refit: origin, training samples and each model's extras (means over members).

    An extra keeps its own name (``epochs_run``) unless two models report one of that
    name, then it is ``name@model``.
    """
    frame = pd.DataFrame({"origin": origins, "n_train": [len(s.train) for s in splits]})
    extras: dict[tuple[str, str], list[float]] = {}
    for job, output in zip(jobs, outputs, strict=True):
        for extra, values in output.items():
            if extra not in ("forecast", MEMBERS):
                extras.setdefault((extra, job.model.name), []).append(float(np.mean(values)))
    names = [extra for extra, _ in extras]
    for (extra, model), values in extras.items():
        frame[extra if names.count(extra) == 1 else f"{extra}@{model}"] = values
    return frame


def history_window(config: RunConfig, returns: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """The monthly returns known at ``origin`` that the baseline and sample moments use.

    Every return in the data up to and including ``origin`` (expanding), or the last
    ``train_size`` months of them (rolling), by :meth:`backtest.splits.WalkForward.train_rows`:
    independent of the lookback and of the variant's warm-up, which only limit which
    months have a full feature sequence to train a model on.
    """
    end = returns.index.get_loc(origin) + 1
    return returns.iloc[splitter(config).train_rows(end)]


def baseline(
    config: RunConfig, returns: pd.DataFrame, origins: pd.DatetimeIndex
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """The historical-mean forecast made at each origin, and the first month it averages.

    Refreshed every month, even between model refits (Campbell & Thompson 2008).
    """
    means, starts = [], []
    for origin in origins:
        window = history_window(config, returns, origin)
        means.append(HistoricalMean().fit(None, window.to_numpy()).predict([origin])[0])
        starts.append(window.index[0])
    return np.array(means), pd.DatetimeIndex(starts, name="train_start")


def assemble(
    config: RunConfig,
    seq: Sequences,
    jobs: list[WindowJob],
    outputs: list[dict[str, np.ndarray]],
    n_cached: int,
    corrupt: tuple[str, ...],
    notes: tuple[str, ...],
    returns: pd.DataFrame,
) -> ForecastPanel:
    """Turn per-window arrays into a labelled :class:`ForecastPanel`.

    ``returns`` are the targets' monthly log returns over the whole data (only months up
    to each origin are read for it: :func:`history_window`).
    """
    splits = list(splitter(config).split(seq.n_labelled))
    tests = np.concatenate([s.test for s in splits])
    names = list(seq.target_names)
    dates = seq.target_dates[tests]
    frame = lambda values: pd.DataFrame(values, index=dates, columns=names)  # noqa: E731
    by_model: dict[str, list[np.ndarray]] = {}
    members: dict[str, list[np.ndarray]] = {}
    for job, output in zip(jobs, outputs, strict=True):
        by_model.setdefault(job.model.name, []).append(output["forecast"])
        if MEMBERS in output:
            members.setdefault(job.model.name, []).append(output[MEMBERS])
    origins = pd.DatetimeIndex(seq.origins[tests], name="origin")
    hist, starts = baseline(config, returns[names], origins)
    return ForecastPanel(
        variant=config.variant,
        forecasts={name: frame(np.concatenate(parts)) for name, parts in by_model.items()},
        members={
            name: tuple(frame(member) for member in np.concatenate(parts, axis=1))
            for name, parts in members.items()
            if len(parts) == len(by_model[name])  # every window kept its members
        },
        hist_mean=frame(hist),
        realised=frame(seq.y[tests]),
        origin=origins,
        train_start=starts,
        train_end=pd.DatetimeIndex(seq.origins[tests], name="train_end"),
        diagnostics=_diagnostics(splits, [seq.origins[s.test[0]] for s in splits], jobs, outputs),
        n_cached=n_cached,
        n_computed=len(jobs) - n_cached,
        corrupt=corrupt,
        notes=notes,
    )


def walk_forward(
    config: RunConfig,
    prices: pd.DataFrame,
    store: WindowStore,
    runner: Runner,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> ForecastPanel:
    """Run the configured variant's walk-forward over month-end ``prices``."""
    seq, notes = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    outputs, n_cached = run_jobs(jobs, store, runner, progress)
    returns = log_returns(prices)
    return assemble(config, seq, jobs, outputs, n_cached, tuple(store.corrupt), notes, returns)
