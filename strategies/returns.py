"""Log-return moments to simple-return moments, in one place.

Strategies estimate expected monthly *log* returns; allocation needs *simple* returns, because a
portfolio's simple return is the weighted sum of its assets' simple returns (log returns do not
aggregate across assets). The conversion assumes the log returns are jointly normal, so gross
simple returns ``1 + R = exp(r)`` are jointly lognormal.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simple_covariance", "simple_expected_returns"]


def _check_moments(mu_log: np.ndarray, cov_log: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu_log = np.asarray(mu_log, dtype=float)
    cov_log = np.asarray(cov_log, dtype=float)
    if mu_log.ndim != 1:
        raise ValueError(f"`mu_log` must have shape (n_assets,), got {mu_log.shape}")
    n_assets = mu_log.shape[0]
    if cov_log.shape != (n_assets, n_assets):
        raise ValueError(
            f"`cov_log` must have shape ({n_assets}, {n_assets}) to match mu_log, "
            f"got {cov_log.shape}"
        )
    return mu_log, cov_log


def simple_expected_returns(mu_log: np.ndarray, cov_log: np.ndarray) -> np.ndarray:
    """Compute the expected simple returns implied by lognormal gross returns.

    Parameters
    ----------
    mu_log : ndarray of shape (n_assets,)
        Expected log returns.
    cov_log : ndarray of shape (n_assets, n_assets)
        Covariance of log returns.

    Returns
    -------
    ndarray of shape (n_assets,)
        ``E[R_i] = exp(mu_i + Sigma_ii / 2) - 1``.

    Notes
    -----
    If ``r ~ N(mu, Sigma)`` then ``E[exp(r_i)] = exp(mu_i + Sigma_ii / 2)``: the variance term
    makes the expected simple return exceed ``exp(mu_i) - 1``.
    """
    mu_log, cov_log = _check_moments(mu_log, cov_log)
    return np.exp(mu_log + np.diag(cov_log) / 2.0) - 1.0


def simple_covariance(mu_log: np.ndarray, cov_log: np.ndarray) -> np.ndarray:
    """Compute the simple-return covariance implied by lognormal gross returns.

    Parameters
    ----------
    mu_log : ndarray of shape (n_assets,)
        Expected log returns.
    cov_log : ndarray of shape (n_assets, n_assets)
        Covariance of log returns.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        ``Cov(R_i, R_j) = E_i E_j (exp(Sigma_ij) - 1)`` with ``E_i = exp(mu_i + Sigma_ii / 2)``
        the expected gross return.

    Notes
    -----
    Follows from ``E[exp(r_i + r_j)] = E_i E_j exp(Sigma_ij)`` for jointly normal ``r``.
    """
    mu_log, cov_log = _check_moments(mu_log, cov_log)
    gross = np.exp(mu_log + np.diag(cov_log) / 2.0)
    return np.outer(gross, gross) * np.expm1(cov_log)
