from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from backtest.reports.charts.forecast import (
    plot_cumulative_sse_difference,
    plot_expected_returns,
    plot_expected_returns_over_time,
    plot_forecast_vs_realised,
)
from backtest.reports.charts.portfolio import (
    plot_equity_curves,
    plot_intensity,
    plot_weights,
    plot_weights_grid,
)
from backtest.reports.charts.style import DPI, STRATEGY_PALETTE, line_style, strategy_colors

TICKERS = ["HWM", "NVDA", "MSI", "AMZN", "MA", "TSLA", "ALB"]
STRATEGIES = [f"{m}_{s}" for m in ("lstm", "ta", "rel") for s in ("js", "bs", "bl")] + ["combo"]
BENCHMARKS = ["equal_weight", "min_variance", "hist_mean_mv"]
N_MONTHS = 60


def _months(n: int = N_MONTHS) -> pd.DatetimeIndex:
    return pd.date_range("2020-10-31", periods=n, freq="ME", name="date")


def _weights(rng: np.random.Generator) -> pd.DataFrame:
    raw = np.exp(0.3 * rng.normal(size=(N_MONTHS, len(TICKERS))).cumsum(axis=0))
    return pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=_months(), columns=TICKERS)


@pytest.fixture
def forecasts(rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    shape = (N_MONTHS, len(TICKERS))
    realised = pd.DataFrame(rng.normal(0.01, 0.1, shape), index=_months(), columns=TICKERS)
    forecast = pd.DataFrame(rng.normal(0.008, 0.006, shape), index=_months(), columns=TICKERS)
    bench = pd.DataFrame(0.02 + rng.normal(0, 0.001, shape), index=_months(), columns=TICKERS)
    return realised, forecast, bench


def _assert_png(path: Path, width_in: float, height_in: float) -> None:
    assert path.is_file() and path.stat().st_size > 10_000
    image = mpimg.imread(path)
    assert image.shape[0] == pytest.approx(height_in * DPI, abs=1)
    assert image.shape[1] == pytest.approx(width_in * DPI, abs=1)
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_cumulative_sse_difference(forecasts, tmp_path):
    out = plot_cumulative_sse_difference(*forecasts, tmp_path / "sub" / "sse.png")
    assert out == tmp_path / "sub" / "sse.png"
    _assert_png(out, 4 * 3.4, 2 * 2.5 + 0.6)  # 7 tickers + pooled on a 4 x 2 grid


def test_forecast_vs_realised(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    longer = pd.concat([realised, realised.iloc[:5].set_index(_months(65)[60:])])
    out = plot_forecast_vs_realised(longer, forecast, bench, tmp_path / "fvr.png")
    _assert_png(out, 2 * 6.2, 4 * 2.3 + 0.8)


def test_forecast_charts_reject_missing_ticker(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    with pytest.raises(ValueError, match=r"must contain every ticker of `forecast`.*'TSLA'"):
        plot_cumulative_sse_difference(realised.drop(columns="TSLA"), forecast, bench, tmp_path)


def test_forecast_charts_reject_disjoint_dates(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    shifted = realised.set_index(realised.index + pd.DateOffset(years=10))
    with pytest.raises(ValueError, match=r"share no dates"):
        plot_forecast_vs_realised(shifted, forecast, bench, tmp_path / "x.png")


def test_equity_curves(rng, tmp_path):
    names = STRATEGIES + BENCHMARKS
    returns = pd.DataFrame(
        rng.normal(0.008, 0.05, (N_MONTHS, len(names))), index=_months(), columns=names
    )
    returns.iloc[:6, 0] = np.nan  # a strategy that starts later
    out = plot_equity_curves(returns, tmp_path / "equity.png", BENCHMARKS)
    _assert_png(out, 12.0, 7.0)


def test_weights_and_grid(rng, tmp_path):
    weights = _weights(rng)
    _assert_png(plot_weights(weights, tmp_path / "w.png", "lstm_js"), 10.0, 4.5)
    long_short = weights.copy()
    long_short["HWM"] -= 0.2
    long_short["NVDA"] += 0.2
    _assert_png(plot_weights(long_short, tmp_path / "ls.png", "long-short"), 10.0, 4.5)
    grid = {name: _weights(rng) for name in STRATEGIES}
    _assert_png(plot_weights_grid(grid, tmp_path / "grid.png"), 3 * 4.2, 4 * 2.4 + 0.9)


def test_weights_grid_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match=r"`weights_by_strategy` is empty"):
        plot_weights_grid({}, tmp_path / "grid.png")


def test_intensity(rng, tmp_path):
    steps = rng.normal(0, 0.04, (N_MONTHS, len(STRATEGIES))).cumsum(axis=0)
    values = np.clip(rng.uniform(0.1, 0.9, len(STRATEGIES)) + steps, 0, 1)
    intensity = pd.DataFrame(values, index=_months(), columns=STRATEGIES)
    _assert_png(plot_intensity(intensity, tmp_path / "i.png"), 5 * 3.0, 2 * 2.1 + 0.5)


def test_expected_returns(rng, tmp_path):
    hist = pd.Series(rng.uniform(0.01, 0.045, len(TICKERS)), index=TICKERS)
    shrunk = pd.DataFrame(
        {s: hist * rng.uniform(0.2, 0.8) for s in STRATEGIES}, index=TICKERS[::-1]
    )
    out = plot_expected_returns(hist, shrunk, tmp_path / "mu.png", "2025-09-30")
    _assert_png(out, 0.13 * (1 + len(STRATEGIES)) * len(TICKERS) + 3.0, 5.0)


def test_expected_returns_over_time(rng, tmp_path):
    frames = []
    for ticker in TICKERS:
        for name in [*STRATEGIES[:5], "historical_mean"]:
            mu = rng.normal(0.015, 0.003, N_MONTHS)
            frames.append(
                pd.DataFrame({"date": _months(), "ticker": ticker, "strategy": name, "mu": mu})
            )
    expected = pd.concat(frames, ignore_index=True)
    out = plot_expected_returns_over_time(expected, tmp_path / "mu_t.png")
    _assert_png(out, 4 * 3.4, 2 * 2.5 + 1.0)
    with pytest.raises(ValueError, match=r"missing \['mu'\]"):
        plot_expected_returns_over_time(expected.drop(columns="mu"), tmp_path / "bad.png")


def test_strategy_colors_are_stable_and_not_grey():
    forward = strategy_colors(STRATEGIES)
    backward = strategy_colors(STRATEGIES[::-1])
    assert forward == backward
    assert len(set(forward.values())) == len(STRATEGIES)
    assert set(forward.values()) <= set(STRATEGY_PALETTE)
    for colour in STRATEGY_PALETTE:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) - min(r, g, b) > 40, f"{colour} is too close to grey"


def test_line_style_marks_benchmarks():
    palette = strategy_colors(STRATEGIES)
    bench = line_style("min_variance", palette, BENCHMARKS)
    strat = line_style("lstm_js", palette, BENCHMARKS)
    assert bench["linestyle"] != "-" and bench["zorder"] < strat["zorder"]
    assert strat["color"] == palette["lstm_js"] and strat["linestyle"] == "-"
    assert line_style("equal_weight", palette, BENCHMARKS) != bench
