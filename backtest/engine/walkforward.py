"""The walk-forward forecasting engine: one LSTM fit per window, in parallel, cached.

The core loop, stripped of bookkeeping::

    for split in WalkForward(...).split(n_samples):
        lstm = LSTMForecaster(seed=window_seed(...)).fit(X[split.train], y[split.train])
        forecast[split.test] = lstm.predict(X[split.test])
        hist_mean[split.test] = y[split.train].mean(axis=0)

Windows are independent, so they run through joblib (loky processes locally, or a
Dask cluster); each worker returns numpy arrays, never Keras objects. Each window's
seed derives from (base seed, variant, origin month), never from scheduling order,
and every worker runs TensorFlow single-threaded and deterministic: the numbers are
the same whatever ``n_jobs`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.engine.store import WindowStore, digest
from backtest.features import (
    IndicatorWindows,
    Sequences,
    Variant,
    build_features,
    make_sequences,
)
from backtest.splits import WalkForward, WindowKind

ENGINE_VERSION = "1"
_VARIANT_CODES = {Variant.BASE: 1, Variant.INDICATORS: 2, Variant.RELATIVES: 3}


@dataclass(frozen=True)
class WindowJob:
    """Everything one worker needs to fit one window; small and picklable.

    ``rows`` is where the arrays come from in the variant's :class:`Sequences`:
    ``X_train, y_train = X[a:b], y[a:b]`` and ``X_test = X[c:d]`` for
    ``rows = (a, b, c, d)``. Distributed runners use it to ship the sequences once and
    each window as four integers (:mod:`backtest.engine.cluster`); ``None`` when unknown.
    """

    key: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    params: tuple[tuple[str, object], ...]
    seed: int
    rows: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class ForecastPanel:
    """Out-of-sample forecasts of one variant, with what they are compared to.

    All frames are (n_forecast_months, n_targets), indexed by the month forecast.

    Attributes
    ----------
    lstm, hist_mean, realised : DataFrame
        The LSTM's forecasts, the historical-mean baseline and the realised log returns.
    origin : DatetimeIndex
        The month at whose end each forecast was made.
    train_start, train_end : DatetimeIndex
        First and last target month of each forecast's training window.
    diagnostics : DataFrame
        Per refit: origin, epochs run and best validation loss (ensemble means).
    n_cached, n_computed : int
        Windows read from the store and windows fitted by this call.
    corrupt : tuple of str
        Stored windows that failed their checksum and were recomputed.
    notes : tuple of str
        Data notes carried from the feature builder.
    """

    variant: Variant
    lstm: pd.DataFrame
    hist_mean: pd.DataFrame
    realised: pd.DataFrame
    origin: pd.DatetimeIndex
    train_start: pd.DatetimeIndex
    train_end: pd.DatetimeIndex
    diagnostics: pd.DataFrame
    n_cached: int
    n_computed: int
    corrupt: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """Long form: date, ticker, model, forecast, realised, origin, train start/end."""
        frames = []
        for model, frame in (("lstm", self.lstm), ("hist_mean", self.hist_mean)):
            long = (
                frame.rename_axis("date")
                .reset_index()
                .melt(id_vars="date", var_name="ticker", value_name="forecast")
            )
            long["model"] = model
            frames.append(long)
        out = pd.concat(frames, ignore_index=True)
        realised = (
            self.realised.rename_axis("date")
            .reset_index()
            .melt(id_vars="date", var_name="ticker", value_name="realised")
        )
        out = out.merge(realised, on=["date", "ticker"], how="left")
        meta = pd.DataFrame(
            {
                "date": self.lstm.index,
                "origin": self.origin,
                "train_start": self.train_start,
                "train_end": self.train_end,
            }
        )
        out = out.merge(meta, on="date", how="left")
        columns = ["date", "ticker", "model", "forecast", "realised", "origin"]
        return out[[*columns, "train_start", "train_end"]].sort_values(
            ["date", "model", "ticker"], kind="stable", ignore_index=True
        )


def window_seed(random_state: int, variant: Variant, origin: pd.Timestamp) -> int:
    """Seed of the window at ``origin``: a function of (base seed, variant, month) only."""
    sequence = np.random.SeedSequence(
        entropy=random_state, spawn_key=(_VARIANT_CODES[variant], origin.year * 100 + origin.month)
    )
    return int(sequence.generate_state(1)[0])


def minimum_months(config: RunConfig) -> int:
    """Monthly prices a variant needs: returns, warm-up, lookback, training, one forecast."""
    warmup = IndicatorWindows().warmup if config.variant is Variant.INDICATORS else 0
    return 1 + warmup + config.model.lookback - 1 + config.walk_forward.min_train + 1


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


def plan_jobs(config: RunConfig, seq: Sequences, live: bool = False) -> list[WindowJob]:
    """One job per refit; ``live`` adds a final fit on every labelled sample."""
    params = tuple(sorted(config.model.estimator_params().items()))
    n = seq.n_labelled + (1 if live else 0)
    jobs = []
    for split in splitter(config).split(n):
        origin = seq.origins[split.test[0]]
        seed = window_seed(config.random_state, config.variant, origin)
        X_train, y_train = seq.X[split.train], seq.y[split.train]
        X_test = seq.X[split.test]
        key = digest(ENGINE_VERSION, X_train, y_train, X_test, list(params), seed)
        train, test = split.train, split.test
        rows = (int(train[0]), int(train[-1]) + 1, int(test[0]), int(test[-1]) + 1)
        jobs.append(WindowJob(key, X_train, y_train, X_test, params, seed, rows))
    return jobs


def fit_window(job: WindowJob) -> dict[str, np.ndarray]:
    """Fit the LSTM of one window and forecast its test samples (runs in a worker)."""
    from models.lstm import LSTMForecaster

    model = LSTMForecaster(**dict(job.params), random_state=job.seed)
    forecast = model.fit(job.X_train, job.y_train).predict(job.X_test)
    return {
        "forecast": forecast,
        "epochs_run": np.array([o.epochs_run for o in model.outcomes_]),
        "best_val_loss": np.array([o.best_val_loss for o in model.outcomes_]),
    }


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
        cached = store.load(job.key)
        if cached is None:
            todo.append(job)
        else:
            results[job.key] = cached
    stream = runner(fit_window, todo) if todo else iter(())
    if progress is not None:
        stream = progress(stream, len(todo))
    for key, arrays in stream:
        store.save(key, arrays)
        results[key] = arrays
    return [results[job.key] for job in jobs], len(jobs) - len(todo)


def assemble(
    config: RunConfig,
    seq: Sequences,
    jobs: list[WindowJob],
    outputs: list[dict[str, np.ndarray]],
    n_cached: int,
    corrupt: tuple[str, ...],
    notes: tuple[str, ...],
) -> ForecastPanel:
    """Turn per-window arrays into a labelled :class:`ForecastPanel`."""
    splits = list(splitter(config).split(seq.n_labelled))
    tests = np.concatenate([s.test for s in splits])
    forecasts = np.concatenate([o["forecast"] for o in outputs])
    names = list(seq.target_names)
    dates = seq.target_dates[tests]
    hist, starts = [], []
    for split in splits:
        for j in split.test:
            # The baseline is refreshed every month, even between LSTM refits: it is the
            # mean of the training window available at the origin (Campbell-Thompson).
            first = (
                0
                if config.walk_forward.window is WindowKind.EXPANDING
                else max(0, j - (config.walk_forward.train_size or config.walk_forward.min_train))
            )
            hist.append(seq.y[first:j].mean(axis=0))
            starts.append(seq.target_dates[first])
    diagnostics = pd.DataFrame(
        {
            "origin": [seq.origins[s.test[0]] for s in splits],
            "n_train": [len(s.train) for s in splits],
            "epochs_run": [float(np.mean(o["epochs_run"])) for o in outputs],
            "best_val_loss": [float(np.mean(o["best_val_loss"])) for o in outputs],
        }
    )
    frame = lambda values: pd.DataFrame(values, index=dates, columns=names)  # noqa: E731
    return ForecastPanel(
        variant=config.variant,
        lstm=frame(forecasts),
        hist_mean=frame(np.array(hist)),
        realised=frame(seq.y[tests]),
        origin=pd.DatetimeIndex(seq.origins[tests], name="origin"),
        train_start=pd.DatetimeIndex(starts, name="train_start"),
        train_end=pd.DatetimeIndex(seq.origins[tests], name="train_end"),
        diagnostics=diagnostics,
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
    return assemble(config, seq, jobs, outputs, n_cached, tuple(store.corrupt), notes)
