"""``backtest simulate``: the known-truth study on synthetic markets with a planted signal."""

from __future__ import annotations

import argparse
import sys

from backtest.config import RunConfig


def simulate_command(args: argparse.Namespace, config: RunConfig) -> None:
    """``backtest simulate``: run a known-truth study and write it to results/<run-name>/."""
    import pandas as pd

    from backtest.cli.common import market_model, tqdm_progress
    from backtest.reports.staging import results_dir
    from backtest.study.report import signal_table, write_study_outputs
    from backtest.study.run import run_study

    model, source = market_model(args, config)
    identity = {
        "config": config.to_dict(),
        "market": source,
        "signals": list(args.signal),
        "paths": args.paths,
        "months": args.months,
        "random_state": args.random_state,
    }
    final = args.results_dir / args.run_name
    with results_dir(final, "study", identity, args.overwrite) as out:
        result = run_study(
            model,
            args.signal,
            args.paths,
            args.months,
            config,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            cache_dir=args.cache_dir,
            progress=tqdm_progress("study windows", args.no_progress),
        )
        write_study_outputs(result, out, source)
    columns = ["signal", "strategy", "mu_rmse_cond", "mu_rmse_vs_baseline", "sharpe", "sharpe_gap"]
    with pd.option_context("display.width", 120, "display.precision", 4):
        print(f"\n== known-truth study: {source} ==")
        print(signal_table(result).to_string())
        print()
        print(result.summary[columns].to_string(index=False))
        print(f"\nwindows {result.n_computed} computed / {result.n_cached} cached")
        print(f"results: {final}/")
    sys.stdout.flush()
