"""Files of a known-truth study: CSVs, ``study.md`` with plain-words findings, and charts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.atomic import atomic_write_text
from backtest.reports.files import package_versions, write_csv
from backtest.study.charts import plot_mu_error, plot_power_curve, plot_sharpe_gap, signal_label
from backtest.study.evaluate import SIGNIFICANCE
from backtest.study.run import StudyResult

__all__ = ["findings", "signal_table", "write_study_outputs"]

_DETECTED = 0.8
"""Share of paths in which a test must reject for a signal to count as reliably detected."""


def signal_table(result: StudyResult) -> pd.DataFrame:
    """One row per signal: forecast accuracy, test power, PBO and the skill blend's intensity."""
    per = result.paths.drop_duplicates(["signal", "path"]).groupby("signal")
    skill = result.paths[result.paths["strategy"] == "skill"].groupby("signal")["intensity"]
    return pd.DataFrame(
        {
            "n_paths": per["path"].count(),
            "r2_os": per["r2_os"].mean(),
            "r2_os_sd": per["r2_os"].std(),
            "known_signal_r2_os": per["oracle_r2_os"].mean(),
            "cw_reject_rate": per["cw_reject"].mean(),
            "cw_ticker_reject_rate": per["cw_ticker_reject"].mean(),
            "known_signal_cw_rate": per["oracle_cw_reject"].mean(),
            "pbo": per["pbo"].mean(),
            "skill_intensity": skill.mean(),
        }
    ).rename_axis("signal")


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return "n/a" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines)


def _strategy_table(summary: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "signal": summary["signal"].map(signal_label),
            "strategy": summary["strategy"],
            "mu_rmse_true_cond_%": 100 * summary["mu_rmse_cond"],
            "vs_hist_mean_%": 100 * summary["mu_rmse_vs_baseline"],
            "+/-se_%": 100 * summary["mu_rmse_vs_baseline_se"],
            "mu_rmse_true_uncond_%": 100 * summary["mu_rmse_uncond"],
            "intensity": summary["intensity"],
            "sharpe": summary["sharpe"],
            "oracle_sharpe": summary["oracle_sharpe"],
            "gap_to_oracle": summary["sharpe_gap"],
        }
    )
    return out


def findings(result: StudyResult) -> list[str]:
    """Plain-words conclusions drawn from the measured numbers (not from expectations)."""
    table = signal_table(result)
    # The headline numbers are the primary (first) model's; every model is in study_models.
    model = result.config.models.names[0]
    lines = _null_finding(table, model)
    lines.append(_detection_finding(result, table, model))
    lines += _strongest_finding(table, model)
    lines += _per_signal_findings(result.summary, list(table.index))
    lines.append(
        f"Rates over {int(table['n_paths'].min())} paths per signal have a binomial standard error "
        f"up to {0.5 / np.sqrt(table['n_paths'].min()):.0%}: read differences smaller than that "
        "as noise."
    )
    return lines


def _null_finding(table: pd.DataFrame, model: str) -> list[str]:
    """What the model finds without a signal (nothing, if the engine is honest)."""
    lines = []
    if 0.0 in table.index:
        null = table.loc[0.0]
        se = null["r2_os_sd"] / np.sqrt(null["n_paths"])
        verdict = (
            "not positive beyond noise (no spurious skill)"
            if not null["r2_os"] > 2 * se
            else "POSITIVE beyond 2 standard errors: check for look-ahead or overfitting"
        )
        lines.append(
            f"**No signal (R2 = 0).** {model}'s pooled R2_OS averages {null['r2_os']:.4f} "
            f"(sd {null['r2_os_sd']:.4f} across {int(null['n_paths'])} paths): {verdict}. "
            f"Clark-West rejects in {null['cw_reject_rate']:.0%} of paths (nominal "
            f"{SIGNIFICANCE:.0%}; per ticker {null['cw_ticker_reject_rate']:.0%}); PBO across "
            f"strategies averages {null['pbo']:.2f} (0.5 = no strategy ranking persists)."
        )
    return lines


def _detection_finding(result: StudyResult, table: pd.DataFrame, model: str) -> str:
    """From which planted signal the model, and the infeasible oracle, are detected."""
    signals = list(table.index)
    power = table["cw_reject_rate"]
    found = [s for s in signals if s > 0 and power[s] >= _DETECTED]
    ceiling = [s for s in signals if s > 0 and table.loc[s, "known_signal_cw_rate"] >= _DETECTED]
    months = int(result.paths["n_months"].iloc[0])
    model_detects = (
        f"rejects in at least {_DETECTED:.0%} of paths from signal R2 = {signal_label(found[0])}"
        if found
        else f"rejects in {_DETECTED:.0%} of paths at none of the signals tested"
    )
    known_detects = (
        f"would get there from R2 = {signal_label(ceiling[0])}"
        if ceiling
        else "would not get there at any signal tested either"
    )
    return (
        f"**Detection with {result.n_months} months ({months} forecast months).** {model}'s "
        f"Clark-West test {model_detects}; a forecaster that knew the planted signal exactly "
        f"{known_detects}. Rejection rates by signal: "
        + ", ".join(f"{signal_label(s)}: {power[s]:.0%}" for s in signals)
        + "."
    )


def _strongest_finding(table: pd.DataFrame, model: str) -> list[str]:
    """How much of the strongest planted signal reaches the model's forecasts."""
    lines = []
    signals = list(table.index)
    strongest = signals[-1]
    if strongest > 0:
        row = table.loc[strongest]
        ceiling = row["known_signal_r2_os"]
        recovered = (
            f"it recovers {row['r2_os'] / ceiling:.0%} of what was there to find"
            if row["r2_os"] > 0 and ceiling > 0
            else "it still loses to the historical mean, so none of the signal reaches the "
            "forecasts"
        )
        lines.append(
            f"**Strongest signal (R2 = {signal_label(strongest)}).** {model}'s R2_OS averages "
            f"{row['r2_os']:.4f} against {ceiling:.4f} for the known-signal "
            f"forecast: {recovered}. The skill blend's "
            f"weight on {model} is {row['skill_intensity']:.3f}"
            + (
                f" (vs {table.loc[0.0, 'skill_intensity']:.3f} without signal)"
                if 0.0 in table.index
                else ""
            )
            + "."
        )
    return lines


def _per_signal_findings(summary: pd.DataFrame, signals: list[float]) -> list[str]:
    """Per signal: the strategy closest to the true mean and the one closest to the oracle."""
    lines = []
    for s in signals:
        own = summary[summary["signal"] == s].set_index("strategy")
        best_mu = own["mu_rmse_cond"].idxmin()
        diff = own.loc[best_mu, "mu_rmse_vs_baseline"]
        se = own.loc[best_mu, "mu_rmse_vs_baseline_se"]
        beats = bool(diff < -2 * se) if np.isfinite(diff) and np.isfinite(se) else False
        versus = (
            "the historical mean itself"
            if best_mu == "hist_mean"
            else "beating the historical mean by more than 2 standard errors"
            if beats
            else "not distinguishable from the historical mean"
        )
        best_sharpe = own["sharpe_gap"].idxmin()
        lines.append(
            f"**R2 = {signal_label(s)}.** Closest mu to the truth: {best_mu} (RMSE "
            f"{100 * own.loc[best_mu, 'mu_rmse_cond']:.2f}% a month, "
            + versus
            + f"). Smallest Sharpe gap to the oracle: {best_sharpe} "
            f"({own.loc[best_sharpe, 'sharpe_gap']:.2f}; oracle Sharpe "
            f"{own['oracle_sharpe'].iloc[0]:.2f})."
        )
    return lines


def _setup(result: StudyResult, source: str) -> str:
    model = result.config.model
    data, wf, pf = result.config.data, result.config.walk_forward, result.config.portfolio
    return (
        f"Market model: {source}; {len(data.targets)} targets ({', '.join(data.targets)}), "
        f"{len(data.relatives)} relatives. Each path: {result.n_months} months simulated, then "
        f"the `relatives` walk-forward (lookback {model.lookback}, min_train {wf.min_train}, "
        f"{wf.window.value} window, refit every {wf.refit_every}, LSTM units "
        f"{list(model.units)}, up to {model.epochs} epochs, {model.n_seeds} seed(s)), the "
        f"strategies, and mean-variance allocation (risk aversion {pf.risk_aversion}, cap "
        f"{pf.max_weight}, costs {pf.cost_bps} bps). Base seed {result.random_state}. "
        "The oracle portfolio uses the TRUE conditional mean (converted to simple returns with "
        "the true conditional covariance) and the strategies' own Ledoit-Wolf covariance, so "
        "its Sharpe gap isolates the cost of mu error. The known-signal forecast is the "
        "historical mean plus the true predictable part: the best a forecaster that found the "
        "signal could score (it does not know the true mean)."
    )


def _models_section(result: StudyResult) -> list[str]:
    if result.model_summary is None:
        return []
    table = result.model_summary.copy()
    table["signal"] = table["signal"].map(signal_label)
    return [
        "## Every model against the historical mean, beside the infeasible oracle",
        "",
        "R2_OS pooled against the historical mean (mean across paths, its standard error "
        "`r2_os_se`); Clark-West rejection rate at 5% with its binomial standard error. The "
        "oracle knows the planted coefficients: no feasible forecaster can match it.",
        "",
        _markdown(table.set_index("signal"), 4),
        "",
    ]


def write_study_outputs(result: StudyResult, out: Path, source: str) -> list[Path]:
    """Write CSVs, ``study.md``, ``study_config.json``, the market model and the charts."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(result.paths, out / "study_paths.csv"),
        write_csv(result.summary, out / "study_summary.csv"),
    ]
    if result.model_summary is not None:
        written += [
            write_csv(result.models, out / "study_models.csv"),
            write_csv(result.model_summary, out / "study_models_summary.csv"),
        ]
    result.model.to_toml(out / "market_model.toml")
    written.append(out / "market_model.toml")
    table = signal_table(result).reset_index()
    table["signal"] = table["signal"].map(signal_label)
    text = [
        "# Known-truth study: what the engine can and cannot detect",
        "",
        _setup(result, source),
        "",
        "## Findings",
        "",
        *[f"- {line}" for line in findings(result)],
        "",
        "## Forecasts and tests, by signal (means across paths)",
        "",
        _markdown(table, 4),
        "",
        *_models_section(result),
        "## Strategies against the truth, by signal (means across paths)",
        "",
        "mu RMSE in % per month of log return; `vs_hist_mean_%` is the paired difference to "
        "the historical mean (negative = closer to the truth) with its standard error.",
        "",
        _markdown(_strategy_table(result.summary), 3),
        "",
        "Charts: `power_curve.png`, `mu_error.png`, `sharpe_gap.png`. Per path: "
        "`study_paths.csv`; aggregated: `study_summary.csv`.",
        "",
    ]
    atomic_write_text(out / "study.md", "\n".join(text))
    payload = {
        "config": result.config.to_dict(),
        "study": {
            "n_months": result.n_months,
            "random_state": result.random_state,
            "signals": sorted(result.paths["signal"].unique().tolist()),
            "n_paths": int(result.paths["path"].nunique()),
            "source": source,
            "windows": {"cached": result.n_cached, "computed": result.n_computed},
        },
        "versions": package_versions(),
    }
    atomic_write_text(out / "study_config.json", json.dumps(payload, indent=2, default=str))
    written += [out / "study.md", out / "study_config.json"]
    written.append(
        plot_power_curve(
            result.paths, out / "power_curve.png", result.config.models.names[0], result.models
        )
    )
    written.append(plot_mu_error(result.summary, out / "mu_error.png"))
    written.append(plot_sharpe_gap(result.summary, out / "sharpe_gap.png"))
    return written
