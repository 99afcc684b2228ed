"""The ``simulate`` command: ``python -m backtest simulate --calibrate-on FILE --signal 0 0.02``.

Only :mod:`argparse` is imported at module level, so building the CLI parser stays cheap; the
study's machinery is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_simulate_arguments", "simulate_command"]

DEFAULT_SIGNALS = (0.0, 0.005, 0.02, 0.05)
DEFAULT_MONTHS = 106
"""Monthly returns per simulated history: as many as the default real data (2016-11..2025-09)."""


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` command's flags to ``p``."""
    market = p.add_argument_group("synthetic market (one of the first two is required)")
    source = market.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--calibrate-on",
        metavar="FILE",
        type=Path,
        help="wide price CSV to calibrate means, volatilities and correlations "
        "on, e.g. ../shared/data/prices_monthly.csv",
    )
    source.add_argument(
        "--market-config",
        metavar="FILE",
        type=Path,
        help="TOML market model (see MarketModel.from_toml; every study writes "
        "its model as market_model.toml)",
    )
    market.add_argument("--tickers", nargs="+", metavar="T", help="targets (calibration only)")
    market.add_argument(
        "--relatives",
        nargs="+",
        metavar="T",
        help="relative ETFs, the LSTM's inputs (calibration only)",
    )
    market.add_argument("--start", help="first month of the calibration window")
    market.add_argument("--end", help="last month of the calibration window")
    study = p.add_argument_group("study")
    study.add_argument(
        "--signal",
        nargs="+",
        type=float,
        default=list(DEFAULT_SIGNALS),
        metavar="R2",
        help="population R2 values of the planted signal "
        f"(default {' '.join(f'{s:g}' for s in DEFAULT_SIGNALS)})",
    )
    study.add_argument("--paths", type=int, default=4, help="independent histories per signal")
    study.add_argument(
        "--months",
        type=int,
        default=DEFAULT_MONTHS,
        help=f"monthly returns per history (default {DEFAULT_MONTHS})",
    )
    study.add_argument(
        "--seed",
        type=int,
        default=0,
        dest="random_state",
        metavar="N",
        help="base seed; each path's seeds derive from (seed, signal, path)",
    )
    model = p.add_argument_group("walk-forward, model and portfolio (as for run)")
    model.add_argument("--config", metavar="FILE", help="TOML file with run options")
    model.add_argument("--lookback", type=int, help="months per input sequence (default 12)")
    model.add_argument("--min-train", type=int, help="training samples of the first fit (36)")
    model.add_argument("--refit-every", type=int, help="retrain every k months (default 1)")
    model.add_argument("--seeds", type=int, dest="n_seeds", help="ensemble size per window")
    model.add_argument("--epochs", type=int, help="maximum epochs (default 200)")
    model.add_argument("--units", type=int, nargs="+", help="LSTM units per layer (64 32)")
    model.add_argument("--strategies", nargs="+", help="subset of shrinkage strategies")
    model.add_argument("--cost-bps", type=float, help="proportional cost per unit turnover (10)")
    model.add_argument("--risk-free", type=float, help="annual risk-free rate for Sharpe (0)")
    model.add_argument("--risk-aversion", type=float, help="mean-variance gamma (5)")
    model.add_argument("--max-weight", type=float, help="per-asset cap (0.4)")
    run = p.add_argument_group("execution and output")
    run.add_argument("--n-jobs", type=int, default=-1, help="local workers (default: all cores)")
    run.add_argument("--results-dir", type=Path, default=Path("results"))
    run.add_argument("--run-name", default="simulate", help="results/<run-name>/")
    run.add_argument("--cache-dir", type=Path, default=None, help="window cache root")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(variant=None)


def market_model(args: argparse.Namespace, config):
    """The market model the flags ask for, and a sentence saying where it came from."""
    from backtest.data import load_prices
    from backtest.synthetic import MarketModel

    if args.market_config is not None:
        if not args.market_config.is_file():
            raise ValueError(
                f"--market-config {str(args.market_config)!r} is not a file; "
                "pass a TOML market model, e.g. a study's market_model.toml"
            )
        return MarketModel.from_toml(args.market_config), f"TOML file {args.market_config}"
    tickers = list(dict.fromkeys([*config.targets, *config.relatives]))
    data = load_prices(tickers, config.start, config.end, prices_path=args.calibrate_on)
    prices = data.prices
    model = MarketModel.calibrate(prices, config.targets, config.relatives)
    source = (
        f"calibrated on {args.calibrate_on} ({prices.index[0]:%Y-%m} .. "
        f"{prices.index[-1]:%Y-%m}, {len(prices) - 1} monthly returns)"
    )
    return model, source


def simulate_command(args: argparse.Namespace) -> None:
    """``backtest simulate``: run a known-truth study and write it to results/<run-name>/."""
    import pandas as pd

    from backtest.cli import resolve_config
    from backtest.pipeline import results_dir, tqdm_progress
    from backtest.study import run_study
    from backtest.study_report import signal_table, write_study_outputs

    config, _ = resolve_config(args)
    model, source = market_model(args, config)
    with results_dir(args.results_dir / args.run_name) as out:
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
        print(f"results: {out}/")
    sys.stdout.flush()
