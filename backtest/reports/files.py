"""Write a run's results: tidy CSVs, config, charts, and a summary in plain words."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.engine.panel import ForecastPanel
from backtest.engine.store import atomic_write_text
from backtest.evaluation.forecasts import forecast_metrics
from backtest.evaluation.overfitting import sharpe_difference_ci
from backtest.evaluation.performance import performance_table
from backtest.portfolio.rebalance import BASELINE, EQUAL_WEIGHT, StrategyBacktest
from backtest.reports.charts import forecast as forecast_charts
from backtest.reports.charts import portfolio as portfolio_charts
from backtest.reports.charts.style import strategy_colors

_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "tensorflow", "keras", "joblib", "ta")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers (absent ones omitted)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        for dist in (name, f"{name}-cpu"):
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def write_csv(frame: pd.DataFrame, path: Path, index: bool = False) -> Path:
    """Write a CSV atomically (a reader never sees half a file)."""
    atomic_write_text(path, frame.to_csv(index=index, float_format="%.10g"))
    return path


@dataclass(frozen=True)
class RunReport:
    """The tables a run produced, for the terminal and for later stages."""

    forecast_metrics: pd.DataFrame
    performance: pd.DataFrame | None
    verdict: str


def write_forecast_outputs(panel: ForecastPanel, out: Path) -> pd.DataFrame:
    """forecasts.csv, forecast_metrics.csv, and the two forecast charts."""
    write_csv(panel.tidy(), out / "forecasts.csv")
    forecasts = panel.forecast()
    metrics = forecast_metrics(panel.realised, forecasts, panel.hist_mean)
    write_csv(metrics.rename_axis("ticker").reset_index(), out / "forecast_metrics.csv")
    write_csv(panel.diagnostics, out / "training_diagnostics.csv")
    forecast_charts.plot_cumulative_sse_difference(
        panel.realised, forecasts, panel.hist_mean, out / "cumulative_sse_difference.png"
    )
    forecast_charts.plot_forecast_vs_realised(
        panel.realised, forecasts, panel.hist_mean, out / "forecast_vs_realised.png"
    )
    return metrics


def write_strategy_outputs(
    backtest: StrategyBacktest, out: Path, risk_free: float, n_trials: int | None = None
) -> pd.DataFrame:
    """expected_returns.csv, weights.csv, portfolio_returns.csv, performance.csv, charts."""
    write_csv(backtest.expected, out / "expected_returns.csv")
    write_csv(backtest.weights_tidy(), out / "weights.csv")
    gross, net = backtest.frame("gross"), backtest.frame("net")
    returns = pd.concat(
        {
            "gross": gross.rename_axis("date").reset_index().melt("date", var_name="strategy"),
            "net": net.rename_axis("date").reset_index().melt("date", var_name="strategy"),
        },
        names=["kind"],
    ).reset_index(level=0)
    tidy = returns.pivot_table(index=["date", "strategy"], columns="kind", values="value")
    write_csv(tidy.reset_index(), out / "portfolio_returns.csv")
    performance = performance_table(
        net, backtest.frame("turnover"), backtest.frame("costs"), n_trials, risk_free
    )
    performance.insert(
        0,
        "role",
        ["benchmark" if s in backtest.benchmarks else "strategy" for s in performance.index],
    )
    performance.loc[BASELINE, "role"] = "baseline"
    performance = performance.sort_values("sharpe", ascending=False)
    write_csv(performance.reset_index(), out / "performance.csv")

    strategies = [s for s in backtest.results if s not in backtest.benchmarks]
    # One colour per strategy across every chart, whatever subset a chart shows.
    colors = strategy_colors(strategies)
    portfolio_charts.plot_equity_curves(
        net, out / "equity_curves.png", benchmarks=[*backtest.benchmarks, BASELINE], colors=colors
    )
    portfolio_charts.plot_weights_grid(
        {s: backtest.results[s].weights for s in [*strategies, *backtest.benchmarks[:2]]},
        out / "weights.png",
    )
    intensity = backtest.expected.pivot_table(
        index="origin", columns="strategy", values="intensity", aggfunc="mean"
    )
    portfolio_charts.plot_intensity(
        intensity[strategies], out / "shrinkage_intensity.png", colors=colors
    )
    last = backtest.expected[backtest.expected.origin == backtest.expected.origin.max()]
    shrunk = last.pivot(index="ticker", columns="strategy", values="mu")[strategies]
    forecast_charts.plot_expected_returns(
        shrunk[BASELINE] if BASELINE in shrunk else shrunk.iloc[:, 0],
        shrunk.drop(columns=[BASELINE], errors="ignore"),
        out / "expected_returns.png",
        f"Expected returns at {last.origin.max():%Y-%m}: historical mean vs shrunk",
        colors=colors,
    )
    forecast_charts.plot_expected_returns_over_time(
        backtest.expected[["date", "ticker", "strategy", "mu"]],
        out / "expected_returns_over_time.png",
        benchmarks=(BASELINE,),
        colors=colors,
    )
    return performance


def verdict(
    metrics: pd.DataFrame,
    performance: pd.DataFrame | None,
    net: pd.DataFrame | None = None,
    random_state: int = 0,
) -> str:
    """Plain words on what beat what; says so when nothing beat the simple baselines.

    With the strategies' ``net`` returns, the best strategy's Sharpe ratio is compared
    with 1/N's by a seeded stationary bootstrap, so "beat" is qualified by its interval.
    """
    pooled = metrics.loc["pooled"]
    lines = []
    r2 = pooled["r2_os_vs_mean"]
    cw_p = pooled["cw_p"]
    if r2 > 0 and cw_p < 0.05:
        lines.append(
            f"The LSTM beat the historical mean out of sample (pooled R2_OS {r2:+.2%}, "
            f"Clark-West p = {cw_p:.3f})."
        )
    elif r2 > 0:
        lines.append(
            f"The LSTM's pooled R2_OS against the historical mean is {r2:+.2%}, but Clark-West "
            f"does not reject at 5% (p = {cw_p:.3f}): no reliable evidence of skill."
        )
    else:
        lines.append(
            f"The LSTM lost to the historical mean out of sample (pooled R2_OS {r2:+.2%}, "
            f"Clark-West p = {cw_p:.3f}): its forecasts add no predictive skill here."
        )
    winners = [t for t in metrics.index if t != "pooled" and metrics.loc[t, "r2_os_vs_mean"] > 0]
    lines.append(
        f"It beat the mean on {len(winners)} of {len(metrics) - 1} tickers"
        + (f" ({', '.join(winners)})." if winners else ".")
    )
    if performance is None:
        return " ".join(lines)
    sr = performance["sharpe"]
    roles = performance["role"]
    candidates = [s for s in sr.index if roles[s] != "benchmark"]
    best = candidates[0]
    lines.append(f"Best Sharpe ratio net of costs among the strategies: {best} ({sr[best]:.2f}).")
    if EQUAL_WEIGHT in sr:
        beat_ew = [s for s in candidates if sr[s] > sr[EQUAL_WEIGHT]]
        if not beat_ew:
            lines.append(
                f"No strategy beat equal weight (1/N, Sharpe {sr[EQUAL_WEIGHT]:.2f}) net of costs."
            )
        else:
            lines.append(f"Above 1/N's Sharpe ({sr[EQUAL_WEIGHT]:.2f}): {', '.join(beat_ew)}.")
            if net is not None:
                ci = sharpe_difference_ci(
                    net[best].to_numpy(), net[EQUAL_WEIGHT].to_numpy(), random_state=random_state
                )
                if ci.ci_low > 0:
                    lines.append(
                        f"{best}'s Sharpe exceeds 1/N's by {ci.difference:.2f} (95% block-"
                        f"bootstrap interval {ci.ci_low:.2f} to {ci.ci_high:.2f})."
                    )
                else:
                    lines.append(
                        f"But {best}'s edge over 1/N, {ci.difference:+.2f} in Sharpe, is within "
                        f"noise (95% block-bootstrap interval {ci.ci_low:.2f} to "
                        f"{ci.ci_high:.2f}): it does not reliably beat 1/N."
                    )
    if BASELINE in sr:
        beat = [s for s in candidates if sr[s] > sr[BASELINE] and roles[s] == "strategy"]
        lines.append(
            "Strategies with a higher Sharpe than mean-variance on the raw historical mean "
            f"({sr[BASELINE]:.2f}): " + (", ".join(beat) if beat else "none") + "."
        )
    return " ".join(lines)


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    cols = [str(c) for c in frame.columns]
    lines = [
        "| " + " | ".join([frame.index.name or "", *cols]) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for idx, row in frame.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float | np.floating) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def write_summary(
    out: Path, title: str, metrics: pd.DataFrame, performance: pd.DataFrame | None, text: str
) -> Path:
    """summary.md: the verdict, the strategy ranking and the forecast metrics."""
    parts = [f"# {title}", "", "## Verdict", "", text, ""]
    if performance is not None:
        parts += [
            "## Strategies and benchmarks, ranked by net Sharpe ratio",
            "",
            _markdown(performance),
            "",
        ]
    parts += [
        "## Forecast metrics (monthly log returns, out of sample)",
        "",
        _markdown(metrics, 4),
        "",
    ]
    path = out / "summary.md"
    atomic_write_text(path, "\n".join(parts))
    return path


def write_config(out: Path, config: dict, fingerprint: str, source: str, extra: dict) -> Path:
    """config.json: the resolved config, data fingerprint and source, package versions."""
    payload = {
        "config": config,
        "data": {"fingerprint": fingerprint, "source": source, **extra},
        "versions": package_versions(),
    }
    path = out / "config.json"
    atomic_write_text(path, json.dumps(payload, indent=2, default=str))
    return path
