"""The report's tear sheet: risk, drawdowns, monthly and yearly returns of the best strategies.

Built from ``portfolio_returns.csv`` and ``performance.csv`` with
:mod:`backtest.reports.tearsheet` (monthly data, annualised with 12), plus the tear-sheet
charts the run drew. It covers the three best strategies by net Sharpe ratio and the
benchmarks, as quantstats' and pyfolio's tear sheets do for one strategy and its benchmark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.reports.html.tables import EQUAL_WEIGHT
from backtest.reports.html.template import (
    esc,
    figure,
    fmt_int,
    fmt_num,
    fmt_pct,
    missing,
    paragraph,
    table,
)
from backtest.reports.tearsheet import drawdown_table, monthly_returns, risk_table

if TYPE_CHECKING:
    from backtest.reports.run_dir import RunResult

__all__ = ["monthly_heatmap", "selection", "tearsheet"]

MARKET = "SPY"
N_BEST = 3

_RISK_COLUMNS = {
    "ann_return": ("CAGR", fmt_pct(1, True), "compound annual growth rate of net wealth"),
    "ann_vol": ("Volatility", fmt_pct(1), "standard deviation of monthly returns x sqrt(12)"),
    "skew": ("Skew", fmt_num(2), "sample skewness of monthly returns"),
    "kurtosis": ("Excess kurtosis", fmt_num(2), "sample excess kurtosis (normal = 0)"),
    "var": ("VaR 95%", fmt_pct(1), "historical monthly value at risk: the 5% quantile"),
    "cvar": ("CVaR 95%", fmt_pct(1), "mean of the months at or below the VaR"),
    "beta": ("Beta vs SPY", fmt_num(2), "OLS slope of excess returns on SPY's"),
    "alpha": ("Alpha vs SPY", fmt_pct(1, True), "OLS intercept x 12 (Jensen's alpha, annual)"),
    "tracking_error": ("TE vs 1/N", fmt_pct(1), "std of (r - r_1/N) x sqrt(12)"),
    "information_ratio": ("IR vs 1/N", fmt_num(2), "12 x mean(r - r_1/N) / tracking error"),
}


def selection(performance: pd.DataFrame) -> list[str]:
    """The three best non-benchmark strategies by net Sharpe, then the benchmarks."""
    ranked = performance.sort_values("sharpe", ascending=False)
    roles = ranked["role"] if "role" in ranked else pd.Series("strategy", index=ranked.index)
    best = [s for s in ranked.index if roles[s] == "strategy"][:N_BEST]
    benchmarks = [s for s in ranked.index if roles[s] == "benchmark"]
    first = [b for b in (EQUAL_WEIGHT, MARKET) if b in benchmarks]
    return [*best, *first, *(b for b in benchmarks if b not in first)]


def _cell_style(value: float, scale: float) -> str:
    """Background of a heatmap cell: blue for gains, red for losses (ColorBrewer RdBu)."""
    if not np.isfinite(value) or scale <= 0:
        return ""
    t = min(abs(value) / scale, 1.0)
    hue = (33, 102, 172) if value > 0 else (178, 24, 43)
    rgb = [round(255 + t * (c - 255)) for c in hue]
    ink = "#fff" if t > 0.6 else "#1f2328"
    return f"background:rgb({rgb[0]},{rgb[1]},{rgb[2]});color:{ink}"


def monthly_heatmap(name: str, returns: pd.Series, scale: float) -> str:
    """A year x month table of one strategy's returns, cells coloured on a shared scale."""
    frame = monthly_returns(returns)
    head = "".join(f'<th class="num">{esc(c)}</th>' for c in frame.columns)
    rows = []
    for year, row in frame.iterrows():
        cells = []
        for col, value in row.items():
            if not np.isfinite(value):
                cells.append('<td class="na"></td>')
                continue
            style = _cell_style(value, scale) if col != "Year" else "font-weight:700"
            cells.append(f'<td class="num" style="{style}">{100 * value:.1f}</td>')
        rows.append(f"<tr><td>{esc(year)}</td>{''.join(cells)}</tr>")
    return (
        f'<h4>{esc(name)}</h4><div class="scroll"><table class="heatmap"><thead><tr><th></th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _drawdowns(net: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    frames = []
    for name in names:
        worst = drawdown_table(net[name], top=5)
        worst.insert(0, "strategy", name)
        frames.append(worst)
    out = pd.concat(frames, ignore_index=True)
    for col in ("start", "trough", "recovery"):
        out[col] = out[col].dt.strftime("%Y-%m").fillna("not yet")
    return out.set_index("strategy")


def tearsheet(run: RunResult) -> str:
    """Risk table, worst drawdowns, monthly heatmaps and the tear-sheet charts."""
    net = run.net
    names = [s for s in selection(run.performance) if s in net.columns]
    if not names:
        return missing("portfolio_returns.csv", "Monthly returns of the ranked strategies missing")
    risk = risk_table(net[names], risk_free=run.risk_free)
    cols = [c for c in _RISK_COLUMNS if c in risk.columns]
    scale = float(np.nanmax(np.abs(net[names].to_numpy())))
    parts = [
        paragraph(
            f"The {N_BEST} best strategies by net Sharpe ratio and the benchmarks, from the "
            f"monthly net returns ({len(net)} months, {net.index[0]:%Y-%m} to "
            f"{net.index[-1]:%Y-%m}); annualised with 12 periods a year. Hover a header for "
            "its definition."
        ),
        "<h3>Risk and relative performance</h3>",
        table(
            risk[cols],
            labels={c: _RISK_COLUMNS[c][0] for c in cols},
            formats={c: _RISK_COLUMNS[c][1] for c in cols},
            tooltips={c: _RISK_COLUMNS[c][2] for c in cols},
        ),
        "<h3>Worst drawdowns</h3>",
        paragraph(
            "The five deepest peak-to-trough losses of each: start is the peak, recovery the "
            "first month back at it; months runs from peak to recovery (or to the last month), "
            "underwater counts the months below the peak.",
            "note",
        ),
        table(
            _drawdowns(net, names),
            formats={"depth": fmt_pct(1), "months": fmt_int, "underwater": fmt_int},
        ),
        "<h3>Monthly returns, %</h3>",
        paragraph(
            "Net return of each month; blue gains and red losses on one colour scale for all "
            "tables; the last column compounds the year.",
            "note",
        ),
        '<div class="heatmaps">'
        + "".join(f"<div>{monthly_heatmap(n, net[n], scale)}</div>" for n in names)
        + "</div>",
        "<h3>Yearly returns, rolling risk and the return distribution</h3>",
        figure(
            run.path("tearsheet_yearly.png"),
            "Calendar-year net returns of the best strategies and the benchmarks",
            "Compounded net return in each calendar year, against equal weight (1/N).",
        ),
        figure(
            run.path("tearsheet_rolling.png"),
            "Rolling 12-month Sharpe ratio and volatility",
            "Trailing 12 months, annualised (mean x 12 over std x sqrt 12; std x sqrt 12).",
        ),
        figure(
            run.path("tearsheet_distribution.png"),
            "Distribution of monthly net returns with VaR and CVaR",
            "Histogram of monthly net returns; dashed: historical VaR 95%, dotted: CVaR 95%.",
        ),
    ]
    return "\n".join(parts)
