"""Ledoit-Wolf (2008) test of a difference of two Sharpe ratios: HAC and studentised bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.stats.sandwich_covariance import S_hac_simple

__all__ = ["Alternative", "SharpeDifferenceTest", "sharpe_difference_test"]


class Alternative(str, Enum):
    """Alternative hypothesis of :func:`sharpe_difference_test` about ``SR_a - SR_b``."""

    GREATER = "greater"
    TWO_SIDED = "two-sided"


@dataclass(frozen=True)
class SharpeDifferenceTest:
    """Outcome of :func:`sharpe_difference_test` (Sharpe ratios annualised).

    Attributes
    ----------
    difference : float
        ``SR_a - SR_b``.
    se_hac : float
        Its HAC (delta-method) standard error.
    p_value : float
        Studentised circular-block-bootstrap p-value under ``alternative``.
    ci_low, ci_high : float
        Studentised bootstrap interval of level ``1 - alpha`` (two-sided).
    alternative : Alternative
    block_size : int
    n_boot : int
    """

    difference: float
    se_hac: float
    p_value: float
    ci_low: float
    ci_high: float
    alternative: Alternative
    block_size: int
    n_boot: int


def _moments(pair: np.ndarray) -> np.ndarray:
    """Per-period ``y_t = (a, b, a^2, b^2)``; works on stacks ``(..., n, 2)``."""
    return np.concatenate([pair, pair**2], axis=-1)


def _difference_and_gradient(mean_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``SR_a - SR_b`` per period from ``E[y]``, and its gradient (both stack-aware)."""
    mu, gamma = mean_y[..., :2], mean_y[..., 2:]
    var = gamma - mu**2
    sd = np.sqrt(var)
    diff = mu[..., 0] / sd[..., 0] - mu[..., 1] / sd[..., 1]
    d_mu = gamma / var**1.5
    d_gamma = -0.5 * mu / var**1.5
    grad = np.stack([d_mu[..., 0], -d_mu[..., 1], d_gamma[..., 0], -d_gamma[..., 1]], axis=-1)
    return diff, grad


def sharpe_difference_test(
    returns_a: ArrayLike,
    returns_b: ArrayLike,
    alternative: str = "greater",
    block_size: int = 6,
    n_boot: int = 2000,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = 0,
    periods_per_year: int = 12,
) -> SharpeDifferenceTest:
    """Test ``SR_a = SR_b`` the way Ledoit and Wolf (2008) do.

    Parameters
    ----------
    returns_a, returns_b : array-like of shape (n_periods,)
        Returns (excess of the risk-free rate if one applies) over the same periods.
    alternative : {"greater", "two-sided"}, default "greater"
        "greater": H1 ``SR_a > SR_b`` (a claim that ``a`` beats ``b`` is one-sided).
    block_size : int, default 6
        Length of the circular blocks (months) and lag window of the HAC estimate.
    n_boot : int, default 2000
        Bootstrap resamples.
    alpha : float, default 0.05
        The interval's level is ``1 - alpha``.
    random_state : int, Generator or None, default 0
        Seed; the same seed gives the same p-value.
    periods_per_year : int, default 12
        Annualisation of the reported difference, standard error and interval.

    Returns
    -------
    SharpeDifferenceTest

    Notes
    -----
    With ``y_t = (a_t, b_t, a_t^2, b_t^2)`` and ``u = E[y]``, ``SR_a - SR_b = f(u)``; the
    delta method gives ``se = sqrt(grad f' Psi grad f / T)`` with ``Psi`` the HAC (Bartlett,
    ``block_size - 1`` lags) long-run covariance of ``y``. The p-value is from the studentised
    circular block bootstrap of their section 3.2: resample ``ceil(T / b)`` circular blocks,
    compute ``d*`` and its standard error ``se*`` from the resample's block sums
    (``Psi* = mean_j zeta_j zeta_j'``, ``zeta_j`` = ``b^-1/2`` times block ``j``'s centred sum),
    and compare ``(d* - d) / se*`` with ``d / se``:
    ``p = (1 + #{t* >= t}) / (1 + B)`` one-sided, with absolute values two-sided.

    References
    ----------
    Ledoit, O. and Wolf, M. (2008). Robust performance hypothesis testing with the Sharpe
    ratio. Journal of Empirical Finance 15(5), 850-859.
    """
    a, b = np.asarray(returns_a, dtype=float), np.asarray(returns_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2 * block_size:
        raise ValueError(
            f"`returns_a` {a.shape} and `returns_b` {b.shape} must be 1-D of the same length, "
            f"at least 2 * block_size = {2 * block_size}; align them on common dates"
        )
    pair = np.column_stack([a, b])
    if not np.all(np.isfinite(pair)):
        raise ValueError("`returns_a` or `returns_b` contains NaN or inf; align and drop them")
    kind = Alternative(alternative)
    n = pair.shape[0]
    y = _moments(pair)
    diff, grad = _difference_and_gradient(y.mean(axis=0))
    psi = S_hac_simple(y - y.mean(axis=0), nlags=block_size - 1) / n  # it returns a sum
    se = float(np.sqrt(grad @ psi @ grad / n))

    rng = np.random.default_rng(random_state)
    n_blocks = -(-n // block_size)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_size)) % n  # (n_boot, n_blocks, block)
    y_star = y[idx]  # (n_boot, n_blocks, block, 4)
    n_star = n_blocks * block_size
    mean_star = y_star.reshape(n_boot, n_star, 4).mean(axis=1)
    d_star, g_star = _difference_and_gradient(mean_star)
    zeta = (y_star.sum(axis=2) - block_size * mean_star[:, None, :]) / np.sqrt(block_size)
    psi_star = np.einsum("kji,kjl->kil", zeta, zeta) / n_blocks
    se_star = np.sqrt(np.einsum("ki,kil,kl->k", g_star, psi_star, g_star) / n_star)
    t_star = (d_star - diff) / se_star
    t_obs = diff / se
    if kind is Alternative.GREATER:
        p = (1 + np.sum(t_star >= t_obs)) / (1 + n_boot)
    else:
        p = (1 + np.sum(np.abs(t_star) >= abs(t_obs))) / (1 + n_boot)
    q = np.quantile(np.abs(t_star), 1 - alpha)
    scale = np.sqrt(periods_per_year)
    return SharpeDifferenceTest(
        difference=float(diff * scale),
        se_hac=se * scale,
        p_value=float(p),
        ci_low=float((diff - q * se) * scale),
        ci_high=float((diff + q * se) * scale),
        alternative=kind,
        block_size=block_size,
        n_boot=n_boot,
    )
