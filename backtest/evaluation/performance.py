"""Portfolio statistics on periodic simple returns, annualised with 12 periods a year.

``risk_free`` is always an *annual* rate, converted to a per-period rate by compounding:
``rf_period = (1 + risk_free)^(1 / periods_per_year) - 1``.

Longer than ~300 lines because each portfolio statistic is a small pure function here, with the
table that applies them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "annualised_volatility",
    "cagr",
    "calmar_ratio",
    "deflated_sharpe_ratio",
    "drawdown_series",
    "expected_max_sharpe",
    "hit_rate",
    "max_drawdown",
    "performance_table",
    "probabilistic_sharpe_ratio",
    "psr_from_moments",
    "sharpe_ratio",
    "sortino_ratio",
]

EULER_GAMMA = 0.5772156649


def _returns(returns: ArrayLike, min_size: int = 1) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise ValueError(f"`returns` must be 1-D, got shape {r.shape}; pass one strategy.")
    if r.size < min_size:
        raise ValueError(f"`returns` needs at least {min_size} observations, got {r.size}.")
    if not np.all(np.isfinite(r)):
        raise ValueError("`returns` contains NaN or inf; drop those periods first.")
    return r


def _excess(returns: ArrayLike, risk_free: float, periods_per_year: int) -> np.ndarray:
    return _returns(returns, 2) - ((1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0)


def _ratio(num: float, den: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / den)


def cagr(returns: ArrayLike, periods_per_year: int = 12) -> float:
    """Compound annual growth rate, ``prod(1 + r)^(periods_per_year / T) - 1``; -1 if ruined."""
    r = _returns(returns)
    wealth = np.prod(1.0 + r)
    return float(wealth ** (periods_per_year / r.size) - 1.0) if wealth > 0 else -1.0


def annualised_volatility(returns: ArrayLike, periods_per_year: int = 12) -> float:
    """Annualised volatility, ``std(r, ddof=1) * sqrt(periods_per_year)``."""
    return float(np.std(_returns(returns, 2), ddof=1) * np.sqrt(periods_per_year))


def sharpe_ratio(returns: ArrayLike, risk_free: float = 0.0, periods_per_year: int = 12) -> float:
    """Annualised Sharpe ratio of periodic simple returns.

    Parameters
    ----------
    returns : array-like of shape (n_periods,)
        Periodic simple returns.
    risk_free : float, default=0.0
        Annual risk-free rate, converted to a per-period rate by compounding.
    periods_per_year : int, default=12
        12 for monthly data; pass 1 for the per-period (non-annualised) ratio with a zero rate.

    Returns
    -------
    float
        ``sqrt(periods_per_year) * mean(r - rf) / std(r - rf, ddof=1)``; inf or NaN when the
        returns are constant.

    References
    ----------
    Sharpe, W. F. (1994). The Sharpe ratio. Journal of Portfolio Management 21(1), 49-58.
    """
    ex = _excess(returns, risk_free, periods_per_year)
    return _ratio(ex.mean(), ex.std(ddof=1)) * np.sqrt(periods_per_year)


def sortino_ratio(returns: ArrayLike, risk_free: float = 0.0, periods_per_year: int = 12) -> float:
    """Annualised Sortino ratio with the risk-free rate as the minimum acceptable return.

    Notes
    -----
    ``sqrt(periods_per_year) * mean(x) / sqrt(mean(min(x, 0)^2))`` with ``x = r - rf``; the
    downside deviation averages over *all* periods, not only the losing ones. Infinite when no
    period is below the risk-free rate.

    References
    ----------
    Sortino, F. A. and Price, L. N. (1994). Performance measurement in a downside risk
    framework. Journal of Investing 3(3), 59-64.
    """
    ex = _excess(returns, risk_free, periods_per_year)
    downside = np.sqrt(np.mean(np.minimum(ex, 0.0) ** 2))
    return _ratio(ex.mean(), downside) * np.sqrt(periods_per_year)


def drawdown_series(returns: ArrayLike) -> np.ndarray | pd.Series:
    """Drawdown after each period, ``W_t / max(1, max_{s<=t} W_s) - 1`` with ``W = cumprod(1+r)``.

    Values are <= 0. The starting wealth of 1 counts as a peak, so a loss in the first period
    is a drawdown. A Series input returns a Series on the same index.
    """
    wealth = np.cumprod(1.0 + _returns(returns))
    dd = wealth / np.maximum.accumulate(np.maximum(wealth, 1.0)) - 1.0
    return (
        pd.Series(dd, index=returns.index, name="drawdown")
        if isinstance(returns, pd.Series)
        else dd
    )


def max_drawdown(returns: ArrayLike) -> float:
    """Maximum drawdown as a NEGATIVE fraction (e.g. -0.35 for a 35% peak-to-trough loss)."""
    return float(np.min(drawdown_series(np.asarray(returns, dtype=float))))


def calmar_ratio(returns: ArrayLike, periods_per_year: int = 12) -> float:
    """Calmar ratio, ``cagr / |max_drawdown|`` over the whole sample; inf/NaN without drawdown."""
    return _ratio(cagr(returns, periods_per_year), -max_drawdown(returns))


def hit_rate(returns: ArrayLike) -> float:
    """Share of periods with a strictly positive return."""
    return float(np.mean(_returns(returns) > 0))


def psr_from_moments(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probabilistic Sharpe ratio from the moments of the returns.

    Parameters
    ----------
    sharpe : float
        Per-period (non-annualised) Sharpe ratio.
    n_obs : int
        Number of return observations T.
    skew : float
        Skewness g3 of the returns.
    kurtosis : float
        RAW kurtosis g4 (3 for the normal), not excess kurtosis.
    sr_benchmark : float, default=0.0
        Per-period benchmark Sharpe ratio SR*.

    Returns
    -------
    float
        Probability that the true Sharpe ratio exceeds ``sr_benchmark``.

    Notes
    -----
    ``PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))``.
    Passing excess kurtosis understates the Sharpe ratio's variance (the vectorbt and
    quantstats bug noted in REFERENCES.md); raw kurtosis is always >= 1, which is checked.

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2012). The Sharpe ratio efficient frontier. Journal
    of Risk 15(2), 3-44.
    """
    if n_obs < 2:
        raise ValueError(f"`n_obs` must be at least 2, got {n_obs}.")
    if kurtosis < 1:
        raise ValueError(
            f"`kurtosis` must be the raw kurtosis (>= 1, normal = 3), got {kurtosis}; "
            "if you have excess kurtosis, add 3."
        )
    var = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    return float(stats.norm.cdf((sharpe - sr_benchmark) * np.sqrt(n_obs - 1) / np.sqrt(var)))


def probabilistic_sharpe_ratio(returns: ArrayLike, sr_benchmark: float = 0.0) -> float:
    """Probabilistic Sharpe ratio of a return series against a per-period benchmark SR*.

    Uses the per-period Sharpe ratio ``mean / std(ddof=1)``, the sample skewness and the raw
    sample kurtosis (moment estimators, ``scipy.stats`` defaults with ``fisher=False``); see
    :func:`psr_from_moments` for the formula. Pass excess returns if a risk-free rate applies.

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2012). Journal of Risk 15(2), 3-44.
    """
    r = _returns(returns, 3)
    return psr_from_moments(
        _ratio(r.mean(), r.std(ddof=1)),
        r.size,
        float(stats.skew(r)),
        float(stats.kurtosis(r, fisher=False)),
        sr_benchmark,
    )


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` unskilled trials (SR0).

    Parameters
    ----------
    n_trials : int
        Number of independent trials N. ``n_trials = 1`` (no selection) gives 0.
    var_sharpe : float
        Variance of the trials' Sharpe ratios, in the same per-period units as SR.

    Returns
    -------
    float
        ``SR0 = sqrt(V[SR]) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))``.

    Notes
    -----
    ``gamma = 0.5772156649`` is the Euler-Mascheroni constant. The formula diverges at N = 1
    (``Phi^-1(0) = -inf``); with one trial there is no selection, so SR0 = 0.

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2014). The deflated Sharpe ratio: correcting for
    selection bias, backtest overfitting and non-normality. Journal of Portfolio Management
    40(5), 94-107.
    """
    if n_trials < 1:
        raise ValueError(f"`n_trials` must be a positive integer, got {n_trials}.")
    if var_sharpe < 0:
        raise ValueError(f"`var_sharpe` must be non-negative, got {var_sharpe}.")
    if n_trials == 1:
        return 0.0
    g = EULER_GAMMA
    z = (1 - g) * stats.norm.ppf(1 - 1 / n_trials) + g * stats.norm.ppf(1 - 1 / (n_trials * np.e))
    return float(np.sqrt(var_sharpe) * z)


def deflated_sharpe_ratio(returns: ArrayLike, n_trials: int, var_sharpe: float) -> float:
    """Deflated Sharpe ratio, ``PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, var_sharpe)``.

    Parameters
    ----------
    returns : array-like of shape (n_periods,)
        Returns of the selected strategy (excess returns if a risk-free rate applies).
    n_trials : int
        Number of strategies tried before this one was selected.
    var_sharpe : float
        Variance across trials of the PER-PERIOD Sharpe ratio.

    Notes
    -----
    All Sharpe quantities are per period. To reproduce the paper's example from annual figures
    with 250 trading days: SR = 2.5 / sqrt(250) = 0.15811 per day and V[SR] = 0.5 / 250 = 0.002
    per day (the variance of an annual SR scales by 1/250), so with N = 100, T = 1250,
    g3 = -3, g4 = 10: SR0 = 0.11317 and DSR = ``psr_from_moments(0.15811, 1250, -3, 10,
    0.11317)`` = 0.9004.

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2014). Journal of Portfolio Management 40(5), 94-107.
    """
    return probabilistic_sharpe_ratio(returns, expected_max_sharpe(n_trials, var_sharpe))


_COLUMNS = [
    "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "avg_turnover",
    "total_costs", "hit_rate", "psr", "dsr",
]  # fmt: skip


def _check_columns(name: str, frame: pd.DataFrame | None, returns: pd.DataFrame) -> None:
    if frame is not None and not frame.columns.equals(returns.columns):
        raise ValueError(
            f"columns of `{name}` {list(frame.columns)} differ from the columns of `returns` "
            f"{list(returns.columns)}; pass one column per strategy, in the same order."
        )


def performance_table(
    returns: pd.DataFrame,
    turnover: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    n_trials: int | None = None,
    risk_free: float = 0.0,
    periods_per_year: int = 12,
    trials: list[str] | None = None,
) -> pd.DataFrame:
    """One row of summary statistics per strategy.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_strategies)
        Periodic simple (net) returns; NaN periods of a strategy are dropped for it.
    turnover, costs : pandas.DataFrame of shape (n_periods, n_strategies), optional
        Per-period turnover and costs (fraction of wealth), same columns as ``returns``;
        ``avg_turnover`` is the mean and ``total_costs`` the sum of each column, NaN if absent.
    n_trials : int, optional
        Number of configurations tried for the DSR; defaults to the number of ``trials``.
    risk_free : float, default=0.0
        Annual risk-free rate, subtracted (per period) for sharpe, sortino, psr and dsr.
    periods_per_year : int, default=12
        Annualisation factor.
    trials : list of str, optional
        The columns that are configurations tried (benchmarks excluded); default all columns.

    Returns
    -------
    pandas.DataFrame
        Index "strategy"; columns cagr, ann_vol, sharpe, sortino, max_drawdown (negative),
        calmar, avg_turnover, total_costs, hit_rate, psr, dsr.

    Notes
    -----
    ``psr`` tests against SR* = 0. ``dsr`` is given for the selected configuration only (the
    trial with the highest Sharpe ratio; NaN elsewhere): SR0 from :func:`expected_max_sharpe`
    with N = ``n_trials`` and V[SR] = the variance (ddof=1) of the trials' per-period Sharpe
    ratios. Benchmarks are not trials: their very different Sharpe ratios would inflate V[SR].
    :func:`backtest.evaluation.deflation.deflated_best` adds the effective N and the test
    against 1/N.

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2014). Journal of Portfolio Management 40(5), 94-107.
    """
    if not isinstance(returns, pd.DataFrame):
        raise ValueError(f"`returns` must be a pandas DataFrame, got {type(returns).__name__}.")
    _check_columns("turnover", turnover, returns)
    _check_columns("costs", costs, returns)
    rf_period = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
    series = {col: returns[col].dropna().to_numpy(dtype=float) for col in returns.columns}
    names = list(returns.columns) if trials is None else list(trials)
    sr = pd.Series(
        {c: _ratio((series[c] - rf_period).mean(), series[c].std(ddof=1)) for c in names}
    )
    var_sr = float(np.var(sr.to_numpy(), ddof=1)) if sr.size > 1 else np.nan
    n = len(names) if n_trials is None else n_trials
    sr0 = expected_max_sharpe(n, var_sr) if n == 1 or np.isfinite(var_sr) else np.nan
    best = sr.idxmax() if sr.notna().any() else None
    rows = []
    for col, r in series.items():
        ex = r - rf_period
        rows.append([
            cagr(r, periods_per_year), annualised_volatility(r, periods_per_year),
            sharpe_ratio(r, risk_free, periods_per_year),
            sortino_ratio(r, risk_free, periods_per_year),
            max_drawdown(r), calmar_ratio(r, periods_per_year),
            turnover[col].mean() if turnover is not None else np.nan,
            costs[col].sum() if costs is not None else np.nan,
            hit_rate(r), probabilistic_sharpe_ratio(ex),
            probabilistic_sharpe_ratio(ex, sr0) if np.isfinite(sr0) and col == best else np.nan,
        ])  # fmt: skip
    return pd.DataFrame(rows, index=pd.Index(returns.columns, name="strategy"), columns=_COLUMNS)
