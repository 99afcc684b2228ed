"""Backtest-overfitting diagnostics.

CSCV probability of backtest overfitting (with its block count and a bootstrap interval), and a
paired stationary bootstrap for the difference of two Sharpe ratios. (About 400 lines: the PBO
pieces share private helpers and belong together.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "BootstrapResult",
    "PBOInterval",
    "PBOResult",
    "choose_n_blocks",
    "pbo_interval",
    "probability_of_backtest_overfitting",
    "sharpe_by_column",
    "sharpe_difference_ci",
    "stationary_bootstrap_indices",
]


_BATCH = 512
_STACK_CELLS = 2**18
"""Resamples scored at once by :func:`pbo_interval` hold about this many Sharpe ratios."""


@dataclass(frozen=True)
class PBOResult:
    """Outcome of combinatorially symmetric cross-validation (CSCV).

    Attributes
    ----------
    pbo : float
        Share of splits whose logit is <= 0: the in-sample winner ranked in the bottom half
        out of sample.
    logits : numpy.ndarray of shape (n_splits,)
        ``ln(w / (1 - w))`` per split, ``w`` the winner's relative out-of-sample rank.
    prob_oos_loss : float
        Share of splits where the in-sample winner's out-of-sample metric is below zero (the
        paper's "probability of loss").
    prob_oos_below_median : float
        Share of splits where the winner's out-of-sample metric is strictly below the
        out-of-sample median of all configurations (equals ``pbo`` up to ties at the median).
    n_splits : int
        ``C(n_blocks, n_blocks / 2)``.
    is_performance, oos_performance : numpy.ndarray of shape (n_splits,)
        The winner's in-sample and out-of-sample metric per split (performance degradation).
    """

    pbo: float
    logits: np.ndarray
    prob_oos_loss: float
    prob_oos_below_median: float
    n_splits: int
    is_performance: np.ndarray
    oos_performance: np.ndarray


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap estimate of a difference with its confidence interval and p-value.

    Attributes
    ----------
    difference : float
        The statistic on the original sample.
    ci_low, ci_high : float
        Percentile confidence interval bounds.
    p_value : float
        Two-sided p-value of a zero difference.
    """

    difference: float
    ci_low: float
    ci_high: float
    p_value: float


def sharpe_by_column(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` along axis -2 (the periods axis).

    Works on ``(n_periods, n_columns)`` and on stacks ``(n_stack, n_periods, n_columns)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return returns.mean(axis=-2) / returns.std(axis=-2, ddof=1)


def _validate_panel(returns: ArrayLike | pd.DataFrame, n_blocks: int) -> np.ndarray:
    m = np.asarray(returns, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"`returns` must be 2-D (n_periods, n_configurations), got {m.shape}.")
    n_periods, n_configs = m.shape
    if n_configs < 2:
        raise ValueError(f"`returns` needs at least 2 configurations (columns), got {n_configs}.")
    if not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"`n_blocks` must be an even integer >= 2, got {n_blocks!r}.")
    if n_periods < 2 * n_blocks:
        raise ValueError(
            f"`returns` has {n_periods} rows, too few for n_blocks={n_blocks}: need at least "
            f"{2 * n_blocks} (2 per block); lower `n_blocks`."
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("`returns` contains NaN or inf; drop or fill those periods first.")
    return m


@cache
def _splits(n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Every CSCV split of ``n_blocks``: in-sample blocks (n_splits, S/2) and mask (n_splits, S).

    Read-only, built once per block count (listing the combinations cost more than scoring them).
    In lexicographic order, split ``n_splits - 1 - i`` is the complement of split ``i``, so
    the out-of-sample halves are the in-sample halves reversed (tests check it).
    """
    chosen = np.array(list(combinations(range(n_blocks), n_blocks // 2)))
    in_sample = np.zeros((chosen.shape[0], n_blocks), dtype=bool)
    in_sample[np.arange(chosen.shape[0])[:, None], chosen] = True
    chosen.setflags(write=False)
    in_sample.setflags(write=False)
    return chosen, in_sample


def _sharpe_of_halves(blocks: np.ndarray, member: np.ndarray) -> np.ndarray:
    """``sharpe_by_column`` of every half at once, from per-block sums (same numbers, faster).

    ``blocks`` is (..., n_blocks, block_len, n_configs) and ``member`` (n_splits, n_blocks);
    the result is (..., n_splits, n_configs).
    """
    weights = member.astype(float)
    n_rows = blocks.shape[-2] * member[0].sum()
    mean = weights @ blocks.sum(axis=-2) / n_rows
    var = (weights @ (blocks**2).sum(axis=-2) - n_rows * mean**2) / (n_rows - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean / np.sqrt(var)


def _winner_logits(r_is: np.ndarray, r_oos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each split's in-sample winner: its out-of-sample metric and logit, along the last axis.

    ``r_is`` and ``r_oos`` are (..., n_splits, n_configs); both results are (..., n_splits).
    """
    best = np.argmax(r_is, axis=-1)[..., None]
    oos_best = np.take_along_axis(r_oos, best, axis=-1)
    rank = np.sum(r_oos < oos_best, axis=-1) + (np.sum(r_oos == oos_best, axis=-1) + 1) / 2
    w = rank / (r_oos.shape[-1] + 1)
    return oos_best[..., 0], np.log(w / (1.0 - w))


def _blocks(m: np.ndarray, n_blocks: int) -> np.ndarray:
    """(..., n_periods, n_configs) -> (..., n_blocks, block_len, n_configs), oldest rows dropped."""
    block_len = m.shape[-2] // n_blocks
    kept = m[..., m.shape[-2] - block_len * n_blocks :, :]
    return kept.reshape(*m.shape[:-2], n_blocks, block_len, m.shape[-1])


def probability_of_backtest_overfitting(
    returns: ArrayLike | pd.DataFrame,
    n_blocks: int = 16,
    metric: Callable[[np.ndarray], np.ndarray] = sharpe_by_column,
) -> PBOResult:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    Parameters
    ----------
    returns : array-like or pandas.DataFrame of shape (n_periods, n_configurations)
        Per-period returns, one column per strategy configuration tried.
    n_blocks : int, default=16
        Number S of contiguous row blocks; even, at least 2, and at most ``n_periods / 2``.
    metric : callable, default=sharpe_by_column
        Score per configuration, higher is better. It receives a stack of sub-samples of shape
        ``(n_stack, n_rows, n_configurations)`` and must reduce axis -2, returning
        ``(n_stack, n_configurations)``, as ``sharpe_by_column`` does.

    Returns
    -------
    PBOResult

    Notes
    -----
    The oldest ``T mod S`` rows are dropped so that the S contiguous blocks have equal length
    ``T // S``, as in the paper. For each of the ``C(S, S/2)`` ways to pick S/2 blocks as the
    in-sample set J (the other blocks, in time order, are out of sample), the configuration
    with the best in-sample metric is found, its out-of-sample relative rank is
    ``w = rank / (N + 1)`` (rank 1 = worst, ties averaged) and its logit
    ``lambda = ln(w / (1 - w))``. ``PBO = #{lambda <= 0} / C(S, S/2)``. Columns of pure noise
    give PBO near 0.5 on average (any one sample can be far from it: the splits share data);
    a configuration with a real edge gives PBO near 0.

    References
    ----------
    Bailey, D. H., Borwein, J. M., Lopez de Prado, M. and Zhu, Q. J. (2017). The probability
    of backtest overfitting. Journal of Computational Finance 20(4), 39-69.
    """
    m = _validate_panel(returns, n_blocks)
    blocks = _blocks(m, n_blocks)
    chosen, in_sample = _splits(n_blocks)
    n_splits, n_configs = chosen.shape[0], m.shape[1]
    if metric is sharpe_by_column:
        r_is = _sharpe_of_halves(blocks, in_sample)
        r_oos = r_is[::-1]  # each split's complement (see _splits)
    else:
        rest = np.nonzero(~in_sample)[1].reshape(n_splits, -1)
        half = (-1, blocks.shape[1] * (n_blocks // 2), n_configs)
        r_is, r_oos = np.empty((n_splits, n_configs)), np.empty((n_splits, n_configs))
        for lo in range(0, n_splits, _BATCH):  # batches bound the memory of the stacks
            sl = slice(lo, lo + _BATCH)
            r_is[sl] = metric(blocks[chosen[sl]].reshape(half))
            r_oos[sl] = metric(blocks[rest[sl]].reshape(half))
    oos_best, logits = _winner_logits(r_is, r_oos)
    best = np.argmax(r_is, axis=1)
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        prob_oos_loss=float(np.mean(oos_best < 0)),
        prob_oos_below_median=float(np.mean(oos_best < np.median(r_oos, axis=1))),
        n_splits=n_splits,
        is_performance=r_is[np.arange(n_splits), best],
        oos_performance=oos_best,
    )


def stationary_bootstrap_indices(
    n: int,
    mean_block: float,
    n_boot: int,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Row indices of stationary-bootstrap resamples.

    Parameters
    ----------
    n : int
        Length of the series.
    mean_block : float
        Expected block length (>= 1); 1 gives the i.i.d. bootstrap.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator, int or None
        Generator or seed.

    Returns
    -------
    numpy.ndarray of shape (n_boot, n)
        Integer indices into ``range(n)``.

    Notes
    -----
    Each resample starts at a uniform random index; at every later step a new block starts at
    a fresh uniform index with probability ``p = 1 / mean_block``, otherwise the next index
    follows (wrapping around the end). Block lengths are geometric with mean ``mean_block``,
    which makes the resampled series stationary.

    References
    ----------
    Politis, D. N. and Romano, J. P. (1994). The stationary bootstrap. Journal of the American
    Statistical Association 89(428), 1303-1313.
    """
    for name, value in (("n", n), ("n_boot", n_boot)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    if not mean_block >= 1:
        raise ValueError(f"`mean_block` must be >= 1, got {mean_block!r}.")
    gen = np.random.default_rng(rng)
    starts = gen.integers(0, n, size=(n_boot, n))
    new_block = gen.random((n_boot, n)) < 1.0 / mean_block
    new_block[:, 0] = True
    steps = np.arange(n)
    block_start = np.maximum.accumulate(np.where(new_block, steps, 0), axis=1)
    first = np.take_along_axis(starts, block_start, axis=1)
    return (first + steps - block_start) % n


def sharpe_difference_ci(
    returns_a: ArrayLike,
    returns_b: ArrayLike,
    n_boot: int = 2000,
    mean_block: float = 6,
    alpha: float = 0.05,
    random_state: np.random.Generator | int | None = None,
    periods_per_year: int = 12,
) -> BootstrapResult:
    """Confidence interval for the difference of two annualised Sharpe ratios.

    Parameters
    ----------
    returns_a, returns_b : array-like of shape (n_periods,)
        Returns of the two strategies over the same periods.
    n_boot : int, default=2000
        Number of stationary-bootstrap resamples.
    mean_block : float, default=6
        Expected block length in periods.
    alpha : float, default=0.05
        The interval has coverage ``1 - alpha``.
    random_state : numpy.random.Generator, int or None
        Seed for reproducibility.
    periods_per_year : int, default=12
        Annualisation factor of ``sqrt(periods_per_year) * mean / std(ddof=1)``.

    Returns
    -------
    BootstrapResult
        ``difference = SR_a - SR_b``; percentile interval; two-sided p-value of zero difference.

    Notes
    -----
    Both series are resampled with the same indices, which keeps their cross-correlation and
    (through blocks) their serial dependence. The p-value centres the bootstrap distribution
    on the estimate: ``p = (1 + #{|d*_b - d| >= |d|}) / (1 + B)``.

    This is a plain percentile interval, a description of uncertainty; Ledoit and Wolf's
    (2008) studentised HAC test is
    :func:`backtest.evaluation.sharpe_tests.sharpe_difference_test`.

    References
    ----------
    Politis, D. N. and Romano, J. P. (1994). Journal of the American Statistical Association
    89(428), 1303-1313.
    """
    a, b = np.asarray(returns_a, dtype=float), np.asarray(returns_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size < 3:
        raise ValueError(
            f"`returns_a` {a.shape} and `returns_b` {b.shape} must be 1-D of the same length "
            ">= 3; align the two series on their common dates first."
        )
    pair = np.column_stack([a, b])
    if not np.all(np.isfinite(pair)):
        raise ValueError("`returns_a` or `returns_b` contains NaN or inf; align and drop them.")
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must be in (0, 1), got {alpha!r}.")
    scale = np.sqrt(periods_per_year)
    sr = sharpe_by_column(pair) * scale
    diff = float(sr[0] - sr[1])
    idx = stationary_bootstrap_indices(pair.shape[0], mean_block, n_boot, random_state)
    boot = pair[idx]  # (n_boot, n_periods, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_sr = boot.mean(axis=1) / boot.std(axis=1, ddof=1) * scale
    boot_diff = boot_sr[:, 0] - boot_sr[:, 1]
    low, high = np.quantile(boot_diff, [alpha / 2, 1 - alpha / 2])
    p = (1 + np.sum(np.abs(boot_diff - diff) >= abs(diff))) / (1 + n_boot)
    return BootstrapResult(diff, float(low), float(high), float(p))


def choose_n_blocks(n_periods: int, min_blocks: int = 8, max_blocks: int = 16) -> int:
    """CSCV blocks S that drop the fewest months: even S in [min_blocks, max_blocks], T >= 2S.

    Parameters
    ----------
    n_periods : int
        Number of months T.
    min_blocks, max_blocks : int, default 8 and 16
        Range of S searched (8 blocks give 70 splits; 16 is the paper's 12,870).

    Returns
    -------
    int
        The S with the smallest ``T mod S`` (CSCV drops the oldest ``T mod S`` months), the
        largest such S on ties. When T is too short for ``min_blocks``, the largest even
        S with ``T >= 2S``.

    Notes
    -----
    With T = 58, S = 16 drops the 10 oldest months; S = 14 drops 2 (3,432 splits).

    References
    ----------
    Bailey, D. H., Borwein, J. M., Lopez de Prado, M. and Zhu, Q. J. (2017). The probability
    of backtest overfitting. Journal of Computational Finance 20(4), 39-69.
    """
    upper = min(max_blocks, n_periods // 2) // 2 * 2
    if upper < 2:
        raise ValueError(
            f"CSCV needs at least 4 common months (2 blocks of 2), got n_periods={n_periods}; "
            "compare runs that share more forecast months."
        )
    lower = min(max(2, min_blocks + min_blocks % 2), upper)
    candidates = range(lower, upper + 1, 2)
    return min(candidates, key=lambda s: (n_periods % s, -s))


@dataclass(frozen=True)
class PBOInterval:
    """PBO with a stationary-bootstrap percentile interval over resampled months.

    Attributes
    ----------
    pbo : float
        PBO on the original sample.
    low, high : float
        Percentile interval of level ``1 - alpha``.
    n_blocks : int
        CSCV blocks used.
    n_boot : int
        Resamples.
    """

    pbo: float
    low: float
    high: float
    n_blocks: int
    n_boot: int

    def uninformative(self) -> bool:
        """True when the interval contains 0.5 (cannot tell overfitting from a fair ranking)."""
        return bool(self.low <= 0.5 <= self.high)


def pbo_interval(
    returns: ArrayLike | pd.DataFrame,
    n_blocks: int | None = None,
    n_boot: int = 200,
    mean_block: float = 6,
    alpha: float = 0.05,
    random_state: int = 0,
) -> PBOInterval:
    """PBO and its bootstrap interval: CSCV repeated on month-resampled return matrices.

    Parameters
    ----------
    returns : array-like or DataFrame of shape (n_periods, n_configurations)
        Net returns of the configurations tried (benchmarks excluded).
    n_blocks : int, optional
        CSCV blocks; default :func:`choose_n_blocks`.
    n_boot, mean_block, alpha, random_state
        Stationary bootstrap of whole rows (months keep their cross-section) and level.

    Notes
    -----
    PBO is a statistic of one sample; its splits share data, so one sample's PBO can be far
    from its expectation. Resampling months by blocks and recomputing PBO shows how far.
    """
    m = np.asarray(returns, dtype=float)
    s = choose_n_blocks(m.shape[0]) if n_blocks is None else n_blocks
    point = probability_of_backtest_overfitting(m, s).pbo
    idx = stationary_bootstrap_indices(m.shape[0], mean_block, n_boot, random_state)
    return PBOInterval(point, *_resampled_pbo_quantiles(m, idx, s, alpha), s, n_boot)


def _resampled_pbo_quantiles(
    m: np.ndarray, idx: np.ndarray, n_blocks: int, alpha: float
) -> tuple[float, float]:
    """Percentile interval of the PBO of every resample ``m[idx[b]]``, scored in stacks.

    The same numbers as :func:`probability_of_backtest_overfitting` on each resample in turn
    (its Sharpe fast path, batched over resamples; ``m`` is already checked).
    """
    _, in_sample = _splits(n_blocks)
    per_stack = max(1, _STACK_CELLS // (in_sample.shape[0] * m.shape[1]))
    draws = np.empty(idx.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        for lo in range(0, idx.shape[0], per_stack):
            blocks = _blocks(m[idx[lo : lo + per_stack]], n_blocks)
            r_is = _sharpe_of_halves(blocks, in_sample)
            r_oos = r_is[..., ::-1, :]
            draws[lo : lo + per_stack] = np.mean(_winner_logits(r_is, r_oos)[1] <= 0, axis=-1)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
