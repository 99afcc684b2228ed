"""Forecast evaluation: point errors, out-of-sample R2 and forecast-comparison tests.

Every function takes realised values first and forecasts after. Point measures accept arrays of
any shape: a ``(n_periods, n_assets)`` panel is pooled over all (date, asset) pairs.

Longer than ~300 lines because every forecast measure is a small pure function here, sharing one
pairing and validation helper.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "DieboldMarianoResult",
    "TestResult",
    "clark_west",
    "diebold_mariano",
    "directional_accuracy",
    "forecast_metrics",
    "mae",
    "oos_r2",
    "oos_r2_vs_zero",
    "pooled_clark_west",
    "r2",
    "rmse",
]


@dataclass(frozen=True)
class TestResult:
    """Outcome of a t-type test on the mean of a loss differential.

    Attributes
    ----------
    statistic : float
        The t statistic.
    p_value : float
        The test's p-value (one-sided for Clark-West, two-sided for Diebold-Mariano).
    mean : float
        Mean of the loss differential series.
    """

    __test__ = False  # keeps pytest from collecting the class as a test case

    statistic: float
    p_value: float
    mean: float


@dataclass(frozen=True)
class DieboldMarianoResult(TestResult):
    """Diebold-Mariano outcome; adds the one-sided p-value that model 2 is more accurate.

    Attributes
    ----------
    p_value_greater : float
        One-sided p-value for H1: E[e1^2 - e2^2] > 0, i.e. model 2 has the smaller squared error.
    """

    p_value_greater: float = np.nan


def _paired(min_size: int = 1, **arrays: ArrayLike) -> list[np.ndarray]:
    """Convert named arrays to float, checking equal shapes, finiteness and size."""
    out = [np.asarray(a, dtype=float) for a in arrays.values()]
    names = list(arrays)
    for name, a in zip(names, out, strict=True):
        if a.shape != out[0].shape:
            raise ValueError(
                f"`{name}` has shape {a.shape} but `{names[0]}` has shape {out[0].shape}; "
                "pass arrays of the same shape."
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"`{name}` contains NaN or inf; drop those observations first.")
    if out[0].size < min_size:
        raise ValueError(f"need at least {min_size} observations, got {out[0].size}.")
    return out


def rmse(realised: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error, ``sqrt(mean((r - rhat)^2))``, pooled over all elements."""
    r, f = _paired(realised=realised, forecast=forecast)
    return float(np.sqrt(np.mean((r - f) ** 2)))


def mae(realised: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error, ``mean(|r - rhat|)``, pooled over all elements."""
    r, f = _paired(realised=realised, forecast=forecast)
    return float(np.mean(np.abs(r - f)))


def r2(realised: ArrayLike, forecast: ArrayLike) -> float:
    """In-sample style coefficient of determination, as ``sklearn.metrics.r2_score``.

    Parameters
    ----------
    realised, forecast : array-like
        Same shape; a 2-D panel is pooled (one mean over all elements).

    Returns
    -------
    float
        ``1 - SSE / SST``; NaN when the realised values are constant (SST = 0).

    Notes
    -----
    ``R2 = 1 - sum (r - rhat)^2 / sum (r - mean(r))^2``. The centring uses the mean of the
    *realised* sample, which is not known at forecast time; use :func:`oos_r2` for an honest
    out-of-sample comparison.
    """
    r, f = _paired(realised=realised, forecast=forecast)
    sst = np.sum((r - r.mean()) ** 2)
    return float(1.0 - np.sum((r - f) ** 2) / sst) if sst > 0 else np.nan


def directional_accuracy(realised: ArrayLike, forecast: ArrayLike) -> float:
    """Share of observations where the forecast has the sign of the realised value.

    Notes
    -----
    ``mean(sign(rhat) == sign(r))`` with ``sign(0) = 0``: a zero forecast counts as a hit only
    when the realised value is exactly zero too, so an all-zero forecast scores (almost) 0, not
    0.5.
    """
    r, f = _paired(realised=realised, forecast=forecast)
    return float(np.mean(np.sign(r) == np.sign(f)))


def oos_r2(realised: ArrayLike, forecast: ArrayLike, benchmark: ArrayLike) -> float:
    """Out-of-sample R2 of a forecast against a benchmark forecast.

    Parameters
    ----------
    realised, forecast, benchmark : array-like
        Same shape; ``benchmark`` is usually the historical mean known at t-1. A 2-D panel is
        pooled over all (date, asset) pairs.

    Returns
    -------
    float
        Positive when the forecast has the smaller sum of squared errors; NaN when the
        benchmark is perfect.

    Notes
    -----
    ``R2_OS = 1 - sum (r_t - rhat_t)^2 / sum (r_t - rbar_t)^2``.

    References
    ----------
    Campbell, J. Y. and Thompson, S. B. (2008). Predicting excess stock returns out of sample:
    can anything beat the historical average? Review of Financial Studies 21(4), 1509-1531.
    """
    r, f, b = _paired(realised=realised, forecast=forecast, benchmark=benchmark)
    sse_bench = np.sum((r - b) ** 2)
    return float(1.0 - np.sum((r - f) ** 2) / sse_bench) if sse_bench > 0 else np.nan


def oos_r2_vs_zero(realised: ArrayLike, forecast: ArrayLike) -> float:
    """Out-of-sample R2 against a zero forecast, ``1 - sum (r - rhat)^2 / sum r^2``.

    References
    ----------
    Gu, S., Kelly, B. and Xiu, D. (2020). Empirical asset pricing via machine learning.
    Review of Financial Studies 33(5), 2223-2273, eq. (19).
    """
    return oos_r2(realised, forecast, np.zeros_like(np.asarray(realised, dtype=float)))


def _cw_differential(r: np.ndarray, f: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (r - b) ** 2 - ((r - f) ** 2 - (b - f) ** 2)


def _mean_t_test(d: np.ndarray) -> tuple[float, float]:
    """Mean of ``d`` and its t statistic ``mean / (sd / sqrt(T))`` with sd ddof=1."""
    mean = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float64(mean) / (sd / np.sqrt(d.size))
    return mean, float(t)


def clark_west(realised: ArrayLike, forecast: ArrayLike, benchmark: ArrayLike) -> TestResult:
    """Clark-West test of a forecast against the nested benchmark it extends.

    Parameters
    ----------
    realised, forecast, benchmark : array-like of shape (n_periods,)
        Realised values, the larger model's forecast and the nested benchmark's forecast
        (usually the historical mean).

    Returns
    -------
    TestResult
        ``statistic`` is the t statistic of the adjusted differential, ``p_value`` the
        one-sided p-value ``1 - Phi(t)`` (H1: the forecast beats the benchmark), ``mean`` the
        mean adjusted differential. A constant differential gives an infinite or NaN statistic.

    Notes
    -----
    ``f_t = (r_t - rbar_t)^2 - [(r_t - rhat_t)^2 - (rbar_t - rhat_t)^2]``, regressed on a
    constant: ``t = mean(f) / (sd(f) / sqrt(T))`` with the ``ddof=1`` standard deviation (this
    reproduces the worked example in REFERENCES.md, t = 2.40). Clark and West use standard normal
    critical values (1.282 at 10%, 1.645 at 5%), hence the normal p-value. The adjustment
    ``(rbar - rhat)^2`` removes the noise the larger model pays for estimating parameters that
    are zero under the null, which biases a plain MSE comparison toward the benchmark.

    References
    ----------
    Clark, T. E. and West, K. D. (2007). Approximately normal tests for equal predictive
    accuracy in nested models. Journal of Econometrics 138(1), 291-311.
    """
    r, f, b = _paired(2, realised=realised, forecast=forecast, benchmark=benchmark)
    if r.ndim != 1:
        raise ValueError(
            f"`realised` must be 1-D, got shape {r.shape}; use pooled_clark_west for a panel."
        )
    mean, t = _mean_t_test(_cw_differential(r, f, b))
    return TestResult(statistic=t, p_value=float(stats.norm.sf(t)), mean=mean)


def pooled_clark_west(realised: ArrayLike, forecast: ArrayLike, benchmark: ArrayLike) -> TestResult:
    """Clark-West test pooled over a panel of assets.

    Parameters
    ----------
    realised, forecast, benchmark : array-like of shape (n_periods, n_assets)
        NaN marks a missing (date, asset) pair; periods with no pair at all are dropped.

    Returns
    -------
    TestResult
        As :func:`clark_west`, on the cross-sectional average differential.

    Notes
    -----
    ``fbar_t = mean_i f_{t,i}`` over the assets available at t, then the time-series t-test of
    :func:`clark_west` on ``fbar_t``. Stacking all (date, asset) pairs as if independent would
    overstate the sample size: returns of one month are correlated across assets, so the
    information is in the ``n_periods`` monthly averages, not in ``n_periods * n_assets`` pairs.

    References
    ----------
    Clark, T. E. and West, K. D. (2007). Journal of Econometrics 138(1), 291-311.
    """
    r, f, b = (np.asarray(a, dtype=float) for a in (realised, forecast, benchmark))
    if r.ndim != 2 or f.shape != r.shape or b.shape != r.shape:
        raise ValueError(
            "`realised`, `forecast` and `benchmark` must be 2-D of one shape, got "
            f"{r.shape}, {f.shape}, {b.shape}."
        )
    diff = _cw_differential(r, f, b)
    keep = np.isfinite(diff).any(axis=1)
    if keep.sum() < 2:
        raise ValueError(f"need at least 2 periods with data, got {int(keep.sum())}.")
    mean, t = _mean_t_test(np.nanmean(diff[keep], axis=1))
    return TestResult(statistic=t, p_value=float(stats.norm.sf(t)), mean=mean)


def diebold_mariano(e1: ArrayLike, e2: ArrayLike, horizon: int = 1) -> DieboldMarianoResult:
    """Diebold-Mariano test of equal squared-error accuracy with the HLN correction.

    Parameters
    ----------
    e1, e2 : array-like of shape (n_periods,)
        Forecast errors of model 1 and model 2.
    horizon : int, default=1
        Forecast horizon h; the long-run variance uses autocovariances up to lag h-1.

    Returns
    -------
    DieboldMarianoResult
        ``statistic`` is the corrected DM statistic; it is positive when model 2 has the
        smaller squared errors. ``p_value`` is two-sided, ``p_value_greater`` one-sided for
        "model 2 is more accurate", both from Student's t with T-1 degrees of freedom.

    Notes
    -----
    ``d_t = e1_t^2 - e2_t^2``,
    ``gamma_k = (1/T) sum_{t>k} (d_t - dbar)(d_{t-k} - dbar)``,
    ``DM = dbar / sqrt((gamma_0 + 2 sum_{k=1}^{h-1} gamma_k) / T)``, multiplied by the
    Harvey-Leybourne-Newbold factor ``sqrt((T + 1 - 2h + h(h-1)/T) / T)``. If the long-run
    variance is not positive (possible for h > 1) the h = 1 variance is used with a warning, as
    in R's ``forecast::dm.test``.

    References
    ----------
    Diebold, F. X. and Mariano, R. S. (1995). Comparing predictive accuracy. Journal of
    Business & Economic Statistics 13(3), 253-263.
    Harvey, D., Leybourne, S. and Newbold, P. (1997). Testing the equality of prediction mean
    squared errors. International Journal of Forecasting 13(2), 281-291.
    """
    a, b = _paired(3, e1=e1, e2=e2)
    if a.ndim != 1:
        raise ValueError(f"`e1` and `e2` must be 1-D, got shape {a.shape}.")
    n = a.size
    if not isinstance(horizon, (int, np.integer)) or not 1 <= horizon < n:
        raise ValueError(f"`horizon` must be an integer in [1, {n - 1}], got {horizon!r}.")
    d = a**2 - b**2
    dbar = float(d.mean())
    dc = d - dbar
    gammas = np.array([np.sum(dc[k:] * dc[: n - k]) / n for k in range(horizon)])
    lrv = gammas[0] + 2.0 * gammas[1:].sum()
    if lrv <= 0 and horizon > 1:
        warnings.warn(
            f"long-run variance {lrv:.3g} is not positive at horizon={horizon}; "
            "using the horizon=1 variance instead.",
            RuntimeWarning,
            stacklevel=2,
        )
        lrv = gammas[0]
    hln = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.float64(dbar) / np.sqrt(lrv / n) * hln)
    dist = stats.t(df=n - 1)
    return DieboldMarianoResult(
        statistic=stat,
        p_value=float(2.0 * dist.sf(abs(stat))),
        mean=dbar,
        p_value_greater=float(dist.sf(stat)),
    )


_COLUMNS = [
    "n_months", "rmse", "mae", "r2", "directional_accuracy", "r2_os_vs_mean", "r2_os_vs_zero",
    "cw_t", "cw_p", "bench_rmse", "bench_mae", "bench_directional_accuracy",
]  # fmt: skip


def _check_frames(**frames: pd.DataFrame) -> None:
    names = list(frames)
    first = frames[names[0]]
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"`{name}` must be a pandas DataFrame, got {type(frame).__name__}.")
        for axis in ("index", "columns"):
            mine, ref = getattr(frame, axis), getattr(first, axis)
            if not mine.equals(ref):
                extra = list(mine.difference(ref))[:5]
                missing = list(ref.difference(mine))[:5]
                raise ValueError(
                    f"{axis} of `{name}` differs from `{names[0]}`: extra {extra}, "
                    f"missing {missing} (or a different order); align the frames first, "
                    f"e.g. `{name}.reindex_like({names[0]})`."
                )


def _row(
    r: np.ndarray, f: np.ndarray, b: np.ndarray, n_months: int, cw: TestResult | None
) -> list[float]:
    if r.size == 0:
        return [0] + [np.nan] * (len(_COLUMNS) - 1)
    return [
        n_months, rmse(r, f), mae(r, f), r2(r, f), directional_accuracy(r, f),
        oos_r2(r, f, b), oos_r2_vs_zero(r, f),
        cw.statistic if cw else np.nan, cw.p_value if cw else np.nan,
        rmse(r, b), mae(r, b), directional_accuracy(r, b),
    ]  # fmt: skip


def forecast_metrics(
    realised: pd.DataFrame, forecast: pd.DataFrame, benchmark: pd.DataFrame
) -> pd.DataFrame:
    """Per-ticker and pooled forecast evaluation table.

    Parameters
    ----------
    realised, forecast, benchmark : pandas.DataFrame of shape (n_periods, n_assets)
        Dates x tickers with identical index and columns. NaN marks a missing (date, ticker)
        pair; a pair is used only when all three frames have a value.

    Returns
    -------
    pandas.DataFrame
        Index "ticker": one row per column of ``realised`` in its order, then ``"pooled"``.
        Columns: n_months, rmse, mae, r2, directional_accuracy, r2_os_vs_mean (against
        ``benchmark``), r2_os_vs_zero, cw_t, cw_p, and bench_rmse, bench_mae,
        bench_directional_accuracy (the benchmark's own scores).

    Notes
    -----
    The pooled row stacks every valid (date, ticker) pair for the point measures and R2s, and
    uses :func:`pooled_clark_west` (cross-sectional average differential per month) for the
    test; its ``n_months`` counts months with at least one valid pair. Clark-West needs two
    observations; with fewer, ``cw_t`` and ``cw_p`` are NaN.

    References
    ----------
    Campbell, J. Y. and Thompson, S. B. (2008). Review of Financial Studies 21(4), 1509-1531.
    Clark, T. E. and West, K. D. (2007). Journal of Econometrics 138(1), 291-311.
    """
    _check_frames(realised=realised, forecast=forecast, benchmark=benchmark)
    r, f, b = (x.to_numpy(dtype=float) for x in (realised, forecast, benchmark))
    valid = np.isfinite(r) & np.isfinite(f) & np.isfinite(b)
    rows = []
    for j in range(r.shape[1]):
        m = valid[:, j]
        rj, fj, bj = r[m, j], f[m, j], b[m, j]
        cw = clark_west(rj, fj, bj) if rj.size >= 2 else None
        rows.append(_row(rj, fj, bj, rj.size, cw))
    masked = [np.where(valid, x, np.nan) for x in (r, f, b)]
    n_pooled = int(valid.any(axis=1).sum())
    cw = pooled_clark_west(*masked) if n_pooled >= 2 else None
    rows.append(_row(r[valid], f[valid], b[valid], n_pooled, cw))
    index = pd.Index([*realised.columns, "pooled"], name="ticker")
    table = pd.DataFrame(rows, index=index, columns=_COLUMNS)
    return table.astype({"n_months": int})
