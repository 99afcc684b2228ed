"""Words, tables and a chart for a :class:`backtest.compare.compare.ComparisonResult`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from backtest.atomic import atomic_write_bytes
from backtest.reports.charts.style import DPI, STYLE

if TYPE_CHECKING:
    from backtest.compare.result import ComparisonResult

__all__ = ["comparison_markdown", "forecast_sentences", "plot_pbo_logits"]


def forecast_sentences(res: ComparisonResult) -> list[str]:
    """Pooled Diebold-Mariano between every run's models (Clark-West is in the verdict)."""
    ft = res.forecast_tests
    pooled = ft[ft["ticker"] == "pooled"]
    dm = pooled[pooled["test"] == "diebold_mariano"]
    if dm.empty:
        return []
    sig = dm[dm["p_value"] < res.alpha]
    pairs = [
        f"{r.model if r.statistic > 0 else r.versus} is more accurate than "
        f"{r.versus if r.statistic > 0 else r.model} (p = {r.p_value:.3f})"
        for r in sig.itertuples()
    ]
    return [
        f"Pooled Diebold-Mariano between the runs' models (variant/model, two-sided, "
        f"{res.alpha:.0%}): " + ("; ".join(pairs) + "." if pairs else "no pair differs.")
    ]


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.{digits}f}" if isinstance(v, float | np.floating) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_markdown(res: ComparisonResult) -> str:
    """comparison.md: verdict, configuration table, PBO, forecast tests, method notes."""
    ft = res.forecast_tests
    parts = [
        f"# Comparison of {', '.join(res.variants)}",
        "",
        "## Verdict",
        "",
        res.verdict,
        "",
        "## Configurations, ranked by net Sharpe ratio",
        "",
        f"Sharpe ratios are annualised, net of costs, over the {res.n_months} common months "
        f"(risk-free {res.risk_free:g} a year). The difference against equal weight (1/N) "
        f"has Ledoit-Wolf's {1 - res.alpha:.0%} studentised circular-block-bootstrap CI and "
        f"two-sided p-value ({res.n_boot} resamples, blocks of {res.mean_block:g} months, "
        f"seed {res.random_state}), each row as if tested alone; p_holm adjusts the p-values "
        f"for {res.n_configurations - 1} comparisons. beats_1N marks the "
        "configurations in Romano-Wolf's StepM set against 1/N (the verdict's test). dsr is "
        "each row's deflated Sharpe ratio as if selected; only the best's answers the "
        "selection question, and the verdict's DSR counts the strategies only. Benchmarks "
        "(variant 'all') are one configuration each, not one per variant.",
        "",
        _markdown(res.table.reset_index()),
        "",
        "## Probability of backtest overfitting",
        "",
        f"CSCV over the {res.n_months} months of the configurations tried (benchmarks "
        f"excluded) with {res.n_blocks} blocks (the even number in 8..16 that drops the fewest "
        f"months): PBO = {res.pbo:.3f} (its bootstrap interval is in the verdict); "
        "P(winner below the out-of-sample median) = "
        f"{res.prob_oos_below_median:.3f}; P(winner loses money out of sample) = "
        f"{res.prob_oos_loss:.3f}. Logits: pbo_logits.csv, pbo_logits.png.",
        "",
        "## Forecast tests",
        "",
        "One row per forecast, named `variant/model`: every model of every run. A positive "
        "statistic means `model` forecast better than `versus`. Diebold-Mariano "
        "(HLN-corrected, two-sided) compares two forecasts on their common months, for every "
        "pair; Clark-West (one-sided) tests each against its run's historical mean, which it "
        "nests. Pooled rows average the loss differential across tickers per month.",
        "",
        _markdown(ft[ft["ticker"] == "pooled"], 4),
        "",
        "Per ticker: forecast_tests.csv.",
    ]
    if res.notes:
        parts += ["", "## Notes", "", *[f"- {n}" for n in res.notes]]
    return "\n".join(parts) + "\n"


def plot_pbo_logits(logits: np.ndarray, pbo: float, path: str | Path) -> Path:
    """Histogram of the CSCV logits; the overfit side (logit <= 0, mass = the PBO) shaded."""
    import matplotlib as mpl

    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 3.6))
        fig.subplots_adjust(left=0.1, right=0.97, top=0.88, bottom=0.16)
        ax = fig.subplots()
        finite = logits[np.isfinite(logits)]
        _, edges, bars = ax.hist(
            finite, bins=min(40, max(5, finite.size // 10)), color="#0072B2", alpha=0.9
        )
        for left, bar in zip(edges[:-1], bars, strict=True):
            if left < 0.0:  # a bin on the overfit side (or straddling zero)
                bar.set_facecolor("#D55E00")
        low = min(float(edges[0]), -0.5)
        ax.axvspan(
            low, 0.0, color="#E69F00", alpha=0.18, linewidth=0, zorder=0,
            label="overfit side:\nthe in-sample winner\nranks below the median\nout of sample",
        )  # fmt: skip
        ax.set_xlim(low, max(float(edges[-1]), 0.5))
        ax.axvline(0.0, color="black", linestyle="--", linewidth=1.2, label="logit = 0")
        ax.set_xlabel("logit of the in-sample winner's out-of-sample rank")
        ax.set_ylabel("CSCV splits")
        ax.set_title(
            f"Probability of backtest overfitting: PBO = {pbo:.2f} (share of splits in the "
            "shaded side)",
            fontsize=9,
        )
        ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
        buf = io.BytesIO()
        fig.savefig(buf, dpi=DPI, format="png")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
