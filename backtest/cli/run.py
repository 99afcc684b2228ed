"""``backtest run``: every asked variant, its summary on the terminal, then a comparison."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import pandas as pd

from backtest.cli.common import load_data, make_runner, run_name, synthetic_data, window_store
from backtest.cli.console import NORMAL, current
from backtest.config import RunConfig
from backtest.pipeline import check_strategies, run_variant
from backtest.reports.files import write_csv
from backtest.reports.html.report import write_report
from backtest.reports.run_dir import RunResult
from backtest.reports.staging import results_dir


def print_summary(result: RunResult, out: Path) -> None:
    """A short table for the terminal."""
    cols = ["n_months", "rmse", "r2_os_vs_mean", "r2_os_vs_zero", "cw_p", "cw_p_holm"]
    perf_cols = ["role", "cagr", "ann_vol", "sharpe", "max_drawdown", "avg_turnover", "dsr"]
    metrics, performance = result.metrics_of(), result.performance
    models = result.models_compared
    windows = result.data.get("windows", {})
    first, last = result.data.get("forecast_months", ["?", "?"])
    if current().level < NORMAL:
        print(f"results: {out}/")
        return
    with pd.option_context("display.width", 120, "display.precision", 4, "display.max_columns", 20):
        print(
            f"\n== {result.variant}: {len(result.realised)} forecast months "
            f"({first} .. {last}), windows "
            f"{windows.get('computed', 0)} computed / {windows.get('cached', 0)} cached =="
        )
        print(f"{result.primary_model}, per ticker:")
        print(metrics[[c for c in cols if c in metrics]].to_string())
        print()
        if models is not None and len(models) > 2:  # more than the primary and hist_mean
            print(models.to_string())
            print()
        print(performance[[c for c in perf_cols if c in performance]].to_string())
        print(f"\n{result.verdict}")
        print(f"results: {out}/")


def run_command(args: argparse.Namespace, config: RunConfig, variants: list[str]) -> None:
    """``backtest run``: every asked variant, then a comparison when there are several."""
    console = current()
    truth = None
    console.stage("loading data")
    if getattr(args, "source", "yahoo") == "synthetic":
        data, truth, config = synthetic_data(config, args)
    else:
        data = load_data(config, args)
    check_strategies(config)
    console.finish()
    prices = data.prices
    console.say(
        f"data: {data.source}; {prices.shape[1]} series, {prices.index[0]:%Y-%m} .. "
        f"{prices.index[-1]:%Y-%m}"
    )
    for note in data.notes:
        console.note(note)
    runner = make_runner(args)  # bad --backend/--scheduler flags fail before anything is written
    window_store(args)  # before any work: a bad --cache-dir fails now
    # A Dask runner used as a context keeps one cluster for every variant.
    with runner if hasattr(runner, "__enter__") else contextlib.nullcontext():
        run_dirs = []
        for variant in variants:
            cfg = config.with_variant(variant)
            final = args.results_dir / run_name(args, variant, len(variants))
            with results_dir(final, "run", cfg.to_dict(), args.overwrite) as out:
                progress = console.windows(f"{variant}: fitting windows")
                store = window_store(args)  # its own list of corrupt windows
                result = run_variant(cfg, data, runner, out, store, progress)
                corrupt = result.data["windows"]["corrupt"]
                if corrupt:
                    console.warn(
                        f"{corrupt} cached window(s) failed their checksum and were recomputed"
                    )
                if truth is not None:
                    # The true means the forecasts and strategies can be scored against.
                    write_csv(truth, out / "truth.csv")
            if len(variants) == 1:
                console.stage("writing the report")
                report = write_report(final)
            console.finish()
            console.write_log(final / "run.log")
            print_summary(result, final)
            if len(variants) == 1:
                print(f"report: {report}")
            run_dirs.append(final)
    if len(run_dirs) > 1:
        from backtest.cli.compare import compare_command

        # The reports come last so that each includes the cross-variant comparison.
        console.stage("comparing the variants")
        compare_command(run_dirs, None)
        for run_dir in run_dirs:
            console.stage(f"writing the report of {run_dir.name}")
            report = write_report(run_dir)
            console.finish()
            console.write_log(run_dir / "run.log")
            print(f"report: {report}")
