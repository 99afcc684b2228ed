"""Whole commands, an older commit against this tree, side by side in one run.

Each command runs in a fresh process from each tree in turn (old, new, old, new, ...), so
both see the same machine in the same minutes; the old tree is a temporary ``git
worktree`` of ``--before``. Per run: wall time, CPU time (user + system of the command and
every process it waited for), peak resident memory of its largest process
(``os.wait4``'s ``ru_maxrss``), and the stage times the command prints (``- stage: 1.2 s``).
The medians of ``--repeat`` runs are printed as one markdown table with the ratio old/new.

Commands (``--prices FILE`` for the real runs; a fresh window cache per cold run):

- ``help``: ``python -m backtest --help``;
- ``cold``: the headline run ``run --variant relatives``, every window computed;
- ``cached``: the same again, every window read from the cache;
- ``grid``: ``run --variant all --seeds 1`` and ``--seeds 5``, cold (slow: add ``--grid``).

Usage::

    python benchmarks/runs.py --before 841f808 --prices prices_monthly.csv [--repeat 2] [--grid]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _worktree import older_tree

REPO = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"^- (?P<stage>.+): (?:.* )?(?P<seconds>[0-9.]+) s$")
VARIANT = re.compile(r"^(base|indicators|relatives): ")


@dataclass
class Measured:
    """One command's run: wall and CPU seconds, peak RSS in MB, stage seconds."""

    wall: float
    cpu: float
    peak_mb: float
    stages: dict[str, float] = field(default_factory=dict)


def measure(tree: Path, args: list[str], env: dict[str, str]) -> Measured:
    """Run ``python -m backtest ARGS`` in ``tree`` and measure it."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "backtest", *args],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{tree.name}: {' '.join(args)} failed:\n{stderr[-2000:]}")
    stages = {}
    for line in stderr.splitlines():
        if match := STAGE.match(line.strip()):
            stage = VARIANT.sub("", match["stage"])  # a grid's variants add up
            stages[stage] = stages.get(stage, 0.0) + float(match["seconds"])
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stages)


def run_args(prices: Path, results: Path, extra: list[str]) -> list[str]:
    """A run on ``prices`` into ``results``, replacing what a previous repeat wrote there."""
    return ["run", "--prices", str(prices), "--results-dir", str(results), "--overwrite", *extra]


def one_round(tree: Path, prices: Path, scratch: Path, grid: bool) -> dict[str, Measured]:
    """Every command once from ``tree``, each cold run on a fresh cache."""
    env = {**os.environ, "BACKTEST_CACHE_DIR": str(scratch / "cache")}
    shutil.rmtree(scratch, ignore_errors=True)
    results = scratch / "results"
    out = {"help": measure(tree, ["--help"], env)}
    headline = run_args(prices, results, ["--variant", "relatives"])
    out["cold"] = measure(tree, headline, env)
    out["cached"] = measure(tree, headline, env)
    if grid:
        for seeds in ("1", "5"):
            shutil.rmtree(scratch / "cache", ignore_errors=True)
            extra = ["--variant", "all", "--seeds", seeds]
            out[f"grid, seeds {seeds}"] = measure(tree, run_args(prices, results, extra), env)
    return out


def rows(old: list[dict[str, Measured]], new: list[dict[str, Measured]]) -> list[list[str]]:
    """Table rows: per command wall, CPU and memory, then its stages; medians, old/new ratio."""

    def cell(values: list[float], unit: str) -> str:
        return f"{statistics.median(values):.1f} {unit}" if values else "-"

    def ratio(a: list[float], b: list[float]) -> str:
        if not a or not b or statistics.median(b) == 0:
            return "-"
        return f"{statistics.median(a) / statistics.median(b):.2f}x"

    table = []
    for command in new[0]:
        measures = {
            "wall": (lambda m: m.wall, "s"),
            "CPU": (lambda m: m.cpu, "s"),
            "peak memory": (lambda m: m.peak_mb, "MB"),
        }
        for label, (get, unit) in measures.items():
            a = [get(r[command]) for r in old]
            b = [get(r[command]) for r in new]
            table.append([f"{command}: {label}", cell(a, unit), cell(b, unit), ratio(a, b)])
        stages = dict.fromkeys(s for r in new + old for s in r[command].stages)
        for stage in stages:
            a = [r[command].stages[stage] for r in old if stage in r[command].stages]
            b = [r[command].stages[stage] for r in new if stage in r[command].stages]
            table.append([f"{command}: {stage}", cell(a, "s"), cell(b, "s"), ratio(a, b)])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the older commit (e.g. a tag or hash)")
    parser.add_argument("--prices", type=Path, required=True, help="a wide CSV of prices")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of old-then-new runs")
    parser.add_argument("--grid", action="store_true", help="also the grid, seeds 1 and 5")
    args = parser.parse_args()
    prices = args.prices.resolve()
    with (
        tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp,
        older_tree(args.before, Path(tmp)) as old_tree,
    ):
        old, new = [], []
        for i in range(args.repeat):
            old.append(one_round(old_tree, prices, Path(tmp) / "scratch", args.grid))
            new.append(one_round(REPO, prices, Path(tmp) / "scratch", args.grid))
            print(f"round {i + 1} of {args.repeat} done", file=sys.stderr)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"| medians of {args.repeat} | {args.before} | {head} (this tree) | ratio |")
    print("| --- | --- | --- | --- |")
    for row in rows(old, new):
        print("| " + " | ".join(row) + " |")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
