"""Shared chart style: colours, date axes, panel grids, saving (matplotlib, Agg, PNG).

The chart functions live in :mod:`backtest.reports.charts.forecast` (forecast accuracy,
expected returns) and :mod:`backtest.reports.charts.portfolio` (wealth, weights, shrinkage
intensity); both take their style from here.

Every chart is saved at :data:`DPI` with a fixed figure size in inches (no tight bounding box),
so a PNG's pixel size is ``figsize * DPI``. Strategies get one colour each from
:func:`strategy_colors` (assigned by sorted name, so the same set of strategies gets the same
colours in every chart; pass ``colors=`` to force a mapping); benchmarks are drawn in grey with
dashed or dotted lines so the strategies stand out.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "STRATEGY_PALETTE",
    "STYLE",
    "asset_colors",
    "format_date_axis",
    "line_style",
    "panel_grid",
    "resolve_colors",
    "save_figure",
    "strategy_colors",
]

DPI = 150
#: tab10 without its grey, then the dark shades of tab20b: 14 distinct non-grey colours.
STRATEGY_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
)  # fmt: skip
_BENCHMARK_GREYS = ("#4d4d4d", "#8c8c8c", "#b3b3b3", "#666666")
_BENCHMARK_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


#: rcParams applied (with ``matplotlib.rc_context``) while a chart is drawn and saved.
STYLE: dict[str, Any] = {
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 12,
}


def strategy_colors(strategies: Iterable[str]) -> dict[str, str]:
    """Assign one colour per strategy, by sorted name.

    Parameters
    ----------
    strategies : iterable of str
        Strategy names (benchmarks excluded: they are drawn grey).

    Returns
    -------
    dict of str to str
        Hex colours from :data:`STRATEGY_PALETTE` (no greys, so strategies never look like
        benchmarks), cycled beyond its length.
    """
    names = sorted(set(strategies))
    return {name: STRATEGY_PALETTE[i % len(STRATEGY_PALETTE)] for i, name in enumerate(names)}


def resolve_colors(
    names: Iterable[str],
    benchmarks: Sequence[str] = (),
    colors: Mapping[str, Any] | None = None,
) -> Mapping[str, Any]:
    """Return `colors` if given, else :func:`strategy_colors` of the non-benchmark `names`."""
    if colors is not None:
        return colors
    return strategy_colors(n for n in names if n not in benchmarks)


def asset_colors(assets: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Assign one colour per asset in the given order (``tab10``, ``tab20`` beyond 10)."""
    cmap = mpl.colormaps["tab10" if len(assets) <= 10 else "tab20"]
    return {asset: cmap(i % cmap.N) for i, asset in enumerate(assets)}


def line_style(
    name: str,
    colors: Mapping[str, Any],
    benchmarks: Sequence[str] = (),
) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot``: bold colour for a strategy, grey dashes for a benchmark.

    Parameters
    ----------
    name : str
        Series name.
    colors : mapping of str to colour
        Strategy colours (see :func:`strategy_colors`).
    benchmarks : sequence of str, default=()
        Names drawn as benchmarks; the k-th benchmark gets the k-th grey and dash pattern.

    Returns
    -------
    dict
        ``color``, ``linestyle``, ``linewidth``, ``zorder`` and ``label``.
    """
    if name in benchmarks:
        k = list(benchmarks).index(name)
        return {
            "color": _BENCHMARK_GREYS[k % len(_BENCHMARK_GREYS)],
            "linestyle": _BENCHMARK_DASHES[k % len(_BENCHMARK_DASHES)],
            "linewidth": 1.4,
            "zorder": 2,
            "label": name,
        }
    return {"color": colors[name], "linestyle": "-", "linewidth": 1.6, "zorder": 3, "label": name}


def format_date_axis(ax: Axes) -> None:
    """Concise automatic date ticks (years, with months only when zoomed in)."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def panel_grid(
    n_panels: int,
    ncols: int,
    panel_size: tuple[float, float],
    *,
    extra_height: float = 0.0,
    sharex: bool = True,
    sharey: bool = False,
) -> tuple[Figure, np.ndarray]:
    """Create a constrained-layout grid of small multiples, hiding the unused panels.

    Parameters
    ----------
    n_panels : int
        Number of panels used.
    ncols : int
        Maximum panels per row (fewer if `n_panels` is smaller).
    panel_size : tuple of float
        ``(width, height)`` of one panel, in inches.
    extra_height : float, default=0.0
        Inches added to the figure height for a title and a shared legend.
    sharex, sharey : bool
        Passed to ``Figure.subplots``.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes, shape (n_panels,)
        The used panels in reading order.
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig = Figure(
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows + extra_height),
        layout="constrained",
    )
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
    flat = axes.ravel()
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    if sharex:
        # Hidden bottom-row panels would otherwise leave the panels above without tick labels.
        for ax in flat[max(0, n_panels - ncols) : n_panels]:
            ax.xaxis.set_tick_params(labelbottom=True)
    return fig, flat[:n_panels]


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save `fig` as PNG at :data:`DPI` (creating parent folders) and return the path.

    Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global figure
    manager holds them and no backend needs selecting: rendering goes through Agg and the
    figure is freed once unreferenced. The PNG is written atomically, like every other
    output, so a run killed while drawing never leaves a half-written image.
    """
    from backtest.engine.store import atomic_write_bytes

    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path
