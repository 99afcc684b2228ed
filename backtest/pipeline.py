"""The ``run`` command: data -> walk-forward forecasts -> strategies -> results/."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.cache import default_cache_dir
from backtest.config import RunConfig
from backtest.data import PriceData, load_prices
from backtest.engine import ForecastPanel, walk_forward
from backtest.features import log_returns
from backtest.html_report import write_report
from backtest.rebalance import MARKET, StrategyBacktest, backtest_strategies, decide
from backtest.reports import (
    verdict,
    write_config,
    write_csv,
    write_forecast_outputs,
    write_strategy_outputs,
    write_summary,
)
from backtest.store import WindowStore
from strategies import StrategyName


@contextmanager
def results_dir(path: Path) -> Iterator[Path]:
    """Create, check and lock a run directory for the duration of the run.

    Fails before any work when the directory cannot be written, and when another run
    holds it: two runs never interleave their files in one directory.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"x" * 65536)
        probe.unlink()
    except OSError as exc:
        raise OSError(
            f"cannot write to the results directory {str(path)!r} ({exc.strerror}); "
            "choose another with --results-dir or free some space"
        ) from None
    lock = (path / ".lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise OSError(
            f"another run is writing to {str(path)!r}; wait for it or pass --run-name"
        ) from None
    try:
        lock.write(str(os.getpid()))
        lock.flush()
        yield path
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def tqdm_progress(desc: str, disable: bool):
    """A progress callback for :func:`backtest.engine.run_jobs`: windows done, ETA."""
    from tqdm.auto import tqdm

    def wrap(stream: Iterable, total: int) -> Iterable:
        return tqdm(
            stream,
            total=total,
            desc=desc,
            unit="window",
            disable=disable,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    return wrap


def make_runner(args: argparse.Namespace):
    """The window runner the flags ask for (local joblib or Dask)."""
    from backtest.parallel import Backend, local_runner, resolve_n_jobs

    match Backend(args.backend):
        case Backend.LOKY:
            return local_runner(resolve_n_jobs(args.n_jobs))
        case Backend.DASK | Backend.DASK_LOCAL:
            from backtest.distributed import dask_runner

            return dask_runner(args.backend, args.scheduler, args.workers)


def run_name(args: argparse.Namespace, variant: str, n_variants: int) -> str:
    """``results/<name>``: ``--run-name``, suffixed by the variant when several run."""
    if not args.run_name:
        return variant
    return args.run_name if n_variants == 1 else f"{args.run_name}-{variant}"


def synthetic_data(config: RunConfig, args: argparse.Namespace):
    """A synthetic market for ``--source synthetic``: prices, its truth, and the config to run.

    The config's targets and relatives become the market model's names (a TOML model
    may name other assets than the defaults).
    """
    from backtest.study_cli import market_model

    if args.calibrate_on is None and args.market_config is None:
        raise ValueError(
            "--source synthetic needs --calibrate-on FILE (a price CSV to calibrate on) or "
            "--market-config FILE (a TOML market model)"
        )
    model, origin = market_model(args, config)
    market = model.simulate(args.months, args.signal, config.random_state)
    config = dataclasses.replace(config, targets=model.target_names, relatives=model.relative_names)
    prices = market.prices.rename_axis("date").astype(float)
    source = (
        f"synthetic: signal R2={args.signal:g}, {args.months} months, seed "
        f"{config.random_state}, {origin}"
    )
    truth = (
        market.conditional_mean.rename_axis("date")
        .reset_index()
        .melt(id_vars="date", var_name="ticker", value_name="conditional_mean")
    )
    truth["unconditional_mean"] = truth.ticker.map(market.unconditional_mean)
    return PriceData(prices=prices, source=source), truth, config


def load_data(config: RunConfig, args: argparse.Namespace) -> PriceData:
    """Targets and relatives of ``config`` from ``--prices`` or Yahoo Finance."""
    tickers = list(dict.fromkeys([*config.targets, *config.relatives]))
    return load_prices(
        tickers,
        config.start,
        config.end,
        prices_path=args.prices,
        cache_dir=args.cache_dir or default_cache_dir(),
    )


def strategy_names(config: RunConfig) -> list[str]:
    """Configured strategies (all registered ones by default), validated."""
    valid = [s.value for s in StrategyName]
    names = list(config.strategies or valid)
    for name in names:
        if name not in valid:
            raise ValueError(f"unknown strategy {name!r}; choose from {valid}")
    return names


def check_strategies(config: RunConfig) -> list[str]:
    """Fail before any fitting when a strategy or the allocator cannot run on this config.

    Each strategy and the allocator run once on a seeded stand-in of the smallest
    training window (``min_train`` months of the configured targets), so a constraint
    such as Bayes-Stein's ``n_periods > n_assets + 2`` or an infeasible weight cap is
    reported now, not after hours of walk-forward fits.
    """
    from strategies import MarketView

    names = strategy_names(config)
    n_assets = len(config.targets)
    rng = np.random.default_rng(0)
    view = MarketView(
        returns=rng.normal(0.01, 0.05, (config.min_train, n_assets)),
        forecast=np.full(n_assets, 0.01),
        past_forecasts=np.empty((0, n_assets)),
        past_benchmarks=np.empty((0, n_assets)),
        past_realised=np.empty((0, n_assets)),
    )
    stand_in = pd.Timestamp("2000-01-31")
    try:
        decide(stand_in, view, config.targets, names, config.risk_aversion, config.max_weight)
    except ValueError as exc:
        reason = str(exc).removeprefix(f"at {stand_in:%Y-%m-%d}: ")
        raise ValueError(
            f"the configuration cannot run its strategies ({reason}), with min_train="
            f"{config.min_train} months and {n_assets} targets; raise --min-train, drop the "
            "strategy with --strategies, or change --max-weight"
        ) from None
    return names


def run_variant(
    config: RunConfig, data: PriceData, args: argparse.Namespace, runner, out: Path
) -> tuple[ForecastPanel, StrategyBacktest, pd.DataFrame, pd.DataFrame, str]:
    """One variant, start to finish, writing everything under ``out``."""
    cache_dir = args.cache_dir or default_cache_dir()
    store = WindowStore(cache_dir / "windows")
    progress = tqdm_progress(f"{config.variant.value} windows", args.no_progress)
    panel = walk_forward(config, data.prices, store, runner, progress)
    if panel.corrupt:
        print(
            f"warning: {len(panel.corrupt)} cached window(s) failed their checksum and were "
            "recomputed",
            file=sys.stderr,
        )
    returns = log_returns(data.prices)
    market = returns[MARKET] if MARKET in returns else None
    backtest = backtest_strategies(
        panel,
        returns[list(config.targets)],
        strategy_names(config),
        config.risk_aversion,
        config.max_weight,
        config.cost_bps,
        market,
    )
    metrics = write_forecast_outputs(panel, out)
    performance = write_strategy_outputs(backtest, out, config.risk_free)
    text = verdict(metrics, performance, backtest.frame("net"), config.random_state)
    write_summary(
        out, f"Walk-forward backtest, variant '{config.variant.value}'", metrics, performance, text
    )
    write_config(
        out,
        config.to_dict(),
        data.fingerprint,
        data.source,
        {
            "first_month": f"{data.prices.index[0]:%Y-%m}",
            "last_month": f"{data.prices.index[-1]:%Y-%m}",
            "forecast_months": [f"{panel.lstm.index[0]:%Y-%m}", f"{panel.lstm.index[-1]:%Y-%m}"],
            "notes": [*data.notes, *panel.notes],
            "windows": {"cached": panel.n_cached, "computed": panel.n_computed},
        },
    )
    return panel, backtest, metrics, performance, text


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
            f"\n== {variant}: {len(panel.lstm)} forecast months "
            f"({panel.lstm.index[0]:%Y-%m} .. {panel.lstm.index[-1]:%Y-%m}), windows "
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
    if getattr(args, "source", "prices") == "synthetic":
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
                panel, _, metrics, performance, text = run_variant(cfg, data, args, runner, out)
                if truth is not None:
                    # The true means the forecasts and strategies can be scored against.
                    write_csv(truth, out / "truth.csv")
                print_summary(variant, panel, metrics, performance, text, out)
                if len(variants) == 1:
                    print(f"report: {write_report(out)}")
            run_dirs.append(out)
    if len(run_dirs) > 1:
        from backtest.comparison import compare_command

        # The reports come last so that each includes the cross-variant comparison.
        compare_command(run_dirs, None)
        for run_dir in run_dirs:
            with results_dir(run_dir) as out:
                print(f"report: {write_report(out)}")
