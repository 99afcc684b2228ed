"""Write a run's results: tidy CSVs, config, charts, and a summary in plain words."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.atomic import atomic_write_text
from backtest.engine.panel import BENCHMARK, ForecastPanel
from backtest.evaluation.models import (
    member_metrics,
    model_comparison,
    model_metrics,
    seed_spread,
)
from backtest.evaluation.performance import performance_table
from backtest.portfolio.rebalance import BASELINE, StrategyBacktest
from backtest.reports.charts.render import ChartPool, render_charts
from backtest.reports.charts.run_charts import (
    benchmark_order,
    forecast_chart_jobs,
    portfolio_chart_jobs,
)
from backtest.reports.charts.style import Palette

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


def _draw(jobs: list, charts: ChartPool | None) -> None:
    """Draw now, or hand the jobs to the run's background pool."""
    if charts is None:
        render_charts(jobs)
    else:
        charts.submit(jobs)


def write_forecast_outputs(
    panel: ForecastPanel, out: Path, charts: ChartPool | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """forecasts.csv, forecast_metrics.csv, model_comparison.csv and the forecast charts.

    forecast_metrics.csv scores every model and the historical mean itself (its R2_OS
    against itself is 0; its RMSE and R2_OS against zero are the yardstick), per ticker and
    pooled; model_comparison.csv is DM between every pair of them. When a model is an
    ensemble of several members (``--seeds N``), member_metrics.csv scores each member as
    the ensemble is scored and forecast_metrics.csv gains the spread of R2_OS across the
    members (:func:`backtest.evaluation.models.seed_spread`); otherwise neither appears.
    With ``charts``, the charts are drawn in its background workers (done when it exits).

    Returns
    -------
    (metrics, comparison) : tuple of DataFrame
        The two tables as written.
    """
    write_csv(panel.tidy(), out / "forecasts.csv")
    scored = {**panel.forecasts, BENCHMARK: panel.hist_mean}
    metrics = model_metrics(panel.realised, scored, panel.hist_mean)
    comparison = model_comparison(panel.realised, scored)
    if panel.members:
        members = member_metrics(panel.realised, panel.members, panel.hist_mean)
        write_csv(members, out / "member_metrics.csv")
        metrics = seed_spread(metrics, members)
    write_csv(metrics, out / "forecast_metrics.csv")
    write_csv(comparison, out / "model_comparison.csv")
    write_csv(panel.diagnostics, out / "training_diagnostics.csv")
    _draw(forecast_chart_jobs(panel.realised, panel.forecasts, panel.hist_mean, out), charts)
    return metrics, comparison


def write_strategy_outputs(
    backtest: StrategyBacktest,
    out: Path,
    risk_free: float,
    n_trials: int | None = None,
    max_weight: float | None = None,
    charts: ChartPool | None = None,
) -> pd.DataFrame:
    """expected_returns.csv, weights.csv, portfolio_returns.csv, performance.csv, charts.

    With ``charts``, the charts are drawn in its background workers (done when it exits).
    """
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
    trials = [s for s in net.columns if s not in backtest.benchmarks and s != BASELINE]
    performance = performance_table(
        net,
        backtest.frame("turnover"),
        backtest.frame("costs"),
        n_trials,
        risk_free,
        trials=trials or None,
    )
    performance.insert(
        0,
        "role",
        ["benchmark" if s in backtest.benchmarks else "strategy" for s in performance.index],
    )
    performance.loc[BASELINE, "role"] = "baseline"
    performance = performance.sort_values("sharpe", ascending=False)
    write_csv(performance.reset_index(), out / "performance.csv")

    # One palette from the ranking: the best three strong, one colour per strategy throughout.
    benchmarks = benchmark_order(backtest.benchmarks, BASELINE)
    palette = Palette.from_ranking(list(performance.index), benchmarks)
    tickers = list(backtest.results[BASELINE].weights.columns)
    jobs = portfolio_chart_jobs(
        net,
        {s: r.weights for s, r in backtest.results.items()},
        backtest.expected,
        palette,
        out,
        baseline=BASELINE,
        tickers=tickers,
        max_weight=max_weight,
        risk_free=risk_free,
    )
    _draw(jobs, charts)
    return performance


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
    out: Path,
    title: str,
    metrics: pd.DataFrame,
    performance: pd.DataFrame | None,
    text: str,
    tests: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
) -> Path:
    """summary.md: verdict, models compared, tests behind the verdict, ranking, metrics."""
    parts = [f"# {title}", "", "## Verdict", "", text, ""]
    if models is not None:
        parts += [
            "## Models compared (pooled; R2_OS and Clark-West against the historical mean)",
            "",
            _markdown(models, 4),
            "",
        ]
    if tests is not None and not tests.empty:
        parts += [
            "## Tests behind the verdict (inference.csv)",
            "",
            "Level 5% throughout; intervals are 95%. statistic: R2_OS (Clark-West), mean loss "
            "(MCS), mean monthly return difference (SPA), annualised Sharpe difference "
            "(Ledoit-Wolf), probability (DSR), PBO, % a year (CER), bps a year (fee), bps per "
            "unit turnover (break-even).",
            "",
            _markdown(tests.set_index("test"), 4),
            "",
        ]
    if performance is not None:
        parts += [
            "## Strategies and benchmarks, ranked by net Sharpe ratio",
            "",
            _markdown(performance),
            "",
        ]
    parts += [
        "## Forecast metrics per model and ticker (monthly log returns, out of sample)",
        "",
        _markdown(metrics.set_index("model"), 4),
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
