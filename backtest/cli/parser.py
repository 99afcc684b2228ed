"""The ``backtest`` argument parser: one sub-command per task."""

from __future__ import annotations

import argparse
from pathlib import Path

from backtest import __version__
from backtest.cli.args import (
    _add_data_args,
    _add_exec_args,
    _add_model_args,
    _add_portfolio_args,
    _add_variant_args,
    add_simulate_arguments,
    add_verbosity_args,
)
from backtest.validation import SCHEMA, allowed


def build_parser() -> argparse.ArgumentParser:
    """The ``backtest`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Walk-forward backtests of LSTM-forecast-shrunk mean-variance portfolios.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="walk forward, forecast, shrink, allocate, report")
    for add in (_add_data_args, _add_variant_args, _add_model_args, _add_portfolio_args):
        add(run)
    _add_exec_args(run)
    fc = sub.add_parser("forecast", help="next month's forecasts and recommended weights")
    for add in (_add_data_args, _add_variant_args, _add_model_args, _add_portfolio_args):
        add(fc)
    _add_exec_args(fc)
    fc.add_argument("--horizon", type=int, default=1, help="months ahead to average")
    compare = sub.add_parser("compare", help="overfitting statistics across finished runs")
    compare.add_argument("run_dirs", nargs="+", type=Path)
    compare.add_argument(
        "--out", type=Path, help="where to write comparison.* (default: the first run's parent)"
    )
    report = sub.add_parser("report", help="write a self-contained report.html of a run")
    report.add_argument("run_dir", type=Path)
    simulate = sub.add_parser(
        "simulate", help="known-truth study: the engine on synthetic markets with a planted signal"
    )
    add_simulate_arguments(simulate)
    for command in (run, fc, compare, report, simulate):
        add_verbosity_args(command)
    for command in (run, fc, simulate):
        _show_ranges(command)
    return parser


_DEST_KEY = {"tickers": "targets"}


def _show_ranges(parser: argparse.ArgumentParser) -> None:
    """Append each config flag's allowed values (from the one schema) to its help."""
    for action in parser._actions:
        key = _DEST_KEY.get(action.dest, action.dest)
        if (
            key in SCHEMA
            and action.help
            and not action.choices
            and SCHEMA[key].flag in action.option_strings
        ):
            action.help = f"{action.help}; allowed: {allowed(key)}".replace("%", "%%")
