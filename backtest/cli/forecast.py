"""``backtest forecast``: next month's forecasts and recommended weights."""

from __future__ import annotations

import argparse
import sys

from backtest.config import RunConfig
from backtest.engine.store import WindowStore
from backtest.live.forecast import forecast_next
from models.horizon import check_horizon


def forecast_command(args: argparse.Namespace, config: RunConfig, variants: list[str]) -> None:
    """``backtest forecast``: the month ahead of every asked variant, printed and written.

    Writes ``forecast.csv`` (see :meth:`LiveForecast.tidy`), ``forecast.png`` and
    ``forecast.json`` into ``<results-dir>/<run-name>/`` (default ``<variant>-forecast``: a
    forecast is its own sealed directory, beside that variant's ``run`` results).
    """
    from backtest.cli.common import load_data, make_runner, run_name, tqdm_progress
    from backtest.data.yahoo import default_cache_dir
    from backtest.live.report import format_forecast, write_forecast
    from backtest.pipeline import strategy_names
    from backtest.reports.staging import check_run_name, results_dir

    for variant in variants:  # refuse an impossible horizon before loading or training
        check_horizon(variant, args.horizon)
    data = load_data(config, args)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    runner = make_runner(args)
    store = WindowStore((args.cache_dir or default_cache_dir()) / "windows")
    for variant in variants:
        cfg = config.with_variant(variant)
        name = run_name(args, variant, len(variants)) if args.run_name else f"{variant}-forecast"
        identity = {"config": cfg.to_dict(), "horizon": args.horizon}
        final = args.results_dir / check_run_name(name)
        with results_dir(final, "forecast", identity, args.overwrite) as out:
            progress = tqdm_progress(f"{variant} windows", args.no_progress)
            result = forecast_next(
                cfg, data.prices, store, runner, strategy_names(cfg), args.horizon, progress
            )
            write_forecast(result, out, cfg, data)
        print(format_forecast(result))
        print(f"results: {final}/")
