"""Forecast charts: accuracy against the historical mean, and the shrunk expected returns."""

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
    format_date_axis,
    line_style,
    panel_grid,
    resolve_colors,
    save_figure,
)

__all__ = [
    "plot_cumulative_sse_difference",
    "plot_expected_returns",
    "plot_expected_returns_over_time",
    "plot_forecast_vs_realised",
]

_MODEL_COLOR = "#1f77b4"
_BENCH_COLOR = "#d62728"
_REALISED_COLOR = "#b0b0b0"
_WIN_COLOR = "#2ca02c"
_HIST_COLOR = "#7f7f7f"


def _align(
    realised: pd.DataFrame, forecast: pd.DataFrame, benchmark: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Restrict the three frames to the forecast's dates and tickers, checking they exist."""
    missing = [c for c in forecast.columns if c not in realised or c not in benchmark]
    if missing:
        raise ValueError(
            f"`realised` and `benchmark` must contain every ticker of `forecast`; missing: "
            f"{missing}. Pass frames with the same columns (dates x tickers)."
        )
    index = forecast.index.intersection(realised.index).intersection(benchmark.index)
    if len(index) == 0:
        raise ValueError(
            "`realised`, `forecast` and `benchmark` share no dates; all three must be indexed by "
            "the month each return is earned."
        )
    cols = list(forecast.columns)
    return realised.loc[index, cols], forecast.loc[index, cols], benchmark.loc[index, cols]


def plot_cumulative_sse_difference(
    realised: pd.DataFrame,
    forecast: pd.DataFrame,
    benchmark: pd.DataFrame,
    path: str | Path,
    *,
    model_label: str = "LSTM",
    benchmark_label: str = "historical mean",
) -> Path:
    r"""Plot the Goyal-Welch cumulative difference of squared forecast errors, per ticker.

    Parameters
    ----------
    realised, forecast, benchmark : pd.DataFrame of shape (n_periods, n_tickers)
        Monthly log returns indexed by the month earned: realised values, the model's
        out-of-sample forecasts and the benchmark's (e.g. the expanding historical mean).
        Only the dates and tickers of `forecast` present in all three are used.
    path : str or Path
        PNG file to write.
    model_label, benchmark_label : str
        Names used in the title.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Each panel shows :math:`D_t = \sum_{s \le t} (r_s - \bar r_s)^2 - (r_s - \hat r_s)^2`;
    a rising curve means the model is beating the benchmark over that stretch, a falling one
    that it is losing; the final value (in each panel's title) is the whole-sample SSE gain.
    Values are in squared percent (:math:`10^4 \times` squared log return). The last panel
    pools the tickers (sum over tickers, then over time). Missing pairs count as zero.

    References
    ----------
    .. [1] Welch, I. and Goyal, A. (2008). "A Comprehensive Look at the Empirical Performance
       of Equity Premium Prediction." Review of Financial Studies, 21(4), 1455-1508.
    """
    r, f, b = _align(realised, forecast, benchmark)
    # In squared percent (1e4 x squared log return) so tick labels need no offset text.
    gain = 1e4 * ((r - b) ** 2 - (r - f) ** 2).fillna(0.0)
    panels = {str(c): gain[c].cumsum() for c in gain.columns}
    panels["pooled"] = gain.sum(axis=1).cumsum()
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(panels), 4, (3.4, 2.5), extra_height=0.6)
        for ax, (name, series) in zip(axes, panels.items(), strict=True):
            pooled = name.startswith("pooled")
            x, y = series.index, series.to_numpy()
            ax.plot(x, y, color="black" if pooled else _MODEL_COLOR)
            for sign, colour in ((y >= 0, _WIN_COLOR), (y <= 0, _BENCH_COLOR)):
                ax.fill_between(
                    x, y, 0.0, where=sign, interpolate=True, color=colour, alpha=0.15, linewidth=0
                )
            ax.axhline(0.0, color="grey", linewidth=0.8)
            ax.plot(x[-1:], y[-1:], "o", color="black" if pooled else _MODEL_COLOR, markersize=4)
            ax.set_title(
                f"{name}: final {y[-1]:+,.0f} %\N{SUPERSCRIPT TWO}",
                fontweight="bold" if pooled else "normal",
            )
            format_date_axis(ax)
        for ax in axes[:: min(4, len(axes))]:
            ax.set_ylabel("cum. SSE gain, %\N{SUPERSCRIPT TWO}")
        fig.suptitle(
            f"Cumulative SSE({benchmark_label}) \N{MINUS SIGN} SSE({model_label}) of monthly log "
            f"returns: rising = {model_label} beats the {benchmark_label}"
        )
        return save_figure(fig, path)


def plot_forecast_vs_realised(
    realised: pd.DataFrame,
    forecast: pd.DataFrame,
    benchmark: pd.DataFrame,
    path: str | Path,
    *,
    model_label: str = "LSTM",
    benchmark_label: str = "historical mean",
) -> Path:
    """Plot realised monthly log returns against the model and benchmark forecasts, per ticker.

    Parameters
    ----------
    realised, forecast, benchmark : pd.DataFrame of shape (n_periods, n_tickers)
        Monthly log returns indexed by the month earned (see
        :func:`plot_cumulative_sse_difference`).
    path : str or Path
        PNG file to write.
    model_label, benchmark_label : str
        Legend names of the forecast and the benchmark.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Forecasts are an order of magnitude smaller than realised returns, so realised returns are
    drawn as thin grey bars on the left axis and both forecasts as bold lines on the right
    axis; the two axes are symmetric around zero, so zero sits at the same height on both.
    """
    r, f, b = _align(realised, forecast, benchmark)
    step = pd.Series(r.index).diff().median() if len(r) > 1 else pd.Timedelta(days=30)
    width_days = 0.8 * step / pd.Timedelta(days=1)
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(r.shape[1], 2, (6.2, 2.3), extra_height=0.8)
        for i, (ax, ticker) in enumerate(zip(axes, r.columns, strict=True)):
            ax.bar(
                r.index,
                100 * r[ticker].to_numpy(),
                width=width_days,
                color=_REALISED_COLOR,
                label="realised (left axis)",
            )
            lim = 1.05 * np.nanmax(np.abs(100 * r[ticker].to_numpy()), initial=1e-6)
            ax.set_ylim(-lim, lim)
            ax.set_ylabel("realised, %/month", color="dimgray")
            twin = ax.twinx()
            twin.plot(
                f.index,
                100 * f[ticker].to_numpy(),
                color=_MODEL_COLOR,
                linewidth=2.0,
                label=f"{model_label} forecast (right axis)",
            )
            twin.plot(
                b.index,
                100 * b[ticker].to_numpy(),
                color=_BENCH_COLOR,
                linewidth=2.0,
                linestyle="--",
                label=f"{benchmark_label} (right axis)",
            )
            flim = 1.15 * np.nanmax(
                np.abs(100 * np.r_[f[ticker].to_numpy(), b[ticker].to_numpy()]), initial=1e-6
            )
            twin.set_ylim(-flim, flim)
            twin.set_ylabel("forecast, %/month", color=_MODEL_COLOR)
            twin.tick_params(axis="y", colors=_MODEL_COLOR)
            twin.spines["right"].set_visible(True)
            twin.grid(False)
            ax.axhline(0.0, color="black", linewidth=0.6)
            ax.set_title(str(ticker), loc="left", fontweight="bold")
            format_date_axis(ax)
            if i == 0:
                handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(
            f"Monthly log returns: realised vs {model_label} and {benchmark_label} forecasts "
            "(note the different axis scales)"
        )
        return save_figure(fig, path)


def plot_expected_returns(
    hist_mean: pd.Series,
    shrunk: pd.DataFrame,
    path: str | Path,
    title: str,
    *,
    periods_per_year: int = 12,
    colors: Mapping[str, Any] | None = None,
) -> Path:
    """Plot, per ticker, the historical-mean expected return next to each strategy's shrunk one.

    Parameters
    ----------
    hist_mean : pd.Series of shape (n_tickers,)
        Historical-mean expected monthly log return per ticker.
    shrunk : pd.DataFrame of shape (n_tickers, n_strategies)
        Shrunk expected monthly log returns, one column per strategy.
    path : str or Path
        PNG file to write.
    title : str
        Figure title (e.g. the decision date).
    periods_per_year : int, default=12
        Annualisation factor applied to both inputs (pass 1 if they are already annual).
    colors : mapping of str to colour, optional
        Strategy colours; default :func:`~backtest.reports.charts.style.strategy_colors` of the
        columns.

    Returns
    -------
    Path
        `path`.
    """
    palette = resolve_colors(list(shrunk.columns), (), colors)
    tickers = list(hist_mean.index)
    n_bars = 1 + shrunk.shape[1]
    width = 0.85 / n_bars
    x = np.arange(len(tickers))
    with mpl.rc_context(STYLE):
        fig = Figure(
            figsize=(max(8.0, 0.13 * n_bars * len(tickers) + 3.0), 5.0), layout="constrained"
        )
        ax = fig.subplots()
        ax.bar(
            x - 0.425 + 0.5 * width,
            100 * periods_per_year * hist_mean.to_numpy(),
            width,
            color=_HIST_COLOR,
            hatch="//",
            edgecolor="white",
            label="historical mean",
        )
        for k, name in enumerate(shrunk.columns, start=1):
            values = 100 * periods_per_year * shrunk.reindex(tickers)[name].to_numpy()
            ax.bar(x - 0.425 + (k + 0.5) * width, values, width, color=palette[name], label=name)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(x, tickers)
        ax.grid(axis="x", visible=False)
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
        ax.set_ylabel("expected return, % per year (log)")
        ax.set_title(title, loc="left", fontsize=12)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return save_figure(fig, path)


def plot_expected_returns_over_time(
    expected: pd.DataFrame,
    path: str | Path,
    *,
    benchmarks: Sequence[str] = ("historical_mean",),
    periods_per_year: int = 12,
    colors: Mapping[str, Any] | None = None,
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
        Strategies drawn as grey dashed references.
    periods_per_year : int, default=12
        Annualisation factor applied to ``mu``.
    colors : mapping of str to colour, optional
        Strategy colours; default :func:`~backtest.reports.charts.style.strategy_colors` of the
        non-benchmark
        strategies.

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
    tickers = list(dict.fromkeys(expected["ticker"]))
    wide = expected.pivot_table(index="date", columns=["ticker", "strategy"], values="mu")
    with mpl.rc_context(STYLE):
        fig, axes = panel_grid(len(tickers), 4, (3.4, 2.5), extra_height=1.0)
        for ax, ticker in zip(axes, tickers, strict=True):
            for name in strategies:
                if (ticker, name) in wide:
                    series = 100 * periods_per_year * wide[(ticker, name)]
                    ax.plot(
                        series.index, series.to_numpy(), **line_style(name, palette, benchmarks)
                    )
            ax.axhline(0.0, color="black", linewidth=0.6)
            ax.yaxis.set_major_formatter(mticker.PercentFormatter(decimals=0))
            ax.set_title(str(ticker), loc="left", fontweight="bold")
            format_date_axis(ax)
        for ax in axes[::4]:
            ax.set_ylabel("expected return, %/yr")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(len(labels), 6), frameon=False
        )
        fig.suptitle("Annualised expected log return over time: historical mean vs shrunk")
        return save_figure(fig, path)
