"""Shared chart style: colour-blind-safe colours, highlighting, date axes, fixed layouts, saving.

The chart functions live in :mod:`~backtest.reports.charts.forecast` (forecast accuracy,
expected returns), :mod:`~backtest.reports.charts.portfolio` (wealth, weights, shrinkage
intensity) and :mod:`~backtest.reports.charts.tearsheet` (monthly, yearly, rolling and
distribution views of the best strategies); all take their style from here.

Colours come from the Okabe-Ito and Paul Tol palettes, both designed to stay distinct under
the common colour-vision deficiencies. A :class:`Palette` is built once per run from the
strategy ranking: the best three strategies get the three strongest Okabe-Ito colours and
bold lines, the benchmarks black and grey dashes, every other strategy a muted Tol colour
drawn thin and faded. Every chart of the run takes the same :class:`Palette`, so a strategy
has one colour everywhere, whatever the number of strategies or models.

Every chart is laid out with fixed margins in inches (:func:`panel_grid`) rather than
constrained layout, whose repeated tight-bounding-box passes were most of the drawing time,
and saved at :data:`DPI`, so a PNG's pixel size is ``figsize * DPI``.

Longer than ~300 lines because the palette, line styles and axis helpers every chart shares are
kept in one place.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "ASSET_PALETTE",
    "DPI",
    "HIGHLIGHT_PALETTE",
    "STRATEGY_PALETTE",
    "STYLE",
    "Palette",
    "asset_colors",
    "format_date_axis",
    "line_style",
    "panel_grid",
    "resolve_colors",
    "save_figure",
    "strategy_colors",
    "title",
]

DPI = 120
#: Okabe-Ito blue and vermillion, Tol cyan: the best three strategies. Of the Okabe-Ito and
#: Tol colours, the trio (with the black of 1/N) that stays furthest apart under protanopia,
#: deuteranopia and tritanopia (Machado et al. 2009 simulation; tests/test_charts.py).
HIGHLIGHT_PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#66CCEE")
#: Paul Tol's "muted" scheme, then the rest of Okabe-Ito: every other strategy.
STRATEGY_PALETTE: tuple[str, ...] = (
    "#CC6677", "#332288", "#DDCC77", "#117733", "#882255", "#44AA99", "#999933", "#AA4499",
    "#E69F00", "#009E73", "#CC79A7", "#88CCEE",
)  # fmt: skip
#: Paul Tol's "bright" scheme plus Okabe-Ito: one colour per asset, in the tickers' order.
ASSET_PALETTE: tuple[str, ...] = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#E69F00",
    "#0072B2", "#D55E00", "#009E73", "#F0E442", "#CC79A7", "#000000",
)  # fmt: skip
_BENCHMARK_GREYS = ("#000000", "#555555", "#8a8a8a", "#333333")
_BENCHMARK_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
#: How many of the top-ranked strategies are drawn strong.
N_HIGHLIGHT = 3

#: rcParams applied (with ``matplotlib.rc_context``) while a chart is drawn and saved. A
#: fixed title height (``axes.titley``) spares matplotlib a bounding-box pass per panel.
#: Unhinted glyphs: text is most of a chart's drawing (matplotlib lays out and renders each
#: label glyph by glyph), and FreeType's hinter was a third of it; at 120 dpi the labels
#: read the same.
STYLE: dict[str, Any] = {
    "text.hinting": "no_hinting",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titley": 1.0,
    "axes.titlepad": 4.0,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 12,
    "savefig.facecolor": "white",
}


def strategy_colors(strategies: Iterable[str]) -> dict[str, str]:
    """Assign one colour per strategy, by sorted name (for charts without a ranking)."""
    names = sorted(set(strategies))
    return {name: STRATEGY_PALETTE[i % len(STRATEGY_PALETTE)] for i, name in enumerate(names)}


@dataclass(frozen=True)
class Palette:
    """One colour and emphasis per strategy, shared by every chart of a run.

    Attributes
    ----------
    colors : mapping of str to str
        Hex colour of every strategy and benchmark.
    highlighted : tuple of str
        The best strategies (drawn strong), best first.
    benchmarks : tuple of str
        Names drawn as benchmarks (black and grey dashes, strong).
    order : tuple of str
        Drawing and legend order: highlighted, benchmarks, then the others by rank.
    """

    colors: Mapping[str, str]
    highlighted: tuple[str, ...] = ()
    benchmarks: tuple[str, ...] = ()
    order: tuple[str, ...] = field(default=())

    @classmethod
    def from_ranking(
        cls, ranking: Sequence[str], benchmarks: Sequence[str] = (), n_highlight: int = N_HIGHLIGHT
    ) -> Palette:
        """Colours by rank: the best `n_highlight` non-benchmarks strong, the rest muted.

        Parameters
        ----------
        ranking : sequence of str
            Every strategy, best first (benchmarks may appear anywhere; they are set apart).
        benchmarks : sequence of str, default=()
            Benchmark names, in the order their grey/dash styles are assigned.
        n_highlight : int, default=3
            Strategies drawn strong.
        """
        bench = tuple(dict.fromkeys(benchmarks))
        others = [s for s in dict.fromkeys(ranking) if s not in bench]
        best = tuple(others[:n_highlight])
        colors = {s: HIGHLIGHT_PALETTE[i % len(HIGHLIGHT_PALETTE)] for i, s in enumerate(best)}
        rest = others[n_highlight:]
        colors |= {s: STRATEGY_PALETTE[i % len(STRATEGY_PALETTE)] for i, s in enumerate(rest)}
        colors |= {b: _BENCHMARK_GREYS[i % len(_BENCHMARK_GREYS)] for i, b in enumerate(bench)}
        return cls(colors, best, bench, (*best, *bench, *rest))

    def strong(self, name: str) -> bool:
        """Whether `name` is drawn strong (a highlighted strategy or a benchmark)."""
        return name in self.highlighted or name in self.benchmarks

    def color(self, name: str) -> str:
        """The colour of `name` (mid grey for a name the palette does not know)."""
        return self.colors.get(name, "#999999")

    def sort(self, names: Iterable[str]) -> list[str]:
        """`names` in the palette's order (unknown names last, in the order given)."""
        names = list(dict.fromkeys(names))
        rank = {n: i for i, n in enumerate(self.order)}
        return sorted(names, key=lambda n: rank.get(n, len(rank) + names.index(n)))

    def line(self, name: str) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot``: strong, benchmark or faded."""
        if name in self.benchmarks:
            k = self.benchmarks.index(name)
            dash = _BENCHMARK_DASHES[k % len(_BENCHMARK_DASHES)]
            return {"color": self.color(name), "linestyle": dash, "linewidth": 1.6, "zorder": 3}
        if name in self.highlighted:
            return {"color": self.color(name), "linestyle": "-", "linewidth": 2.2, "zorder": 4}
        return {"color": self.color(name), "linestyle": "-", "linewidth": 1.0, "alpha": 0.5}


def resolve_colors(
    names: Iterable[str],
    benchmarks: Sequence[str] = (),
    colors: Mapping[str, Any] | Palette | None = None,
) -> Palette:
    """A :class:`Palette`: `colors` if it is one, else built from it or from `names`.

    With a plain mapping (or nothing), every non-benchmark name is drawn strong in its
    mapped colour (or its :func:`strategy_colors` colour).
    """
    if isinstance(colors, Palette):
        return colors
    names = list(names)
    bench = tuple(b for b in benchmarks if b in names) or tuple(benchmarks)
    strategies = [n for n in names if n not in bench]
    mapping = dict(colors) if colors is not None else strategy_colors(strategies)
    base = Palette.from_ranking([], bench)
    merged = {**{s: mapping.get(s, "#999999") for s in strategies}, **base.colors}
    return Palette(merged, tuple(strategies), bench, (*strategies, *bench))


def line_style(
    name: str, colors: Mapping[str, Any] | Palette, benchmarks: Sequence[str] = ()
) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot`` of `name`, with ``label`` (see :meth:`Palette.line`)."""
    palette = resolve_colors([name, *benchmarks], benchmarks, colors)
    return {**palette.line(name), "label": name}


def asset_colors(assets: Sequence[str]) -> dict[str, str]:
    """One colour per asset in the given order, from :data:`ASSET_PALETTE` (cycled)."""
    return {asset: ASSET_PALETTE[i % len(ASSET_PALETTE)] for i, asset in enumerate(assets)}


def format_date_axis(ax: Axes, index: pd.DatetimeIndex | None = None) -> None:
    """Year ticks (quarters for a short span) and, given `index`, limits ending at the data.

    The ticks are fixed positions with a plain ``%Y`` label: the automatic date locator and
    the concise formatter were a large share of the drawing time of the small multiples.
    """
    if index is None or len(index) == 0:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        return
    first, last = index.min(), index.max()
    half = pd.Timedelta(days=15)
    ax.set_xlim(mdates.date2num(first - half), mdates.date2num(last + half))
    years = pd.date_range(f"{first.year}-01-01", f"{last.year + 1}-01-01", freq="YS")
    ticks = years[(years >= first - half) & (years <= last + half)]
    if len(ticks) >= 2:
        ax.xaxis.set_major_locator(mticker.FixedLocator(mdates.date2num(ticks)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        quarters = pd.date_range(first - half, last + half, freq="QS")
        ax.xaxis.set_major_locator(mticker.FixedLocator(mdates.date2num(quarters)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.xaxis.set_minor_locator(mticker.NullLocator())


def panel_grid(
    n_panels: int,
    ncols: int,
    panel_size: tuple[float, float],
    *,
    extra_height: float = 0.0,
    right: float = 0.0,
    sharex: bool = True,
    sharey: bool = False,
    margins: tuple[float, float, float, float] = (0.75, 0.25, 0.75, 0.45),
    gaps: tuple[float, float] = (0.6, 0.55),
) -> tuple[Figure, np.ndarray]:
    """Create a grid of small multiples with fixed margins in inches (no axes in unused cells).

    Parameters
    ----------
    n_panels : int
        Number of panels used.
    ncols : int
        Maximum panels per row (fewer if `n_panels` is smaller).
    panel_size : tuple of float
        ``(width, height)`` of one panel's axes, in inches.
    extra_height : float, default=0.0
        Inches added at the bottom, for a shared legend.
    right : float, default=0.0
        Inches added on the right, for a legend beside the panels.
    sharex, sharey : bool
        Passed to ``Figure.subplots``.
    margins : tuple of float
        ``(left, right, top, bottom)`` margins in inches (top holds the title).
    gaps : tuple of float
        ``(horizontal, vertical)`` gaps between panels, in inches.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes, shape (n_panels,)
        The used panels in reading order.
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    (pw, ph), (gw, gh) = panel_size, gaps
    left, right_m, top, bottom = margins
    width = left + ncols * pw + (ncols - 1) * gw + right_m + right
    height = top + nrows * ph + (nrows - 1) * gh + bottom + extra_height
    fig = Figure(figsize=(width, height))
    grid = fig.add_gridspec(
        nrows,
        ncols,
        left=left / width,
        right=1 - (right_m + right) / width,
        top=1 - top / height,
        bottom=(bottom + extra_height) / height,
        wspace=gw / pw,
        hspace=gh / ph,
    )
    # Only the used cells get axes: an axes costs as much to build and draw hidden as shown.
    flat: list[Axes] = []
    for i in range(n_panels):
        first = flat[0] if flat else None
        flat.append(
            fig.add_subplot(
                grid[divmod(i, ncols)],
                sharex=first if sharex else None,
                sharey=first if sharey else None,
            )
        )
    for i, ax in enumerate(flat):
        # Inner tick labels hidden, as Figure.subplots does: x below the last panel of each
        # column, y left of the first.
        if sharex and i + ncols < n_panels:
            ax.xaxis.set_tick_params(labelbottom=False)
        if sharey and i % ncols:
            ax.yaxis.set_tick_params(labelleft=False)
    return fig, np.array(flat, dtype=object)


def title(fig: Figure, text: str, subtitle: str = "") -> None:
    """A left-aligned figure title (and a smaller subtitle) in the top margin."""
    fig.text(0.01, 1 - 0.12 / fig.get_figheight(), text, fontsize=12, va="top", ha="left")
    if subtitle:
        y = 1 - 0.36 / fig.get_figheight()
        fig.text(0.01, y, subtitle, fontsize=8.5, va="top", ha="left", color="#444444")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save `fig` as PNG at :data:`DPI` (creating parent folders) and return the path.

    Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global figure
    manager holds them and no backend needs selecting: rendering goes through Agg and the
    figure is freed once unreferenced. The PNG is written atomically, like every other
    output, so a run killed while drawing never leaves a half-written image. zlib level 3
    instead of 6: a third of the compression time for files a few percent larger.
    """
    from backtest.atomic import atomic_write_bytes

    path = Path(path)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.label.get_text():
                # Nothing to place: without this, placing the empty label beside the tick
                # labels recomputes every tick of the axis a second time while drawing.
                axis.set_label_coords(0.5, 0.5)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png", pil_kwargs={"compress_level": 3})
    atomic_write_bytes(path, buffer.getvalue())
    return path
