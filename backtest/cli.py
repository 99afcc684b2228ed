"""Command line: ``python -m backtest run --variant relatives`` and friends."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from backtest import __version__
from backtest.cache import default_cache_dir
from backtest.config import RunConfig, config_from_mapping, load_toml
from backtest.features import Variant
from backtest.splits import WindowKind
from backtest.study_cli import add_simulate_arguments

_ALL = "all"


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--config", metavar="FILE", help="TOML file with any of the options below")
    g.add_argument(
        "--prices",
        metavar="FILE",
        help="wide CSV (date + one column per ticker, daily or monthly) instead of "
        "downloading from Yahoo Finance",
    )
    g.add_argument("--tickers", nargs="+", metavar="T", help="assets to forecast and allocate")
    g.add_argument(
        "--relatives",
        nargs="*",
        metavar="T",
        help="relative ETFs (inputs of the 'relatives' variant; SPY is also the market benchmark)",
    )
    g.add_argument("--start", help="first month, e.g. 2016-11-01")
    g.add_argument("--end", help="last month (inclusive), e.g. 2025-09-01")
    g.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"download and window cache (default {default_cache_dir()})",
    )
    s = p.add_argument_group("synthetic market (known truth, see also the simulate command)")
    s.add_argument(
        "--source",
        choices=["prices", "synthetic"],
        default="prices",
        help="real prices (default) or a synthetic market with a planted signal",
    )
    s.add_argument("--calibrate-on", type=Path, metavar="FILE", help="price CSV to calibrate on")
    s.add_argument("--market-config", type=Path, metavar="FILE", help="TOML market model")
    s.add_argument(
        "--signal", type=float, default=0.02, metavar="R2", help="planted population R2 (0.02)"
    )
    s.add_argument("--months", type=int, default=106, help="months to simulate (106)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("walk-forward and model")
    g.add_argument(
        "--variant",
        default=None,
        choices=[v.value for v in Variant] + [_ALL],
        help="LSTM inputs (default relatives); 'all' runs the three and compares",
    )
    g.add_argument("--lookback", type=int, help="months per input sequence (default 12)")
    g.add_argument("--min-train", type=int, help="training samples of the first fit (default 36)")
    g.add_argument("--window", choices=[w.value for w in WindowKind], help="default expanding")
    g.add_argument("--train-size", type=int, help="rolling-window length")
    g.add_argument("--refit-every", type=int, help="retrain every k months (default 1)")
    g.add_argument("--seeds", type=int, dest="n_seeds", help="ensemble size per window")
    g.add_argument("--epochs", type=int, help="maximum epochs (default 200)")
    g.add_argument("--units", type=int, nargs="+", help="LSTM units per layer (default 64 32)")
    g.add_argument("--seed", type=int, dest="random_state", help="base random seed (default 0)")


def _add_portfolio_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("portfolio")
    g.add_argument("--strategies", nargs="+", help="subset of shrinkage strategies")
    g.add_argument("--cost-bps", type=float, help="proportional cost per unit turnover (10)")
    g.add_argument("--risk-free", type=float, help="annual risk-free rate for Sharpe (0)")
    g.add_argument("--risk-aversion", type=float, help="mean-variance gamma (5)")
    g.add_argument("--max-weight", type=float, help="per-asset cap (0.4)")


def _add_exec_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution and output")
    g.add_argument("--n-jobs", type=int, default=-1, help="local workers (default: all cores)")
    g.add_argument("--backend", choices=["loky", "dask", "dask-local"], default="loky")
    g.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    g.add_argument("--workers", type=int, default=2, help="workers of --backend dask-local")
    g.add_argument("--results-dir", type=Path, default=Path("results"))
    g.add_argument("--run-name", help="results/<run-name>/ (default: the variant)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


_CONFIG_ARGS = (
    "tickers",
    "relatives",
    "start",
    "end",
    "variant",
    "lookback",
    "min_train",
    "window",
    "train_size",
    "refit_every",
    "n_seeds",
    "epochs",
    "units",
    "random_state",
    "strategies",
    "cost_bps",
    "risk_free",
    "risk_aversion",
    "max_weight",
)


def resolve_config(args: argparse.Namespace) -> tuple[RunConfig, list[str]]:
    """Defaults, overlaid by the TOML file, overlaid by flags; and the variants to run."""
    values = load_toml(args.config) if args.config else {}
    config = config_from_mapping({k: v for k, v in values.items() if k != "variant"})
    variant = args.variant or values.get("variant") or Variant.RELATIVES.value
    flags = {k: getattr(args, k) for k in _CONFIG_ARGS if getattr(args, k, None) is not None}
    flags.pop("variant", None)
    if "tickers" in flags:
        flags["targets"] = flags.pop("tickers")
    config = config_from_mapping(flags, config)
    variants = [v.value for v in Variant] if variant == _ALL else [Variant(variant).value]
    return config.with_variant(variants[0]), variants


def build_parser() -> argparse.ArgumentParser:
    """The ``backtest`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Walk-forward backtests of LSTM-forecast-shrunk mean-variance portfolios.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="walk forward, forecast, shrink, allocate, report")
    for add in (_add_data_args, _add_model_args, _add_portfolio_args, _add_exec_args):
        add(run)
    fc = sub.add_parser("forecast", help="next month's forecasts and recommended weights")
    for add in (_add_data_args, _add_model_args, _add_portfolio_args, _add_exec_args):
        add(fc)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m backtest`` and the ``backtest`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        match args.command:
            case "run":
                from backtest.pipeline import run_command

                run_command(args, *resolve_config(args))
            case "forecast":
                from backtest.live import forecast_command

                forecast_command(args, *resolve_config(args))
            case "compare":
                from backtest.comparison import compare_command

                compare_command(args.run_dirs, args.out)
            case "report":
                from backtest.html_report import report_command

                report_command(args.run_dir)
            case "simulate":
                from backtest.study_cli import simulate_command

                simulate_command(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished windows are cached; rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
