"""Command-line flags, declared once and shared by ``run``, ``forecast`` and ``simulate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from backtest.config import DataConfig, RunConfig, config_from_mapping, load_toml
from backtest.data.demo import DEMO_END, DEMO_RELATIVES, DEMO_START, DEMO_TARGETS
from backtest.data.yahoo import default_cache_dir
from backtest.features import Variant
from backtest.splits import WindowKind

_ALL = "all"
SOURCES = ("yahoo", "demo", "synthetic")
"""Where ``run`` and ``forecast`` get their prices (``--source``)."""

DEMO_DATA = DataConfig(DEMO_TARGETS, DEMO_RELATIVES, DEMO_START, DEMO_END)
"""``--source demo``'s assets and months; flags and a TOML file still override them."""

DEFAULT_SIGNALS = (0.0, 0.005, 0.02, 0.05)
DEFAULT_MONTHS = 106
"""Monthly returns per simulated history: as many as the default real data (2016-11..2025-09)."""


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
    g.add_argument(
        "--source",
        choices=SOURCES,
        default="yahoo",
        help="yahoo: download --tickers from Yahoo Finance, or read --prices FILE (default); "
        "demo: the offline demo dataset shipped with skfolio (7 S&P 500 stocks, the S&P 500 "
        "index and 5 factor ETFs, 2014-01..2022-11); synthetic: a market with a planted signal "
        "(needs --calibrate-on or --market-config)",
    )
    s = p.add_argument_group("synthetic market (known truth, see also the simulate command)")
    s.add_argument("--calibrate-on", type=Path, metavar="FILE", help="price CSV to calibrate on")
    s.add_argument("--market-config", type=Path, metavar="FILE", help="TOML market model")
    s.add_argument(
        "--signal", type=float, default=0.02, metavar="R2", help="planted population R2 (0.02)"
    )
    s.add_argument("--months", type=int, default=106, help="months to simulate (106)")


STRATEGY_NAMES = (
    "hist_mean", "forecast", "blend_25", "blend_50", "blend_75", "skill", "james_stein",
    "james_stein_forecast", "bayes_stein", "black_litterman",
)  # fmt: skip
"""strategies.StrategyName's values, spelled out so that ``--help`` imports no strategy code
(tests/test_help.py checks they match)."""
MODEL_NAMES = ("lstm", "ridge", "elastic_net", "ols", "gbm", "zero")
"""models.registry.available() at start-up, spelled out for the same reason (tested)."""
_MODELS_HELP = (
    f"forecasters to run, any of: {' '.join(MODEL_NAMES)}, or one a TOML [models] table "
    "defines (hist_mean always runs as the baseline; default: lstm ridge)"
)


def _add_variant_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("variant and seed")
    g.add_argument(
        "--variant",
        default=None,
        choices=[v.value for v in Variant] + [_ALL],
        help="LSTM inputs (default relatives); 'all' runs the three and compares",
    )
    g.add_argument("--seed", type=int, dest="random_state", help="base random seed (default 0)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """Walk-forward and model flags: one declaration shared by run, forecast and simulate."""
    g = p.add_argument_group("walk-forward and model")
    g.add_argument("--lookback", type=int, help="months per input sequence (default 12)")
    g.add_argument("--min-train", type=int, help="training samples of the first fit (default 36)")
    g.add_argument("--window", choices=[w.value for w in WindowKind], help="default expanding")
    g.add_argument("--train-size", type=int, help="rolling-window length")
    g.add_argument("--refit-every", type=int, help="retrain every k months (default 1)")
    g.add_argument("--seeds", type=int, dest="n_seeds", help="ensemble size per window")
    g.add_argument("--epochs", type=int, help="maximum epochs (default 200)")
    g.add_argument("--units", type=int, nargs="+", help="LSTM units per layer (default 64 32)")
    g.add_argument("--models", nargs="+", metavar="NAME", help=_MODELS_HELP)


def _add_portfolio_args(p: argparse.ArgumentParser) -> None:
    """Portfolio flags: one declaration shared by run, forecast and simulate."""
    g = p.add_argument_group("portfolio")
    g.add_argument(
        "--strategies",
        nargs="+",
        metavar="NAME",
        help=f"shrinkage strategies to run, any of: {' '.join(STRATEGY_NAMES)} (default: all)",
    )
    g.add_argument("--cost-bps", type=float, help="proportional cost per unit turnover")
    g.add_argument("--risk-free", type=float, help="annual risk-free rate for Sharpe")
    g.add_argument("--risk-aversion", type=float, help="mean-variance gamma")
    g.add_argument("--max-weight", type=float, help="per-asset cap")


def _add_output_args(p: argparse.ArgumentParser, default_name: str | None) -> None:
    """Where results go; shared by every command that writes a results directory."""
    g = p.add_argument_group("execution and output")
    g.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="local workers, -1 for all cores (default: this process, plus a worker per "
        "further free core)",
    )
    g.add_argument("--results-dir", type=Path, default=Path("results"), help="where runs go")
    g.add_argument(
        "--run-name",
        default=default_name,
        help="<results-dir>/<run-name>/, one plain directory name "
        f"(default: {default_name or 'the variant'})",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run of that name made with another configuration (else refused)",
    )
    g.add_argument(
        "--no-progress",
        action="store_true",
        help="one line per finished stage instead of spinners and bars",
    )


def _add_exec_args(p: argparse.ArgumentParser) -> None:
    _add_output_args(p, None)
    g = p.add_argument_group("backend")
    g.add_argument(
        "--backend",
        choices=["loky", "dask", "dask-local"],
        default="loky",
        help="loky: local processes; dask: a running cluster (--scheduler); dask-local: a "
        "cluster started for this run",
    )
    g.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    g.add_argument("--workers", type=int, default=2, help="workers of --backend dask-local")


def add_verbosity_args(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--verbose``, on every command."""
    g = p.add_argument_group("terminal").add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="only results, warnings and errors")
    g.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show library warnings and log lines (normally only in run.log)",
    )


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` command's flags to ``p``."""
    market = p.add_argument_group("synthetic market (one of the first two is required)")
    source = market.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--calibrate-on",
        metavar="FILE",
        type=Path,
        help="wide price CSV to calibrate means, volatilities and correlations "
        "on, e.g. prices.csv (a wide CSV: date + one column per ticker)",
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
    market.add_argument("--config", metavar="FILE", help="TOML file with run options")
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
    _add_model_args(p)
    _add_portfolio_args(p)
    _add_output_args(p, "simulate")
    p.add_argument("--cache-dir", type=Path, default=None, help="window cache root")
    p.set_defaults(variant=None)


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
    "models",
    "strategies",
    "cost_bps",
    "risk_free",
    "risk_aversion",
    "max_weight",
)


def config_sets(args: argparse.Namespace, key: str) -> bool:
    """Whether the flags or the TOML file set ``key`` (rather than the default)."""
    if getattr(args, key, None) is not None:
        return True
    values = load_toml(args.config) if getattr(args, "config", None) else {}
    section = next((v for v in values.values() if isinstance(v, dict) and key in v), None)
    return key in values or section is not None


def _check_output_args(args: argparse.Namespace) -> None:
    """Refuse a bad --run-name or --n-jobs at the door, before any data is loaded."""
    from backtest.reports.staging import check_run_name

    if getattr(args, "run_name", None):
        check_run_name(args.run_name)
    n_jobs = getattr(args, "n_jobs", -1)
    if n_jobs is not None and n_jobs != -1 and n_jobs < 1:
        raise ValueError(
            f"--n-jobs = {n_jobs!r} is not allowed: it must be a positive integer or -1 (all cores)"
        )


def resolve_config(args: argparse.Namespace) -> tuple[RunConfig, list[str]]:
    """Defaults, overlaid by the TOML file, overlaid by flags; and the variants to run."""
    _check_output_args(args)
    values = load_toml(args.config) if args.config else {}
    base = RunConfig(data=DEMO_DATA) if getattr(args, "source", None) == "demo" else None
    config = config_from_mapping({k: v for k, v in values.items() if k != "variant"}, base)
    variant = args.variant or values.get("variant") or Variant.RELATIVES.value
    flags = {k: getattr(args, k) for k in _CONFIG_ARGS if getattr(args, k, None) is not None}
    flags.pop("variant", None)
    if "tickers" in flags:
        flags["targets"] = flags.pop("tickers")
    config = config_from_mapping(flags, config)
    variants = [v.value for v in Variant] if variant == _ALL else [Variant(variant).value]
    return config.with_variant(variants[0]), variants
