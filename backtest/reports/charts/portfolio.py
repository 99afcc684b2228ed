"""Portfolio charts: wealth and drawdowns, weights, shrinkage intensity.

Longer than ~300 lines because its three portfolio charts share the run's palette and step-
drawing helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from backtest.reports.charts.style import (
    STYLE,
    Palette,
    asset_colors,
    format_date_axis,
    panel_grid,
    resolve_colors,
    save_figure,
    title,
)

__all__ = [
    "plot_equity_curves",
    "plot_intensity",
    "plot_weights",
    "plot_weights_grid",
    "wealth_ticks",
]

_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


def wealth_ticks(low: float, high: float, max_ticks: int = 9) -> list[float]:
    """Round wealth levels ($0.8, $1, $1.5, $2, ...) spanning ``[low, high]`` on a log axis.

    The candidates are the :data:`_NICE` mantissas of every decade in range, thinned (always
    keeping $1) until at most `max_ticks` remain.
    """
    decades = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
    levels = sorted({round(m * 10.0**d, 10) for d in decades for m in _NICE})
    inside = [v for v in levels if low <= v <= high]
    step = 1
    while len(inside[::step]) > max_ticks:
        step += 1
    ticks = inside[::step]
    if len(ticks) < 3:  # a narrow range: plain linear steps
        linear = mticker.MaxNLocator(5).tick_values(low, high)
        ticks = [float(t) for t in linear if low <= t <= high]
    if low <= 1.0 <= high and 1.0 not in ticks:
        ticks = sorted({*ticks, 1.0})
    return ticks


def _money(value: float, _: object = None) -> str:
    return f"${value:,.2f}".rstrip("0").rstrip(".") if value < 10 else f"${value:,.0f}"


def plot_equity_curves(
    net_returns: pd.DataFrame,
    path: str | Path,
    benchmarks: Sequence[str] = (),
    *,
    colors: Mapping[str, Any] | Palette | None = None,
    title_text: str = "Growth of $1, net of trading costs",
) -> Path:
    r"""Plot growth of $1 (log scale) with the drawdowns of the highlighted lines beneath.

    Parameters
    ----------
    net_returns : pd.DataFrame of shape (n_periods, n_strategies)
        Monthly simple portfolio returns after costs, indexed by the month earned. Each column
        starts compounding at its first non-missing value.
    path : str or Path
        PNG file to write.
    benchmarks : sequence of str, default=()
        Columns drawn as black/grey dashed benchmarks (e.g. equal weight, minimum variance).
    colors : Palette or mapping of str to colour, optional
        The run's :class:`~backtest.reports.charts.style.Palette` (default: every column
        strong, coloured by name).
    title_text : str
        Figure title; the period and its length are appended.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Wealth :math:`W_t = \prod_{s \le t} (1 + r_s)` starts at 1 one month before the first
    return; drawdown :math:`W_t / \max_{s \le t} W_s - 1`; CAGR
    :math:`W_T^{12 / n} - 1` over the :math:`n` months of the column. The legend lists final
    wealth and CAGR in the palette's order; the drawdown panel shows only the strong lines
    (best strategies and benchmarks), so it stays readable with many strategies.
    """
    palette = resolve_colors(list(net_returns.columns), benchmarks, colors)
    start = net_returns.index[0] - pd.offsets.MonthEnd(1)
    wealth = (1.0 + net_returns.fillna(0.0)).cumprod()
    wealth = pd.concat([pd.DataFrame(1.0, index=[start], columns=wealth.columns), wealth])
    drawdown = wealth / wealth.cummax() - 1.0
    n_months = net_returns.notna().sum()
    final = wealth.iloc[-1]
    cagr = final ** (12.0 / n_months.clip(lower=1)) - 1.0
    order = palette.sort(net_returns.columns)
    period = (
        f"{net_returns.index[0]:%b %Y} to {net_returns.index[-1]:%b %Y} ({len(net_returns)} months)"
    )
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(12.0, 7.0))
        ax, ax_dd = fig.subplots(
            2,
            1,
            sharex=True,
            gridspec_kw={
                "height_ratios": (3, 1),
                "left": 0.07,
                "right": 0.70,
                "top": 0.91,
                "bottom": 0.06,
                "hspace": 0.08,
            },
        )
        for name in order[::-1]:  # the strongest lines last, on top
            style = palette.line(name)
            label = f"{name}  {_money(final[name])}  ({cagr[name]:+.1%}/yr)"
            ax.plot(wealth.index, wealth[name].to_numpy(), label=label, **style)
            if palette.strong(name):
                ax_dd.plot(
                    drawdown.index, 100 * drawdown[name].to_numpy(), **{**style, "linewidth": 1.2}
                )
        ax.set_yscale("log")
        low, high = float(wealth.min().min()), float(wealth.max().max())
        ax.set_ylim(low / 1.04, high * 1.04)
        ax.yaxis.set_major_locator(mticker.FixedLocator(wealth_ticks(low / 1.04, high * 1.04)))
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(_money))
        ax.yaxis.set_minor_locator(mticker.NullLocator())
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_ylabel("wealth, $ (log scale)")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            title="final wealth (CAGR/yr)",
            frameon=False,
        )
        ax_dd.set_ylabel("drawdown, %")
        ax_dd.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        ax_dd.text(
            1.01, 0.5, "drawdowns of the\nbold lines only", transform=ax_dd.transAxes, fontsize=8
        )
        format_date_axis(ax_dd, wealth.index)
        title(fig, f"{title_text}, {period}", "log scale: equal vertical steps = equal % gains")
        return save_figure(fig, path)


def _stack_weights(
    ax: Any, weights: pd.DataFrame, palette: Mapping[str, Any], cap: float | None
) -> list[Artist]:
    """Stack long weights above zero and short weights below it, in percent, as monthly steps.

    Each target weight is held for the month after its decision, so each asset's band is a
    filled step (a :class:`~matplotlib.patches.StepPatch` between the bands below and above
    it) from one decision to the next, the last one month past the last decision. The bands
    of a panel are drawn as one patch collection: a tenth of the cost of ``stackplot``'s
    ``fill_between`` per band, for the same areas.

    Returns
    -------
    list of Artist
        Legend handles, labelled: one band per asset, then the cap line.
    """
    end = weights.index[-1] + pd.offsets.MonthEnd(1)
    edges = mdates.date2num(weights.index.append(pd.DatetimeIndex([end])))
    values = 100 * weights.fillna(0.0).to_numpy().T
    long, short = np.clip(values, 0, None), np.clip(values, None, 0)
    bands: list[StepPatch] = []
    for part in (long, short) if short.any() else (long,):
        top = np.cumsum(part, axis=0)
        bands += [
            StepPatch(top[k], edges, baseline=top[k] - part[k], color=palette[a], label=str(a))
            for k, a in enumerate(weights.columns)
        ]
    collection = PatchCollection(bands, match_original=True, linewidths=0.0)
    ax.add_collection(collection)
    # Like stackplot's, the bottom band sticks to the axes' edge: no margin below it.
    collection.sticky_edges.y[:] = [short.sum(0).min()]
    handles: list[Artist] = bands[: weights.shape[1]]
    if short.any():
        ax.axhline(0.0, color="black", linewidth=0.8)
    if cap is not None:
        handles.append(
            ax.axhline(
                100 * cap, color="black", linewidth=1.0, linestyle="--", label="cap per asset"
            )
        )
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
    ax.grid(axis="x", visible=False)
    format_date_axis(ax, weights.index.append(pd.DatetimeIndex([end])))
    ax.set_xlim(edges[0], edges[-1])
    return handles


def plot_weights(
    weights: pd.DataFrame, path: str | Path, title_text: str, *, cap: float | None = None
) -> Path:
    """Plot one strategy's portfolio weights over time as stacked monthly steps.

    Parameters
    ----------
    weights : pd.DataFrame of shape (n_periods, n_assets)
        Target weights indexed by decision month, columns in the tickers' order. Negative
        (short) weights are stacked below zero.
    path : str or Path
        PNG file to write.
    title_text : str
        Figure title, typically the strategy name.
    cap : float, optional
        The per-asset weight cap, drawn as a dashed line.

    Returns
    -------
    Path
        `path`.
    """
    with mpl.rc_context(STYLE):
        fig, (ax,) = panel_grid(1, 1, (8.0, 3.5), right=1.4)
        handles = _stack_weights(ax, weights, asset_colors(list(weights.columns)), cap)
        ax.set_ylabel("portfolio weight, %")
        ax.legend(
            handles[::-1],
            [h.get_label() for h in handles[::-1]],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
        )
        title(fig, title_text)
        return save_figure(fig, path)


def plot_weights_grid(
    weights_by_strategy: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    tickers: Sequence[str] | None = None,
    cap: float | None = None,
) -> Path:
    """Plot every strategy's stacked weights as small multiples with one shared asset legend.

    Parameters
    ----------
    weights_by_strategy : mapping of str to pd.DataFrame of shape (n_periods, n_assets)
        Target weights per strategy, indexed by decision month, in panel order.
    path : str or Path
        PNG file to write.
    tickers : sequence of str, optional
        Asset order (stacking bottom-up, legend and colours); default the first frame's.
    cap : float, optional
        The per-asset weight cap, drawn as a dashed line in every panel.

    Returns
    -------
    Path
        `path`.
    """
    if not weights_by_strategy:
        raise ValueError("`weights_by_strategy` is empty; pass at least one strategy's weights.")
    assets = list(tickers or next(iter(weights_by_strategy.values())).columns)
    palette = asset_colors(assets)
    with mpl.rc_context(STYLE):
        # One weight scale for every panel, labelled in the left column only.
        fig, axes = panel_grid(
            len(weights_by_strategy), 3, (3.9, 1.9), extra_height=0.35, sharey=True
        )
        handles: list[Artist] = []
        for ax, (name, w) in zip(axes, weights_by_strategy.items(), strict=True):
            drawn = _stack_weights(ax, w[[a for a in assets if a in w]], palette, cap)
            handles = handles or drawn
            ax.set_title(name, loc="left")
        for ax in axes[::3]:
            ax.set_ylabel("weight, %")
        labels = [h.get_label() for h in handles]
        fig.legend(handles, labels, loc="lower center", ncols=len(labels), frameon=False)
        cap_text = f"; dashed: the {cap:.0%} cap per asset" if cap is not None else ""
        title(
            fig,
            "Portfolio weights by strategy",
            f"target weights set at each monthly rebalance and held for the month{cap_text}",
        )
        return save_figure(fig, path)


def plot_intensity(
    intensity: pd.DataFrame,
    path: str | Path,
    *,
    colors: Mapping[str, Any] | Palette | None = None,
) -> Path:
    """Plot the shrinkage intensity over time of each strategy whose intensity varies.

    Parameters
    ----------
    intensity : pd.DataFrame of shape (n_periods, n_strategies)
        Weight on the target/forecast in ``mu = (1 - s) * historical_mean + s * target``,
        indexed by decision month: 0 keeps the historical mean, 1 uses the target/forecast.
    path : str or Path
        PNG file to write.
    colors : Palette or mapping of str to colour, optional
        The run's palette.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Strategies whose intensity never moves (fixed blends, the raw forecast, the historical
    mean: constant by design) get no panel; they are listed with their value under the title.
    """
    palette = resolve_colors(list(intensity.columns), (), colors)
    spread = intensity.max() - intensity.min()
    constant = [c for c in intensity.columns if not spread[c] > 1e-9]
    varying = [c for c in palette.sort(intensity.columns) if c not in constant]
    fixed = ", ".join(f"{c} = {intensity[c].dropna().iloc[0]:.2f}" for c in constant) or "none"
    with mpl.rc_context(STYLE):
        n = max(1, len(varying))
        ncols = int(np.ceil(n / np.ceil(n / 4)))  # balanced rows: 5 panels as 3 + 2
        # One intensity scale for every panel, labelled in the left column only.
        fig, axes = panel_grid(n, ncols, (3.0, 1.8), margins=(0.6, 0.2, 0.75, 0.4), sharey=True)
        x = mdates.date2num(intensity.index)
        for ax, name in zip(axes, varying, strict=False):
            # The other strategies as one grey line collection behind the panel's own.
            others = [np.column_stack([x, intensity[o].to_numpy()]) for o in varying if o != name]
            ax.add_collection(LineCollection(others, colors="#dddddd", linewidths=0.8, zorder=2))
            ax.step(
                intensity.index, intensity[name].to_numpy(), where="post", lw=1.8,
                color=palette.color(name),
            )  # fmt: skip
            for level in (0.0, 1.0):
                ax.axhline(level, color="black", linewidth=0.7, linestyle=":")
            ax.set_title(f"{name} (mean {intensity[name].mean():.2f})", loc="left")
            ax.set_ylim(-0.05, 1.05)
            format_date_axis(ax, intensity.index)
        if not varying:
            axes[0].text(0.5, 0.5, "no strategy's intensity varies", ha="center")
        for ax in axes[::ncols]:
            ax.set_ylabel("intensity s")
        title(
            fig,
            "Shrinkage intensity over time: s = 0 keeps the historical mean, 1 the target",
            f"constant by design (no panel): {fixed}",
        )
        return save_figure(fig, path)
