"""Stability outputs of a run: subperiods.csv and the two rolling charts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.atomic import atomic_write_text
from backtest.engine.panel import ForecastPanel
from backtest.evaluation.stability import (
    ROLLING_MONTHS,
    rolling_r2_os,
    rolling_sharpe_difference,
    subperiod_table,
)
from backtest.portfolio.rebalance import EQUAL_WEIGHT, MARKET, MIN_VARIANCE
from backtest.reports.charts.render import ChartJob, ChartPool
from backtest.reports.charts.stability import plot_rolling_r2_os, plot_rolling_sharpe_difference

__all__ = ["write_stability_outputs"]


def write_stability_outputs(
    panel: ForecastPanel, net: pd.DataFrame, out: Path, charts: ChartPool | None = None
) -> pd.DataFrame:
    """subperiods.csv (halves and calendar years), rolling_r2_os.png, rolling_sharpe_diff.png.

    With ``charts``, the two charts are drawn in its background workers (done when it exits).
    """
    realised = panel.realised.dropna(how="all")
    table = subperiod_table(realised, panel.forecasts, panel.hist_mean, net, EQUAL_WEIGHT)
    atomic_write_text(out / "subperiods.csv", table.to_csv(index=False, float_format="%.10g"))
    jobs: list[ChartJob] = []
    if len(realised) >= ROLLING_MONTHS:
        rolling = pd.DataFrame(
            {m: rolling_r2_os(realised, f.reindex(realised.index), panel.hist_mean.reindex(
                realised.index)) for m, f in panel.forecasts.items()}
        ).dropna(how="all")  # fmt: skip
        jobs.append(
            ChartJob(plot_rolling_r2_os, (rolling, out / "rolling_r2_os.png", ROLLING_MONTHS))
        )
    if EQUAL_WEIGHT in net and len(net.dropna()) >= ROLLING_MONTHS:
        diff = rolling_sharpe_difference(net.dropna(), EQUAL_WEIGHT).dropna(how="all")
        path = out / "rolling_sharpe_diff.png"
        jobs.append(
            ChartJob(
                plot_rolling_sharpe_difference,
                (diff, path, ROLLING_MONTHS, (MIN_VARIANCE, MARKET)),
            )
        )
    if charts is None:
        for job in jobs:
            job()
    else:
        charts.submit(jobs)
    return table
