"""Portfolio charts: wealth and drawdowns, weights, shrinkage intensity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from backtest.reports.charts.style import (
    STYLE,
    asset_colors,
    format_date_axis,
    line_style,
    panel_grid,
    resolve_colors,
    save_figure,
)

__all__ = [
    "plot_equity_curves",
    "plot_intensity",
    "plot_weights",
    "plot_weights_grid",
]


def plot_equity_curves(
    net_returns: pd.DataFrame,
    path: str | Path,
    benchmarks: Sequence[str] = (),
    *,
    colors: Mapping[str, Any] | None = None,
    title: str = "Growth of $1, net of trading costs",
) -> Path:
    r"""Plot growth of $1 (log scale) with a drawdown panel beneath.

    Parameters
    ----------
    net_returns : pd.DataFrame of shape (n_periods, n_strategies)
        Monthly simple portfolio returns after costs, indexed by the month earned. Each column
        starts compounding at its first non-missing value.
    path : str or Path
        PNG file to write.
    benchmarks : sequence of str, default=()
        Columns drawn as grey dashed benchmarks (e.g. equal weight, minimum variance).
    colors : mapping of str to colour, optional
        Strategy colours; default :func:`~backtest.reports.charts.style.strategy_colors` of the
        non-benchmark
        columns.
    title : str
        Figure title.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Wealth :math:`W_t = \prod_{s \le t} (1 + r_s)` starts at 1 one month before the first
    return; drawdown :math:`W_t / \max_{s \le t} W_s - 1`; CAGR
    :math:`W_T^{12 / n} - 1` over the :math:`n` months of the column. The legend lists final
    wealth and CAGR, sorted by final wealth.
    """
    palette = resolve_colors(list(net_returns.columns), benchmarks, colors)
    start = net_returns.index[0] - pd.offsets.MonthEnd(1)
    wealth = (1.0 + net_returns.fillna(0.0)).cumprod()
    wealth = pd.concat([pd.DataFrame(1.0, index=[start], columns=wealth.columns), wealth])
    wealth.index.name = net_returns.index.name
    drawdown = wealth / wealth.cummax() - 1.0
    n_months = net_returns.notna().sum()
    final = wealth.iloc[-1]
    cagr = final ** (12.0 / n_months.clip(lower=1)) - 1.0
    order = final.sort_values(ascending=False).index
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(12.0, 7.0), layout="constrained")
        ax, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        for name in order:
            style = line_style(name, palette, benchmarks)
            style["label"] = f"{name}  ${final[name]:,.2f}  ({cagr[name]:+.1%}/yr)"
            ax.plot(wealth.index, wealth[name].to_numpy(), **style)
            style.pop("label")
            ax_dd.plot(drawdown.index, 100 * drawdown[name].to_numpy(), **{**style, "linewidth": 1})
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"${v:g}"))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_ylabel("wealth, $ (log scale)")
        ax.set_title(title, loc="left", fontsize=12)
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), title="final wealth (CAGR)", frameon=False
        )
        ax_dd.set_ylabel("drawdown, %")
        ax_dd.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        format_date_axis(ax_dd)
        return save_figure(fig, path)


def _stack_weights(ax: Any, weights: pd.DataFrame, palette: Mapping[str, Any]) -> None:
    """Stack long weights above zero and short weights below it, in percent."""
    x = weights.index
    colours = [palette[c] for c in weights.columns]
    values = 100 * weights.fillna(0.0).to_numpy().T
    ax.stackplot(
        x,
        np.clip(values, 0, None),
        colors=colours,
        labels=list(weights.columns),
        linewidth=0.2,
        edgecolor="white",
    )
    if (values < 0).any():
        ax.stackplot(x, np.clip(values, None, 0), colors=colours, linewidth=0.2, edgecolor="white")
        ax.axhline(0.0, color="black", linewidth=0.8)
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
    ax.set_xlim(x[0], x[-1])
    ax.grid(axis="x", visible=False)
    format_date_axis(ax)


def plot_weights(weights: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Plot one strategy's portfolio weights over time as a stacked area.

    Parameters
    ----------
    weights : pd.DataFrame of shape (n_periods, n_assets)
        Target weights indexed by decision month. Negative (short) weights are stacked below
        zero.
    path : str or Path
        PNG file to write.
    title : str
        Figure title, typically the strategy name.

    Returns
    -------
    Path
        `path`.
    """
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(10.0, 4.5), layout="constrained")
        ax = fig.subplots()
        _stack_weights(ax, weights, asset_colors(list(weights.columns)))
        ax.set_ylabel("portfolio weight, %")
        ax.set_title(title, loc="left", fontsize=12)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            title="asset",
        )
        return save_figure(fig, path)


def plot_weights_grid(weights_by_strategy: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Plot every strategy's stacked weights as small multiples with one shared asset legend.

    Parameters
    ----------
    weights_by_strategy : mapping of str to pd.DataFrame of shape (n_periods, n_assets)
        Target weights per strategy, all with the same assets (colours follow the first
        frame's column order).
    path : str or Path
        PNG file to write.

    Returns
    -------
    Path
        `path`.
    """
    if not weights_by_strategy:
        raise ValueError("`weights_by_strategy` is empty; pass at least one strategy's weights.")
    assets = list(next(iter(weights_by_strategy.values())).columns)
    palette = asset_colors(assets)
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(weights_by_strategy), 3, (4.2, 2.4), extra_height=0.9)
        for ax, (name, w) in zip(axes, weights_by_strategy.items(), strict=True):
            _stack_weights(ax, w[[a for a in assets if a in w]], palette)
            ax.set_title(name, loc="left")
        for ax in axes[::3]:
            ax.set_ylabel("weight, %")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(assets), frameon=False)
        fig.suptitle("Portfolio weights by strategy (target weights at each rebalance)")
        return save_figure(fig, path)


def plot_intensity(
    intensity: pd.DataFrame,
    path: str | Path,
    *,
    colors: Mapping[str, Any] | None = None,
) -> Path:
    """Plot each strategy's shrinkage intensity over time.

    Parameters
    ----------
    intensity : pd.DataFrame of shape (n_periods, n_strategies)
        Weight on the target/forecast in ``mu = (1 - s) * historical_mean + s * target``,
        indexed by decision month: 0 keeps the historical mean, 1 uses the target/forecast.
    path : str or Path
        PNG file to write.
    colors : mapping of str to colour, optional
        Strategy colours; default :func:`~backtest.reports.charts.style.strategy_colors` of the
        columns.

    Returns
    -------
    Path
        `path`.
    """
    palette = resolve_colors(list(intensity.columns), (), colors)
    order = intensity.mean().sort_values(ascending=False).index
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(order), 5, (3.0, 2.1), extra_height=0.5, sharey=True)
        for ax, name in zip(axes, order, strict=True):
            # Every other strategy as a faint backdrop, so each panel also shows the spread.
            for other in order.drop(name):
                ax.plot(intensity.index, intensity[other].to_numpy(), color="#d9d9d9", lw=0.8)
            ax.plot(intensity.index, intensity[name].to_numpy(), color=palette[name], lw=2.0)
            for level in (0.0, 1.0):
                ax.axhline(level, color="black", linewidth=0.7, linestyle=":")
            ax.set_title(f"{name} (mean {intensity[name].mean():.2f})", loc="left")
            ax.set_ylim(-0.05, 1.05)
            format_date_axis(ax)
        for ax in axes[::5]:
            ax.set_ylabel("intensity")
        fig.suptitle(
            "Shrinkage intensity over time: 0 = historical mean, 1 = target/forecast "
            "(panels sorted by mean intensity)"
        )
        return save_figure(fig, path)
