"""The long-only capped-budget QP behind the mean-variance allocators, solved by DAQP.

Why DAQP (a dual active-set method, Arnstrom, Bemporad & Axehill 2022): these QPs are small and
dense (7-50 weights, one equality, box bounds), the regime active-set methods are built for.
Such a method ends on an exact vertex of its active set (the weights on a bound are *on* it and
the others solve the KKT system to round-off), so there is no interior-point tolerance to tune,
and its Python entry point costs a few microseconds. Measured side by side with the other
candidates on ``benchmarks/allocation.py``'s problems (median over 30 problems of the best of
five calls, Python call included, under load; the comparison needs the other candidates
installed and is not part of the project):

- DAQP: 15 us at 7 assets and 119 us at 50 (65x and 8,300x SLSQP), weights within 4e-15 of
  the SLSQP-plus-KKT reference;
- quadprog (Goldfarb-Idnani): as exact, but 1.8x slower than DAQP at 7 assets and 3.5x at 50,
  and it rejects a singular covariance ("matrix G is not positive definite"), which the
  allocators accept (a rank-deficient covariance, a duplicated asset);
- ProxSuite (proximal ALM, dense backend): 6.5x and 4.3x slower than DAQP, and it stops at a
  tolerance (weights 2e-9 off, utilities up to 9e-11 below the reference);
- qpsolvers in front of DAQP: the same answer with ~15 us more of conversions and checks a call
  (2x DAQP alone at 7 assets);
- Clarabel (interior point, the previous solver): 11x slower than DAQP at 7 and at 50 assets
  (a fixed ~150 us a solve), weights up to 8e-10 from the vertex.

DAQP regularises a singular Hessian by itself (proximal iterations, ``eps_prox < 0``), reports
infeasibility through its exit flag, and accepts a warm start (the previous active set); see
:func:`solve_capped_budget_qp`. It gets one thing wrong here: on nearly linear problems its
automatic regularisation can call a point far outside the constraints optimal, hence
:data:`NEAR_LINEAR` and the feasibility check of every answer.

References
----------
Arnstrom, D., Bemporad, A. and Axehill, D. (2022). A dual active-set solver for embedded
quadratic programming using recursive LDL' updates. IEEE Transactions on Automatic Control,
67(8), 4362-4369.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import daqp
import numpy as np

__all__ = ["NEAR_LINEAR", "PRIMAL_TOLERANCE", "QPSolution", "solve_capped_budget_qp"]

#: Largest violation of a bound DAQP accepts before it adds the bound to its active set. Its
#: default (1e-6) would let a weight sit 1e-6 below zero or above the cap, the whole tolerance of
#: the comparison with SLSQP; the weights and bounds are of order one, so 1e-12 is round-off.
PRIMAL_TOLERANCE = 1e-12

#: Below this ratio of the scaled Hessian to the linear term the QP is all but a linear program
#: (the pinned sliver of :func:`strategies.allocation._solve_pinned` at a slack of ~1e-14), and
#: DAQP's automatic regularisation returns points up to 1e-10 off the constraints at ratios of
#: 1e-12-1e-10, and "optimal" points 30 out of them below 1e-14 (2,000 random slivers). Forced
#: proximal iterations (``eps_prox = 1``) solved every one of those on the constraints to 1e-15
#: and within 1.2e-12 (relative) of Clarabel's objective; above 1e-10 both modes agree, and the
#: cheaper automatic one is kept.
NEAR_LINEAR = 1e-8

#: A point DAQP calls optimal must satisfy the budget and the bounds to this (scaled units);
#: otherwise the solve is reported as failed rather than clipped into a portfolio.
FEASIBILITY_TOLERANCE = 1e-9

#: DAQP's exit flags (``daqp/include/constants.h``) and the names errors show for them.
_EXIT_FLAGS = {
    2: "SoftOptimal",
    1: "Solved",
    -1: "Infeasible",
    -2: "Cycling",
    -3: "Unbounded",
    -4: "IterationLimit",
    -5: "NonConvex",
    -6: "OverdeterminedInitial",
    -7: "TimeLimit",
}

#: DAQP's constraint flags: active (in the working set), active at its lower bound, equality.
_ACTIVE, _AT_LOWER, _EQUALITY = 1, 2, 5


class QPSolution(NamedTuple):
    """What the solver returned: the primal point, its status and the iteration count.

    A named tuple: built once a solve, ~1 us cheaper than a frozen dataclass.
    """

    x: np.ndarray
    status: str
    iterations: int

    @property
    def solved(self) -> bool:
        """Whether DAQP reported an optimum of the hard-constrained problem."""
        return self.status == "Solved"


@lru_cache(maxsize=64)
def _constraints(n_assets: int, upper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A``, upper and lower bounds: the first ``n`` rows are ``0 <= x <= upper``, then the budget.

    DAQP reads the leading entries of the bound vectors beyond the rows of ``A`` as simple
    bounds on ``x``, which it handles without a row of ``A``. ``daqp.solve`` copies its inputs
    into its own workspace and never writes them (``tests/test_allocation.py`` checks), so one
    cached set serves every call; it must stay writable all the same, as DAQP's Cython entry
    point takes writable memoryviews.
    """
    budget = np.ones((1, n_assets))
    upper_bounds = np.append(np.full(n_assets, upper), 1.0)
    lower_bounds = np.append(np.zeros(n_assets), 1.0)
    return budget, upper_bounds, lower_bounds


def _sense(n_assets: int, warm_start: np.ndarray | None, upper: float) -> np.ndarray:
    """Constraint flags: the budget is an equality; a warm start marks the bounds it binds."""
    sense = np.zeros(n_assets + 1, dtype=np.int32)
    sense[-1] = _EQUALITY
    if warm_start is not None:
        # Marking a wrong set costs iterations, not accuracy: DAQP drops a constraint whose
        # multiplier has the wrong sign, so the answer does not depend on the start.
        sense[:-1][warm_start <= PRIMAL_TOLERANCE] = _ACTIVE | _AT_LOWER
        sense[:-1][warm_start >= upper - PRIMAL_TOLERANCE] = _ACTIVE
    return sense


def solve_capped_budget_qp(
    hessian: np.ndarray,
    linear: np.ndarray,
    upper: float,
    warm_start: np.ndarray | None = None,
) -> QPSolution:
    """Solve ``min x'Hx / 2 + c'x`` s.t. ``sum x = 1`` and ``0 <= x <= upper``.

    Parameters
    ----------
    hessian : ndarray of shape (n, n)
        Symmetric positive semi-definite ``H``.
    linear : ndarray of shape (n,)
        ``c``.
    upper : float
        Cap on each coordinate, in (0, 1]; the caller checks that ``n * upper >= 1``.
    warm_start : ndarray of shape (n,) or None
        A previous solution (e.g. last month's weights) whose bounds at zero and at the cap
        start DAQP's working set; ``None`` starts from no bound. The same answer either way
        (to ~1e-15), in fewer iterations: 2.7 instead of 52 at 50 assets, half the time of a
        solve. The rebalancing loop does not pass one: the solves are ~15% of the CPU of a
        50-asset allocation (``benchmarks/allocation.py``), and a warm start would tie each
        month's decision to the one before it, which is now computed on its own.

    Returns
    -------
    QPSolution
        DAQP's primal point: the coordinates on a bound are on it, the others solve the KKT
        system of the active set to round-off.
    """
    n_assets = linear.shape[0]
    # Scaling the objective leaves the argmin alone but makes DAQP's absolute dual tolerance
    # mean the same on a 1%-volatility minimum variance as on a 15%-volatility mean-variance
    # problem (and on the nearly linear problems of a cap that leaves a sliver around 1/N).
    # Builtins on small lists and the ndarray method rather than np.trace and NumPy reductions:
    # at 7 assets each NumPy call's overhead is a tenth of DAQP's whole solve.
    mean_curvature = float(hessian.trace()) / n_assets
    coefficients = linear.tolist()
    magnitude = max(mean_curvature, max(coefficients), -min(coefficients))
    scale = 1.0 / magnitude if magnitude > 0 else 1.0
    near_linear = mean_curvature * scale < NEAR_LINEAR
    budget, upper_bounds, lower_bounds = _constraints(n_assets, float(upper))
    x, _, exit_flag, info = daqp.solve(
        scale * hessian,
        scale * linear,
        budget,
        upper_bounds,
        lower_bounds,
        _sense(n_assets, warm_start, float(upper)),
        primal_tol=PRIMAL_TOLERANCE,
        eps_prox=1.0 if near_linear else -1e-6,  # negative: regularise only a singular H
    )
    x = np.asarray(x, dtype=float)
    status = _EXIT_FLAGS.get(int(exit_flag)) or f"exit flag {exit_flag}"
    values = x.tolist()  # three builtins on a list beat three NumPy reductions at this size
    violation = max(-min(values), max(values) - upper, abs(sum(values) - 1.0))
    if status == "Solved" and not violation <= FEASIBILITY_TOLERANCE:
        status = f"Solved at an infeasible point (violation {violation:.2e})"
    return QPSolution(x, status, int(info["iterations"]))
