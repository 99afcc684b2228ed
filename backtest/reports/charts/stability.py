"""Rolling stability charts: 24-month R2_OS per model, Sharpe difference against 1/N."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import pandas as pd

from backtest.reports.charts.style import (
    STYLE,
    format_date_axis,
    line_style,
    panel_grid,
    save_figure,
    strategy_colors,
)

__all__ = ["plot_rolling_r2_os", "plot_rolling_sharpe_difference"]


def _plot_lines(
    frame: pd.DataFrame,
    path: Path,
    title: str,
    ylabel: str,
    pct: bool,
    benchmarks: Sequence[str] = (),
) -> Path:
    benchmarks = [b for b in benchmarks if b in frame.columns]
    colors = strategy_colors(c for c in frame.columns if c not in benchmarks)
    names = [str(c) for c in frame.columns]
    # The legend in columns of at most 20 beside the axes (fixed margins, no layout pass and
    # no search for the emptiest corner), each column as wide as the longest name needs.
    ncols = -(-len(names) // 20)
    legend_width = ncols * (0.6 + 0.062 * max(map(len, names), default=1))
    with mpl.rc_context(STYLE):
        fig, (ax,) = panel_grid(
            1, 1, (6.6, 3.15), right=legend_width, sharex=False, margins=(0.75, 0.1, 0.4, 0.45)
        )
        for name in frame.columns:
            style = line_style(name, colors, benchmarks)
            ax.plot(frame.index, frame[name].to_numpy() * (100 if pct else 1), **style)
        ax.axhline(0.0, color="#333333", linewidth=0.9)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        format_date_axis(ax, pd.DatetimeIndex(frame.index))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=ncols, frameon=False)
        return save_figure(fig, path)


def plot_rolling_r2_os(rolling: pd.DataFrame, path: str | Path, window: int) -> Path:
    """Trailing-``window`` pooled R2_OS (%) against the historical mean, one line per model."""
    title = f"Rolling {window}-month pooled R\u00b2_OS against the historical mean"
    return _plot_lines(rolling, Path(path), title, "R\u00b2_OS (%)", pct=True)


def plot_rolling_sharpe_difference(
    rolling: pd.DataFrame, path: str | Path, window: int, benchmarks: Sequence[str] = ()
) -> Path:
    """Trailing-``window`` annualised Sharpe ratio minus 1/N's, one line per strategy.

    ``benchmarks`` (minimum variance, the market) are drawn as grey dashes.
    """
    title = f"Rolling {window}-month Sharpe ratio minus 1/N's (net of costs)"
    return _plot_lines(rolling, Path(path), title, "Sharpe difference", False, benchmarks)
