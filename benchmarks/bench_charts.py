"""Chart CPU of one run, old against new, side by side in one process.

Reads a finished run directory (``python -m backtest run ... --results-dir DIR`` writes
``DIR/<variant>``), rebuilds the frames its charts are drawn from, and draws every chart of
the run (forecast, portfolio, tear-sheet and rolling-stability charts) twice per repeat,
alternately:

- ``old``: with the chart modules of commit ``--old-rev`` (extracted with ``git show`` into a
  temporary package; the default is the tree before the charts were made cheaper: stackplot,
  ``hist``, a line per faded strategy, hidden axes, hinted text, constrained layout for the
  rolling charts), called as that tree called them, with the garbage collector running;
- ``new``: today's :class:`~backtest.reports.charts.render.ChartJob` of each chart (the
  collector paused while it draws).

Both draw the same jobs in one process, one after the other, so the load is the same for
both; the CPU time of each chart is the median over the repeats, the totals are per pass.
Then the run's charts are drawn the way a run with a free core draws them: through
:func:`~backtest.reports.charts.render.render_charts` with two forked workers.

Usage::

    PYTHONPATH=$PWD python benchmarks/bench_charts.py RUN_DIR [--repeat 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from backtest.evaluation.stability import (
    ROLLING_MONTHS,
    rolling_r2_os,
    rolling_sharpe_difference,
)
from backtest.reports.charts import stability as stability_charts
from backtest.reports.charts.render import ChartJob, render_charts
from backtest.reports.charts.run_charts import (
    benchmark_order,
    forecast_chart_jobs,
    portfolio_chart_jobs,
)
from backtest.reports.charts.style import Palette

BENCHMARKS = ("min_variance", "equal_weight", "SPY")
BASELINE, EQUAL_WEIGHT = "hist_mean", "equal_weight"
MODULES = ("style", "forecast", "portfolio", "tearsheet", "stability")


def load(run: Path) -> dict:
    """The frames a run's charts are drawn from, read back from its CSVs."""
    fc = pd.read_csv(run / "forecasts.csv", parse_dates=["date"])
    forecasts = fc.pivot_table(index="date", columns=["model", "ticker"], values="forecast")
    realised = fc.drop_duplicates(["date", "ticker"]).pivot(
        index="date", columns="ticker", values="realised"
    )
    pr = pd.read_csv(run / "portfolio_returns.csv", parse_dates=["date"])
    w = pd.read_csv(run / "weights.csv", parse_dates=["origin"])
    weights = {
        s: g.pivot(index="origin", columns="ticker", values="weight")
        for s, g in w.groupby("strategy")
    }
    targets = json.loads((run / "config.json").read_text())["config"]["data"]["targets"]
    tickers = [t for t in targets if t in set(fc.ticker)]
    models = [m for m in dict.fromkeys(fc.model) if m != BASELINE]
    return {
        "realised": realised[tickers],
        "forecasts": {m: forecasts[m][tickers] for m in models},
        "hist_mean": forecasts[BASELINE][tickers],
        "net": pr.pivot(index="date", columns="strategy", values="net"),
        "weights": weights,
        "expected": pd.read_csv(run / "expected_returns.csv", parse_dates=["origin", "date"]),
        "ranking": list(pd.read_csv(run / "performance.csv", index_col=0).index),
        "tickers": tickers,
    }


def run_jobs(frames: dict, out: Path) -> list[ChartJob]:
    """Every chart job of the run, as the pipeline builds them."""
    benchmarks = benchmark_order([b for b in BENCHMARKS if b in frames["net"]], BASELINE)
    palette = Palette.from_ranking(frames["ranking"], benchmarks)
    realised, hist_mean, net = frames["realised"], frames["hist_mean"], frames["net"]
    r2 = pd.DataFrame(
        {m: rolling_r2_os(realised, f, hist_mean) for m, f in frames["forecasts"].items()}
    ).dropna(how="all")
    diff = rolling_sharpe_difference(net.dropna(), EQUAL_WEIGHT).dropna(how="all")
    return [
        *forecast_chart_jobs(realised, frames["forecasts"], hist_mean, out),
        *portfolio_chart_jobs(
            net, frames["weights"], frames["expected"], palette, out,
            baseline=BASELINE, tickers=frames["tickers"], max_weight=0.4,
        ),
        ChartJob(
            stability_charts.plot_rolling_r2_os, (r2, out / "rolling_r2_os.png", ROLLING_MONTHS)
        ),
        ChartJob(
            stability_charts.plot_rolling_sharpe_difference,
            (diff, out / "rolling_sharpe_diff.png", ROLLING_MONTHS, ("min_variance", "SPY")),
        ),
    ]  # fmt: skip


def old_package(rev: str, tmp: Path) -> str:
    """The chart modules of `rev` as an importable package; its name."""
    package = tmp / "oldcharts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in MODULES:
        text = subprocess.run(
            ["git", "show", f"{rev}:backtest/reports/charts/{name}.py"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (package / f"{name}.py").write_text(text.replace("backtest.reports.charts.", "oldcharts."))
    sys.path.insert(0, str(tmp))
    return "oldcharts"


def as_old(job: ChartJob, package: str, out: Path) -> ChartJob:
    """`job` drawn by the old package's function of the same name, into `out`."""
    module = importlib.import_module(f"{package}.{job.draw.__module__.rsplit('.', 1)[1]}")
    old_palette = importlib.import_module(f"{package}.style").Palette
    kwargs = {
        k: old_palette(v.colors, v.highlighted, v.benchmarks, v.order)
        if isinstance(v, Palette)
        else v
        for k, v in job.kwargs.items()
    }
    return ChartJob(getattr(module, job.draw.__name__), _into(job, out).args, kwargs)


def _into(job: ChartJob, out: Path) -> ChartJob:
    args = tuple(
        out / a.name if isinstance(a, Path) and a.suffix == ".png" else a for a in job.args
    )
    return dataclasses.replace(job, args=args)


def _cpu(draw) -> float:
    start = time.process_time()
    draw()
    return time.process_time() - start


def main() -> None:
    """Print old and new chart CPU side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--old-rev", default="8e3d621")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the new PNGs here")
    args = parser.parse_args()
    frames = load(args.run_dir)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        new_out, old_out = args.out or tmp / "new", tmp / "old"
        new_out.mkdir(parents=True, exist_ok=True)
        old_out.mkdir()
        package = old_package(args.old_rev, tmp / "pkg")
        jobs = run_jobs(frames, new_out)
        old_jobs = [as_old(job, package, old_out) for job in jobs]
        _into(jobs[0], tmp)()  # font cache, imports
        as_old(jobs[0], package, tmp)()
        cpu: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        for _ in range(args.repeat):
            for job, old in zip(jobs, old_jobs, strict=True):
                name = job.draw.__name__
                # The old tree called the draw function itself, with the collector running.
                cpu["old"].setdefault(name, []).append(
                    _cpu(lambda o=old: o.draw(*o.args, **o.kwargs))
                )
                cpu["new"].setdefault(name, []).append(_cpu(job))
        start_wall, start = time.perf_counter(), os.times()
        render_charts(jobs, n_jobs=2)
        end = os.times()
        parallel_wall = time.perf_counter() - start_wall
    parallel_cpu = sum(end[:4]) - sum(start[:4])
    print(
        f"chart CPU seconds, median of {args.repeat} (load average {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} cores; old = {args.old_rev})"
    )
    print("| chart | old | new | old / new |")
    print("| --- | --- | --- | --- |")
    for name in cpu["new"]:
        old, new = statistics.median(cpu["old"][name]), statistics.median(cpu["new"][name])
        print(f"| {name.removeprefix('plot_')} | {old:.2f} | {new:.2f} | {old / new:.1f}x |")
    passes = {k: [sum(v[i] for v in cpu[k].values()) for i in range(args.repeat)] for k in cpu}
    ratios = [o / n for o, n in zip(passes["old"], passes["new"], strict=True)]
    print(
        f"all {len(jobs)} charts, CPU per pass: old {' '.join(f'{p:.2f}' for p in passes['old'])}"
        f" s; new {' '.join(f'{p:.2f}' for p in passes['new'])} s; "
        f"old / new {min(ratios):.1f}x to {max(ratios):.1f}x"
    )
    print(
        f"new, two forked workers: {parallel_wall:.2f} s wall, {parallel_cpu:.2f} s CPU "
        "(workers included)"
    )


if __name__ == "__main__":
    main()
