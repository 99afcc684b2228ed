"""Chart time of one run, old against new, side by side in one process.

Reads a finished run directory (``python -m backtest run ... --results-dir DIR`` writes
``DIR/<variant>``), rebuilds the frames its charts are drawn from, and times

- ``old``: the seven charts as commit ``--old-rev`` drew them (constrained layout, automatic
  date ticks, 150 dpi), one after the other, extracted with ``git show`` into a temporary
  package;
- ``new, 1 process``: every chart of today's run (the seven plus four tear-sheet charts),
  drawn one after the other;
- ``new, parallel``: the same through :func:`backtest.reports.charts.render.render_charts`
  with two forked workers (a run chooses the workers from the free cores; on a loaded
  machine it draws in one process).

Usage::

    PYTHONPATH=$PWD python benchmarks/bench_charts.py RUN_DIR [--repeat 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from backtest.reports.charts.render import render_charts
from backtest.reports.charts.run_charts import (
    benchmark_order,
    forecast_chart_jobs,
    portfolio_chart_jobs,
)
from backtest.reports.charts.style import Palette

BENCHMARKS = ("min_variance", "equal_weight", "SPY")
BASELINE = "hist_mean"
#: The charts the old code drew (the first seven of new_jobs, in the same order).
OLD_CHARTS = 7


def load(run: Path) -> dict:
    """The frames a run's charts are drawn from, read back from its CSVs."""
    fc = pd.read_csv(run / "forecasts.csv", parse_dates=["date"])
    tickers = list(dict.fromkeys(fc.ticker))
    forecasts = fc.pivot_table(index="date", columns=["model", "ticker"], values="forecast")
    realised = fc.drop_duplicates(["date", "ticker"]).pivot(
        index="date", columns="ticker", values="realised"
    )
    pr = pd.read_csv(run / "portfolio_returns.csv", parse_dates=["date"])
    net = pr.pivot(index="date", columns="strategy", values="net")
    w = pd.read_csv(run / "weights.csv", parse_dates=["origin"])
    weights = {
        s: g.pivot(index="origin", columns="ticker", values="weight")
        for s, g in w.groupby("strategy")
    }
    expected = pd.read_csv(run / "expected_returns.csv", parse_dates=["origin", "date"])
    targets = json.loads((run / "config.json").read_text())["config"]["data"]["targets"]
    tickers = [t for t in targets if t in tickers]
    perf = pd.read_csv(run / "performance.csv", index_col=0)
    return {
        "realised": realised[tickers],
        "lstm": forecasts["lstm"][tickers],
        "hist_mean": forecasts["hist_mean"][tickers],
        "net": net,
        "weights": weights,
        "expected": expected,
        "ranking": list(perf.index),
        "tickers": tickers,
    }


def new_jobs(frames: dict, out: Path) -> list:
    """Every chart job of today's run."""
    benchmarks = benchmark_order([b for b in BENCHMARKS if b in frames["net"]], BASELINE)
    palette = Palette.from_ranking(frames["ranking"], benchmarks)
    return [
        *forecast_chart_jobs(frames["realised"], frames["lstm"], frames["hist_mean"], out),
        *portfolio_chart_jobs(
            frames["net"], frames["weights"], frames["expected"], palette, out,
            baseline=BASELINE, tickers=frames["tickers"], max_weight=0.4,
        ),
    ]  # fmt: skip


class _Clock:
    """Wall and CPU seconds (this process and its finished children) since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, self._cpu() - self.cpu


def old_charts(rev: str, frames: dict, out: Path, tmp: Path) -> tuple[float, float]:
    """Draw the seven charts with the chart modules of `rev`: (wall, CPU) seconds."""
    package = tmp / "oldcharts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("style", "forecast", "portfolio"):
        text = subprocess.run(
            ["git", "show", f"{rev}:backtest/reports/charts/{name}.py"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (package / f"{name}.py").write_text(text.replace("backtest.reports.charts.", "oldcharts."))
    sys.path.insert(0, str(tmp))
    style = importlib.import_module("oldcharts.style")
    fc = importlib.import_module("oldcharts.forecast")
    pc = importlib.import_module("oldcharts.portfolio")
    net, expected = frames["net"], frames["expected"]
    strategies = [s for s in net.columns if s not in BENCHMARKS]
    colors = style.strategy_colors(strategies)
    intensity = expected.pivot_table(index="origin", columns="strategy", values="intensity")
    last = expected[expected.origin == expected.origin.max()]
    shrunk = last.pivot(index="ticker", columns="strategy", values="mu")[strategies]
    panel = (frames["realised"], frames["lstm"], frames["hist_mean"])
    clock = _Clock()
    fc.plot_cumulative_sse_difference(*panel, out / "cumulative_sse_difference.png")
    fc.plot_forecast_vs_realised(*panel, out / "forecast_vs_realised.png")
    pc.plot_equity_curves(
        net, out / "equity_curves.png", benchmarks=[*BENCHMARKS, BASELINE], colors=colors
    )
    grid = {s: frames["weights"][s] for s in [*strategies, *BENCHMARKS[:2]]}
    pc.plot_weights_grid(grid, out / "weights.png")
    pc.plot_intensity(intensity[strategies], out / "shrinkage_intensity.png", colors=colors)
    fc.plot_expected_returns(
        shrunk[BASELINE], shrunk.drop(columns=[BASELINE]), out / "expected_returns.png", "t",
        colors=colors,
    )  # fmt: skip
    fc.plot_expected_returns_over_time(
        expected[["date", "ticker", "strategy", "mu"]], out / "expected_returns_over_time.png",
        benchmarks=(BASELINE,), colors=colors,
    )  # fmt: skip
    return clock.stop()


def main() -> None:
    """Print old and new chart times side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--old-rev", default="261b8a1")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the new PNGs here")
    args = parser.parse_args()
    frames = load(args.run_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out = args.out or tmp / "new"
        out.mkdir(parents=True, exist_ok=True)
        (tmp / "old").mkdir()
        render_charts(new_jobs(frames, tmp / "warm")[:1], n_jobs=1)  # font cache, imports
        for _ in range(args.repeat):
            old = old_charts(args.old_rev, frames, tmp / "old", tmp / f"pkg{len(rows)}")
            jobs = new_jobs(frames, out)
            same = jobs[:OLD_CHARTS]
            clock = _Clock()
            render_charts(same, n_jobs=1)
            serial7 = clock.stop()
            clock = _Clock()
            render_charts(jobs, n_jobs=1)
            serial = clock.stop()
            clock = _Clock()
            render_charts(jobs, n_jobs=2)
            parallel = clock.stop()
            rows.append((old, serial7, serial, parallel))
    n = len(jobs)
    print(
        f"chart seconds, wall / CPU (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    )
    print(
        f"| run | old: 7 charts, 1 process | new: same 7, 1 process | new: all {n}, 1 process "
        f"| new: all {n}, parallel |"
    )
    print("| --- | --- | --- | --- | --- |")
    for i, row in enumerate(rows, 1):
        cells = " | ".join(f"{w:.2f} / {c:.2f}" for w, c in row)
        print(f"| {i} | {cells} |")
    wall = [r[0][0] / r[3][0] for r in rows]
    cpu = [r[0][1] / r[1][1] for r in rows]
    print(
        f"old 7 / new all {n} parallel, wall: {min(wall):.1f}x to {max(wall):.1f}x; "
        f"old 7 / new same 7, CPU: {min(cpu):.1f}x to {max(cpu):.1f}x"
    )


if __name__ == "__main__":
    main()
