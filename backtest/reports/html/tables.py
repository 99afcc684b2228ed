"""The report's tables: formatted, labelled and classed views of a run's CSVs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd

from backtest.reports.html.template import (
    Formatter,
    esc,
    fmt_int,
    fmt_num,
    fmt_pct,
    paragraph,
    table,
)

_P = fmt_pct(1)

#: portfolio.rebalance.EQUAL_WEIGHT, spelled out: importing rebalance pulls in scikit-learn,
#: seconds of start-up for a command that only reads files (a test keeps the two equal).
EQUAL_WEIGHT = "equal_weight"

PERFORMANCE_COLUMNS: dict[str, tuple[str, Formatter, str]] = {
    "role": ("Role", str, "strategy, baseline or benchmark"),
    "cagr": ("CAGR", _P, "compound annual growth rate of net wealth"),
    "ann_vol": ("Volatility", _P, "annualised standard deviation of monthly net returns"),
    "sharpe": ("Sharpe", fmt_num(2), "annualised Sharpe ratio of net returns"),
    "sortino": ("Sortino", fmt_num(2), "annualised mean over downside deviation"),
    "max_drawdown": ("Max drawdown", _P, "largest peak-to-trough loss of net wealth"),
    "calmar": ("Calmar", fmt_num(2), "CAGR over the absolute max drawdown"),
    "avg_turnover": ("Turnover/month", _P, "mean one-way turnover per rebalance"),
    "total_costs": ("Total costs", fmt_pct(2), "sum of trading costs, fraction of wealth"),
    "hit_rate": ("Hit rate", fmt_pct(0), "share of months with a positive net return"),
    "psr": ("PSR", fmt_num(3), "probabilistic Sharpe ratio: P(true Sharpe > 0)"),
    "dsr": ("DSR", fmt_num(3), "deflated Sharpe ratio: PSR against the best of N trials"),
}

SEED_SPREAD_COLUMNS: dict[str, tuple[str, Formatter, str]] = {
    "n_members": ("Members", fmt_int, "ensemble members (seeds) averaged into the forecast"),
    "r2_os_member_min": (
        "R\u00b2_OS, worst member",
        fmt_pct(2, True),
        "lowest R\u00b2_OS vs mean of one member alone: the seed spread, a description",
    ),
    "r2_os_member_median": (
        "R\u00b2_OS, median member",
        fmt_pct(2, True),
        "median over the members of their own R\u00b2_OS vs mean",
    ),
    "r2_os_member_max": (
        "R\u00b2_OS, best member",
        fmt_pct(2, True),
        "highest R\u00b2_OS vs mean of one member alone",
    ),
}
"""The seed spread's columns (present only when a model averages several members)."""

FORECAST_COLUMNS: dict[str, tuple[str, Formatter, str]] = {
    "n_months": ("Months", fmt_int, "out-of-sample months scored"),
    "rmse": ("RMSE", fmt_pct(2), "root mean squared error of the model, log return"),
    "bench_rmse": ("RMSE mean", fmt_pct(2), "RMSE of the historical mean"),
    "mae": ("MAE", fmt_pct(2), "mean absolute error of the model"),
    "bench_mae": ("MAE mean", fmt_pct(2), "MAE of the historical mean"),
    "directional_accuracy": ("Direction", fmt_pct(0), "share of months with the right sign"),
    "bench_directional_accuracy": ("Direction mean", fmt_pct(0), "same, historical mean"),
    "r2_os_vs_mean": ("R\u00b2_OS vs mean", fmt_pct(2, True), "1 - SSE(model) / SSE(mean)"),
    "r2_os_vs_zero": ("R\u00b2_OS vs zero", fmt_pct(2, True), "1 - SSE(model) / SSE(zero)"),
    "r2": ("R\u00b2", fmt_pct(2, True), "1 - SSE / total sum of squares around the mean"),
    "cw_t": ("Clark-West t", fmt_num(2), "MSE-adjusted t statistic against the mean"),
    "cw_p": ("Clark-West p", fmt_num(3), "one-sided p-value of this ticker alone"),
    "cw_p_holm": (
        "Clark-West p (Holm)",
        fmt_num(3),
        "Holm-adjusted over the tickers (pooled: its own single test); < 0.05 is evidence",
    ),
    **SEED_SPREAD_COLUMNS,
}


def _spec(frame: pd.DataFrame, spec: dict[str, tuple[str, Formatter, str]]) -> dict:
    cols = [c for c in spec if c in frame.columns] + [c for c in frame.columns if c not in spec]
    known = [c for c in cols if c in spec]
    return {
        "frame": frame[cols],
        "labels": {c: spec[c][0] for c in known},
        "formats": {c: spec[c][1] for c in known},
        "tooltips": {c: spec[c][2] for c in known},
    }


def _role_class(
    performance: pd.DataFrame, by_name: bool = False
) -> Callable[[object, pd.Series], str]:
    """CSS classes of a row: its role (from the row, or by strategy name) and the best mark."""
    best = performance["sharpe"].idxmax() if "sharpe" in performance else None
    roles = performance["role"] if "role" in performance else pd.Series(dtype=str)

    def row_class(idx: object, row: pd.Series) -> str:
        role = str(roles.get(idx, "") if by_name else row.get("role", ""))
        classes = [role] if role in ("benchmark", "baseline") else []
        if idx == best:
            classes.append("best")
        return " ".join(classes)

    return row_class


def performance_table_html(performance: pd.DataFrame) -> str:
    """performance.csv: percentages where they are, benchmark and baseline rows marked."""
    spec = _spec(performance, PERFORMANCE_COLUMNS)
    return table(spec.pop("frame"), row_class=_role_class(performance), **spec)


def _signed(significance: str):
    """Cell classes: R2s green or red by sign, ``significance`` (a p-value column) bold below 5%."""

    def cell_class(column: str, value: object) -> str:
        if column.startswith("r2") and isinstance(value, float):
            return "pos" if value > 0 else "neg" if value < 0 else ""
        if column == significance and isinstance(value, float):
            return "sig" if value < 0.05 else ""
        return ""

    return cell_class


def forecast_metrics_table(metrics: pd.DataFrame) -> str:
    """One model's forecast_metrics.csv rows: R2_OS coloured by sign, Holm rejections bold."""
    spec = _spec(metrics, FORECAST_COLUMNS)
    return table(
        spec.pop("frame"),
        row_class=lambda idx, _: "pooled" if idx == "pooled" else "",
        cell_class=_signed("cw_p_holm"),  # per ticker: only Holm-adjusted rejections
        **spec,
    )


def models_columns(reference: str) -> dict[str, tuple[str, Formatter, str]]:
    """Labels, formats and tooltips of the "models compared" table (DM against ``reference``)."""
    return {
        "n_months": FORECAST_COLUMNS["n_months"],
        "rmse": ("RMSE", fmt_pct(2), "root mean squared error, pooled, log return"),
        "r2_os_vs_mean": FORECAST_COLUMNS["r2_os_vs_mean"],
        "r2_os_vs_zero": FORECAST_COLUMNS["r2_os_vs_zero"],
        "cw_p": ("Clark-West p", fmt_num(3), "one-sided pooled p-value against the mean"),
        f"dm_stat_vs_{reference}": (
            f"DM vs {reference}",
            fmt_num(2),
            f"Diebold-Mariano (HLN) statistic against {reference}; > 0: more accurate",
        ),
        f"dm_p_vs_{reference}": (
            f"DM p vs {reference}",
            fmt_num(3),
            f"two-sided DM p-value against {reference}",
        ),
        "mcs_p": ("MCS p", fmt_num(3), "model confidence set p-value (pooled squared errors)"),
        "in_mcs": ("In MCS", lambda v: "yes" if v else "no", "in the 95% model confidence set"),
        **SEED_SPREAD_COLUMNS,
    }


def models_compared_table(models: pd.DataFrame, reference: str) -> str:
    """The "models compared" table (:func:`backtest.evaluation.models.models_table`)."""
    spec = _spec(models, models_columns(reference))
    return table(
        spec.pop("frame"),
        row_class=lambda idx, _: "baseline" if idx == "hist_mean" else "",
        cell_class=_signed("cw_p"),  # pooled: one test per model
        **spec,
    )


def wealth_table(returns: pd.DataFrame, performance: pd.DataFrame) -> str:
    """Total return, best and worst month, and drawdown at the end, net of costs."""
    net = returns.pivot_table(index="date", columns="strategy", values="net").sort_index()
    order = [s for s in performance.index if s in net.columns]
    order += [s for s in net.columns if s not in order]
    rows = {}
    for name in order:
        r = net[name].dropna()
        wealth = (1.0 + r).cumprod()
        rows[name] = {
            "role": performance["role"].get(name, "") if "role" in performance else "",
            "months": len(r),
            "total": wealth.iloc[-1] - 1.0 if len(r) else math.nan,
            "best": r.max(),
            "worst": r.min(),
            "dd_end": (wealth.iloc[-1] / wealth.cummax().iloc[-1] - 1.0) if len(r) else math.nan,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("strategy")
    span = f" ({str(net.index[0])[:7]} to {str(net.index[-1])[:7]})" if len(net) else ""
    return paragraph(f"Net monthly returns{span}, from portfolio_returns.csv.", "note") + table(
        frame,
        labels={
            "role": "Role",
            "months": "Months",
            "total": "Total return",
            "best": "Best month",
            "worst": "Worst month",
            "dd_end": "Drawdown now",
        },
        formats={
            "months": fmt_int,
            "total": fmt_pct(1, True),
            "best": fmt_pct(1, True),
            "worst": fmt_pct(1, True),
            "dd_end": _P,
        },
        row_class=_role_class(performance),
    )


def latest_weights_table(
    weights: pd.DataFrame, targets: Sequence[str], performance: pd.DataFrame
) -> str:
    """Target weights of each strategy at its last rebalance, in percent, ranking order."""
    last = weights[weights.origin == weights.groupby("strategy").origin.transform("max")]
    wide = last.pivot_table(index="strategy", columns="ticker", values="weight", aggfunc="sum")
    cols = [t for t in targets if t in wide.columns] + [c for c in wide.columns if c not in targets]
    rows = [s for s in performance.index if s in wide.index]
    wide = wide.loc[rows + [s for s in wide.index if s not in rows], cols]
    when = ", ".join(sorted(map(str, last.origin.unique())))
    return paragraph(f"Latest target weights (decided at {when}), percent of wealth.", "note") + (
        table(
            wide,
            formats=dict.fromkeys(cols, fmt_pct(1)),
            row_class=_role_class(performance, by_name=True),
        )
    )


def intensity_table(expected: pd.DataFrame) -> str:
    """Mean, range and latest shrinkage intensity per strategy."""
    per_month = expected.groupby(["strategy", "origin"]).intensity.mean().unstack("strategy")
    per_month = per_month.sort_index()
    frame = pd.DataFrame(
        {
            "mean": per_month.mean(),
            "min": per_month.min(),
            "max": per_month.max(),
            "latest": per_month.ffill().iloc[-1],
        }
    ).sort_values("mean", ascending=False)
    return table(frame.rename_axis("strategy"), formats=dict.fromkeys(frame.columns, fmt_num(2)))


def expected_returns_table(expected: pd.DataFrame) -> str:
    """Each strategy's expected return per asset at the last decision, % per year (log)."""
    last = expected[expected.origin == expected.origin.max()]
    wide = 12.0 * last.pivot_table(index="ticker", columns="strategy", values="mu", sort=False)
    first = [c for c in ("hist_mean", "forecast") if c in wide.columns]
    wide = wide[first + [c for c in wide.columns if c not in first]]
    month = last.date.iloc[0] if "date" in last and len(last) else "?"
    note = paragraph(
        f"Expected log return for the month ending {month} (decided at {last.origin.max()}), "
        "annualised (\u00d7 12), percent per year. hist_mean is the raw historical mean and "
        "forecast the primary model's raw forecast (before shrinkage); the other columns are "
        "after shrinkage.",
        "note",
    )
    return note + table(
        wide.rename_axis("ticker"), formats=dict.fromkeys(wide.columns, fmt_pct(1, True))
    )


def _dsr_class(column: str, value: object) -> str:
    return "sig" if column == "dsr" and isinstance(value, float) and value >= 0.95 else ""


def sharpe_deflation_table(performance: pd.DataFrame) -> str:
    """Sharpe, PSR and DSR of this run's strategies, with how to read them."""
    cols = [c for c in ("role", "sharpe", "psr", "dsr") if c in performance.columns]
    n = len(performance)
    text = (
        "PSR is the probability that the true Sharpe ratio is above zero; DSR deflates it for "
        "the number of configurations tried and is given for the selected (best) strategy "
        f"only, counting the strategies of this run (benchmarks excluded; {n} rows here), which "
        "understates the search when several variants were tried. A DSR of 0.95 or more "
        "(bold) means the edge survives that deflation at the 5% level; the verdict also "
        "deflates against 1/N's Sharpe."
    )
    parts = [f"<p>{esc(text)}</p>"]
    if {"sharpe", "dsr"} <= set(performance.columns) and performance["sharpe"].notna().any():
        best = performance["sharpe"].idxmax()
        dsr = float(performance.loc[best, "dsr"])
        said = (
            "its Sharpe ratio stays significantly above zero after that deflation (5% level)"
            if dsr >= 0.95
            else "its Sharpe ratio is not significantly above zero once deflated for the "
            "configurations tried"
            if dsr == dsr
            else "DSR undefined (too few configurations to estimate the Sharpe variance)"
        )
        if EQUAL_WEIGHT in performance.index and best != EQUAL_WEIGHT:
            ew = performance.loc[EQUAL_WEIGHT]
            said += (
                f"; that is a test against luck, not against equal weight (1/N: Sharpe "
                f"{ew['sharpe']:.2f}; see the verdict's SPA and Ledoit-Wolf tests)"
            )
        parts.append(
            f"<p><b>Best in this run: {esc(best)}</b> (Sharpe "
            f"{performance.loc[best, 'sharpe']:.2f}, DSR {dsr:.3f}): {esc(said)}.</p>"
        )
    spec = _spec(performance[cols], PERFORMANCE_COLUMNS)
    parts.append(
        table(
            spec.pop("frame"),
            row_class=_role_class(performance),
            cell_class=_dsr_class,
            **spec,
        )
    )
    return "\n".join(parts)
