"""``backtest forecast``: next month's forecasts and recommended weights."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date, timedelta

from backtest.cli.args import config_sets
from backtest.config import RunConfig
from backtest.live.forecast import forecast_next
from models.horizon import check_horizon


def forecast_command(args: argparse.Namespace, config: RunConfig, variants: list[str]) -> None:
    """``backtest forecast``: the month ahead of every asked variant, printed and written.

    Writes ``forecast.csv`` (see :meth:`LiveForecast.tidy`), ``forecast.png`` and
    ``forecast.json`` into ``<results-dir>/<run-name>/`` (default ``<variant>-forecast``: a
    forecast is its own sealed directory, beside that variant's ``run`` results).
    """
    from backtest.cli.common import load_data, make_runner, run_name, tqdm_progress, window_store
    from backtest.live.report import format_forecast, write_forecast
    from backtest.pipeline import strategy_names
    from backtest.reports.staging import check_run_name, results_dir

    for variant in variants:  # refuse an impossible horizon before loading or training
        check_horizon(variant, args.horizon)
    config, data = _latest_data(config, args, load_data)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    runner = make_runner(args)
    store = window_store(args)
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


def _latest_data(config: RunConfig, args: argparse.Namespace, load_data):
    """The prices to forecast from: up to ``--end`` if given, else the last complete month.

    Says which month is forecast and from what data, and warns loudly when the data stop
    before the previous calendar month (the "next month" would already be past).
    """
    import pandas as pd

    explicit = config_sets(args, "end")
    if not explicit:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, end=None))
    data = load_data(config, args)
    last = data.prices.index[-1]
    config = dataclasses.replace(
        config, data=dataclasses.replace(config.data, end=f"{last:%Y-%m-01}")
    )
    target = last + pd.offsets.MonthEnd(1)
    how = "--end" if explicit else "the last complete month of the data"
    print(
        f"forecasting {target:%Y-%m} from {data.source}, data through {last:%Y-%m} ({how})",
        file=sys.stderr,
    )
    today = date.today()
    previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if last.date().replace(day=1) < previous:
        print(
            f"warning: the data end in {last:%Y-%m} but the previous calendar month is "
            f"{previous:%Y-%m}: {target:%Y-%m} is already past, so this is not a forecast "
            "of the coming month; update the prices (or pass --end on purpose)",
            file=sys.stderr,
        )
    return config, data
