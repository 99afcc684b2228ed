"""Seconds per window of a 5-seed LSTM ensemble, stacked against one after the other.

    python benchmarks/bench_ensemble.py --prices ../shared/data/prices_monthly.csv --windows 6

On the same walk-forward windows (relatives variant, the seed's network), in this one
process with TensorFlow single-threaded as in a worker, the three paths interleaved
window by window so that machine load hits all three alike:

(1) ``--seeds 1``: one member on the single compiled network;
(2) ``--seeds 5`` the old way: five members one after the other on that network;
(3) ``--seeds 5`` stacked: the five members side by side in one compiled call
    (:mod:`models._stacked`), what ``LSTMForecaster`` now does.

The first window of each path (TensorFlow start-up and the graph trace) is timed apart.
Prints median wall and CPU seconds per window, the ratios stacked5/seeds1 (the issue's target: < 2)
and sequential5/stacked5, and how far the stacked forecasts are from the sequential ones
(the same members, so up to float32 round-off) and whether every member stopped at the
same epoch.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from backtest.config import RunConfig
from backtest.data.prices import load_prices
from backtest.engine.walkforward import plan_jobs, prepare
from models._network import configure_tensorflow
from models.lstm import LSTMForecaster, fit_members_sequentially
from models.registry import build


class SequentialEnsemble(LSTMForecaster):
    """The ensemble as it was trained before: members one after the other."""

    _fit_members = staticmethod(fit_members_sequentially)


def _fit(model: LSTMForecaster, job) -> tuple[tuple[float, float], np.ndarray, np.ndarray]:
    started, cpu = time.perf_counter(), time.process_time()
    forecast = model.fit(job.X_train, job.y_train).predict(job.X_test)
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    return elapsed, forecast, model.diagnostics()["epochs_run"]


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prices", default="../shared/data/prices_monthly.csv")
    parser.add_argument("--windows", type=int, default=6, help="windows to time (+1 warm-up)")
    parser.add_argument("--seeds", type=int, default=5, help="ensemble size")
    args = parser.parse_args()

    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    configure_tensorflow(1)
    config = RunConfig()
    data = load_prices(
        [*config.data.targets, *config.data.relatives],
        config.data.start,
        config.data.end,
        prices_path=args.prices,
    )
    seq, _ = prepare(config, data.prices)
    all_jobs = [job for job in plan_jobs(config, seq) if job.model.name == "lstm"]
    picks = np.linspace(0, len(all_jobs) - 1, args.windows + 1).round().astype(int)
    jobs = [all_jobs[i] for i in picks]
    print(
        f"{len(jobs) - 1} windows (+1 warm-up) of {len(all_jobs)} (relatives variant, seed's "
        f"model), {jobs[0].X_train.shape[0]}..{jobs[-1].X_train.shape[0]} training samples, "
        f"{args.seeds} seeds, {os.cpu_count()} cores, TensorFlow single-threaded\n"
    )

    paths = {
        "seeds=1": lambda job: build(job.model, random_state=job.seed).set_params(n_seeds=1),
        f"seeds={args.seeds} sequential": lambda job: SequentialEnsemble(
            **{**build(job.model, random_state=job.seed).get_params(), "n_seeds": args.seeds}
        ),
        f"seeds={args.seeds} stacked": lambda job: build(
            job.model, random_state=job.seed
        ).set_params(n_seeds=args.seeds),
    }
    names = list(paths)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    first: dict[str, tuple[float, float]] = {}
    worst_diff, same_epochs, epochs = 0.0, True, []
    for w, job in enumerate(jobs):
        outs = {}
        for name in names:
            outs[name] = _fit(paths[name](job), job)
            if w == 0:
                first[name] = outs[name][0]
            else:
                times[name].append(outs[name][0])
        _, f_seq, e_seq = outs[names[1]]
        _, f_stk, e_stk = outs[names[2]]
        scale = float(np.max(np.abs(f_seq)))
        worst_diff = max(worst_diff, float(np.max(np.abs(f_stk - f_seq))) / scale)
        same_epochs &= bool(np.array_equal(e_seq, e_stk))
        epochs.append(e_stk)

    # Wall and CPU seconds: on a shared machine the CPU time says more.
    median = {name: np.median(np.array(times[name]), axis=0) for name in names}
    one = median[names[0]]
    print(
        "| path | wall s per window (median) | vs seeds=1 | CPU s per window | vs seeds=1 "
        "| first window wall (start-up + trace) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        (wall, cpu), ratio = median[name], median[name] / one
        print(
            f"| {name} | {wall:.3f} | {ratio[0]:.2f}x | {cpu:.3f} | {ratio[1]:.2f}x "
            f"| {first[name][0]:.1f} s |"
        )
    stacked, sequential = median[names[2]] / one, median[names[1]] / median[names[2]]
    print(
        f"\nstacked{args.seeds}/seeds1 = {stacked[0]:.2f} wall, {stacked[1]:.2f} CPU (target < 2); "
        f"sequential{args.seeds}/stacked{args.seeds} = {sequential[0]:.2f} wall, "
        f"{sequential[1]:.2f} CPU"
    )
    spread = np.array(epochs)
    print(
        f"members' epochs run per window: min {spread.min(axis=1).tolist()}, "
        f"max {spread.max(axis=1).tolist()}"
    )
    print(
        f"stacked vs sequential forecasts: largest difference {worst_diff:.1e} of the largest "
        f"forecast; same epochs run for every member: {same_epochs}"
    )


if __name__ == "__main__":
    main()
