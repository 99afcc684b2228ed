"""Tear-sheet statistics of monthly returns, as quantstats and pyfolio report them.

Every function takes monthly simple returns (net of costs) indexed by the month earned and
annualises with 12 periods a year; the annual risk-free rate is converted to a monthly one
by compounding, as in :mod:`backtest.evaluation.performance`. quantstats computes the same
quantities but assumes daily data unless told (``periods=252`` by default), so these are
computed here from their definitions and checked against quantstats, given
``periods=12``, in the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "PERIODS_PER_YEAR",
    "drawdown_table",
    "monthly_returns",
    "risk_table",
    "rolling_sharpe",
    "rolling_volatility",
    "yearly_returns",
]

PERIODS_PER_YEAR = 12
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _wealth(returns: pd.Series) -> pd.Series:
    """Growth of 1, starting at 1 one month before the first return."""
    r = returns.dropna()
    start = r.index[0] - pd.offsets.MonthEnd(1)
    return pd.concat([pd.Series([1.0], index=[start]), (1.0 + r).cumprod()])


def drawdown_table(returns: pd.Series, top: int = 5) -> pd.DataFrame:
    """The `top` worst drawdowns: start (peak), trough, recovery, depth and length.

    Parameters
    ----------
    returns : pd.Series
        Monthly simple returns indexed by month end.
    top : int, default=5
        How many drawdowns, deepest first.

    Returns
    -------
    pd.DataFrame
        Columns ``start`` (the month-end peak before the fall), ``trough``, ``recovery``
        (first month back at the peak; NaT while still under water), ``depth`` (peak to
        trough, a negative fraction), ``months`` (peak to recovery, or to the last month when
        not recovered) and ``underwater`` (months below the peak: quantstats' duration).
    """
    series = _wealth(returns)
    months, wealth = series.index, series.to_numpy()
    peak = np.maximum.accumulate(wealth)
    under = wealth < peak
    rows = []
    i, n = 0, len(wealth)
    while i < n:
        if not under[i]:
            i += 1
            continue
        j = i
        while j < n and under[j]:
            j += 1
        spell = wealth[i:j] / peak[i:j] - 1.0
        recovered = j < n
        rows.append(
            {
                "start": months[i - 1],
                "trough": months[i + int(np.argmin(spell))],
                "recovery": months[j] if recovered else pd.NaT,
                "depth": float(spell.min()),
                "months": (j if recovered else n - 1) - (i - 1),
                "underwater": j - i,
            }
        )
        i = j
    columns = ["start", "trough", "recovery", "depth", "months", "underwater"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("depth", kind="stable").head(top).reset_index(drop=True)


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Year x month table of simple returns, with the compounded year in column ``Year``."""
    r = returns.dropna()
    frame = pd.DataFrame({"year": r.index.year, "month": r.index.month, "r": r.to_numpy()})
    table = frame.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    table.columns = list(MONTHS)
    table["Year"] = frame.groupby("year")["r"].apply(lambda x: float(np.prod(1.0 + x) - 1.0))
    table.index.name = "year"
    return table


def yearly_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Compounded calendar-year returns, one column per strategy (partial years included)."""
    return returns.groupby(returns.index.year).apply(lambda x: (1.0 + x).prod() - 1.0)


def _rf(risk_free: float) -> float:
    return (1.0 + risk_free) ** (1.0 / PERIODS_PER_YEAR) - 1.0


def rolling_sharpe(returns: pd.DataFrame, window: int = 12, risk_free: float = 0.0) -> pd.DataFrame:
    """Annualised Sharpe ratio over a trailing `window` of months (NaN before it fills)."""
    ex = returns - _rf(risk_free)
    roll = ex.rolling(window, min_periods=window)
    return roll.mean() / roll.std(ddof=1) * np.sqrt(PERIODS_PER_YEAR)


def rolling_volatility(returns: pd.DataFrame, window: int = 12) -> pd.DataFrame:
    """Annualised volatility over a trailing `window` of months."""
    return returns.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(PERIODS_PER_YEAR)


def _capm(r: pd.Series, market: pd.Series, rf: float) -> tuple[float, float]:
    """OLS beta and annualised (Jensen) alpha of excess returns on the market's."""
    both = pd.concat([r, market], axis=1).dropna()
    if len(both) < 3:
        return float("nan"), float("nan")
    fit = stats.linregress(both.iloc[:, 1] - rf, both.iloc[:, 0] - rf)
    return float(fit.slope), float(fit.intercept * PERIODS_PER_YEAR)


def risk_table(
    returns: pd.DataFrame,
    *,
    risk_free: float = 0.0,
    market: str | None = "SPY",
    reference: str | None = "equal_weight",
    level: float = 0.95,
) -> pd.DataFrame:
    """Risk and relative statistics per strategy (rows) of monthly returns.

    Parameters
    ----------
    returns : pd.DataFrame
        Monthly simple returns, one column per strategy (the market and the reference among
        them when present).
    risk_free : float, default=0.0
        Annual risk-free rate.
    market : str or None, default="SPY"
        Column for beta and alpha (skipped when absent).
    reference : str or None, default="equal_weight"
        Column for tracking error and information ratio (skipped when absent).
    level : float, default=0.95
        Confidence level of VaR and CVaR.

    Returns
    -------
    pd.DataFrame
        ``ann_return`` (CAGR), ``ann_vol``, ``skew`` (sample, bias-corrected as pandas),
        ``kurtosis`` (excess, bias-corrected), ``var`` and ``cvar`` (historical monthly
        value at risk and expected shortfall at `level`, as losses: negative returns),
        ``beta`` and ``alpha`` (OLS of excess returns on the market's, alpha annualised
        ``x 12``), ``tracking_error`` (``std(r - r_ref) x sqrt(12)``) and
        ``information_ratio`` (``12 mean(r - r_ref) / tracking_error``).
    """
    rf = _rf(risk_free)
    rows = {}
    for name in returns.columns:
        r = returns[name].dropna()
        var = float(np.quantile(r, 1.0 - level))
        row = {
            "ann_return": float(np.prod(1.0 + r) ** (PERIODS_PER_YEAR / len(r)) - 1.0),
            "ann_vol": float(r.std(ddof=1) * np.sqrt(PERIODS_PER_YEAR)),
            "skew": float(r.skew()),
            "kurtosis": float(r.kurt()),
            "var": var,
            "cvar": float(r[r <= var].mean()),
        }
        if market is not None and market in returns:
            row["beta"], row["alpha"] = _capm(r, returns[market], rf)
        if reference is not None and reference in returns and name != reference:
            active = (r - returns[reference]).dropna()
            te = float(active.std(ddof=1) * np.sqrt(PERIODS_PER_YEAR))
            row["tracking_error"] = te
            ir = active.mean() * PERIODS_PER_YEAR / te if te > 0 else np.nan
            row["information_ratio"] = float(ir)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("strategy")
