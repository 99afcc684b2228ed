"""Seconds per walk-forward window: the seed's ``model.fit`` against the engine, side by side.

    python benchmarks/bench_windows.py --prices ../shared/data/prices_monthly.csv --windows 8

(a) naive reference: a fresh Keras ``Sequential`` per window, ``model.fit`` with the seed's
    settings and callbacks, sequential, TensorFlow's default threads (this process);
(b) the engine: ``walkforward.fit_window`` on the same windows, (b1) sequentially in one
    single-threaded worker process, (b2) through ``local_runner(2)`` as ``run`` does.

Both fit the same scaled inputs with the same 80/20 split of each training window. The
script prints seconds per window, the ratio ``N.Nx``, and checks that the engine's
parallel forecasts equal its own sequential path's bit for bit.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from backtest.config import RunConfig
from backtest.data.prices import load_prices
from backtest.engine.walkforward import WindowJob, fit_window, plan_jobs, prepare


def naive_fit(job: WindowJob) -> tuple[np.ndarray, int]:
    """The seed notebook's way: build, compile and ``model.fit`` a fresh model."""
    import keras
    from sklearn.preprocessing import StandardScaler

    X, y = job.X_train, job.y_train
    n_features = X.shape[-1]
    sx = StandardScaler().fit(X.reshape(-1, n_features))
    sy = StandardScaler().fit(y)
    Xs = sx.transform(X.reshape(-1, n_features)).reshape(X.shape)
    ys = sy.transform(y)
    split = int(len(X) * 0.8)
    keras.utils.set_random_seed(job.seed % 2**31)
    model = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.LSTM(64, return_sequences=True),
            keras.layers.Dropout(0.2),
            keras.layers.LSTM(32),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(y.shape[1]),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(
        Xs[:split],
        ys[:split],
        validation_data=(Xs[split:], ys[split:]),
        epochs=200,
        batch_size=8,
        shuffle=False,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(patience=5, factor=0.5, min_lr=1e-5),
        ],
    )
    x_test = sx.transform(job.X_test.reshape(-1, n_features)).reshape(job.X_test.shape)
    return sy.inverse_transform(model.predict(x_test, verbose=0)), len(history.history["loss"])


def _timed_fit(job: WindowJob) -> tuple[dict, float]:
    started = time.perf_counter()
    out = fit_window(job)
    return out, time.perf_counter() - started


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prices", default="../shared/data/prices_monthly.csv")
    parser.add_argument("--windows", type=int, default=8, help="windows to time")
    args = parser.parse_args()

    config = RunConfig()
    data = load_prices(
        [*config.data.targets, *config.data.relatives],
        config.data.start,
        config.data.end,
        prices_path=args.prices,
    )
    seq, _ = prepare(config, data.prices)
    all_jobs = plan_jobs(config, seq)
    picks = np.linspace(0, len(all_jobs) - 1, args.windows).round().astype(int)
    jobs = [all_jobs[i] for i in picks]
    print(
        f"{len(jobs)} windows of {len(all_jobs)} (relatives variant, seed's model), "
        f"{jobs[0].X_train.shape[0]}..{jobs[-1].X_train.shape[0]} training samples, "
        f"{os.cpu_count()} cores\n"
    )

    # (b1) the engine, sequential, in one fresh single-threaded worker process
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=1)
    started = time.perf_counter()
    sequential = list(executor.map(_timed_fit, jobs))
    seq_wall = time.perf_counter() - started
    executor.shutdown(wait=True)
    fit_times = [t for _, t in sequential]
    steady = float(np.median(fit_times[1:]))
    # (b2) the engine as `run` runs it: two single-threaded workers
    from backtest.engine.local import local_runner

    started = time.perf_counter()
    parallel = dict(local_runner(2)(fit_window, jobs))
    par_wall = time.perf_counter() - started
    identical = all(
        np.array_equal(parallel[job.key]["forecast"], out["forecast"])
        for job, (out, _) in zip(jobs, sequential, strict=True)
    )

    # (a) the naive reference, in this process with TensorFlow's default threads
    naive_times, naive_epochs = [], []
    for job in jobs:
        started = time.perf_counter()
        _, epochs = naive_fit(job)
        naive_times.append(time.perf_counter() - started)
        naive_epochs.append(epochs)
    naive = float(np.median(naive_times))
    engine_epochs = [int(out["epochs_run"][0]) for out, _ in sequential]

    print("| path | s per window | epochs (median) | vs model.fit |")
    print("| --- | --- | --- | --- |")
    print(
        f"| (a) fresh Sequential + model.fit, default threads | {naive:.3f} | "
        f"{np.median(naive_epochs):.0f} | 1.0x |"
    )
    print(
        f"| (b1) engine, 1 worker x 1 thread, steady state | {steady:.3f} | "
        f"{np.median(engine_epochs):.0f} | {naive / steady:.1f}x |"
    )
    print(
        f"| (b1) engine, 1 worker, wall incl. TF start-up and trace | {seq_wall / len(jobs):.3f}"
        f" | | {naive / (seq_wall / len(jobs)):.1f}x |"
    )
    print(
        f"| (b2) engine, 2 workers, wall incl. start-up | {par_wall / len(jobs):.3f} | | "
        f"{naive / (par_wall / len(jobs)):.1f}x |"
    )
    print(f"\nfirst engine fit (TF import + trace): {fit_times[0]:.2f} s")
    print(f"engine parallel forecasts equal its sequential path's: {identical}")
    if not identical:
        raise SystemExit("parallel and sequential engine forecasts differ")


if __name__ == "__main__":
    main()
