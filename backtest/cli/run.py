"""``backtest run``: every asked variant, its summary on the terminal, then a comparison."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import pandas as pd

from backtest.cli.common import load_data, make_runner, run_name, synthetic_data, window_store
from backtest.cli.console import NORMAL, current
from backtest.config import RunConfig
from backtest.pipeline import check_strategies, fit_variants, run_variant, write_variant
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
    # One runner call per command, even for several variants (their windows are one pool), so
    # the runner is not held open: its workers go when the last window is in, before the last
    # variant's charts fork theirs (a live loky manager thread would keep them in this process).
    if len(variants) == 1:
        _run_one(args, config.with_variant(variants[0]), data, truth, runner)
        return
    run_dirs = _run_grid(args, [config.with_variant(v) for v in variants], data, truth, runner)
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


def _extra_files(result: RunResult, out: Path, truth: pd.DataFrame | None) -> None:
    """The corrupt-window warning and, for synthetic data, the true means beside the run."""
    corrupt = result.data["windows"]["corrupt"]
    if corrupt:
        current().warn(f"{corrupt} cached window(s) failed their checksum and were recomputed")
    if truth is not None:
        # The true means the forecasts and strategies can be scored against.
        write_csv(truth, out / "truth.csv")


def _run_one(args: argparse.Namespace, cfg: RunConfig, data, truth, runner) -> None:
    """One variant: fit, write, report, summary."""
    console = current()
    variant = cfg.variant.value
    final = args.results_dir / run_name(args, variant, 1)
    with results_dir(final, "run", cfg.to_dict(), args.overwrite) as out:
        progress = console.windows(f"{variant}: fitting windows")
        result = run_variant(cfg, data, runner, out, window_store(args), progress)
        _extra_files(result, out, truth)
    console.stage("writing the report")
    report = write_report(final)
    console.finish()
    console.write_log(final / "run.log")
    print_summary(result, final)
    print(f"report: {report}")


def _run_grid(args: argparse.Namespace, configs: list[RunConfig], data, truth, runner) -> list:
    """Several variants: their windows fitted as one pool, each written as soon as it is fitted.

    While one variant's allocation, files and charts are written here, the workers go on
    fitting the other variants' windows (:func:`backtest.pipeline.fit_variants`), so the cores
    are not left idle between variants. Every destination is checked and locked before any
    fit; each is sealed and swapped into place once written, as a lone run would be.
    """
    console = current()
    names = [cfg.variant.value for cfg in configs]
    finals = [args.results_dir / run_name(args, name, len(configs)) for name in names]
    stores = [window_store(args) for _ in configs]  # each its own list of corrupt windows
    started = time.perf_counter()
    with contextlib.ExitStack() as every:
        staged = []
        for cfg, final in zip(configs, finals, strict=True):
            stack = every.enter_context(contextlib.ExitStack())
            out = stack.enter_context(results_dir(final, "run", cfg.to_dict(), args.overwrite))
            staged.append((stack, out))
        progress = console.windows(f"{', '.join(names)}: fitting windows", after=None)
        for i, panel in fit_variants(configs, data.prices, stores, runner, progress):
            stack, out = staged[i]
            begun = time.perf_counter()
            result = write_variant(configs[i], data, panel, out)
            _extra_files(result, out, truth)
            stack.close()  # sealed and swapped into place
            console.event(
                f"- {names[i]}: allocating, writing results and charts: "
                f"{time.perf_counter() - begun:.1f} s (done {time.perf_counter() - started:.1f} s "
                "after the fits began)"
            )
            console.write_log(finals[i] / "run.log")
            print_summary(result, finals[i])
    return finals
