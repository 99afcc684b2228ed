"""Write and format the ``forecast`` command's results: forecast.csv, forecast.png, a table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from backtest.atomic import atomic_write_text
from backtest.config import RunConfig
from backtest.data.prices import PriceData
from backtest.live.forecast import LiveForecast
from backtest.reports.charts.forecast import plot_expected_returns
from backtest.reports.files import package_versions, write_csv
from strategies import StrategyName

__all__ = ["format_forecast", "write_forecast"]

# Strategies that are the raw inputs themselves (on any model: forecast@ridge is ridge's
# forecast): shown once, as the models' forecasts and the mean.
_RAW = (StrategyName.HIST_MEAN.value, StrategyName.FORECAST.value)


def write_forecast(
    result: LiveForecast, out: Path, config: RunConfig, data: PriceData
) -> list[Path]:
    """Write ``forecast.csv``, ``forecast.png`` and ``forecast.json`` into ``out``.

    Parameters
    ----------
    result : LiveForecast
        What :func:`backtest.live.forecast.forecast_next` returned.
    out : Path
        The run directory.
    config : RunConfig
        The configuration used (recorded in ``forecast.json``).
    data : PriceData
        The prices used (their fingerprint and span are recorded).

    Returns
    -------
    list of Path
        The files written.
    """
    live, rec = result.live, result.recommendation
    csv = write_csv(result.tidy(), out / "forecast.csv")
    # The 'hist_mean' strategy is the hatched historical-mean bar itself.
    shrunk = rec.mu.drop(columns=[StrategyName.HIST_MEAN.value], errors="ignore")
    span = f"{live.forecast_month:%b %Y}"
    if result.horizon > 1:
        span = f"{live.forecast_month:%b %Y}-{result.path.index[-1]:%b %Y} avg"
    title = f"{result.variant.value}: expected return {span} (data to {live.origin:%b %Y})"
    png = plot_expected_returns(rec.hist_mean, shrunk, out / "forecast.png", title)
    meta = {
        "config": config.to_dict(),
        "data": {
            "source": data.source,
            "fingerprint": data.fingerprint,
            "first_month": f"{data.prices.index[0]:%Y-%m}",
            "last_month": f"{data.prices.index[-1]:%Y-%m}",
        },
        "forecast_month": f"{live.forecast_month:%Y-%m}",
        "horizon": result.horizon,
        "live_fit": {
            "train_start": f"{live.fit_start:%Y-%m}",
            "history_start": f"{live.train_start:%Y-%m}",
            "train_end": f"{live.origin:%Y-%m}",
            "n_train": live.n_train,
            "seed": live.job.seed,
            "cached": result.live_cached,
        },
        "walk_forward": {
            "forecast_months": len(result.panel.dates),
            "cached": result.panel.n_cached,
            "computed": result.panel.n_computed,
        },
        "notes": [*data.notes, *result.panel.notes],
        "versions": package_versions(),
    }
    atomic_write_text(out / "forecast.json", json.dumps(meta, indent=2) + "\n")
    return [csv, png, out / "forecast.json"]


def _month_span(result: LiveForecast) -> str:
    first = result.live.forecast_month
    if result.horizon == 1:
        return f"{first:%b %Y}"
    return f"{first:%b %Y} .. {result.path.index[-1]:%b %Y} (average)"


def format_forecast(result: LiveForecast) -> str:
    """A readable terminal summary: forecasts and shrunk means (% per month), and weights."""
    live, rec = result.live, result.recommendation
    state = "cached" if result.live_cached else "computed"
    lines = [
        f"== {result.variant.value}: forecast for {_month_span(result)}, data to "
        f"{live.origin:%Y-%m} ==",
        f"live fit on {live.n_train} months {live.fit_start:%Y-%m} .. {live.origin:%Y-%m} "
        f"({state}); walk-forward history {len(result.panel.dates)} months, windows "
        f"{result.panel.n_computed} computed / {result.panel.n_cached} cached",
    ]
    if result.horizon > 1:
        path = (100 * result.path).rename(index=lambda d: f"{d:%Y-%m}").rename_axis(None)
        lines += [
            "",
            f"{result.panel.primary} path, log return % per month (its average is the forecast; "
            "the strategies "
            f"weigh it by the one-step forecasts' past errors, as no {result.horizon}-month "
            "errors are scored):",
            path.to_string(float_format=_pct),
        ]
    expected = pd.concat([result.forecasts, rec.hist_mean.rename("hist mean")], axis=1).join(
        rec.mu.drop(columns=[c for c in rec.mu.columns if c.split("@")[0] in _RAW])
    )
    weights = rec.weights.copy()
    weights.loc["sum"] = weights.sum()
    lines += [
        "",
        "Expected return, log % per month (the models' forecasts, then the historical mean, "
        "then the shrunk strategies):",
        (100 * expected).rename_axis(None).to_string(float_format=_pct),
        "",
        f"Recommended weights, % (benchmarks: {', '.join(rec.benchmarks)}):",
        (100 * weights).rename_axis(None).to_string(float_format=lambda v: f"{v:.1f}"),
    ]
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{value:+.2f}"
