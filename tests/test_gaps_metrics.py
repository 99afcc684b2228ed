"""Forecast metrics: what mutation testing found unchecked (issue 15).

Hand examples, sklearn's ``r2_score``, full error and warning messages, and the
boundaries (minimum sizes, horizons, the Diebold-Mariano variance fallback).
"""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import r2_score

from backtest.evaluation.forecasts import (
    clark_west,
    diebold_mariano,
    forecast_metrics,
    oos_r2,
    oos_r2_vs_zero,
    pooled_clark_west,
    r2,
    rmse,
)


def _raises(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


@contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_paired_arrays_messages_name_the_arrays():
    _raises(
        "`benchmark` has shape (2,) but `realised` has shape (3,); pass arrays of the same shape.",
        oos_r2, [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.1, 0.2],
    )  # fmt: skip
    _raises(
        "`forecast` contains NaN or inf; drop those observations first.",
        rmse, [0.1, 0.2], [0.1, np.inf],
    )  # fmt: skip
    _raises("need at least 2 observations, got 1.", clark_west, [0.1], [0.2], [0.0])
    _raises("need at least 3 observations, got 2.", diebold_mariano, [0.1, 0.2], [0.2, 0.1])


def test_object_dtype_inputs_are_read_as_floats():
    r = pd.Series([0.02, -0.01, 0.03], dtype=object)
    f = pd.Series([0.01, 0.00, 0.01], dtype=object)
    assert rmse(r, f) == pytest.approx(np.sqrt((1e-4 + 1e-4 + 4e-4) / 3))
    assert oos_r2_vs_zero(r, f) == pytest.approx(1 - 6e-4 / 14e-4)
    frame = pd.DataFrame({"A": r, "B": f})
    table = forecast_metrics(frame, frame * 0.5, frame * 0)
    assert table.loc["A", "rmse"] == pytest.approx(rmse([0.02, -0.01, 0.03], [0.01, -0.005, 0.015]))


def test_r2_matches_sklearn_on_return_sized_data_and_is_nan_when_constant():
    rng = np.random.default_rng(1)
    r, f = rng.normal(0, 0.05, 30), rng.normal(0, 0.05, 30)  # sum of squares far below 1
    assert r2(r, f) == pytest.approx(r2_score(r, f), rel=1e-12)
    with _no_warnings():
        assert np.isnan(r2([0.01, 0.01, 0.01], [0.0, 0.02, 0.01]))
        assert np.isnan(oos_r2([0.01, 0.02], [0.0, 0.0], [0.01, 0.02]))  # exact benchmark


def test_clark_west_with_two_observations_and_a_constant_differential():
    # Two observations are enough: differential d = (r - b)^2 - (r - f)^2 + (f - b)^2.
    r, f, b = np.array([0.02, -0.01]), np.array([0.01, 0.00]), np.zeros(2)
    d = (r - b) ** 2 - (r - f) ** 2 + (f - b) ** 2
    result = clark_west(r, f, b)
    assert result.statistic == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(2)))
    with _no_warnings():  # forecast == benchmark: d = 0, t = 0/0
        assert np.isnan(clark_west([0.01, 0.02, 0.03], [0.0] * 3, [0.0] * 3).statistic)
        # d constant and positive: t = d / 0
        assert clark_west([0.01, 0.01], [0.01, 0.01], [0.0, 0.0]).statistic == np.inf


def test_pooled_clark_west_shapes_and_minimum_periods():
    r = np.array([[0.01, 0.02], [0.03, -0.01], [0.0, 0.02]])
    message = "`realised`, `forecast` and `benchmark` must be 2-D of one shape, got "
    _raises(message + "(3, 2), (3, 2), (3, 1).", pooled_clark_west, r, r, r[:, :1])
    _raises(message + "(3, 2), (3, 1), (3, 2).", pooled_clark_west, r, r[:, :1], r)
    _raises(message + "(2,), (2,), (2,).", pooled_clark_west, r[0], r[0], r[0])
    f, b = r * 0.5, np.zeros_like(r)
    two = pooled_clark_west(r[:2], f[:2], b[:2])  # two periods are enough
    d = ((r - b) ** 2 - (r - f) ** 2 + (f - b) ** 2)[:2].mean(axis=1)
    assert two.statistic == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(2)))
    gap = r.copy()
    gap[1:] = np.nan
    _raises("need at least 2 periods with data, got 1.", pooled_clark_west, gap, f, b)


def _dm_by_hand(e1, e2, h, lrv_lags):
    d = np.asarray(e1) ** 2 - np.asarray(e2) ** 2
    n, dc = len(d), d - d.mean()
    gamma = [np.sum(dc[k:] * dc[: n - k]) / n for k in range(lrv_lags)]
    lrv = gamma[0] + 2 * sum(gamma[1:])
    hln = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return d.mean() / np.sqrt(lrv / n) * hln


def test_diebold_mariano_horizon_bounds_and_small_positive_variance():
    rng = np.random.default_rng(3)
    e1, e2 = rng.normal(0, 0.05, 12), rng.normal(0, 0.04, 12)
    with _no_warnings():  # a long-run variance far below 1 is still positive: no fallback
        result = diebold_mariano(e1, e2, horizon=2)
    assert result.statistic == pytest.approx(_dm_by_hand(e1, e2, 2, 2), rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.t(df=11).sf(abs(result.statistic)))
    diebold_mariano(e1, e2, horizon=11)  # h = n - 1 is allowed
    _raises("`horizon` must be an integer in [1, 11], got 12.", diebold_mariano, e1, e2, 12)
    with _no_warnings():  # h = 1 never falls back, even with a zero variance
        d_const = diebold_mariano([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])  # d = 3/16 exactly
    assert d_const.statistic == np.inf


def test_diebold_mariano_falls_back_to_the_h1_variance_when_it_is_zero():
    # d = e1^2 - e2^2 = [4, 7, 1]: centred [0, 3, -3], gamma0 = 6, gamma1 = -3, so the
    # h = 2 long-run variance 6 + 2 * (-3) is exactly 0; the h = 1 variance 6 is used.
    e1, e2 = [2.0, 4.0, 1.0], [0.0, 3.0, 0.0]
    with pytest.warns(RuntimeWarning) as record:
        result = diebold_mariano(e1, e2, horizon=2)
    assert len(record) == 1
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampoline adds a frame
        assert record[0].filename == __file__  # the warning points at the caller
    assert str(record[0].message) == (
        "long-run variance 0 is not positive at horizon=2; using the horizon=1 variance instead."
    )
    assert result.statistic == pytest.approx(_dm_by_hand(e1, e2, 2, 1), rel=1e-12)


def _frames():
    index = pd.date_range("2020-01-31", periods=4, freq="ME")
    nan = np.nan
    columns = {
        "A": [0.02, -0.01, 0.03, 0.01],
        "B": [0.01, nan, nan, 0.02],
        "C": [nan, 0.01, nan, nan],
        "D": [nan] * 4,
    }
    r = pd.DataFrame(columns, index=index)
    return r, r * 0.5, r * 0 + 0.005


def test_forecast_metrics_rows_by_number_of_valid_pairs():
    r, f, b = _frames()
    table = forecast_metrics(r, f, b)
    assert table.index.name == "ticker" and list(table.index) == ["A", "B", "C", "D", "pooled"]
    assert list(table["n_months"]) == [4, 2, 1, 0, 4]
    # B: two pairs are enough for Clark-West; C: one pair, point scores but no test.
    rb, fb, bb = np.array([0.01, 0.02]), np.array([0.005, 0.01]), np.array([0.005, 0.005])
    assert table.loc["B", "cw_t"] == pytest.approx(clark_west(rb, fb, bb).statistic)
    assert np.isfinite(table.loc["B", "cw_p"])
    assert table.loc["C", "rmse"] == pytest.approx(0.005)
    assert np.isnan(table.loc["C", "cw_t"]) and np.isnan(table.loc["C", "cw_p"])
    assert table.loc["D"].drop("n_months").isna().all()
    pooled = pooled_clark_west(r.to_numpy(), f.to_numpy(), b.to_numpy())
    assert table.loc["pooled", "cw_t"] == pytest.approx(pooled.statistic)


def test_forecast_metrics_pooled_test_needs_two_months():
    r, f, b = (x.iloc[:1] for x in _frames())
    table = forecast_metrics(r, f, b)
    assert table.loc["pooled", "n_months"] == 1 and np.isnan(table.loc["pooled", "cw_t"])
    r, f, b = (x.iloc[:2] for x in _frames())
    assert np.isfinite(forecast_metrics(r, f, b).loc["pooled", "cw_t"])


def test_forecast_metrics_alignment_messages():
    r, f, b = _frames()
    wide = b.assign(**{f"X{i}": 0.0 for i in range(6)})
    _raises(
        "columns of `benchmark` differs from `realised`: extra ['X0', 'X1', 'X2', 'X3', 'X4'], "
        "missing [] (or a different order); align the frames first, e.g. "
        "`benchmark.reindex_like(realised)`.",
        forecast_metrics, r, f, wide,
    )  # fmt: skip
    many = r.assign(**{f"Y{i}": 0.0 for i in range(6)})
    _raises(
        "columns of `forecast` differs from `realised`: extra [], missing ['Y0', 'Y1', 'Y2', "
        "'Y3', 'Y4'] (or a different order); align the frames first, e.g. "
        "`forecast.reindex_like(realised)`.",
        forecast_metrics, many, f, many,
    )  # fmt: skip
    _raises("`forecast` must be a pandas DataFrame, got ndarray.", forecast_metrics,
            r, f.to_numpy(), b)  # fmt: skip


def test_remaining_edges_object_panels_2d_errors_identical_errors_integer_counts():
    r = np.array([[0.01, 0.02], [0.03, -0.01], [0.0, 0.02]])
    as_float = pooled_clark_west(r, r * 0.5, np.zeros_like(r))
    as_object = pooled_clark_west(r.astype(object), (r * 0.5).astype(object), r * 0)
    assert as_object.statistic == pytest.approx(as_float.statistic)
    _raises("`e1` and `e2` must be 1-D, got shape (3, 2).", diebold_mariano, r, r * 0.5)
    with _no_warnings():  # identical errors: d = 0, a 0/0 statistic, quietly NaN
        assert np.isnan(diebold_mariano([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]).statistic)
    table = forecast_metrics(*_frames())
    assert table["n_months"].dtype.kind == "i"
