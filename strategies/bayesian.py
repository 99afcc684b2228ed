"""Bayesian expected-return estimators: Bayes-Stein (Jorion 1986) and Black-Litterman."""

from __future__ import annotations

from enum import Enum
from numbers import Real

import numpy as np

from strategies.base import (
    ExpectedReturnStrategy,
    check_min_history,
    check_optional_window,
    parse_enum,
    trailing_mse,
)
from strategies.inputs import MarketView

__all__ = [
    "BayesStein",
    "BlackLitterman",
    "BlackLittermanPrior",
    "bayes_stein",
    "black_litterman",
    "black_litterman_gain",
]


def bayes_stein(
    muhat: np.ndarray, S: np.ndarray, n_periods: int
) -> tuple[np.ndarray, float, float]:
    """Bayes-Stein shrinkage of the sample mean toward the minimum-variance portfolio's mean.

    Parameters
    ----------
    muhat : ndarray of shape (n_assets,)
        Sample mean.
    S : ndarray of shape (n_assets, n_assets)
        Covariance estimate; Jorion uses ``sample_cov * (T - 1) / (T - N - 2)``.
    n_periods : int
        Number of periods ``T`` behind ``muhat``.

    Returns
    -------
    mu : ndarray of shape (n_assets,)
        ``(1 - w) muhat + w y0 1``.
    y0 : float
        Target ``1' S^-1 muhat / 1' S^-1 1``, the minimum-variance portfolio's mean.
    w : float
        Shrinkage intensity ``(N + 2) / ((N + 2) + T (muhat - y0 1)' S^-1 (muhat - y0 1))``.

    References
    ----------
    Jorion, P. (1986). Bayes-Stein estimation for portfolio analysis.
    Journal of Financial and Quantitative Analysis, 21(3), 279-292.
    """
    muhat = np.asarray(muhat, dtype=float)
    S = np.atleast_2d(np.asarray(S, dtype=float))
    n_assets = muhat.shape[0]
    ones = np.ones(n_assets)
    s_inv_ones = np.linalg.solve(S, ones)
    y0 = float(s_inv_ones @ muhat / (s_inv_ones @ ones))
    deviation = muhat - y0
    distance = float(deviation @ np.linalg.solve(S, deviation))
    w = (n_assets + 2) / ((n_assets + 2) + n_periods * distance)
    return (1.0 - w) * muhat + w * y0, y0, float(w)


def black_litterman_gain(sigma: np.ndarray, omega: np.ndarray, tau: float) -> np.ndarray:
    """Gain matrix ``A = tau Sigma (tau Sigma + Omega)^-1`` of Black-Litterman with ``P = I``.

    ``omega`` may be a matrix or the vector of its diagonal. Returns shape (n_assets, n_assets).
    """
    prior_cov = tau * np.atleast_2d(np.asarray(sigma, dtype=float))
    omega = np.asarray(omega, dtype=float)
    omega = np.diag(np.atleast_1d(omega)) if omega.ndim <= 1 else omega
    # A = B M^-1 with B, M symmetric, so A' = M^-1 B: one solve, no explicit inverse.
    return np.linalg.solve(prior_cov + omega, prior_cov).T


def black_litterman(
    pi: np.ndarray, sigma: np.ndarray, q: np.ndarray, omega: np.ndarray, tau: float
) -> np.ndarray:
    """Black-Litterman posterior mean with one absolute view per asset (``P = I``).

    Parameters
    ----------
    pi : ndarray of shape (n_assets,)
        Prior mean.
    sigma : ndarray of shape (n_assets, n_assets)
        Return covariance.
    q : ndarray of shape (n_assets,)
        Views (here: the forecast).
    omega : ndarray of shape (n_assets, n_assets) or (n_assets,)
        View uncertainty, or its diagonal.
    tau : float
        Scale of the prior's uncertainty, ``Var(mu) = tau Sigma``.

    Returns
    -------
    ndarray of shape (n_assets,)
        ``Pi + tau Sigma (tau Sigma + Omega)^-1 (Q - Pi)``.

    References
    ----------
    Black, F. and Litterman, R. (1992). Global portfolio optimization.
    Financial Analysts Journal, 48(5), 28-43.
    """
    pi = np.atleast_1d(np.asarray(pi, dtype=float))
    gain = black_litterman_gain(sigma, omega, tau)
    return pi + gain @ (np.atleast_1d(np.asarray(q, dtype=float)) - pi)


class BayesStein(ExpectedReturnStrategy):
    """Jorion's Bayes-Stein estimator (see :func:`bayes_stein`).

    Notes
    -----
    Uses ``S = sample_cov * (T - 1) / (T - N - 2)`` from ``view.returns``, which needs
    ``T > N + 2``. ``intensity_`` is ``w``; ``target_`` is ``y0`` for every asset.
    """

    def fit(self, view: MarketView) -> BayesStein:
        """Shrink the historical means toward the minimum-variance portfolio's mean."""
        n_periods, n_assets = view.n_periods, view.n_assets
        if n_periods <= n_assets + 2:
            raise ValueError(
                f"Bayes-Stein needs n_periods > n_assets + 2, got n_periods={n_periods} for "
                f"n_assets={n_assets}; lengthen the training window to at least "
                f"{n_assets + 3} months"
            )
        S = view.sample_covariance * (n_periods - 1) / (n_periods - n_assets - 2)
        _, y0, w = bayes_stein(view.historical_mean, S, n_periods)
        return self._store(view.historical_mean, np.full(n_assets, y0), w)


class BlackLittermanPrior(str, Enum):
    """Prior mean of :class:`BlackLitterman`."""

    HISTORICAL_MEAN = "historical_mean"
    EQUILIBRIUM = "equilibrium"


class BlackLitterman(ExpectedReturnStrategy):
    """Black-Litterman posterior with the forecast as one absolute view per asset.

    Parameters
    ----------
    tau : float or None, default None
        Prior uncertainty scale, ``Var(mu) = tau Sigma``; None gives ``1 / T``, the sampling
        variance of a mean of ``T`` months when the prior is the historical mean.
    prior : {"historical_mean", "equilibrium"}, default "historical_mean"
        ``Pi``: the historical mean, or the equal-weight equilibrium ``delta Sigma w_eq``.
    risk_aversion : float, default 2.5
        ``delta`` of the equilibrium prior (ignored for the historical-mean prior).
    min_history : int, default 12
        Scored past months needed before the forecast is used as a view at all; before that
        the posterior is the prior (intensity 0).
    window : int or None, default None
        Use only the last ``window`` scored months for ``Omega`` (all if None).
    omega_floor : float, default 0.1
        ``Omega_ii >= omega_floor * tau Sigma_ii``: the view is at most ``1 / omega_floor``
        times as precise as the prior (weight <= ``1 / (1 + omega_floor)`` = 0.91 per asset
        when ``Sigma`` is diagonal), so a lucky trailing record cannot make it certain.

    Notes
    -----
    ``P = I``, ``Q = forecast``, ``Sigma`` = sample covariance of ``view.returns``.
    ``Omega`` is the view's uncertainty about the *conditional mean* ``mu_t``, not about the
    realised return. A forecast's MSE is ``E[(f - mu_t)^2] + sigma_e^2``: the noise
    ``sigma_e^2`` is common to every forecast and swamps the first term, so the MSE alone
    gives every model the same weight. Differencing against the historical mean's MSE
    removes the noise: ``MSE_f - MSE_b = E[(f - mu_t)^2] - E[(b - mu_t)^2]``, and the prior
    says ``E[(b - mu)^2] = tau Sigma_ii``. Hence, per asset,
    ``Omega_ii = max(MSE_f - MSE_b + tau Sigma_ii, omega_floor tau Sigma_ii)``: a forecast as
    accurate as the mean is as uncertain as the prior (weight 1/2 on a diagonal ``Sigma``),
    a worse one weighs less, a better one more. ``intensity_`` is the diagonal of the gain
    ``tau Sigma (tau Sigma + Omega)^-1``; ``gain_`` holds the matrix, ``omega_`` the diagonal
    of ``Omega`` (NaN while there is no view) and ``tau_`` the scale used.

    References
    ----------
    Black, F. and Litterman, R. (1992). Global portfolio optimization.
    Financial Analysts Journal, 48(5), 28-43.
    He, G. and Litterman, R. (1999). The intuition behind Black-Litterman model portfolios.
    Goldman Sachs Investment Management Research.
    """

    def __init__(
        self,
        tau: float | None = None,
        prior: str = "historical_mean",
        risk_aversion: float = 2.5,
        min_history: int = 12,
        window: int | None = None,
        omega_floor: float = 0.1,
    ) -> None:
        self.tau = tau
        self.prior = prior
        self.risk_aversion = risk_aversion
        self.min_history = min_history
        self.window = window
        self.omega_floor = omega_floor

    def _check(self) -> None:
        names = ("risk_aversion", "omega_floor") if self.tau is None else (
            "tau", "risk_aversion", "omega_floor",
        )  # fmt: skip
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
                raise ValueError(f"`{name}` must be a positive number, got {value!r}")

    def fit(self, view: MarketView) -> BlackLitterman:
        """Combine the prior and the forecast view into the posterior mean."""
        self._check()
        window = check_optional_window("window", self.window)
        min_history = check_min_history(self.min_history, window)
        sigma = view.sample_covariance
        tau = 1.0 / view.n_periods if self.tau is None else float(self.tau)
        match parse_enum(BlackLittermanPrior, "prior", self.prior):
            case BlackLittermanPrior.HISTORICAL_MEAN:
                pi = view.historical_mean
            case BlackLittermanPrior.EQUILIBRIUM:
                pi = self.risk_aversion * sigma @ np.full(view.n_assets, 1.0 / view.n_assets)
        self.tau_ = tau
        if view.n_past < min_history:
            self.omega_ = np.full(view.n_assets, np.nan)
            self.gain_ = np.zeros((view.n_assets, view.n_assets))
            return self._store(pi, view.forecast, np.zeros(view.n_assets))
        prior_var = tau * np.diag(sigma)
        excess = trailing_mse(view.past_forecasts, view.past_realised, window) - trailing_mse(
            view.past_benchmarks, view.past_realised, window
        )
        omega = np.maximum(excess + prior_var, self.omega_floor * prior_var)
        self.omega_ = omega
        self.gain_ = black_litterman_gain(sigma, omega, tau)
        self._store(pi, view.forecast, np.diag(self.gain_).copy())
        self.mu_ = pi + self.gain_ @ (view.forecast - pi)
        return self
