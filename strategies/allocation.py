"""Long-only allocators (mean-variance, minimum variance, equal weight) and the risk model.

All allocators work on *simple* returns (convert log-return moments with
:mod:`strategies.returns`) and share ``allocate(mu, cov, label=None) -> weights``.

Longer than ~300 lines because the allocators share their input checks (moments, cap, positive
semi-definiteness).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from numbers import Real
from typing import Any

import numpy as np
from scipy.linalg import lapack
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf

from strategies.qp import QPSolution, solve_capped_budget_qp

__all__ = [
    "Allocator",
    "AllocatorName",
    "CheckedCovariance",
    "EqualWeight",
    "MeanVariance",
    "MinimumVariance",
    "ledoit_wolf_covariance",
    "make_allocator",
    "mean_variance_weights",
]

#: Largest tolerated violation of the budget and the bounds after the clean-up.
WEIGHT_TOLERANCE = 1e-8

#: Below this ``N * max_weight - 1`` the feasible box is a sliver around 1/N, too thin for a
#: solver's feasibility tolerance (it stalled Clarabel; at 1e-14 it is below DAQP's 1e-12 primal
#: tolerance, which let weights out of it); see :func:`_solve_pinned`.
PINNED_SLACK = 1e-6


def ledoit_wolf_covariance(simple_returns: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance of a returns panel.

    Parameters
    ----------
    simple_returns : ndarray of shape (n_periods, n_assets)
        Monthly simple returns.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        ``delta m I + (1 - delta) S`` with ``m = tr(S) / N``.

    Notes
    -----
    Wraps :class:`sklearn.covariance.LedoitWolf`, which centres the data and divides by ``T``
    (not ``T - 1``): ``S`` is the maximum-likelihood covariance.

    References
    ----------
    Ledoit, O. and Wolf, M. (2004). A well-conditioned estimator for large-dimensional
    covariance matrices. Journal of Multivariate Analysis, 88(2), 365-411.
    """
    simple_returns = np.asarray(simple_returns, dtype=float)
    if simple_returns.ndim != 2 or simple_returns.shape[0] < 2:
        raise ValueError(
            "`simple_returns` must have shape (n_periods, n_assets) with n_periods >= 2, "
            f"got {simple_returns.shape}"
        )
    return LedoitWolf().fit(simple_returns).covariance_


def _where(label: str | None) -> str:
    return f"at {label}: " if label is not None else ""


def _check_max_weight(max_weight: object, n_assets: int, label: str | None) -> float:
    if isinstance(max_weight, bool) or not isinstance(max_weight, Real) or not 0 < max_weight <= 1:
        raise ValueError(f"{_where(label)}`max_weight` must be in (0, 1], got {max_weight!r}")
    if max_weight * n_assets < 1.0 - 1e-12:
        raise ValueError(
            f"{_where(label)}infeasible: max_weight={max_weight} with n_assets={n_assets} "
            f"cannot sum to 1; raise max_weight to at least 1/{n_assets} = {1 / n_assets:.4g}"
        )
    return float(max_weight)


def _check_mu(mu: object, label: str | None) -> np.ndarray:
    mu = np.asarray(mu, dtype=float)
    if mu.ndim != 1 or mu.shape[0] < 1:
        raise ValueError(f"{_where(label)}`mu` must have shape (n_assets,), got {mu.shape}")
    return mu


def _check_shape(cov: np.ndarray, n_assets: int, label: str | None) -> None:
    if cov.shape != (n_assets, n_assets):
        raise ValueError(
            f"{_where(label)}`cov` must have shape ({n_assets}, {n_assets}) to match mu, "
            f"got {cov.shape}"
        )


def _finite(array: np.ndarray) -> bool:
    return bool(np.isfinite(array).all())


def _symmetrised(cov: np.ndarray, label: str | None) -> np.ndarray:
    """``cov`` itself when it is exactly symmetric, else ``(cov + cov') / 2`` if close to it.

    A Ledoit-Wolf covariance is exactly symmetric (its ``X'X`` is a symmetric rank-k update),
    and for it ``(cov + cov') / 2`` is ``cov`` to the bit: one comparison replaces the
    tolerance test (five temporaries, ~4 us at 7 assets) and the copy.
    """
    transposed = cov.T
    if (cov == transposed).all():
        return cov
    # np.allclose's own test, written out: allclose costs ~4x more than the check itself
    # (its generic NaN and broadcasting handling), i.e. more than a 7-asset DAQP solve.
    if not (np.abs(cov - transposed) <= 1e-12 + 1e-8 * np.abs(transposed)).all():
        raise ValueError(f"{_where(label)}`cov` must be symmetric; pass a covariance matrix")
    return (cov + transposed) / 2.0


def _check_moments(mu: object, cov: object, label: str | None) -> tuple[np.ndarray, np.ndarray]:
    mu = _check_mu(mu, label)
    cov = np.asarray(cov, dtype=float)
    _check_shape(cov, mu.shape[0], label)
    if not (_finite(mu) and _finite(cov)):
        raise ValueError(f"{_where(label)}`mu` and `cov` must be finite; got NaN or inf")
    return mu, _symmetrised(cov, label)


def _check_semi_definite(cov: np.ndarray, label: str | None) -> None:
    """Reject an indefinite ``cov``: the QP would be non-convex and the solver's answer moot.

    LAPACK's Cholesky (``potrf``) of ``cov`` plus a relative jitter, so that a semi-definite
    ``cov`` passes; called directly, as ``np.linalg.cholesky`` adds ~5 us of wrapping and
    ``np.linalg.eigvalsh`` costs 10x a Cholesky at 50 assets. The transposed view of the
    (symmetric) shifted copy is Fortran-ordered, so LAPACK factors it in place.
    """
    n_assets = cov.shape[0]
    jitter = 1e-10 * max(float(cov.trace()), 1e-300) / n_assets  # semi-definite passes
    shifted = cov.copy()
    diagonal = shifted.reshape(-1)[:: n_assets + 1]
    diagonal += jitter
    _, info = lapack.dpotrf(shifted.T, lower=True, clean=False, overwrite_a=True)
    if info != 0:
        smallest = float(np.linalg.eigvalsh(cov)[0])
        raise ValueError(
            f"{_where(label)}`cov` must be positive semi-definite; its smallest eigenvalue is "
            f"{smallest:.3g}"
        )


class CheckedCovariance:
    """A covariance matrix that passed the allocators' checks, to share across allocators.

    Checking once per rebalancing date what a dozen allocators read (finite, symmetric,
    positive semi-definite) saves those checks on every other call: at 7 assets they cost
    about as much as the QP solve itself.

    Parameters
    ----------
    cov : array-like of shape (n_assets, n_assets)
        Covariance of simple returns.
    label : str or None
        Prefixed to error messages (e.g. the rebalancing date).

    Attributes
    ----------
    matrix : ndarray of shape (n_assets, n_assets)
        The symmetrised covariance, a read-only copy (the checks hold as long as it is
        unchanged).

    Raises
    ------
    ValueError
        If ``cov`` is not square, not finite, not symmetric or not positive semi-definite.
    """

    __slots__ = ("matrix",)

    def __init__(self, cov: object, label: str | None = None) -> None:
        matrix = np.array(cov, dtype=float)  # a copy: the caller's array may change later
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
            raise ValueError(
                f"{_where(label)}`cov` must have shape (n_assets, n_assets), got {matrix.shape}"
            )
        if not _finite(matrix):
            raise ValueError(f"{_where(label)}`cov` must be finite; got NaN or inf")
        matrix = _symmetrised(matrix, label)
        _check_semi_definite(matrix, label)
        matrix.flags.writeable = False
        self.matrix = matrix

    def __repr__(self) -> str:
        return f"CheckedCovariance(n_assets={self.matrix.shape[0]})"


def _checked_moments(
    mu: object, cov: object, label: str | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``mu``, the symmetrised ``cov``, and whether ``cov`` still needs the semi-definite check."""
    if not isinstance(cov, CheckedCovariance):
        return *_check_moments(mu, cov, label), True
    mu = _check_mu(mu, label)
    _check_shape(cov.matrix, mu.shape[0], label)
    if not _finite(mu):
        raise ValueError(f"{_where(label)}`mu` and `cov` must be finite; got NaN or inf")
    return mu, cov.matrix, False


def _solve_pinned(
    mu: np.ndarray, cov: np.ndarray, gamma: float, upper: float, slack: float
) -> QPSolution:
    """Solve the QP through the shortfalls below the cap, ``w = upper - slack z``.

    ``sum w = 1`` becomes ``sum z = 1`` and ``w >= 0`` is implied (``slack z <= slack < upper``),
    so ``z`` lives on the unit simplex, a well-shaped set, with objective
    ``(mu - gamma Sigma upper)' z + (slack gamma / 2) z' Sigma z`` (divided by ``slack``).
    """
    capped = np.full(mu.shape[0], upper)
    solution = solve_capped_budget_qp(slack * gamma * cov, mu - gamma * cov @ capped, 1.0)
    return QPSolution(capped - slack * solution.x, solution.status, solution.iterations)


def mean_variance_weights(
    mu: np.ndarray,
    cov: np.ndarray,
    risk_aversion: float,
    max_weight: float = 1.0,
    label: str | None = None,
) -> np.ndarray:
    """Long-only, budget-constrained mean-variance weights.

    Parameters
    ----------
    mu : ndarray of shape (n_assets,)
        Expected simple returns.
    cov : ndarray of shape (n_assets, n_assets) or CheckedCovariance
        Covariance of simple returns; a :class:`CheckedCovariance` skips the checks it passed
        (finite, symmetric, positive semi-definite), for a covariance shared by many calls.
    risk_aversion : float
        Risk aversion ``gamma > 0`` (:class:`MinimumVariance` uses ``mu = 0``).
    max_weight : float, default 1.0
        Upper bound on each weight, in (0, 1].
    label : str or None
        Prefixed to error messages (e.g. the rebalancing date).

    Returns
    -------
    ndarray of shape (n_assets,)
        ``argmax mu'w - (gamma / 2) w' Sigma w`` s.t. ``sum w = 1``, ``0 <= w <= max_weight``.

    Raises
    ------
    ValueError
        If the bounds cannot hold a fully invested portfolio, the inputs are malformed or
        ``cov`` is not positive semi-definite, or the solver fails (infeasible, no convergence)
        or returns weights violating the constraints by more than 1e-8.

    Notes
    -----
    The convex QP ``min (gamma / 2) w' Sigma w - mu'w`` is solved by DAQP (see
    :func:`strategies.qp.solve_capped_budget_qp`). The solution is clipped to the bounds and
    rescaled to sum to one, then checked.
    """
    mu, cov, unchecked = _checked_moments(mu, cov, label)
    n_assets = mu.shape[0]
    upper = _check_max_weight(max_weight, n_assets, label)
    if unchecked:
        _check_semi_definite(cov, label)
    gamma = float(risk_aversion)
    slack = upper * n_assets - 1.0
    if -1e-12 <= slack <= 0.0:  # what _check_max_weight lets through
        return np.full(n_assets, 1.0 / n_assets)  # the only feasible portfolio
    if 0.0 < slack <= PINNED_SLACK:
        solution = _solve_pinned(mu, cov, gamma, upper, slack)
    else:
        solution = solve_capped_budget_qp(gamma * cov, -mu, upper)
    if not solution.solved:
        raise ValueError(
            f"{_where(label)}mean-variance solve failed: DAQP status {solution.status} "
            f"after {solution.iterations} iterations (n_assets={n_assets}, "
            f"risk_aversion={gamma}, max_weight={upper}); check that cov is positive "
            "semi-definite and well scaled"
        )
    weights = np.minimum(np.maximum(solution.x, 0.0), upper)  # np.clip's wrapper: ~3 us more
    total = float(weights.sum())
    if not total > 0.0:  # NaN too: rescaling would return NaN weights without a word
        raise ValueError(
            f"{_where(label)}mean-variance solve returned no positive weight (DAQP status "
            f"{solution.status}, weights {solution.x}); check the scale of mu and cov"
        )
    weights /= total
    values = weights.tolist()  # three builtins on a list beat three NumPy reductions here
    budget_error = abs(sum(values) - 1.0)
    bound_error = max(-min(values), max(values) - upper, 0.0)
    if budget_error > WEIGHT_TOLERANCE or bound_error > WEIGHT_TOLERANCE:
        raise ValueError(
            f"{_where(label)}mean-variance solution violates its constraints "
            f"(budget error {budget_error:.2e}, bound error {bound_error:.2e}, "
            f"tolerance {WEIGHT_TOLERANCE:.0e}); check the scale of mu and cov"
        )
    return weights


class Allocator(BaseEstimator, ABC):
    """Base class of the allocators: ``allocate(mu, cov, label=None) -> weights``."""

    @abstractmethod
    def allocate(self, mu: np.ndarray, cov: np.ndarray, label: str | None = None) -> np.ndarray:
        """Return long-only weights of shape (n_assets,) summing to one.

        Parameters
        ----------
        mu : ndarray of shape (n_assets,)
            Expected simple returns.
        cov : ndarray of shape (n_assets, n_assets) or CheckedCovariance
            Covariance of simple returns (checked once when a :class:`CheckedCovariance`).
        label : str or None
            Prefixed to error messages, e.g. the rebalancing date ``"2020-03-31"``.
        """


class MeanVariance(Allocator):
    """Long-only mean-variance portfolio with a per-asset cap.

    Parameters
    ----------
    risk_aversion : float, default 5.0
        ``gamma`` in ``mu'w - (gamma / 2) w' Sigma w`` on *monthly simple* returns. With the
        single stocks here (monthly volatility about 8-15%, variance 0.006-0.02) and expected
        returns of 1-3% a month, the unconstrained tilt ``Sigma^-1 mu / gamma`` is of order
        0.1-0.5 per asset at gamma = 5: the optimiser trades mean against risk instead of
        piling into the highest mean (gamma near 1) or collapsing to minimum variance
        (gamma >> 10). With the cap below binding for the best assets, results are not very
        sensitive to gamma in roughly 2-10; the engine can sweep it.
    max_weight : float, default 0.4
        Cap on each weight. With 7 assets it allows conviction (up to 2.8 times 1/N) while
        forcing at least three holdings, which limits the error maximisation of Michaud (1989)
        and the corner solutions of noisy means; feasible for ``n_assets >= 3``.

    Notes
    -----
    Solved by :func:`mean_variance_weights`.
    """

    def __init__(self, risk_aversion: float = 5.0, max_weight: float = 0.4) -> None:
        self.risk_aversion = risk_aversion
        self.max_weight = max_weight

    def allocate(self, mu: np.ndarray, cov: np.ndarray, label: str | None = None) -> np.ndarray:
        """Maximise the mean-variance utility under the budget and the bounds."""
        gamma = self.risk_aversion
        if isinstance(gamma, bool) or not isinstance(gamma, Real) or not gamma > 0:
            raise ValueError(f"{_where(label)}`risk_aversion` must be positive, got {gamma!r}")
        return mean_variance_weights(mu, cov, gamma, self.max_weight, label)


class MinimumVariance(Allocator):
    """Long-only minimum-variance portfolio with a per-asset cap (``mu`` is ignored).

    Parameters
    ----------
    max_weight : float, default 0.4
        Cap on each weight (see :class:`MeanVariance`).
    """

    def __init__(self, max_weight: float = 0.4) -> None:
        self.max_weight = max_weight

    def allocate(self, mu: np.ndarray, cov: np.ndarray, label: str | None = None) -> np.ndarray:
        """Minimise ``w' Sigma w`` under the budget and the bounds."""
        zeros = np.zeros(np.shape(mu))
        return mean_variance_weights(zeros, cov, 1.0, self.max_weight, label)


class EqualWeight(Allocator):
    """The 1/N portfolio (DeMiguel, Garlappi & Uppal 2009); ``mu`` and ``cov`` are ignored."""

    def allocate(self, mu: np.ndarray, cov: np.ndarray, label: str | None = None) -> np.ndarray:
        """Return ``1/N`` for every asset."""
        n_assets = np.shape(mu)[0] if np.ndim(mu) == 1 else 0
        if n_assets < 1:
            raise ValueError(f"{_where(label)}`mu` must have shape (n_assets,), got {np.shape(mu)}")
        return np.full(n_assets, 1.0 / n_assets)


class AllocatorName(str, Enum):
    """Names of the allocators."""

    MEAN_VARIANCE = "mean_variance"
    MIN_VARIANCE = "min_variance"
    EQUAL_WEIGHT = "equal_weight"


def make_allocator(name: str | AllocatorName, **params: Any) -> Allocator:
    """Build the allocator called ``name`` with constructor ``params``.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    """
    try:
        key = AllocatorName(name)
    except ValueError:
        valid = ", ".join(member.value for member in AllocatorName)
        raise ValueError(f"unknown allocator name={name!r}; valid names are: {valid}") from None
    match key:
        case AllocatorName.MEAN_VARIANCE:
            return MeanVariance(**params)
        case AllocatorName.MIN_VARIANCE:
            return MinimumVariance(**params)
        case AllocatorName.EQUAL_WEIGHT:
            return EqualWeight(**params)
