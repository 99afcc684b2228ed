"""Words, tables and a chart for a :class:`backtest.compare.compare.ComparisonResult`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from backtest.compare.stats import FEW_MONTHS
from backtest.engine.store import atomic_write_bytes
from backtest.portfolio.rebalance import EQUAL_WEIGHT
from backtest.reports.charts.style import DPI, STYLE

if TYPE_CHECKING:
    from backtest.compare.result import ComparisonResult

__all__ = ["comparison_markdown", "plot_pbo_logits", "verdict"]


def _best_sentences(res: ComparisonResult) -> list[str]:
    t = res.table
    row = t.loc[res.best]
    n = res.n_configurations
    sig = "survives" if res.best_dsr >= 1 - res.alpha else "does not survive"
    out = [
        f"{n} configurations tried over {res.n_months} common months "
        f"({res.returns.index[0]:%Y-%m} to {res.returns.index[-1]:%Y-%m}).",
        f"The best net Sharpe ratio is {res.best}'s ({row['sharpe']:.2f}). The best of {n} "
        f"configurations without skill would show about {res.expected_max_sharpe:.2f} by luck; "
        f"against that, its deflated Sharpe ratio is {res.best_dsr:.2f}, so it {sig} the "
        f"deflation for {n} trials at {1 - res.alpha:.0%}.",
    ]
    if res.n_months < FEW_MONTHS:
        out.insert(0, f"Caution: only {res.n_months} common months, too few for reliable tests.")
    if res.best == EQUAL_WEIGHT:
        out.append("The best configuration is equal weight (1/N) itself.")
    else:
        excl = "excludes" if row["ci_low"] > 0 or row["ci_high"] < 0 else "includes"
        if not np.isfinite([row["ci_low"], row["ci_high"]]).all():
            excl = "is undefined (too few months): it cannot exclude"
        out.append(
            f"Its Sharpe ratio minus equal weight's ({t.loc[EQUAL_WEIGHT, 'sharpe']:.2f}) is "
            f"{row['sharpe_diff_vs_1N']:+.2f}, {1 - res.alpha:.0%} bootstrap CI "
            f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}], which {excl} zero."
        )
    return out


def _equal_weight_sentence(res: ComparisonResult) -> str:
    winners = res.winners
    if winners:
        return (
            f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} equal weight after "
            f"deflation (Sharpe difference > 0 with Holm-adjusted p < {res.alpha:g} over "
            f"{res.n_configurations - 1} comparisons, and deflated Sharpe >= {1 - res.alpha:.2f})."
        )
    t = res.table.drop(index=EQUAL_WEIGHT)
    above = list(t.index[t["ci_low"] > 0])
    tail = (
        f" {len(above)} of {len(t)} have a bootstrap CI above zero "
        f"({', '.join(above)}), before adjusting for multiple comparisons."
        if above
        else f" None of the {len(t)} has a bootstrap CI for the difference above zero."
    )
    return (
        "No configuration beats equal weight after deflation: none has a Sharpe ratio above "
        f"1/N's that stays significant after adjusting for the {len(t)} comparisons (Holm) with "
        f"a deflated Sharpe ratio >= {1 - res.alpha:.2f}." + tail
    )


def _pbo_sentence(res: ComparisonResult) -> str:
    splits = len(res.logits)
    head = f"PBO = {res.pbo:.2f} ({splits} CSCV splits, {res.n_blocks} blocks): "
    if res.pbo > 0.5:
        return head + (
            "the in-sample winner is more likely than not to underperform (fall below the "
            "median configuration) out of sample; choosing by backtest is overfitting."
        )
    if res.pbo > 0.1:
        return head + (
            f"the in-sample winner falls in the bottom half out of sample in {res.pbo:.0%} of "
            "the splits; the ranking is only partly stable."
        )
    return head + (
        "the in-sample winner stays in the top half out of sample in "
        f"{1 - res.pbo:.0%} of the splits; the ranking is stable (low risk of backtest "
        "overfitting), which alone says nothing about beating 1/N."
    )


def _forecast_sentences(res: ComparisonResult) -> list[str]:
    ft = res.forecast_tests
    pooled = ft[ft["ticker"] == "pooled"]
    cw = pooled[pooled["test"] == "clark_west"]
    skilled = list(cw.loc[cw["p_value"] < res.alpha, "variant"])
    out = [
        "Pooled Clark-West: the LSTM beats the historical mean at "
        f"{res.alpha:.0%} in " + (", ".join(skilled) if skilled else "no variant") + "."
    ]
    dm = pooled[pooled["test"] == "diebold_mariano"]
    if not dm.empty:
        sig = dm[dm["p_value"] < res.alpha]
        pairs = [
            f"{r.variant if r.statistic > 0 else r.versus} is more accurate than "
            f"{r.versus if r.statistic > 0 else r.variant} (p = {r.p_value:.3f})"
            for r in sig.itertuples()
        ]
        out.append(
            "Pooled Diebold-Mariano between variants: "
            + ("; ".join(pairs) + "." if pairs else f"no pair differs at {res.alpha:.0%}.")
        )
    return out


def verdict(res: ComparisonResult) -> str:
    """The comparison's conclusion in plain words (best configuration, 1/N, PBO, forecasts)."""
    return " ".join(
        [*_best_sentences(res), _equal_weight_sentence(res), _pbo_sentence(res),
         *_forecast_sentences(res)]
    )  # fmt: skip


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
        f"(risk-free {res.risk_free:g} a year). The difference against equal weight (1/N) has a "
        f"{1 - res.alpha:.0%} stationary-bootstrap CI ({res.n_boot} resamples, mean block "
        f"{res.mean_block:g} months, seed {res.random_state}); p_holm adjusts its p-value for "
        f"{res.n_configurations - 1} comparisons. dsr is the deflated Sharpe ratio with "
        f"N = {res.n_configurations}. Benchmarks (variant 'all') are one configuration each, "
        "not one per variant.",
        "",
        _markdown(res.table.reset_index()),
        "",
        "## Probability of backtest overfitting",
        "",
        f"CSCV over the {res.n_months} x {res.n_configurations} matrix of monthly net returns "
        f"with {res.n_blocks} blocks (the largest even number <= 16 leaving 2 months per "
        f"block): PBO = {res.pbo:.3f}; P(winner below the out-of-sample median) = "
        f"{res.prob_oos_below_median:.3f}; P(winner loses money out of sample) = "
        f"{res.prob_oos_loss:.3f}. Logits: pbo_logits.csv, pbo_logits.png.",
        "",
        "## Forecast tests",
        "",
        "A positive statistic means `variant` forecast better than `versus`. Diebold-Mariano "
        "(HLN-corrected, two-sided) compares the LSTM forecasts of two variants on their common "
        "months; Clark-West (one-sided) tests each variant's LSTM against the historical mean "
        "it nests. Pooled rows average the loss differential across tickers per month.",
        "",
        _markdown(ft[ft["ticker"] == "pooled"], 4),
        "",
        "Per ticker: forecast_tests.csv.",
    ]
    if res.notes:
        parts += ["", "## Notes", "", *[f"- {n}" for n in res.notes]]
    return "\n".join(parts) + "\n"


def plot_pbo_logits(logits: np.ndarray, pbo: float, path: str | Path) -> Path:
    """Histogram of the CSCV logits with the zero line; mass left of zero is the PBO."""
    import matplotlib as mpl

    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 3.6), layout="constrained")
        ax = fig.subplots()
        finite = logits[np.isfinite(logits)]
        ax.hist(finite, bins=min(40, max(5, finite.size // 10)), color="#1f77b4", alpha=0.8)
        ax.axvline(0.0, color="#d62728", linestyle="--", linewidth=1.4, label="logit = 0")
        ax.set_xlabel("logit of the in-sample winner's out-of-sample rank")
        ax.set_ylabel("CSCV splits")
        ax.set_title(f"Probability of backtest overfitting: PBO = {pbo:.2f}")
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, dpi=DPI, format="png")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
