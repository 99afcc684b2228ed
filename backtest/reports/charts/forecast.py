"""Forecast charts: accuracy against the historical mean, and the shrunk expected returns.

Longer than ~300 lines because its four forecast charts share one alignment helper and the run's
palette.
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
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from backtest.reports.charts.style import (
    HIGHLIGHT_PALETTE,
    STRATEGY_PALETTE,
    STYLE,
    Palette,
    format_date_axis,
    panel_grid,
    resolve_colors,
    save_figure,
    title,
)

__all__ = [
    "model_colors",
    "plot_cumulative_sse_difference",
    "plot_expected_returns",
    "plot_expected_returns_over_time",
    "plot_forecast_vs_realised",
]

_REALISED_COLOR = "#bbbbbb"
_BENCH_COLOR = "#000000"
_GAIN_COLOR = "#0072B2"  # Okabe-Ito blue: the model ahead
_LOSS_COLOR = "#E69F00"  # Okabe-Ito orange: the benchmark ahead
_HIST_COLOR = "#7f7f7f"


def _models(forecast: pd.DataFrame | Mapping[str, pd.DataFrame], label: str) -> dict:
    """``{model name: forecasts}`` from one frame (named `label`) or a mapping."""
    return {label: forecast} if isinstance(forecast, pd.DataFrame) else dict(forecast)


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """One colour-blind-safe colour per model, in the given order."""
    cycle = (*HIGHLIGHT_PALETTE, *STRATEGY_PALETTE)
    return {m: cycle[i % len(cycle)] for i, m in enumerate(models)}


def _align(
    realised: pd.DataFrame, forecasts: Mapping[str, pd.DataFrame], benchmark: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame]:
    """Restrict the frames to the first forecast's tickers and the dates all share."""
    first = next(iter(forecasts.values()))
    cols = list(first.columns)
    missing = [
        c for c in cols if c not in realised or c not in benchmark
        or any(c not in f for f in forecasts.values())
    ]  # fmt: skip
    if missing:
        raise ValueError(
            f"`realised` and `benchmark` must contain every ticker of `forecast`; missing: "
            f"{missing}. Pass frames with the same columns (dates x tickers)."
        )
    index = realised.index.intersection(benchmark.index)
    for f in forecasts.values():
        index = index.intersection(f.index)
    if len(index) == 0:
        raise ValueError(
            "`realised`, `forecast` and `benchmark` share no dates; all three must be indexed by "
            "the month each return is earned."
        )
    aligned = {m: f.loc[index, cols] for m, f in forecasts.items()}
    return realised.loc[index, cols], aligned, benchmark.loc[index, cols]


def plot_cumulative_sse_difference(
    realised: pd.DataFrame,
    forecast: pd.DataFrame | Mapping[str, pd.DataFrame],
    benchmark: pd.DataFrame,
    path: str | Path,
    *,
    model_label: str = "LSTM",
    benchmark_label: str = "historical mean",
) -> Path:
    r"""Plot the Goyal-Welch cumulative difference of squared forecast errors, per ticker.

    Parameters
    ----------
    realised, benchmark : pd.DataFrame of shape (n_periods, n_tickers)
        Monthly log returns indexed by the month earned: realised values and the benchmark's
        forecasts (e.g. the expanding historical mean).
    forecast : pd.DataFrame or mapping of str to pd.DataFrame
        The model's out-of-sample forecasts, or several models' keyed by name (one line per
        model). Only the first frame's tickers and the dates all frames share are used;
        panels follow the first frame's column order.
    path : str or Path
        PNG file to write.
    model_label, benchmark_label : str
        Names of a single model (when `forecast` is a frame) and of the benchmark.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Each panel shows :math:`D_t = \sum_{s \le t} (r_s - \bar r_s)^2 - (r_s - \hat r_s)^2`;
    a rising curve means the model is beating the benchmark over that stretch, a falling one
    that it is losing; the final value (in each panel's title) is the whole-sample SSE gain.
    Values are in squared percent: a log return of 5% has a squared error of 25 %\ :sup:`2`
    (:math:`10^4 \times` squared log return). The last panel pools the tickers (sum over
    tickers, then over time). Missing pairs count as zero. With one model the area is shaded
    blue where the model is ahead and orange where the benchmark is (colour-blind safe).

    References
    ----------
    .. [1] Welch, I. and Goyal, A. (2008). "A Comprehensive Look at the Empirical Performance
       of Equity Premium Prediction." Review of Financial Studies, 21(4), 1455-1508.
    """
    models = _models(forecast, model_label)
    r, fs, b = _align(realised, models, benchmark)
    colours = model_colors(list(fs))
    single = len(fs) == 1
    gains = {m: 1e4 * ((r - b) ** 2 - (r - f) ** 2).fillna(0.0) for m, f in fs.items()}
    panels = [*map(str, r.columns), "pooled"]
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(panels), 4, (3.2, 2.0), extra_height=0.3 * (not single))
        for ax, name in zip(axes, panels, strict=True):
            finals = []
            for model, gain in gains.items():
                series = gain.sum(axis=1) if name == "pooled" else gain[name]
                x, y = series.index, series.cumsum().to_numpy()
                colour = "black" if single and name == "pooled" else colours[model]
                ax.plot(x, y, color=colour, linewidth=1.6, label=model)
                if single:
                    for sign, fill in ((y >= 0, _GAIN_COLOR), (y <= 0, _LOSS_COLOR)):
                        ax.fill_between(
                            x, y, 0.0, where=sign, interpolate=True, color=fill, alpha=0.25,
                            linewidth=0,
                        )  # fmt: skip
                ax.plot(x[-1:], y[-1:], "o", color=colour, markersize=4)
                finals.append(f"{y[-1]:+,.0f}")
            ax.axhline(0.0, color="grey", linewidth=0.8)
            head = f"{name}: final {' / '.join(finals)} %\N{SUPERSCRIPT TWO}"
            ax.set_title(head, loc="left", fontweight="bold" if name == "pooled" else "normal")
            format_date_axis(ax, r.index)
        for ax in axes[:: min(4, len(axes))]:
            ax.set_ylabel("cum. SSE gain, %\N{SUPERSCRIPT TWO}")
        if not single:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="lower center", ncols=min(6, len(labels)))
        who = model_label if single else "the model"
        shading = f"; blue area: {who} ahead, orange: the {benchmark_label} ahead" if single else ""
        title(
            fig,
            f"Cumulative SSE({benchmark_label}) \N{MINUS SIGN} SSE({who}), monthly log returns: "
            f"rising = {who} beats the {benchmark_label}",
            "unit: squared percent (%\N{SUPERSCRIPT TWO}), e.g. a 5% error squared is 25 "
            f"%\N{SUPERSCRIPT TWO}{shading}",
        )
        return save_figure(fig, path)


def plot_forecast_vs_realised(
    realised: pd.DataFrame,
    forecast: pd.DataFrame | Mapping[str, pd.DataFrame],
    benchmark: pd.DataFrame,
    path: str | Path,
    *,
    model_label: str = "LSTM",
    benchmark_label: str = "historical mean",
) -> Path:
    """Plot realised monthly log returns and the forecasts on one axis, per ticker.

    Parameters
    ----------
    realised, benchmark : pd.DataFrame of shape (n_periods, n_tickers)
        Monthly log returns indexed by the month earned (see
        :func:`plot_cumulative_sse_difference`).
    forecast : pd.DataFrame or mapping of str to pd.DataFrame
        One model's forecasts or several models' keyed by name.
    path : str or Path
        PNG file to write.
    model_label, benchmark_label : str
        Legend names of a single model and of the benchmark.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Realised returns (grey bars) and forecasts (lines) share one y-axis in percent per month,
    so the forecasts' small size against the realised returns is what the eye sees; the
    x-axis ends at the last month with data.
    """
    models = _models(forecast, model_label)
    r, fs, b = _align(realised, models, benchmark)
    colours = model_colors(list(fs))
    panel_width = 5.6
    # Bars as one line collection (vlines) rather than a Rectangle per month: a tenth of the
    # drawing time; the line width, in points, fills ~70% of a month.
    bar_width = 0.7 * 72 * panel_width / max(len(r), 1)
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(r.shape[1], 2, (panel_width, 1.9), extra_height=0.3)
        for ax, ticker in zip(axes, r.columns, strict=True):
            ax.vlines(
                r.index, 0.0, 100 * r[ticker].to_numpy(), color=_REALISED_COLOR,
                linewidth=bar_width, label="realised",
            )  # fmt: skip
            for model, f in fs.items():
                ax.plot(
                    f.index, 100 * f[ticker].to_numpy(), color=colours[model], linewidth=1.8,
                    label=f"{model} forecast",
                )  # fmt: skip
            ax.plot(
                b.index, 100 * b[ticker].to_numpy(), color=_BENCH_COLOR, linewidth=1.4,
                linestyle="--", label=benchmark_label,
            )  # fmt: skip
            ax.axhline(0.0, color="black", linewidth=0.6)
            ax.set_ylabel("%/month")
            ax.set_title(str(ticker), loc="left", fontweight="bold")
            format_date_axis(ax, r.index)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=len(labels), frameon=False)
        title(
            fig,
            f"Monthly log returns: realised vs forecasts ({', '.join(fs)} and {benchmark_label})",
            "one axis for both: forecasts are much smaller than the returns they forecast",
        )
        return save_figure(fig, path)


def plot_expected_returns(
    hist_mean: pd.Series,
    shrunk: pd.DataFrame,
    path: str | Path,
    title_text: str,
    *,
    periods_per_year: int = 12,
    colors: Mapping[str, Any] | Palette | None = None,
) -> Path:
    """Plot, per ticker, the historical-mean expected return next to each strategy's shrunk one.

    Parameters
    ----------
    hist_mean : pd.Series of shape (n_tickers,)
        Historical-mean expected monthly log return per ticker (its order is the x order).
    shrunk : pd.DataFrame of shape (n_tickers, n_strategies)
        Shrunk expected monthly log returns, one column per strategy.
    path : str or Path
        PNG file to write.
    title_text : str
        Figure title (e.g. the decision date).
    periods_per_year : int, default=12
        Annualisation factor applied to both inputs (pass 1 if they are already annual).
    colors : Palette or mapping of str to colour, optional
        The run's palette; strategies it does not draw strong are faded.

    Returns
    -------
    Path
        `path`.
    """
    palette = resolve_colors(list(shrunk.columns), (), colors)
    tickers = list(hist_mean.index)
    names = palette.sort(shrunk.columns)
    n_bars = 1 + len(names)
    width = 0.85 / n_bars
    x = np.arange(len(tickers))
    with mpl.rc_context(STYLE):
        fig_width = max(6.0, 0.11 * n_bars * len(tickers) + 1.0)
        fig, (ax,) = panel_grid(1, 1, (fig_width, 4.0), right=1.8, sharex=False)
        ax.bar(
            x - 0.425 + 0.5 * width,
            100 * periods_per_year * hist_mean.to_numpy(),
            width,
            color=_HIST_COLOR,
            hatch="//",
            edgecolor="white",
            label="historical mean",
        )
        for k, name in enumerate(names, start=1):
            values = 100 * periods_per_year * shrunk.reindex(tickers)[name].to_numpy()
            alpha = 1.0 if palette.strong(name) else 0.45
            ax.bar(
                x - 0.425 + (k + 0.5) * width, values, width, color=palette.color(name),
                alpha=alpha, label=name,
            )  # fmt: skip
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(x, tickers)
        ax.set_xlim(-0.5, len(tickers) - 0.5)
        ax.grid(axis="x", visible=False)
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        ax.set_ylabel("expected return, % per year (log)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        title(fig, title_text, "annualised expected log return; faded bars: not in the best 3")
        return save_figure(fig, path)


def plot_expected_returns_over_time(
    expected: pd.DataFrame,
    path: str | Path,
    *,
    benchmarks: Sequence[str] = ("historical_mean",),
    periods_per_year: int = 12,
    colors: Mapping[str, Any] | Palette | None = None,
    tickers: Sequence[str] | None = None,
) -> Path:
    """Plot each strategy's expected return over time, one panel per ticker.

    Parameters
    ----------
    expected : pd.DataFrame
        Tidy frame with columns ``date``, ``ticker``, ``strategy``, ``mu`` (expected monthly
        log return decided at ``date``).
    path : str or Path
        PNG file to write.
    benchmarks : sequence of str, default=("historical_mean",)
        Strategies drawn as black dashed references (when `colors` is not a Palette).
    periods_per_year : int, default=12
        Annualisation factor applied to ``mu``.
    colors : Palette or mapping of str to colour, optional
        The run's palette.
    tickers : sequence of str, optional
        Panel order; default the order of first appearance.

    Returns
    -------
    Path
        `path`.
    """
    missing = {"date", "ticker", "strategy", "mu"} - set(expected.columns)
    if missing:
        raise ValueError(
            f"`expected` must be tidy with columns date, ticker, strategy, mu; missing "
            f"{sorted(missing)}. Melt a wide frame with DataFrame.melt first."
        )
    strategies = list(dict.fromkeys(expected["strategy"]))
    palette = resolve_colors(strategies, benchmarks, colors)
    tickers = list(tickers or dict.fromkeys(expected["ticker"]))
    wide = expected.pivot_table(index="date", columns=["ticker", "strategy"], values="mu")
    dates = pd.DatetimeIndex(wide.index)
    x = mdates.date2num(dates)
    order = palette.sort(strategies)
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(tickers), 4, (3.2, 2.0), extra_height=0.55)
        for ax, ticker in zip(axes, tickers, strict=True):
            drawn = [n for n in order[::-1] if (ticker, n) in wide]
            lines = {n: 100 * periods_per_year * wide[(ticker, n)].to_numpy() for n in drawn}
            # The faded lines as one collection under the strong ones (a line each costs
            # about as much to build and draw as a panel's whole collection).
            faded = [n for n in drawn if not palette.strong(n)]
            ax.add_collection(
                LineCollection(
                    [np.column_stack([x, lines[n]]) for n in faded],
                    colors=[palette.color(n) for n in faded], linewidths=1.0, alpha=0.5,
                    zorder=2,
                )
            )  # fmt: skip
            for name in (n for n in drawn if palette.strong(n)):
                ax.plot(dates, lines[name], label=name, **palette.line(name))
            ax.axhline(0.0, color="black", linewidth=0.6)
            ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
            ax.set_title(str(ticker), loc="left", fontweight="bold")
            format_date_axis(ax, dates)
        for ax in axes[::4]:
            ax.set_ylabel("expected return, %/yr")
        shown = [n for n in order if any((t, n) in wide for t in tickers)]
        handles = [Line2D([], [], **palette.line(n)) for n in shown]
        fig.legend(handles, shown, loc="lower center", ncols=min(len(shown), 7), frameon=False)
        title(
            fig,
            "Annualised expected log return over time: historical mean vs shrunk",
            "bold: the best 3 strategies and the benchmarks; faded: the others",
        )
        return save_figure(fig, path)
