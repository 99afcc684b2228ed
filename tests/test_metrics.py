from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.evaluation.forecasts import (
    DieboldMarianoResult,
    TestResult,
    clark_west,
    diebold_mariano,
    directional_accuracy,
    forecast_metrics,
    mae,
    oos_r2,
    oos_r2_vs_zero,
    pooled_clark_west,
    r2,
    rmse,
)

# REFERENCES.md, Clark-West worked example
R = np.array([0.02, -0.01, 0.03, 0.0, 0.01, -0.02])
RBAR = np.array([0.005, 0.006, 0.004, 0.006, 0.006, 0.006])
RHAT = np.array([0.01, 0.0, 0.015, 0.002, 0.004, -0.005])
TOL = {"R2_OS": 5e-4, "CW_MEAN": 5e-7, "CW_T": 5e-3}


def _naive_dm(e1, e2, h):
    """Textbook DM with HLN, written with explicit loops."""
    d = [a * a - b * b for a, b in zip(e1, e2, strict=True)]
    n = len(d)
    dbar = sum(d) / n
    lrv = 0.0
    for k in range(h):
        g = sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n
        lrv += g if k == 0 else 2 * g
    dm = dbar / (lrv / n) ** 0.5
    return dm * ((n + 1 - 2 * h + h * (h - 1) / n) / n) ** 0.5


def _panel(rng, n_periods=60, tickers=("AAA", "BBB", "CCC")):
    index = pd.date_range("2015-01-31", periods=n_periods, freq="ME", name="date")
    realised = pd.DataFrame(rng.normal(0.01, 0.08, (n_periods, len(tickers))), index, tickers)
    forecast = realised * 0.3 + rng.normal(0, 0.05, realised.shape)
    benchmark = pd.DataFrame(0.008, index, tickers) + rng.normal(0, 0.002, realised.shape)
    return realised, forecast, benchmark


def test_point_metrics_hand_computed():
    r, f = np.array([1.0, -2.0, 3.0, 0.0]), np.array([2.0, -1.0, 1.0, 0.0])
    assert rmse(r, f) == pytest.approx(np.sqrt(6 / 4))
    assert mae(r, f) == pytest.approx(4 / 4)
    assert r2(r, f) == pytest.approx(1 - 6 / 13)  # mean 0.5, SST = 13
    assert directional_accuracy(r, f) == pytest.approx(1.0)
    assert directional_accuracy(r, -f) == pytest.approx(0.25)  # only the 0 == 0 pair


def test_r2_matches_sklearn(rng):
    from sklearn.metrics import r2_score

    r, f = rng.normal(size=50), rng.normal(size=50)
    assert r2(r, f) == pytest.approx(r2_score(r, f))


def test_zero_forecast_has_no_direction():
    assert directional_accuracy([0.1, -0.2, 0.3], [0.0, 0.0, 0.0]) == 0.0


def test_references_worked_example():
    assert oos_r2(R, RHAT, RBAR) == pytest.approx(0.634, abs=TOL["R2_OS"])
    cw = clark_west(R, RHAT, RBAR)
    assert isinstance(cw, TestResult)
    assert cw.mean == pytest.approx(2.53e-4, abs=TOL["CW_MEAN"])
    assert cw.statistic == pytest.approx(2.40, abs=TOL["CW_T"])
    assert cw.p_value == pytest.approx(stats.norm.sf(cw.statistic))
    assert cw.p_value < 0.05  # beyond the 1.645 critical value


def test_oos_r2_limits(rng):
    r, b = rng.normal(size=30), rng.normal(size=30)
    assert oos_r2(r, r, b) == 1.0
    assert oos_r2(r, b, b) == 0.0
    assert oos_r2_vs_zero(r, 0.5 * r) == pytest.approx(0.75)
    assert oos_r2_vs_zero(r, b) == oos_r2(r, b, np.zeros(30))


def test_panel_metrics_pool_all_pairs(rng):
    r, f, b = rng.normal(size=(3, 10, 4))
    assert rmse(r, f) == pytest.approx(rmse(r.ravel(), f.ravel()))
    assert oos_r2(r, f, b) == pytest.approx(oos_r2(r.ravel(), f.ravel(), b.ravel()))


def test_pooled_clark_west_averages_across_assets(rng):
    r, f, b = rng.normal(size=(3, 40, 5))
    diff = (r - b) ** 2 - ((r - f) ** 2 - (b - f) ** 2)
    fbar = diff.mean(axis=1)
    expected_t = fbar.mean() / (fbar.std(ddof=1) / np.sqrt(40))
    assert pooled_clark_west(r, f, b).statistic == pytest.approx(expected_t)
    one = pooled_clark_west(r[:, :1], f[:, :1], b[:, :1])
    assert one == clark_west(r[:, 0], f[:, 0], b[:, 0])


def test_clark_west_rejects_panel_and_mismatch():
    with pytest.raises(ValueError, match="use pooled_clark_west"):
        clark_west(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"`forecast` has shape \(2,\)"):
        clark_west([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`benchmark` contains NaN"):
        clark_west([1.0, 2.0], [1.0, 2.0], [1.0, np.nan])


def test_diebold_mariano_hand_computed():
    e1, e2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 1.0])
    # d = (1, 3, 8), dbar = 4, gamma_0 = (9 + 1 + 16) / 3 = 26/3
    dm = 4 / np.sqrt(26 / 3 / 3) * np.sqrt((3 + 1 - 2) / 3)
    res = diebold_mariano(e1, e2)
    assert isinstance(res, DieboldMarianoResult)
    assert res.mean == pytest.approx(4.0)
    assert res.statistic == pytest.approx(dm)
    assert res.p_value == pytest.approx(2 * stats.t.sf(dm, df=2))
    assert res.p_value_greater == pytest.approx(stats.t.sf(dm, df=2))


@pytest.mark.parametrize("horizon", [1, 2, 4])
def test_diebold_mariano_matches_naive(rng, horizon):
    e1, e2 = rng.normal(0, 1.3, 80), rng.normal(0, 1.0, 80)
    res = diebold_mariano(e1, e2, horizon=horizon)
    assert res.statistic == pytest.approx(_naive_dm(e1, e2, horizon))
    swapped = diebold_mariano(e2, e1, horizon=horizon)
    assert swapped.statistic == pytest.approx(-res.statistic)
    assert swapped.p_value == pytest.approx(res.p_value)
    assert res.p_value_greater + swapped.p_value_greater == pytest.approx(1.0)


def test_diebold_mariano_sign_means_model2_better(rng):
    e1, e2 = rng.normal(0, 2.0, 200), rng.normal(0, 1.0, 200)
    res = diebold_mariano(e1, e2)
    assert res.statistic > 0
    assert res.p_value_greater < 0.01


def test_diebold_mariano_bad_horizon():
    with pytest.raises(ValueError, match=r"`horizon` must be an integer in \[1, 3\], got 0"):
        diebold_mariano([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], horizon=0)


def test_forecast_metrics_layout_and_values(rng):
    realised, forecast, benchmark = _panel(rng)
    table = forecast_metrics(realised, forecast, benchmark)
    assert list(table.index) == ["AAA", "BBB", "CCC", "pooled"]
    assert list(table.columns) == [
        "n_months", "rmse", "mae", "r2", "directional_accuracy", "r2_os_vs_mean",
        "r2_os_vs_zero", "cw_t", "cw_p", "bench_rmse", "bench_mae",
        "bench_directional_accuracy",
    ]  # fmt: skip
    row = table.loc["BBB"]
    r, f, b = realised["BBB"], forecast["BBB"], benchmark["BBB"]
    assert row["n_months"] == 60
    assert row["rmse"] == pytest.approx(rmse(r, f))
    assert row["r2_os_vs_mean"] == pytest.approx(oos_r2(r, f, b))
    assert row["cw_t"] == pytest.approx(clark_west(r, f, b).statistic)
    assert row["bench_mae"] == pytest.approx(mae(r, b))
    pooled = table.loc["pooled"]
    assert pooled["rmse"] == pytest.approx(rmse(realised, forecast))
    pooled_cw = pooled_clark_west(realised, forecast, benchmark)
    assert pooled["cw_t"] == pytest.approx(pooled_cw.statistic)


def test_forecast_metrics_limit_cases(rng):
    realised, _, benchmark = _panel(rng)
    perfect = forecast_metrics(realised, realised, benchmark)
    np.testing.assert_allclose(perfect["r2_os_vs_mean"], 1.0)
    same = forecast_metrics(realised, benchmark, benchmark)
    np.testing.assert_allclose(same["r2_os_vs_mean"], 0.0, atol=1e-12)


def test_forecast_metrics_permuting_tickers_permutes_rows(rng):
    frames = _panel(rng)
    order = ["CCC", "AAA", "BBB"]
    base = forecast_metrics(*frames)
    permuted = forecast_metrics(*(x[order] for x in frames))
    pd.testing.assert_frame_equal(permuted.loc[order], base.loc[order])
    assert list(permuted.index[:3]) == order
    pd.testing.assert_series_equal(permuted.loc["pooled"], base.loc["pooled"])


def test_forecast_metrics_skips_missing_pairs(rng):
    realised, forecast, benchmark = _panel(rng)
    forecast.iloc[:12, 0] = np.nan
    table = forecast_metrics(realised, forecast, benchmark)
    assert table.loc["AAA", "n_months"] == 48
    r, f = realised["AAA"].iloc[12:], forecast["AAA"].iloc[12:]
    assert table.loc["AAA", "rmse"] == pytest.approx(rmse(r, f))
    assert table.loc["pooled", "n_months"] == 60


def test_forecast_metrics_mismatched_frames(rng):
    realised, forecast, benchmark = _panel(rng)
    with pytest.raises(ValueError, match=r"columns of `forecast` differs.*extra \['ZZZ'\]"):
        forecast_metrics(realised, forecast.rename(columns={"CCC": "ZZZ"}), benchmark)
    with pytest.raises(ValueError, match="index of `benchmark` differs"):
        forecast_metrics(realised, forecast, benchmark.iloc[1:])
    with pytest.raises(ValueError, match="columns of `forecast` differs.*different order"):
        forecast_metrics(realised, forecast[["BBB", "AAA", "CCC"]], benchmark)
    with pytest.raises(ValueError, match="`forecast` must be a pandas DataFrame"):
        forecast_metrics(realised, forecast.to_numpy(), benchmark)
