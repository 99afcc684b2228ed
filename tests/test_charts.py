from __future__ import annotations

import gc
import os
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from backtest.reports.charts.forecast import (
    model_colors,
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
    wealth_ticks,
)
from backtest.reports.charts.render import ChartJob, ChartPool, free_cores, render_charts
from backtest.reports.charts.run_charts import (
    benchmark_order,
    forecast_chart_jobs,
    portfolio_chart_jobs,
    tearsheet_selection,
)
from backtest.reports.charts.style import (
    DPI,
    HIGHLIGHT_PALETTE,
    STRATEGY_PALETTE,
    Palette,
    line_style,
    strategy_colors,
)
from backtest.reports.charts.tearsheet import (
    plot_return_distribution,
    plot_rolling,
    plot_yearly_returns,
)

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


def _assert_png(path: Path, min_width_in: float = 5.0, min_height_in: float = 2.5) -> None:
    assert path.is_file() and path.stat().st_size > 10_000
    image = mpimg.imread(path)
    assert min_height_in * DPI <= image.shape[0] <= 20 * DPI
    assert min_width_in * DPI <= image.shape[1] <= 20 * DPI
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_cumulative_sse_difference(forecasts, tmp_path):
    out = plot_cumulative_sse_difference(*forecasts, tmp_path / "sub" / "sse.png")
    assert out == tmp_path / "sub" / "sse.png"
    _assert_png(out, 10.0, 4.0)  # 7 tickers + pooled on a 4 x 2 grid


def test_several_models_draw_one_line_each(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    models = {"lstm": forecast, "ridge": forecast * 0.5, "gbm@2": forecast + 0.001}
    _assert_png(plot_cumulative_sse_difference(realised, models, bench, tmp_path / "m.png"))
    _assert_png(plot_forecast_vs_realised(realised, models, bench, tmp_path / "f.png"))
    colours = model_colors(list(models))
    assert len(set(colours.values())) == 3


def test_forecast_vs_realised(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    longer = pd.concat([realised, realised.iloc[:5].set_index(_months(65)[60:])])
    out = plot_forecast_vs_realised(longer, forecast, bench, tmp_path / "fvr.png")
    _assert_png(out, 10.0, 8.0)


def test_forecast_charts_reject_missing_ticker(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    with pytest.raises(ValueError, match=r"must contain every ticker of `forecast`.*'TSLA'"):
        plot_cumulative_sse_difference(realised.drop(columns="TSLA"), forecast, bench, tmp_path)


def test_forecast_charts_reject_disjoint_dates(forecasts, tmp_path):
    realised, forecast, bench = forecasts
    shifted = realised.set_index(realised.index + pd.DateOffset(years=10))
    with pytest.raises(ValueError, match=r"share no dates"):
        plot_forecast_vs_realised(shifted, forecast, bench, tmp_path / "x.png")


def _returns(rng, names) -> pd.DataFrame:
    return pd.DataFrame(
        rng.normal(0.008, 0.05, (N_MONTHS, len(names))), index=_months(), columns=names
    )


def test_equity_curves(rng, tmp_path):
    returns = _returns(rng, STRATEGIES + BENCHMARKS)
    returns.iloc[:6, 0] = np.nan  # a strategy that starts later
    palette = Palette.from_ranking(STRATEGIES, BENCHMARKS)
    out = plot_equity_curves(returns, tmp_path / "equity.png", BENCHMARKS, colors=palette)
    _assert_png(out, 12.0, 7.0)
    _assert_png(plot_equity_curves(returns, tmp_path / "plain.png", BENCHMARKS), 12.0, 7.0)


@pytest.mark.parametrize(("low", "high"), [(0.93, 4.1), (0.5, 1.3), (0.98, 1.06), (0.7, 40.0)])
def test_wealth_ticks_are_round_and_few(low, high):
    ticks = wealth_ticks(low, high)
    assert 2 <= len(ticks) <= 10
    assert all(low <= t <= high for t in ticks)
    if low <= 1 <= high:
        assert 1.0 in ticks
    for t in ticks:  # at most three significant digits: $1.5, $2, $1.02, never $1.3718
        assert float(f"{t:.3g}") == pytest.approx(t)


def test_weights_and_grid(rng, tmp_path):
    weights = _weights(rng)
    _assert_png(plot_weights(weights, tmp_path / "w.png", "lstm_js", cap=0.4), 8.0, 3.5)
    long_short = weights.copy()
    long_short["HWM"] -= 0.2
    long_short["NVDA"] += 0.2
    _assert_png(plot_weights(long_short, tmp_path / "ls.png", "long-short"), 8.0, 3.5)
    grid = {name: _weights(rng)[TICKERS[::-1]] for name in STRATEGIES}
    out = plot_weights_grid(grid, tmp_path / "grid.png", tickers=TICKERS, cap=0.4)
    _assert_png(out, 10.0, 8.0)


def test_weights_grid_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match=r"`weights_by_strategy` is empty"):
        plot_weights_grid({}, tmp_path / "grid.png")


def test_intensity_leaves_out_constant_strategies(rng, tmp_path):
    steps = rng.normal(0, 0.04, (N_MONTHS, len(STRATEGIES))).cumsum(axis=0)
    values = np.clip(rng.uniform(0.1, 0.9, len(STRATEGIES)) + steps, 0, 1)
    intensity = pd.DataFrame(values, index=_months(), columns=STRATEGIES)
    full = plot_intensity(intensity, tmp_path / "i.png")
    _assert_png(full, 8.0, 4.0)
    constant = intensity.assign(blend_50=0.5, forecast=1.0)
    fewer = plot_intensity(constant.iloc[:, -6:], tmp_path / "c.png")  # 4 vary, 2 constant
    height = mpimg.imread(fewer).shape[0]
    assert height < mpimg.imread(full).shape[0]  # one row of panels instead of three


def test_expected_returns(rng, tmp_path):
    hist = pd.Series(rng.uniform(0.01, 0.045, len(TICKERS)), index=TICKERS)
    shrunk = pd.DataFrame(
        {s: hist * rng.uniform(0.2, 0.8) for s in STRATEGIES}, index=TICKERS[::-1]
    )
    palette = Palette.from_ranking(STRATEGIES[::-1], BENCHMARKS)
    out = plot_expected_returns(hist, shrunk, tmp_path / "mu.png", "2025-09-30", colors=palette)
    _assert_png(out, 6.0, 4.0)


def test_expected_returns_over_time(rng, tmp_path):
    frames = []
    for ticker in TICKERS:
        for name in [*STRATEGIES[:5], "historical_mean"]:
            mu = rng.normal(0.015, 0.003, N_MONTHS)
            frames.append(
                pd.DataFrame({"date": _months(), "ticker": ticker, "strategy": name, "mu": mu})
            )
    expected = pd.concat(frames, ignore_index=True)
    out = plot_expected_returns_over_time(expected, tmp_path / "mu_t.png", tickers=TICKERS[::-1])
    _assert_png(out, 10.0, 4.0)
    with pytest.raises(ValueError, match=r"missing \['mu'\]"):
        plot_expected_returns_over_time(expected.drop(columns="mu"), tmp_path / "bad.png")


def test_tear_sheet_charts(rng, tmp_path):
    returns = _returns(rng, ["a", "b", "c", "equal_weight", "SPY"])
    palette = Palette.from_ranking(["c", "a", "b"], ["equal_weight", "SPY"])
    _assert_png(plot_yearly_returns(returns, tmp_path / "y.png", colors=palette), 6.0, 3.2)
    _assert_png(plot_rolling(returns, tmp_path / "r.png", colors=palette), 9.0, 4.6)
    _assert_png(plot_return_distribution(returns, tmp_path / "d.png", colors=palette), 9.0, 3.8)


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


#: Machado, Oliveira and Fernandes (2009), severity 1.0, on linear RGB.
_CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


@pytest.mark.parametrize("deficiency", list(_CVD))
def test_strong_colours_stay_apart_under_colour_blindness(deficiency):
    palette = Palette.from_ranking(["x", "y", "z"], ["equal_weight", "SPY"])
    strong = [palette.color(n) for n in ("x", "y", "z", "equal_weight")]
    rgb = np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in strong])
    seen = 255 * _linear_to_srgb(_srgb_to_linear(rgb) @ np.array(_CVD[deficiency]).T)
    gaps = [np.linalg.norm(seen[i] - seen[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) > 60, f"two strong lines look alike under {deficiency}: {min(gaps):.0f}"


def test_palette_highlights_the_best_three_and_keeps_colours_for_many_strategies():
    ranking = [f"{s}@{m}" for m in ("lstm", "ridge", "gbm") for s in ("skill", "js", "bl")]
    ranking += [f"extra_{i}" for i in range(20)]
    palette = Palette.from_ranking([*ranking, "equal_weight"], ["equal_weight", "SPY"])
    assert palette.highlighted == tuple(ranking[:3])
    assert [palette.color(n) for n in ranking[:3]] == list(HIGHLIGHT_PALETTE)
    assert all(palette.strong(n) for n in [*ranking[:3], "equal_weight", "SPY"])
    assert not any(palette.strong(n) for n in ranking[3:])
    assert set(palette.colors) == {*ranking, "equal_weight", "SPY"}
    others = [palette.color(n) for n in ranking[3 : 3 + len(STRATEGY_PALETTE)]]
    assert len(set(others)) == len(STRATEGY_PALETTE)  # distinct until the palette cycles
    assert not set(others) & set(HIGHLIGHT_PALETTE)
    assert palette.sort(["extra_0", "SPY", "js@lstm", "new"]) == [
        "js@lstm",
        "SPY",
        "extra_0",
        "new",
    ]
    faded = palette.line("extra_0")
    strong = palette.line("skill@lstm")
    bench = palette.line("SPY")
    assert faded["alpha"] < 1 and faded["linewidth"] < strong["linewidth"]
    assert bench["linestyle"] != "-" and "alpha" not in bench


def test_strategy_colors_are_stable_and_not_grey():
    forward = strategy_colors(STRATEGIES)
    backward = strategy_colors(STRATEGIES[::-1])
    assert forward == backward
    assert len(set(forward.values())) == len(STRATEGIES)
    assert set(forward.values()) <= set(STRATEGY_PALETTE)
    for colour in (*STRATEGY_PALETTE, *HIGHLIGHT_PALETTE):
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) - min(r, g, b) > 40, f"{colour} is too close to grey"


def test_line_style_marks_benchmarks():
    palette = strategy_colors(STRATEGIES)
    bench = line_style("min_variance", palette, BENCHMARKS)
    strat = line_style("lstm_js", palette, BENCHMARKS)
    assert bench["linestyle"] != "-" and bench["zorder"] < strat["zorder"]
    assert strat["color"] == palette["lstm_js"] and strat["linestyle"] == "-"
    assert line_style("equal_weight", palette, BENCHMARKS) != bench


def test_parallel_render_writes_the_same_pngs_as_one_process(rng, tmp_path):
    returns = _returns(rng, ["a", "b", "equal_weight"])
    jobs = [
        ChartJob(plot_yearly_returns, (returns, tmp_path / f"{kind}_y.png"))
        for kind in ("serial", "parallel")
    ]
    jobs += [
        ChartJob(plot_rolling, (returns, tmp_path / f"{kind}_r.png"))
        for kind in ("serial", "parallel")
    ]
    serial = render_charts(jobs[::2], n_jobs=1)
    parallel = render_charts(jobs[1::2], n_jobs=2)
    assert [p.name for p in parallel] == ["parallel_y.png", "parallel_r.png"]
    for a, b in zip(serial, parallel, strict=True):
        assert a.read_bytes() == b.read_bytes()


def _fail_to_draw(path):
    raise ValueError(f"cannot draw {path}")


@pytest.mark.parametrize("n_workers", [0, 1])
def test_background_pool_draws_every_chart_as_one_process_does(rng, tmp_path, n_workers):
    returns = _returns(rng, ["a", "b", "equal_weight"])
    jobs = [
        ChartJob(draw, (returns, tmp_path / f"{kind}_{name}.png"))
        for name, draw in (("y", plot_yearly_returns), ("r", plot_rolling))
        for kind in ("serial", "pool")
    ]
    serial = render_charts(jobs[::2], n_jobs=1)
    with ChartPool(n_workers) as charts:
        charts.submit(jobs[1:2])
        charts.submit(jobs[3:4])  # a second batch, as a run submits one per stage
        pooled = charts.wait()
    assert [p.name for p in pooled] == ["pool_y.png", "pool_r.png"]
    for a, b in zip(serial, pooled, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_background_pool_raises_a_charts_error_at_exit(tmp_path):
    with pytest.raises(ValueError, match="cannot draw"), ChartPool(1) as charts:
        charts.submit([ChartJob(_fail_to_draw, (tmp_path / "x.png",))])


def _collector_state(path):
    return gc.isenabled()


def test_a_chart_draws_with_the_collector_paused_and_restores_it(tmp_path):
    assert gc.isenabled()
    assert ChartJob(_collector_state, (tmp_path / "x.png",))() is False
    assert gc.isenabled()
    with pytest.raises(ValueError, match="cannot draw"):
        ChartJob(_fail_to_draw, (tmp_path / "x.png",))()
    assert gc.isenabled()
    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        ChartJob(_collector_state, (tmp_path / "x.png",))()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_runs_chart_jobs_draw_every_chart(rng, forecasts, tmp_path):
    names = ["skill@lstm", "js@lstm", "bl@ridge", "hist_mean", "forecast@ridge"]
    benchmarks = ["min_variance", "equal_weight", "SPY"]
    net = _returns(rng, [*names, *benchmarks])
    weights = {s: _weights(rng) for s in [*names, "min_variance", "equal_weight"]}
    weights["SPY"] = pd.DataFrame(1.0, index=_months(), columns=["SPY"])
    origins = _months() - pd.offsets.MonthEnd(1)
    expected = pd.DataFrame(
        [
            (o, d, t, s, rng.normal(0.01, 0.01), 0.5 if s == "forecast@ridge" else rng.uniform())
            for o, d in zip(origins, _months(), strict=True)
            for t in TICKERS
            for s in names
        ],
        columns=["origin", "date", "ticker", "strategy", "mu", "intensity"],
    )
    order = benchmark_order(benchmarks, "hist_mean")
    assert order == ["equal_weight", "SPY", "min_variance", "hist_mean"]
    palette = Palette.from_ranking(names[::-1], order)
    realised, forecast, bench = forecasts
    jobs = [
        *forecast_chart_jobs(realised, {"lstm": forecast, "ridge": forecast / 2}, bench, tmp_path),
        *portfolio_chart_jobs(
            net, weights, expected, palette, tmp_path, baseline="hist_mean", tickers=TICKERS,
            max_weight=0.4,
        ),
    ]  # fmt: skip
    written = render_charts(jobs, n_jobs=1)
    assert sorted(p.name for p in written) == sorted(
        [
            "cumulative_sse_difference.png",
            "forecast_vs_realised.png",
            "equity_curves.png",
            "weights.png",
            "shrinkage_intensity.png",
            "expected_returns.png",
            "expected_returns_over_time.png",
            "tearsheet_yearly.png",
            "tearsheet_rolling.png",
            "tearsheet_distribution.png",
        ]
    )
    for path in written:
        _assert_png(path, 5.0, 2.5)
    chosen = tearsheet_selection(palette, list(net.columns), "hist_mean")
    assert chosen == [
        "forecast@ridge",
        "bl@ridge",
        "js@lstm",
        "equal_weight",
        "SPY",
        "min_variance",
    ]


def test_free_cores_follows_the_idle_cpus_of_the_moment(monkeypatch):
    monkeypatch.setattr("backtest.engine.local.available_cores", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (9.0, 9.0, 9.0))  # a lagging busy average
    for idle, free in [(2.0, 2), (1.6, 2), (1.2, 1), (0.1, 1), (7.5, 2)]:
        monkeypatch.setattr("backtest.engine.local._idle_cpus", lambda idle=idle: idle)
        assert free_cores() == free


def test_idle_cpus_are_read_from_proc_stat_when_there_is_one():
    from backtest.engine.local import _idle_cpus

    idle = _idle_cpus(0.05)
    if not os.path.exists("/proc/stat"):
        assert idle is None
    else:
        assert 0.0 <= idle <= os.cpu_count()


def test_free_cores_follows_the_load_without_proc_stat(monkeypatch):
    monkeypatch.setattr("backtest.engine.local.available_cores", lambda: 2)
    monkeypatch.setattr("backtest.engine.local._idle_cpus", lambda: None)
    monkeypatch.setattr("os.getloadavg", lambda: (1.0, 1.0, 1.0))  # only this run
    assert free_cores() == 2
    monkeypatch.setattr("os.getloadavg", lambda: (9.0, 9.0, 9.0))  # a shared, busy machine
    assert free_cores() == 1
