"""Statistics across finished runs: Sharpe differences against 1/N, DSR, and forecast tests.

Pure functions on frames already read from the run directories (see
:mod:`backtest.compare.compare` for the reading and the writing).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from backtest.evaluation.forecasts import clark_west, diebold_mariano, pooled_clark_west
from backtest.evaluation.models import holm_adjust
from backtest.evaluation.overfitting import sharpe_by_column
from backtest.evaluation.performance import deflated_sharpe_ratio, expected_max_sharpe, sharpe_ratio
from backtest.evaluation.sharpe_tests import sharpe_difference_test

__all__ = [
    "FEW_MONTHS",
    "FORECAST_TEST_COLUMNS",
    "SHARPE_TABLE_COLUMNS",
    "diebold_mariano_differential",
    "forecast_tests",
    "holm_adjust",
    "sharpe_table",
]

SHARPE_TABLE_COLUMNS = [
    "sharpe", "sharpe_diff_vs_1N", "ci_low", "ci_high", "p_value", "p_holm", "dsr",
]  # fmt: skip
FORECAST_TEST_COLUMNS = [
    "test", "model", "versus", "ticker", "n_months", "statistic", "p_value", "mean_differential",
]  # fmt: skip
FEW_MONTHS = 36
"""Below this many common months the comparison warns that its statistics are very noisy."""
DIEBOLD_MARIANO = "diebold_mariano"
CLARK_WEST = "clark_west"
POOLED = "pooled"


def sharpe_table(
    returns: pd.DataFrame,
    benchmark: str,
    risk_free: float = 0.0,
    n_boot: int = 2000,
    mean_block: float = 6.0,
    alpha: float = 0.05,
    random_state: int = 0,
) -> tuple[pd.DataFrame, float]:
    """Sharpe ratio, difference against ``benchmark`` with bootstrap CI, and DSR per column.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_configurations)
        Net simple returns on common months, one column per configuration tried.
    benchmark : str
        Column every configuration is compared with (equal weight, 1/N).
    risk_free : float, default=0.0
        Annual risk-free rate, subtracted per period before every Sharpe ratio.
    n_boot, mean_block, alpha : int, float, float
        Resamples, block length (months, rounded) and level of the Ledoit-Wolf test
        (:func:`backtest.evaluation.sharpe_tests.sharpe_difference_test`, two-sided here).
    random_state : int, default=0
        Seed of the bootstrap; every column uses the same resampled months (common random
        numbers), so the intervals are comparable and the table is reproducible.

    Returns
    -------
    table : pandas.DataFrame
        Index as ``returns.columns``; columns sharpe (annualised), sharpe_diff_vs_1N, ci_low,
        ci_high, p_value (two-sided, zero difference), p_holm (Holm-adjusted over the
        ``n_configurations - 1`` comparisons; NaN for the benchmark itself) and dsr.
    sr0 : float
        Annualised expected maximum Sharpe ratio of ``n_configurations`` zero-skill trials.

    Notes
    -----
    ``dsr`` is the deflated Sharpe ratio each column would have had if it had been selected:
    N = the number of columns, V[SR] = the variance (ddof=1) of the columns' per-period
    Sharpe ratios. Only the best column's value answers "does the winner survive selection".

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2014). The deflated Sharpe ratio. Journal of
    Portfolio Management 40(5), 94-107.
    Ledoit, O. and Wolf, M. (2008). Journal of Empirical Finance 15(5), 850-859.
    """
    if benchmark not in returns.columns:
        raise ValueError(
            f"`benchmark`={benchmark!r} is not a column of `returns` {list(returns.columns)}; "
            "include the equal-weight portfolio."
        )
    excess = returns - ((1.0 + risk_free) ** (1 / 12) - 1.0)
    n_configs = excess.shape[1]
    var_sr = float(np.var(sharpe_by_column(excess.to_numpy()), ddof=1))
    base = excess[benchmark].to_numpy()
    boot = {"n_boot": n_boot, "block_size": max(1, round(mean_block)), "alpha": alpha,
            "random_state": random_state}  # fmt: skip
    rows = []
    for col in excess.columns:
        r = excess[col].to_numpy()
        diff = [0.0, 0.0, 0.0, np.nan] if col == benchmark else _ledoit_wolf(r, base, **boot)
        rows.append([
            sharpe_ratio(returns[col].to_numpy(), risk_free), *diff,
            deflated_sharpe_ratio(r, n_configs, var_sr),
        ])  # fmt: skip
    cols = [c for c in SHARPE_TABLE_COLUMNS if c != "p_holm"]
    table = pd.DataFrame(rows, index=returns.columns, columns=cols)
    p = table["p_value"].where(table.index != benchmark)
    table.insert(5, "p_holm", holm_adjust(p.to_numpy()))
    table.loc[benchmark, ["p_value"]] = np.nan  # 1/N against itself is no test
    sr0 = expected_max_sharpe(n_configs, var_sr) * np.sqrt(12)
    return table, float(sr0)


def _ledoit_wolf(r: np.ndarray, base: np.ndarray, **boot) -> list[float]:
    """[difference, ci_low, ci_high, two-sided p] of Ledoit-Wolf's test; NaN when too short."""
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            t = sharpe_difference_test(r, base, alternative="two-sided", **boot)
    except ValueError:  # fewer than two blocks of months
        sr = sharpe_by_column(np.column_stack([r, base])) * np.sqrt(12)
        return [float(sr[0] - sr[1]), np.nan, np.nan, np.nan]
    return [t.difference, t.ci_low, t.ci_high, t.p_value]


def diebold_mariano_differential(differential: np.ndarray):
    """HLN-corrected Diebold-Mariano test on a given loss-differential series ``d_t``.

    :func:`backtest.evaluation.forecasts.diebold_mariano` takes two error series and forms
    ``d = e1^2 - e2^2``; any ``d`` is such a difference with ``e1 = sqrt(max(d, 0))`` and
    ``e2 = sqrt(max(-d, 0))``, which lets a pooled (cross-sectionally averaged) differential
    go through the same, tested, implementation.
    """
    d = np.asarray(differential, dtype=float)
    return diebold_mariano(np.sqrt(np.maximum(d, 0.0)), np.sqrt(np.maximum(-d, 0.0)))


def _row(test: str, model: str, versus: str, ticker: str, n: int, res) -> list:
    if res is None:
        return [test, model, versus, ticker, n, np.nan, np.nan, np.nan]
    return [test, model, versus, ticker, n, res.statistic, res.p_value, res.mean]


def _dm_rows(a: str, b: str, panels: Mapping[str, Mapping[str, pd.DataFrame]]) -> list[list]:
    model_a, model_b = panels[a]["forecast"], panels[b]["forecast"]
    dates = model_a.index.intersection(model_b.index)
    tickers = model_a.columns.intersection(model_b.columns)
    err = {
        v: (panels[v]["realised"] - panels[v]["forecast"]).reindex(dates)[tickers] for v in (a, b)
    }
    # positive differential = model a's squared error is the smaller
    diff = (err[b] ** 2 - err[a] ** 2).to_numpy()
    rows = []
    for j, ticker in enumerate(tickers):
        ok = np.isfinite(diff[:, j])
        d = diff[ok, j]
        res = diebold_mariano_differential(d) if d.size >= 3 else None
        rows.append(_row(DIEBOLD_MARIANO, a, b, ticker, int(d.size), res))
    ok = np.isfinite(diff).any(axis=1)
    pooled = np.nanmean(diff[ok], axis=1) if ok.any() else np.empty(0)
    res = diebold_mariano_differential(pooled) if pooled.size >= 3 else None
    rows.append(_row(DIEBOLD_MARIANO, a, b, POOLED, int(pooled.size), res))
    return rows


def _cw_rows(model: str, panel: Mapping[str, pd.DataFrame]) -> list[list]:
    r, f, b = (panel[k].to_numpy(dtype=float) for k in ("realised", "forecast", "hist_mean"))
    valid = np.isfinite(r) & np.isfinite(f) & np.isfinite(b)
    rows = []
    for j, ticker in enumerate(panel["realised"].columns):
        m = valid[:, j]
        res = clark_west(r[m, j], f[m, j], b[m, j]) if m.sum() >= 2 else None
        rows.append(_row(CLARK_WEST, model, "hist_mean", ticker, int(m.sum()), res))
    n = int(valid.any(axis=1).sum())
    masked = [np.where(valid, x, np.nan) for x in (r, f, b)]
    res = pooled_clark_west(*masked) if n >= 2 else None
    rows.append(_row(CLARK_WEST, model, "hist_mean", POOLED, n, res))
    return rows


def forecast_tests(panels: Mapping[str, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """Diebold-Mariano between every pair of forecasts, Clark-West of each against its mean.

    Parameters
    ----------
    panels : mapping of str to mapping of str to pandas.DataFrame
        Per forecast label (``variant/model``: every model of every run, see
        :func:`backtest.compare.runs.model_panels`), frames "forecast", "hist_mean" and
        "realised" (dates x tickers, the month forecast; NaN where missing, e.g. the live
        month's realised value).

    Returns
    -------
    pandas.DataFrame
        Columns test, model (the label), versus (another label, or "hist_mean": the model's
        own run's historical mean), ticker (one row per ticker, then "pooled"), n_months,
        statistic, p_value, mean_differential. A positive statistic always means ``model``
        forecast better than ``versus``. Too few months give NaN.

    Notes
    -----
    Diebold-Mariano (horizon 1, Harvey-Leybourne-Newbold correction, two-sided p-value from
    t with T-1 df) on ``d_t = e_versus,t^2 - e_model,t^2`` over the months both forecast.
    Pooled: ``d_t`` averaged over the tickers available at t, then the same test on that one
    series, as :func:`~backtest.evaluation.forecasts.pooled_clark_west` does; stacking all
    (month, ticker) pairs would treat one month's correlated errors as independent evidence.
    Clark-West (one-sided, H1: the model beats the historical mean it nests) over each
    model's own forecast months, per ticker and pooled the same way.

    References
    ----------
    Diebold, F. X. and Mariano, R. S. (1995). Journal of Business & Economic Statistics
    13(3), 253-263.
    Harvey, D., Leybourne, S. and Newbold, P. (1997). International Journal of Forecasting
    13(2), 281-291.
    Clark, T. E. and West, K. D. (2007). Journal of Econometrics 138(1), 291-311.
    """
    rows: list[list] = []
    for a, b in combinations(list(panels), 2):
        rows += _dm_rows(a, b, panels)
    for model, panel in panels.items():
        rows += _cw_rows(model, panel)
    table = pd.DataFrame(rows, columns=FORECAST_TEST_COLUMNS)
    return table.astype({"n_months": int})
