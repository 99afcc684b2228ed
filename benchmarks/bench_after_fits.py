"""What a run computes after its fits, an older commit against this tree, side by side.

Each round runs one fresh process from each tree in turn (old, new, old, new, ...) on the same
seeded synthetic panel (two models' forecasts, expanding windows) and times, in CPU seconds,
``backtest_strategies`` (every registered strategy, each model's forecast-based ones) and
``run_evidence`` (SPA/StepM, deflated Sharpe, PBO and its interval, economic value). Each
process also prints a digest of the CSVs those results write (expected returns, weights,
net returns, inference), so the table says whether both trees computed the same numbers.

Usage::

    python benchmarks/bench_after_fits.py --before 8e3d621 [--repeat 3] [--months 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _worktree import older_tree

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import hashlib, json, sys, time
import numpy as np, pandas as pd
from backtest.engine.panel import ForecastPanel
from backtest.features import Variant
from backtest.portfolio.rebalance import backtest_strategies
from backtest.reports.evidence import evidence_table, run_evidence
from strategies import StrategyName

n_hist, n_fc, n_assets = 36, int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
months = pd.date_range("2005-01-31", periods=n_hist + n_fc, freq="ME", name="date")
tickers = [f"T{i}" for i in range(n_assets)]
returns = pd.DataFrame(rng.normal(0.01, 0.05, (len(months), n_assets)), months, tickers)
dates, origin = months[n_hist:], months[n_hist - 1 : -1]
hist = pd.DataFrame([returns.loc[:o].mean() for o in origin], index=dates)
forecasts = {m: hist + rng.normal(0, 0.01, hist.shape) for m in ("lstm", "ridge")}
panel = ForecastPanel(
    variant=Variant.BASE, forecasts=forecasts, hist_mean=hist, realised=returns.loc[dates],
    origin=pd.DatetimeIndex(origin), train_start=pd.DatetimeIndex([months[0]] * n_fc),
    train_end=pd.DatetimeIndex(origin), diagnostics=pd.DataFrame(), n_cached=0, n_computed=0,
)
start = time.process_time()
bt = backtest_strategies(panel, returns, [s.value for s in StrategyName], 5.0, 0.4, 10.0)
middle = time.process_time()
ev = run_evidence(panel, bt, 5.0)
end = time.process_time()
digest = hashlib.sha256()
for frame in (bt.expected, bt.weights_tidy(), bt.frame("net"), evidence_table(ev)):
    digest.update(frame.to_csv().encode())
print(json.dumps({"backtest_strategies": middle - start, "run_evidence": end - middle,
                  "digest": digest.hexdigest()[:12]}))
"""


def measure(tree: Path, months: int, assets: int) -> dict:
    """One fresh process of ``tree`` on the synthetic panel: CPU seconds and output digest."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(months), str(assets)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the older commit (e.g. a hash)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of old-then-new runs")
    parser.add_argument("--months", type=int, default=60, help="forecast months")
    parser.add_argument("--assets", type=int, default=7, help="tickers")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-after-fits-") as tmp,
        older_tree(args.before, Path(tmp)) as old_tree,
    ):
        old, new = [], []
        for _ in range(args.repeat):
            old.append(measure(old_tree, args.months, args.assets))
            new.append(measure(REPO, args.months, args.assets))
    print(f"| CPU s, medians of {args.repeat} | {args.before} | this tree | ratio |")
    print("| --- | --- | --- | --- |")
    for stage in ("backtest_strategies", "run_evidence"):
        a = statistics.median(r[stage] for r in old)
        b = statistics.median(r[stage] for r in new)
        print(f"| {stage} | {a:.3f} | {b:.3f} | {a / b:.1f}x |")
    same = {r["digest"] for r in old} == {r["digest"] for r in new}
    print(f"\nsame CSVs from both trees: {same} ({old[0]['digest']} / {new[0]['digest']})")


if __name__ == "__main__":
    main()
