"""Economic value of a strategy over a benchmark: CER gain, performance fee, break-even cost.

Each statistic has a paired stationary-bootstrap percentile interval from
:class:`arch.bootstrap.StationaryBootstrap` (a description of uncertainty, not a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from arch.bootstrap import StationaryBootstrap
from numpy.typing import ArrayLike

__all__ = [
    "EconomicValue",
    "Interval",
    "break_even_cost",
    "certainty_equivalent",
    "economic_value",
    "performance_fee",
]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        """True when the whole interval is on one side of zero."""
        return bool(self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class EconomicValue:
    """Economic value of one strategy against one benchmark (annual units).

    Attributes
    ----------
    cer_gain : Interval
        ``CER_s - CER_b`` in % a year (Campbell-Thompson).
    fee_bps : Interval
        Fleming-Kirby-Ostdiek performance fee, basis points a year.
    break_even_bps : Interval
        Proportional cost (bps per unit of turnover) at which the net mean returns are equal;
        inf when the strategy trades no more than the benchmark and earns more gross.
    gamma : float
        Relative risk aversion used.
    """

    cer_gain: Interval
    fee_bps: Interval
    break_even_bps: Interval
    gamma: float


def _cer(r: np.ndarray, gamma: float, periods_per_year: int) -> np.ndarray:
    """Certainty equivalent along the last axis (periods) of ``r``."""
    return periods_per_year * (r.mean(axis=-1) - gamma / 2 * r.var(axis=-1, ddof=1))


def certainty_equivalent(returns: ArrayLike, gamma: float, periods_per_year: int = 12) -> float:
    """Annualised certainty-equivalent return ``12 (mean - gamma/2 var)`` of monthly returns.

    References
    ----------
    Campbell, J. Y. and Thompson, S. B. (2008). Predicting excess stock returns out of
    sample: can anything beat the historical average? Review of Financial Studies 21(4).
    """
    return float(_cer(np.asarray(returns, dtype=float), gamma, periods_per_year))


def _fee(r: np.ndarray, rb: np.ndarray, gamma: float, periods_per_year: int) -> np.ndarray:
    """Performance fee along the last axis (periods) of ``r`` and ``rb``."""
    x, xb = 1.0 + r, 1.0 + rb
    k = gamma / (2.0 * (1.0 + gamma))
    n = x.shape[-1]
    u_b = np.sum(xb - k * xb**2, axis=-1)
    c = x.sum(axis=-1) - k * np.sum(x**2, axis=-1) - u_b
    lin = n - 2.0 * k * x.sum(axis=-1)
    fee = 2.0 * c / (lin + np.sqrt(lin**2 + 4.0 * k * n * c))  # stable form of the small root
    return fee * periods_per_year * 1e4


def performance_fee(
    returns: ArrayLike, benchmark: ArrayLike, gamma: float, periods_per_year: int = 12
) -> float:
    """Fleming-Kirby-Ostdiek fee, in basis points a year, that equates quadratic utilities.

    Notes
    -----
    Solves ``sum[(1 + r_s - D) - k (1 + r_s - D)^2] = sum[(1 + r_b) - k (1 + r_b)^2]`` with
    ``k = gamma / (2 (1 + gamma))`` for the monthly fee ``D``: with ``x = 1 + r_s``,
    ``k T D^2 + (T - 2 k sum x) D - C = 0``, ``C = sum x - k sum x^2 - U_b``; the root near zero
    is returned as ``D * periods_per_year * 1e4``.

    References
    ----------
    Fleming, J., Kirby, C. and Ostdiek, B. (2001). The economic value of volatility timing.
    Journal of Finance 56(1), 329-352.
    """
    r, rb = np.asarray(returns, dtype=float), np.asarray(benchmark, dtype=float)
    return float(_fee(r, rb, gamma, periods_per_year))


def _break_even(g: np.ndarray, tau: np.ndarray, gb: np.ndarray, taub: np.ndarray) -> np.ndarray:
    """Break-even cost along the last axis (periods) of the four series."""
    edge = g.mean(axis=-1) - gb.mean(axis=-1)
    drag = np.mean(tau * (1 + g), axis=-1) - np.mean(taub * (1 + gb), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = edge / drag * 1e4
    return np.where(edge <= 0, 0.0, np.where(drag <= 0, np.inf, cost))


def break_even_cost(
    gross: ArrayLike, turnover: ArrayLike, gross_benchmark: ArrayLike, turnover_benchmark: ArrayLike
) -> float:
    """Proportional cost (bps per unit turnover) at which the two net mean returns are equal.

    Notes
    -----
    The engine's net return is ``(1 - c tau)(1 + g) - 1 = g - c tau (1 + g)``, linear in the
    cost ``c``, so ``c* = (mean g_s - mean g_b) / (mean tau_s (1 + g_s) - mean tau_b (1 + g_b))``.
    Returns 0 when the strategy does not beat the benchmark even without costs, inf when it
    earns more gross and trades no more (no cost removes its edge).
    """
    series = (gross, turnover, gross_benchmark, turnover_benchmark)
    return float(_break_even(*(np.asarray(x, dtype=float) for x in series)))


def _resamples(n_periods: int, block_size: float, n_boot: int, seed: int) -> np.ndarray:
    """Row indices (n_boot, n_periods) of arch's stationary bootstrap with this seed.

    The draws depend on the length, block size and seed only, so every statistic of one
    comparison shares them (as a bootstrap per statistic with the same seed would draw).
    """
    boot = StationaryBootstrap(block_size, np.arange(n_periods), seed=seed)
    return np.array([data[0][0] for data in boot.bootstrap(n_boot)])


def _interval(
    statistic: Callable[..., np.ndarray],
    columns: np.ndarray,
    resamples: np.ndarray,
    alpha: float,
) -> Interval:
    """``statistic`` of the columns and its percentile interval over the resampled rows.

    ``statistic`` reduces the last axis of each column; each resample's series is a
    contiguous row, so its sums run in the same order as on the series alone.
    """
    estimate = statistic(*columns.T)
    draws = statistic(*np.ascontiguousarray(columns[resamples].transpose(2, 0, 1)))
    draws = draws[~np.isnan(draws)]
    if not draws.size:
        return Interval(float(estimate), np.nan, np.nan)
    # No interpolation: a resample's break-even cost can be infinite, and inf - inf is NaN.
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return Interval(float(estimate), float(low), float(high))


def economic_value(
    net: ArrayLike,
    net_benchmark: ArrayLike,
    gamma: float,
    gross: ArrayLike | None = None,
    turnover: ArrayLike | None = None,
    gross_benchmark: ArrayLike | None = None,
    turnover_benchmark: ArrayLike | None = None,
    block_size: float = 6,
    n_boot: int = 1000,
    alpha: float = 0.05,
    random_state: int = 0,
) -> EconomicValue:
    """CER gain, performance fee and break-even cost of a strategy over a benchmark.

    Parameters
    ----------
    net, net_benchmark : array-like of shape (n_periods,)
        Net monthly simple returns on common months.
    gamma : float
        Relative risk aversion (the allocator's).
    gross, turnover, gross_benchmark, turnover_benchmark : array-like, optional
        For the break-even cost; NaN interval without them.
    block_size, n_boot, alpha, random_state
        Paired stationary bootstrap (same months for every series) and interval level.

    Returns
    -------
    EconomicValue
    """
    pair = np.column_stack([net, net_benchmark]).astype(float)
    resamples = _resamples(pair.shape[0], block_size, n_boot, random_state)

    def gain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 100.0 * (_cer(a, gamma, 12) - _cer(b, gamma, 12))

    def fee(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _fee(a, b, gamma, 12)

    cer = _interval(gain, pair, resamples, alpha)
    fee_bps = _interval(fee, pair, resamples, alpha)
    if gross is None or turnover is None or gross_benchmark is None or turnover_benchmark is None:
        even = Interval(np.nan, np.nan, np.nan)
    else:
        cols = np.column_stack([gross, turnover, gross_benchmark, turnover_benchmark])
        even = _interval(_break_even, cols.astype(float), resamples, alpha)
    return EconomicValue(cer_gain=cer, fee_bps=fee_bps, break_even_bps=even, gamma=gamma)
