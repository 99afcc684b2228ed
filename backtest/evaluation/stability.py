"""Is a result a property of the whole sample or of one stretch? Subperiods, rolling windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "ROLLING_MONTHS",
    "rolling_r2_os",
    "rolling_sharpe_difference",
    "subperiods",
    "subperiod_table",
]

ROLLING_MONTHS = 24
"""Window of the rolling charts."""


def subperiods(dates: pd.DatetimeIndex) -> list[tuple[str, pd.DatetimeIndex]]:
    """First and second half, then each calendar year, as (label, dates) pairs."""
    dates = pd.DatetimeIndex(dates).sort_values()
    half = len(dates) // 2
    out = [
        (f"first half {dates[0]:%Y-%m}..{dates[half - 1]:%Y-%m}", dates[:half]),
        (f"second half {dates[half]:%Y-%m}..{dates[-1]:%Y-%m}", dates[half:]),
    ]
    out += [(str(year), dates[dates.year == year]) for year in sorted(set(dates.year))]
    return out


def _pooled_r2(realised: pd.DataFrame, forecast: pd.DataFrame, bench: pd.DataFrame) -> float:
    ok = realised.notna() & forecast.notna() & bench.notna()
    sse = ((realised - forecast) ** 2).where(ok).sum().sum()
    sse_b = ((realised - bench) ** 2).where(ok).sum().sum()
    return float(1 - sse / sse_b) if sse_b > 0 else np.nan


def _sharpe(r: pd.Series, periods_per_year: int = 12) -> float:
    sd = r.std(ddof=1)
    return float(np.sqrt(periods_per_year) * r.mean() / sd) if sd > 0 else np.nan


def subperiod_table(
    realised: pd.DataFrame,
    forecasts: dict[str, pd.DataFrame],
    benchmark_forecast: pd.DataFrame,
    net: pd.DataFrame,
    benchmark: str,
) -> pd.DataFrame:
    """Pooled R2_OS per model and Sharpe difference against ``benchmark`` per subperiod.

    Parameters
    ----------
    realised : DataFrame of shape (n_months, n_assets)
        Realised returns of the months forecast.
    forecasts : dict of str to DataFrame
        Each model's forecasts on that grid.
    benchmark_forecast : DataFrame
        The historical mean on that grid.
    net : DataFrame of shape (n_months, n_strategies)
        Net monthly returns (index = month earned), including ``benchmark``.
    benchmark : str
        Column of ``net`` the Sharpe differences are taken against (1/N).

    Returns
    -------
    DataFrame
        Columns period, n_months, measure ("r2_os" or "sharpe_diff"), name, value. These are
        point estimates per subperiod (a year has 12 months): they show where a full-sample
        result comes from, they are not tests.
    """
    rows = []
    for label, dates in subperiods(realised.index):
        sub = [f.reindex(dates) for f in (realised, benchmark_forecast)]
        for model, frame in forecasts.items():
            r2 = _pooled_r2(sub[0], frame.reindex(dates), sub[1])
            rows.append([label, len(dates), "r2_os", model, r2])
    for label, dates in subperiods(net.index):
        block = net.reindex(dates)
        base = _sharpe(block[benchmark])
        for name in (c for c in net.columns if c != benchmark):
            value = _sharpe(block[name]) - base if len(dates) > 2 else np.nan
            rows.append([label, len(dates), "sharpe_diff", name, value])
    return pd.DataFrame(rows, columns=["period", "n_months", "measure", "name", "value"])


def rolling_r2_os(
    realised: pd.DataFrame,
    forecast: pd.DataFrame,
    benchmark_forecast: pd.DataFrame,
    window: int = ROLLING_MONTHS,
) -> pd.Series:
    """Pooled R2_OS over the trailing ``window`` months at each month (NaN before a full window)."""
    ok = realised.notna() & forecast.notna() & benchmark_forecast.notna()
    sse = ((realised - forecast) ** 2).where(ok).sum(axis=1)
    sse_b = ((realised - benchmark_forecast) ** 2).where(ok).sum(axis=1)
    num = sse.rolling(window, min_periods=window).sum()
    den = sse_b.rolling(window, min_periods=window).sum()
    return 1 - num / den


def rolling_sharpe_difference(
    net: pd.DataFrame, benchmark: str, window: int = ROLLING_MONTHS, periods_per_year: int = 12
) -> pd.DataFrame:
    """Annualised trailing-``window`` Sharpe ratio of each column minus ``benchmark``'s."""
    roll = net.rolling(window, min_periods=window)
    sharpe = np.sqrt(periods_per_year) * roll.mean() / roll.std(ddof=1)
    return sharpe.drop(columns=[benchmark]).sub(sharpe[benchmark], axis=0)
