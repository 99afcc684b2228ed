"""The chart jobs of one run, built from its frames (the same ones its CSVs hold).

:func:`forecast_chart_jobs` and :func:`portfolio_chart_jobs` turn a run's forecasts,
returns, weights and expected returns into :class:`~backtest.reports.charts.render.ChartJob`
lists that :func:`~backtest.reports.charts.render.render_charts` draws. Every portfolio chart
takes one :class:`~backtest.reports.charts.style.Palette` built from the ranking, so each
strategy has one colour everywhere, and one ticker order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from backtest.reports.charts import forecast as forecast_charts
from backtest.reports.charts import portfolio as portfolio_charts
from backtest.reports.charts import tearsheet as tearsheet_charts
from backtest.reports.charts.render import ChartJob
from backtest.reports.charts.style import Palette

__all__ = [
    "benchmark_order",
    "forecast_chart_jobs",
    "portfolio_chart_jobs",
    "tearsheet_selection",
]

#: Names of the benchmarks the tear sheet compares against (see portfolio.rebalance).
EQUAL_WEIGHT, MARKET = "equal_weight", "SPY"


def forecast_chart_jobs(
    realised: pd.DataFrame,
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    hist_mean: pd.DataFrame,
    out: Path,
) -> list[ChartJob]:
    """The cumulative squared-error and forecast-vs-realised charts (one line per model)."""
    frames = (realised, forecasts, hist_mean)
    return [
        ChartJob(
            forecast_charts.plot_cumulative_sse_difference,
            (*frames, out / "cumulative_sse_difference.png"),
        ),
        ChartJob(
            forecast_charts.plot_forecast_vs_realised, (*frames, out / "forecast_vs_realised.png")
        ),
    ]


def tearsheet_selection(
    palette: Palette, names: Sequence[str], baseline: str | None = None
) -> list[str]:
    """The tear sheet's strategies: the highlighted ones, then the benchmarks but `baseline`."""
    chosen = (*palette.highlighted, *(b for b in palette.benchmarks if b != baseline))
    return [n for n in chosen if n in names]


def benchmark_order(benchmarks: Sequence[str], baseline: str) -> list[str]:
    """1/N first (the benchmark to beat), then the market, the others, the baseline last."""
    first = [b for b in (EQUAL_WEIGHT, MARKET) if b in benchmarks]
    return [*first, *(b for b in benchmarks if b not in first and b != baseline), baseline]


def portfolio_chart_jobs(
    net: pd.DataFrame,
    weights: Mapping[str, pd.DataFrame],
    expected: pd.DataFrame,
    palette: Palette,
    out: Path,
    *,
    baseline: str,
    tickers: Sequence[str],
    max_weight: float | None = None,
    risk_free: float = 0.0,
) -> list[ChartJob]:
    """Equity, weights, intensity, expected-return and tear-sheet charts of a run.

    Parameters
    ----------
    net : pd.DataFrame of shape (n_months, n_strategies)
        Net monthly simple returns of every strategy and benchmark, indexed by month earned.
    weights : mapping of str to pd.DataFrame
        Target weights per strategy (decision month x ticker); frames without the tickers
        (the market benchmark holds the index itself) are left out of the weights chart.
    expected : pd.DataFrame
        Tidy expected returns: origin, date, ticker, strategy, mu, intensity.
    palette : Palette
        The run's colours (see :meth:`Palette.from_ranking`).
    out : Path
        The run directory.
    baseline : str
        The strategy whose mu is the raw historical mean.
    tickers : sequence of str
        The assets, in the order every chart shows them.
    max_weight : float, optional
        The per-asset cap, drawn on the weights chart.
    risk_free : float, default=0.0
        Annual risk-free rate for the rolling Sharpe ratio.
    """
    strategies = [s for s in expected["strategy"].unique() if s in net.columns]
    intensity = expected.pivot_table(
        index="origin", columns="strategy", values="intensity", aggfunc="mean"
    )
    last = expected[expected.origin == expected.origin.max()]
    shrunk = last.pivot(index="ticker", columns="strategy", values="mu")
    shrunk = shrunk.reindex([t for t in tickers if t in shrunk.index])
    held = [s for s in palette.sort(weights) if set(tickers) <= set(weights[s])]
    grid = {s: weights[s][list(tickers)] for s in held}
    # Costliest first (measured: the weights grid, then the expected returns over time): a
    # background worker starts on them, and the ones left when the run is done are the
    # cheap ones the caller's process draws itself (ChartPool.wait takes the newest first).
    return [
        ChartJob(
            portfolio_charts.plot_weights_grid,
            (grid, out / "weights.png"),
            {"tickers": list(tickers), "cap": max_weight},
        ),
        ChartJob(
            forecast_charts.plot_expected_returns_over_time,
            (
                expected[["date", "ticker", "strategy", "mu"]],
                out / "expected_returns_over_time.png",
            ),
            {"colors": palette, "tickers": list(tickers)},
        ),
        ChartJob(
            portfolio_charts.plot_intensity,
            (intensity[[s for s in strategies if s in intensity]], out / "shrinkage_intensity.png"),
            {"colors": palette},
        ),
        ChartJob(
            portfolio_charts.plot_equity_curves,
            (net, out / "equity_curves.png", palette.benchmarks),
            {"colors": palette},
        ),
        ChartJob(
            forecast_charts.plot_expected_returns,
            (
                shrunk[baseline] if baseline in shrunk else shrunk.iloc[:, 0],
                shrunk[[s for s in strategies if s in shrunk and s != baseline]],
                out / "expected_returns.png",
                f"Expected returns at {last.origin.max():%Y-%m}: historical mean vs shrunk",
            ),
            {"colors": palette},
        ),
        *_tearsheet_jobs(net, palette, out, baseline, risk_free),
    ]


def _tearsheet_jobs(
    net: pd.DataFrame, palette: Palette, out: Path, baseline: str, risk_free: float
) -> list[ChartJob]:
    """The tear sheet's charts, of the best strategies and the benchmarks, costliest first."""
    chosen = net[tearsheet_selection(palette, list(net.columns), baseline)]
    reference = EQUAL_WEIGHT if EQUAL_WEIGHT in net else None
    return [
        ChartJob(
            tearsheet_charts.plot_return_distribution,
            (chosen, out / "tearsheet_distribution.png"),
            {"colors": palette},
        ),
        ChartJob(
            tearsheet_charts.plot_rolling,
            (chosen, out / "tearsheet_rolling.png"),
            {"colors": palette, "risk_free": risk_free},
        ),
        ChartJob(
            tearsheet_charts.plot_yearly_returns,
            (chosen, out / "tearsheet_yearly.png"),
            {"colors": palette, "reference": reference},
        ),
    ]
