"""What the commands share: data from the flags, the window runner, progress bars, run names."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from backtest.cli.console import current
from backtest.config import RunConfig
from backtest.data.prices import PriceData, load_prices
from backtest.data.yahoo import default_cache_dir


def tqdm_progress(desc: str, disable: bool = False):
    """A progress callback for :func:`backtest.engine.walkforward.run_jobs`: windows done, ETA.

    The running command's console draws it (``--no-progress`` and ``--quiet`` are its
    settings, so ``disable`` is no longer needed and kept for callers).
    """
    return current().windows(desc)


def make_runner(args: argparse.Namespace):
    """The window runner the flags ask for (local joblib or Dask)."""
    from backtest.engine.local import Backend, auto_runner, local_runner, resolve_n_jobs

    match Backend(args.backend):
        case Backend.LOKY:
            if args.n_jobs is None:  # chosen per walk-forward from the free cores
                return auto_runner()
            return local_runner(resolve_n_jobs(args.n_jobs))
        case Backend.DASK | Backend.DASK_LOCAL:
            from backtest.engine.cluster import dask_runner

            return dask_runner(args.backend, args.scheduler, args.workers)


def run_name(args: argparse.Namespace, variant: str, n_variants: int) -> str:
    """``results/<name>``: ``--run-name``, suffixed by the variant when several run."""
    from backtest.reports.staging import check_run_name

    if not args.run_name:
        return variant
    check_run_name(args.run_name)
    return args.run_name if n_variants == 1 else f"{args.run_name}-{variant}"


def market_model(args: argparse.Namespace, config):
    """The market model the flags ask for, and a sentence saying where it came from."""
    from backtest.data.prices import load_prices
    from backtest.data.synthetic import MarketModel

    if args.market_config is not None:
        if not args.market_config.is_file():
            raise ValueError(
                f"--market-config {str(args.market_config)!r} is not a file; "
                "pass a TOML market model, e.g. a study's market_model.toml"
            )
        return MarketModel.from_toml(args.market_config), f"TOML file {args.market_config}"
    if not Path(args.calibrate_on).is_file():
        raise ValueError(
            f"--calibrate-on {str(args.calibrate_on)!r} is not a file; pass a wide price CSV "
            "to calibrate the synthetic market on (or --market-config FILE)"
        )
    tickers = list(dict.fromkeys([*config.data.targets, *config.data.relatives]))
    data = load_prices(tickers, config.data.start, config.data.end, prices_path=args.calibrate_on)
    prices = data.prices
    model = MarketModel.calibrate(prices, config.data.targets, config.data.relatives)
    source = (
        f"calibrated on {args.calibrate_on} ({prices.index[0]:%Y-%m} .. "
        f"{prices.index[-1]:%Y-%m}, {len(prices) - 1} monthly returns)"
    )
    return model, source


def synthetic_data(config: RunConfig, args: argparse.Namespace):
    """A synthetic market for ``--source synthetic``: prices, its truth, and the config to run.

    The config's targets and relatives become the market model's names (a TOML model
    may name other assets than the defaults).
    """
    if args.calibrate_on is None and args.market_config is None:
        raise ValueError(
            "--source synthetic needs --calibrate-on FILE (a price CSV to calibrate on) or "
            "--market-config FILE (a TOML market model)"
        )
    model, origin = market_model(args, config)
    market = model.simulate(args.months, args.signal, config.random_state)
    data = dataclasses.replace(
        config.data, targets=model.target_names, relatives=model.relative_names
    )
    config = dataclasses.replace(config, data=data)
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
    """Targets and relatives of ``config`` from ``--prices``, the demo dataset or Yahoo."""
    tickers = list(dict.fromkeys([*config.data.targets, *config.data.relatives]))
    return load_prices(
        tickers,
        config.data.start,
        config.data.end,
        prices_path=args.prices,
        cache_dir=args.cache_dir or default_cache_dir(),
        demo=getattr(args, "source", None) == "demo",
    )


def window_store(args: argparse.Namespace):
    """The window cache under ``--cache-dir``, created and write-tested before any work."""
    from backtest.engine.store import WindowStore

    root = Path(args.cache_dir or default_cache_dir()) / "windows"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        raise OSError(
            f"cannot write the window cache {str(root)!r} ({exc.strerror or exc}); pass "
            "--cache-dir DIR with a writable directory, or free some space"
        ) from None
    return WindowStore(root)
