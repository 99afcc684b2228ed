"""Charts of a known-truth study: power curve, mu error and Sharpe gap against signal strength.

Signal strengths usually span orders of magnitude (0, 0.5%, 2%, 15%), so they sit at evenly
spaced positions on the x axis, labelled with their population R2: a log axis cannot show 0 and a
linear one crams the weak signals, which matter most, into a corner.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from backtest.reports.charts.style import STYLE, save_figure, strategy_colors
from backtest.study.evaluate import SIGNIFICANCE

__all__ = [
    "plot_mu_error",
    "plot_power_curve",
    "plot_sharpe_gap",
    "power_curve_figure",
    "signal_label",
]

_SIZE = (11.0, 4.6)
_REFERENCE = {"color": "#4d4d4d", "linestyle": "--", "linewidth": 1.3, "zorder": 2}


def signal_label(signal: float) -> str:
    """Population R2 as a short percentage, e.g. ``0``, ``0.5%``, ``15%``."""
    return "0" if signal == 0 else f"{100 * signal:g}%"


def _signal_axis(ax: Axes, signals: np.ndarray) -> None:
    ax.set_xticks(np.arange(len(signals)), [signal_label(s) for s in signals])
    ax.set_xlabel("planted signal (population R2 of each target)")
    ax.set_xlim(-0.3, len(signals) - 0.7)


def _per_signal(paths: pd.DataFrame) -> pd.DataFrame:
    """Path-level columns, one row per (signal, path)."""
    return paths.drop_duplicates(["signal", "path"]).sort_values(["signal", "path"])


def _wilson(rate: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Distances from ``rate`` to the Wilson 95% interval of a binomial proportion."""
    centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(rate - (centre - half), 0, None), np.clip(centre + half - rate, 0, None)


def _strategy_lines(
    ax: Axes, summary: pd.DataFrame, column: str, se_column: str | None, colors: dict
) -> None:
    signals = np.sort(summary["signal"].unique())
    names = list(dict.fromkeys(summary["strategy"]))
    offsets = np.linspace(-0.12, 0.12, len(names)) if len(names) > 1 else [0.0]
    for name, dx in zip(names, offsets, strict=True):
        own = summary[summary["strategy"] == name].set_index("signal").reindex(signals)
        x = np.arange(len(signals)) + dx
        err = None if se_column is None else own[se_column].to_numpy()
        ax.errorbar(
            x, own[column], yerr=err, color=colors[name], marker="o", markersize=4,
            linewidth=1.5, capsize=2, elinewidth=0.8, label=name, zorder=3,
        )  # fmt: skip


_MODEL_COLORS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
"""Okabe-Ito colours, one per model in the study's order (the primary first)."""


def _model_scores(paths: pd.DataFrame, model: str, models: pd.DataFrame | None) -> pd.DataFrame:
    """(signal, path, model, r2_os, cw_reject) of every model; the primary's from ``paths``."""
    if models is not None and models["model"].nunique() > 1:
        return models[["signal", "path", "model", "r2_os", "cw_reject"]]
    return _per_signal(paths)[["signal", "path", "r2_os", "cw_reject"]].assign(model=model)


def plot_power_curve(
    paths: pd.DataFrame, path: str | Path, model: str = "LSTM", models: pd.DataFrame | None = None
) -> Path:
    """Clark-West rejection rates (left) and out-of-sample R2 (right) against signal strength.

    Parameters
    ----------
    paths : DataFrame
        The study's per-path rows (:func:`backtest.study.evaluate.evaluate_path` columns plus
        ``signal`` and ``path``): the primary model's scores and the oracle's.
    path : str or Path
        Where to save the PNG.
    model : str, default "LSTM"
        The primary model (the one ``paths`` scores), for the legends.
    models : DataFrame, optional
        Every model's rows (:func:`backtest.study.evaluate.evaluate_models` plus ``signal``
        and ``path``); with more than one model, each gets its own line in both panels.
    """
    with mpl.rc_context(STYLE):
        return save_figure(power_curve_figure(paths, model, models), path)


def power_curve_figure(
    paths: pd.DataFrame, model: str = "LSTM", models: pd.DataFrame | None = None
) -> Figure:
    """The figure :func:`plot_power_curve` saves (call it inside ``rc_context(STYLE)``)."""
    per = _per_signal(paths)
    scores = _model_scores(paths, model, models)
    signals = np.sort(per["signal"].unique())
    names = list(dict.fromkeys(scores["model"]))
    colors = {m: _MODEL_COLORS[i % len(_MODEL_COLORS)] for i, m in enumerate(names)}
    fig = Figure(figsize=_SIZE)
    left, right = fig.subplots(1, 2)
    _power_panel(left, per, scores, signals, model, colors)
    _accuracy_panel(right, per, scores, signals, colors)
    for ax in (left, right):
        _signal_axis(ax, signals)
    fig.suptitle("Can the engine detect a planted signal?")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.86, wspace=0.22)
    return fig


def _offsets(n: int, width: float = 0.16) -> np.ndarray:
    return np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(1)


def _power_panel(
    ax: Axes,
    per: pd.DataFrame,
    scores: pd.DataFrame,
    signals: np.ndarray,
    model: str,
    colors: dict[str, str],
) -> None:
    """Share of paths whose Clark-West test rejects, per model, with Wilson intervals."""
    x = np.arange(len(signals))
    names = list(colors)
    dxs = _offsets(len(names) + 2)
    lines = [
        (scores[scores["model"] == m], "cw_reject", f"{m}, pooled test", dx,
         {"color": colors[m], "marker": "o"})
        for m, dx in zip(names, dxs[: len(names)], strict=True)
    ]  # fmt: skip
    lines += [
        (per, "cw_ticker_reject", f"{model}, per-ticker tests (average)", dxs[-2],
         {"color": "#D55E00", "marker": "s"}),
        (per, "oracle_cw_reject", "oracle (infeasible: knows the signal), pooled", dxs[-1],
         {**_REFERENCE, "color": "#8c8c8c", "marker": "^"}),
    ]  # fmt: skip
    for frame, column, label, dx, style in lines:
        grouped = frame.groupby("signal")
        n = grouped["path"].count().reindex(signals).to_numpy()
        rate = grouped[column].mean().reindex(signals).to_numpy(dtype=float)
        lo, hi = _wilson(rate, n) if column != "cw_ticker_reject" else (None, None)
        ax.errorbar(
            x + dx, rate, yerr=None if lo is None else np.vstack([lo, hi]), capsize=2,
            elinewidth=0.8, markersize=5, label=label, **{"linewidth": 1.6, **style},
        )  # fmt: skip
    n = per.groupby("signal")["path"].count().reindex(signals).to_numpy()
    ax.axhline(SIGNIFICANCE, color="#b3b3b3", linestyle=":", linewidth=1.2, zorder=1)
    ax.annotate(
        f"nominal {SIGNIFICANCE:.0%}",
        (x[-1], SIGNIFICANCE),
        xytext=(0, 3),
        textcoords="offset points",
        ha="right",
        fontsize=7,
        color="#4d4d4d",
    )
    ax.set_ylim(-0.03, 1.05)
    ax.set_ylabel(f"share of paths rejecting at {SIGNIFICANCE:.0%}")
    ax.set_title(
        f"Clark-West power ({int(n.min())}-{int(n.max())} paths per signal; bars: Wilson 95%)"
        if n.min() != n.max()
        else f"Clark-West power ({int(n[0])} paths per signal; bars: Wilson 95%)"
    )
    ax.legend(loc="upper left", frameon=False)


def _accuracy_panel(
    ax: Axes, per: pd.DataFrame, scores: pd.DataFrame, signals: np.ndarray, colors: dict[str, str]
) -> None:
    """Each path's pooled R2_OS per model, their mean and sd, the oracle's and the population R2."""
    x = np.arange(len(signals))
    for (name, color), dx in zip(colors.items(), _offsets(len(colors), 0.3), strict=True):
        own = scores[scores["model"] == name]
        for i, s in enumerate(signals):
            values = own.loc[own["signal"] == s, "r2_os"].to_numpy()
            jitter = np.linspace(-0.04, 0.04, len(values)) if len(values) > 1 else [0.0]
            ax.scatter(
                i + dx + np.asarray(jitter), values, s=10, color=color, alpha=0.35, zorder=2,
                label=f"{name}, one path" if i == 0 else None,
            )  # fmt: skip
        grouped = own.groupby("signal")["r2_os"]
        ax.errorbar(
            x + dx, grouped.mean().reindex(signals), yerr=grouped.std().reindex(signals).fillna(0),
            color=color, marker="o", capsize=3, linewidth=1.6, label=f"{name}, mean +/- sd",
            zorder=3,
        )  # fmt: skip
    ax.plot(
        x,
        per.groupby("signal")["oracle_r2_os"].mean().reindex(signals),
        marker="^",
        label="oracle (infeasible: knows the signal)",
        **_REFERENCE,
    )
    ax.plot(x, signals, color="#b3b3b3", linestyle=":", marker="x", label="population R2", zorder=1)
    ax.axhline(0, color="black", linewidth=0.8, zorder=1)
    ax.set_ylabel("pooled out-of-sample R2 vs historical mean")
    ax.set_title("Forecast accuracy (R2_OS, Campbell-Thompson)")
    ax.legend(loc="upper left", frameon=False, fontsize=7 if len(colors) > 1 else None)


def plot_mu_error(summary: pd.DataFrame, path: str | Path) -> Path:
    """Each strategy's RMSE of mu against the true conditional and unconditional means."""
    signals = np.sort(summary["signal"].unique())
    colors = strategy_colors(summary["strategy"])
    reference = summary.drop_duplicates("signal").set_index("signal")["signal_rmse"]
    scaled = summary.assign(
        **{
            c: 100 * summary[c]
            for c in ("mu_rmse_cond", "mu_rmse_uncond", "mu_rmse_cond_se")
            if c in summary
        }
    )
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(_SIZE[0] + 1.6, _SIZE[1]))
        left, right = fig.subplots(1, 2)
        _strategy_lines(left, scaled, "mu_rmse_cond", None, colors)
        (ref,) = left.plot(
            np.arange(len(signals)),
            100 * reference.reindex(signals),
            marker="x",
            label="true unconditional mean (the signal's own size)",
            **_REFERENCE,
        )
        left.set_title("against the TRUE conditional mean (what is predictable)")
        _strategy_lines(right, scaled, "mu_rmse_uncond", None, colors)
        right.set_title("against the true unconditional mean")
        for ax in (left, right):
            _signal_axis(ax, signals)
            ax.set_ylabel("RMSE of mu, % per month (log returns)")
            ax.set_ylim(bottom=0)
        left.legend(handles=[ref], loc="upper left", frameon=False)
        handles, labels = right.get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", frameon=False, title="strategy")
        fig.suptitle("Error of each strategy's expected returns (mean over paths)")
        fig.subplots_adjust(left=0.06, right=0.84, bottom=0.13, top=0.86, wspace=0.22)
        return save_figure(fig, path)


def plot_sharpe_gap(summary: pd.DataFrame, path: str | Path) -> Path:
    """Sharpe gap to the oracle (left) and realised Sharpe (right) by strategy and signal."""
    signals = np.sort(summary["signal"].unique())
    colors = strategy_colors(summary["strategy"])
    frame = summary.assign(
        gap_se=summary["sharpe_gap_sd"] / np.sqrt(summary["n_paths"]),
        sharpe_se=summary["sharpe_sd"] / np.sqrt(summary["n_paths"]),
    )
    oracle = summary.drop_duplicates("signal").set_index("signal")["oracle_sharpe"]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(_SIZE[0] + 1.6, _SIZE[1]))
        left, right = fig.subplots(1, 2)
        _strategy_lines(left, frame, "sharpe_gap", "gap_se", colors)
        left.axhline(0, color="black", linewidth=0.8, zorder=1)
        left.set_ylabel("oracle Sharpe - strategy Sharpe (annualised, net)")
        left.set_title("Sharpe lost to not knowing the true mean (bars: +/- 1 se)")
        _strategy_lines(right, frame, "sharpe", "sharpe_se", colors)
        right.plot(
            np.arange(len(signals)),
            oracle.reindex(signals),
            marker="^",
            label="oracle (true conditional mean)",
            **{**_REFERENCE, "color": "black"},
        )
        right.set_ylabel("annualised net Sharpe ratio")
        right.set_title("Realised Sharpe ratio")
        for ax in (left, right):
            _signal_axis(ax, signals)
        handles, labels = right.get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", frameon=False, title="strategy")
        fig.suptitle("Portfolio cost of expected-return error: gap to the oracle portfolio")
        fig.subplots_adjust(left=0.06, right=0.80, bottom=0.13, top=0.86, wspace=0.22)
        return save_figure(fig, path)
