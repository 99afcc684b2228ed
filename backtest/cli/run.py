"""``backtest run``: every asked variant, its summary on the terminal, then a comparison."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import pandas as pd

from backtest.cli.common import load_data, make_runner, run_name, synthetic_data, tqdm_progress
from backtest.config import RunConfig
from backtest.data.yahoo import default_cache_dir
from backtest.engine.panel import ForecastPanel
from backtest.engine.store import WindowStore
from backtest.pipeline import check_strategies, run_variant
from backtest.reports.files import results_dir, write_csv
from backtest.reports.html.report import write_report


def print_summary(
    variant: str,
    panel: ForecastPanel,
    metrics: pd.DataFrame,
    performance: pd.DataFrame,
    text: str,
    out: Path,
) -> None:
    """A short table for the terminal."""
    cols = ["n_months", "rmse", "r2_os_vs_mean", "r2_os_vs_zero", "directional_accuracy", "cw_p"]
    perf_cols = ["role", "cagr", "ann_vol", "sharpe", "max_drawdown", "avg_turnover", "dsr"]
    with pd.option_context("display.width", 120, "display.precision", 4, "display.max_columns", 20):
        print(
            f"\n== {variant}: {len(panel.dates)} forecast months "
            f"({panel.dates[0]:%Y-%m} .. {panel.dates[-1]:%Y-%m}), windows "
            f"{panel.n_computed} computed / {panel.n_cached} cached =="
        )
        print(metrics[cols].to_string())
        print()
        print(performance[perf_cols].to_string())
        print(f"\n{text}")
        print(f"results: {out}/")


def run_command(args: argparse.Namespace, config: RunConfig, variants: list[str]) -> None:
    """``backtest run``: every asked variant, then a comparison when there are several."""
    truth = None
    if getattr(args, "source", "yahoo") == "synthetic":
        data, truth, config = synthetic_data(config, args)
    else:
        data = load_data(config, args)
    check_strategies(config)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    runner = make_runner(args)
    # A Dask runner used as a context keeps one cluster for every variant.
    with runner if hasattr(runner, "__enter__") else contextlib.nullcontext():
        run_dirs = []
        for variant in variants:
            name = run_name(args, variant, len(variants))
            with results_dir(args.results_dir / name) as out:
                cfg = config.with_variant(variant)
                store = WindowStore((args.cache_dir or default_cache_dir()) / "windows")
                progress = tqdm_progress(f"{variant} windows", args.no_progress)
                panel, _, metrics, performance, text = run_variant(
                    cfg, data, runner, out, store, progress
                )
                if panel.corrupt:
                    print(
                        f"warning: {len(panel.corrupt)} cached window(s) failed their checksum "
                        "and were recomputed",
                        file=sys.stderr,
                    )
                if truth is not None:
                    # The true means the forecasts and strategies can be scored against.
                    write_csv(truth, out / "truth.csv")
                print_summary(variant, panel, metrics, performance, text, out)
                if len(variants) == 1:
                    print(f"report: {write_report(out)}")
            run_dirs.append(out)
    if len(run_dirs) > 1:
        from backtest.cli.compare import compare_command

        # The reports come last so that each includes the cross-variant comparison.
        compare_command(run_dirs, None)
        for run_dir in run_dirs:
            with results_dir(run_dir) as out:
                print(f"report: {write_report(out)}")
