"""Tear-sheet charts of the best strategies and the benchmarks (quantstats/pyfolio style).

Calendar-year returns against the reference (1/N), rolling
12-month Sharpe ratio and volatility, and the distribution of monthly returns with VaR and
CVaR; the numbers come from :mod:`backtest.reports.tearsheet`. The monthly-returns heatmap
is an HTML table with coloured cells in the report (crisp, searchable, and no matplotlib
text to lay out: it was the costliest chart as a PNG).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from backtest.reports.charts.style import (
    STYLE,
    Palette,
    format_date_axis,
    panel_grid,
    resolve_colors,
    save_figure,
    title,
)
from backtest.reports.tearsheet import (
    rolling_sharpe,
    rolling_volatility,
    yearly_returns,
)

__all__ = [
    "plot_return_distribution",
    "plot_rolling",
    "plot_yearly_returns",
]


def plot_yearly_returns(
    returns: pd.DataFrame,
    path: str | Path,
    *,
    colors: Mapping[str, Any] | Palette | None = None,
    reference: str | None = "equal_weight",
) -> Path:
    """Grouped bars of calendar-year net returns, the reference (1/N) among them."""
    palette = resolve_colors(list(returns.columns), (), colors)
    yearly = 100 * yearly_returns(returns)
    names = list(returns.columns)
    width = 0.85 / len(names)
    x = np.arange(len(yearly))
    months = returns.groupby(returns.index.year).size()
    with mpl.rc_context(STYLE):
        fig, (ax,) = panel_grid(1, 1, (max(6.0, 1.2 * len(yearly)), 3.2), right=1.7, sharex=False)
        for k, name in enumerate(names):
            ax.bar(
                x - 0.425 + (k + 0.5) * width, yearly[name].to_numpy(), width,
                color=palette.color(name), label=name,
            )  # fmt: skip
        ax.axhline(0.0, color="black", linewidth=0.8)
        labels = [f"{y}" + ("" if months[y] == 12 else f"\n({months[y]} mo)") for y in yearly.index]
        ax.set_xticks(x, labels)
        ax.grid(axis="x", visible=False)
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        ax.set_ylabel("net return in the year")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        against = f"; {reference} (1/N) is the bar to beat" if reference in names else ""
        title(fig, "Calendar-year net returns", f"partial years marked with their months{against}")
        return save_figure(fig, path)


def plot_rolling(
    returns: pd.DataFrame,
    path: str | Path,
    *,
    window: int = 12,
    risk_free: float = 0.0,
    colors: Mapping[str, Any] | Palette | None = None,
) -> Path:
    """Rolling `window`-month Sharpe ratio and volatility (annualised), one panel each."""
    palette = resolve_colors(list(returns.columns), (), colors)
    sharpe = rolling_sharpe(returns, window, risk_free).dropna(how="all")
    vol = 100 * rolling_volatility(returns, window).dropna(how="all")
    with mpl.rc_context(STYLE):
        fig, (ax_s, ax_v) = panel_grid(2, 1, (9.0, 2.3), right=1.7, gaps=(0.5, 0.35))
        for name in returns.columns[::-1]:
            style = palette.line(name)
            ax_s.plot(sharpe.index, sharpe[name].to_numpy(), label=name, **style)
            ax_v.plot(vol.index, vol[name].to_numpy(), **style)
        ax_s.axhline(0.0, color="black", linewidth=0.6)
        ax_s.set_ylabel(f"Sharpe, {window}-month")
        ax_v.set_ylabel(f"volatility, {window}-month")
        ax_v.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        format_date_axis(ax_v, sharpe.index)
        handles, labels = ax_s.get_legend_handles_labels()
        ax_s.legend(
            handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
        )
        title(
            fig,
            f"Rolling {window}-month Sharpe ratio and volatility, annualised (x 12, x sqrt 12)",
            f"each point uses the {window} months up to it; the first is after {window} months",
        )
        return save_figure(fig, path)


def plot_return_distribution(
    returns: pd.DataFrame,
    path: str | Path,
    *,
    level: float = 0.95,
    colors: Mapping[str, Any] | Palette | None = None,
) -> Path:
    """Histogram of monthly net returns per strategy with mean, VaR and CVaR marked."""
    palette = resolve_colors(list(returns.columns), (), colors)
    values = 100 * returns
    edges = np.linspace(np.nanmin(values.to_numpy()), np.nanmax(values.to_numpy()), 25)
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(returns.columns), 3, (3.2, 1.9), sharey=True, extra_height=0.3)
        for ax, name in zip(axes, returns.columns, strict=True):
            r = values[name].dropna()
            var = float(np.quantile(r, 1.0 - level))
            cvar = float(r[r <= var].mean())
            # Half-transparent, so the black mean/VaR lines show even on 1/N's black; one
            # filled step outline per panel rather than a patch per bin (ax.hist's bars).
            counts, _ = np.histogram(r, bins=edges)
            ax.stairs(counts, edges, fill=True, color=palette.color(name), alpha=0.5)
            ax.axvline(r.mean(), color="black", linewidth=1.2, label="mean")
            ax.axvline(var, color="black", linestyle="--", linewidth=1.2, label=f"VaR {level:.0%}")
            ax.axvline(cvar, color="black", linestyle=":", linewidth=1.5, label="CVaR")
            ax.set_title(f"{name}: VaR {var:.1f}%, CVaR {cvar:.1f}%", loc="left")
            ax.xaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        for ax in axes[::3]:
            ax.set_ylabel("months")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=3, frameon=False)
        title(
            fig,
            "Distribution of monthly net returns",
            f"historical VaR: the {1 - level:.0%} quantile; CVaR: the mean of the months at or "
            "below it",
        )
        return save_figure(fig, path)
