"""The ``backtest`` argument parser: one sub-command per task."""

from __future__ import annotations

import argparse
import functools
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
from backtest.config import RunConfig
from backtest.validation import SCHEMA, allowed

EXAMPLES = {
    "run": (
        "run --variant relatives --source demo",
        "run --variant all --tickers NVDA MSFT AAPL --relatives SPY QQQ --start 2015-01",
        "run --prices prices.csv --tickers AAA BBB --relatives SPY --models lstm ridge zero",
    ),
    "forecast": (
        "forecast --source demo --horizon 3",
        "forecast --prices prices.csv --tickers AAA BBB --relatives SPY",
    ),
    "compare": (
        "compare results/base results/indicators results/relatives",
        "compare results/a results/b --out results/a-vs-b",
    ),
    "report": ("report results/relatives", "report results/relatives --quiet"),
    "simulate": (
        "simulate --calibrate-on prices.csv --signal 0 0.02 --paths 2",
        "simulate --market-config results/simulate/market_model.toml --epochs 20",
    ),
}
"""Two or three commands that end each ``--help`` (tests/test_help.py parses every one)."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples keep their lines; a flag with an argparse default says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0
        if shown and "default" not in text:
            text = f"{text} (default: %(default)s)".lstrip()
        return text


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  python -m backtest {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``backtest`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Walk-forward backtests of LSTM-forecast-shrunk mean-variance portfolios.",
        epilog=_examples("run --variant relatives --source demo", "run --help", "compare --help"),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=_Formatter)
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
        _show_config_defaults(command)
    for command, lines in EXAMPLES.items():
        {"run": run, "forecast": fc, "compare": compare, "report": report}.get(
            command, simulate
        ).epilog = _examples(*lines)
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


def _config_defaults() -> dict[str, object]:
    """Each config key's default value, as the flags spell it (lists space-separated)."""
    sections = RunConfig().to_dict()
    flat: dict[str, object] = {"random_state": sections["random_state"]}
    for name in ("walk_forward", "model", "portfolio"):
        flat.update(sections[name])
    flat["strategies"] = None  # all of them: the help says so
    return {
        k: " ".join(map(str, v)) if isinstance(v, list) else v
        for k, v in flat.items()
        if v is not None
    }


def _show_config_defaults(parser: argparse.ArgumentParser) -> None:
    """Append RunConfig's default to each config flag whose help does not give one."""
    defaults = _config_defaults()
    for action in parser._actions:
        if action.dest in defaults and action.help and "default" not in action.help:
            action.help = f"{action.help} (default: {defaults[action.dest]})".replace("%", "%%")
