from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import strategies.allocation as allocation
import strategies.qp as qp
from strategies import (
    AllocatorName,
    EqualWeight,
    MeanVariance,
    MinimumVariance,
    ledoit_wolf_covariance,
    make_allocator,
    mean_variance_weights,
)
from strategies.qp import QPSolution, solve_capped_budget_qp

WEIGHT_ATOL = 1e-6  # solver versus closed form
CONSTRAINT_ATOL = 1e-8  # budget and bounds after the clean-up
UTILITY_ATOL = 1e-11  # QP utility may fall this far below SLSQP's (both solvers' round-off)

LW_PANEL = np.array(
    [
        [0.02, 0.01, 0.03],
        [-0.01, 0.00, -0.02],
        [0.03, 0.02, 0.01],
        [-0.02, -0.01, 0.00],
        [0.01, 0.03, 0.02],
        [0.00, -0.02, -0.01],
    ]
)


def random_covariance(rng, n_assets, monthly_vol=0.08):
    factors = rng.normal(size=(n_assets, n_assets))
    corr_like = factors @ factors.T / n_assets + 0.2 * np.eye(n_assets)
    scale = monthly_vol / np.sqrt(np.diag(corr_like))
    return corr_like * np.outer(scale, scale)


def closed_form_weights(mu, cov, gamma):
    """Unconstrained budget-only solution w = Sigma^-1 (mu - eta 1) / gamma."""
    ones = np.ones_like(mu)
    inv_mu, inv_ones = np.linalg.solve(cov, mu), np.linalg.solve(cov, ones)
    eta = (ones @ inv_mu - gamma) / (ones @ inv_ones)
    return (inv_mu - eta * inv_ones) / gamma


def utility(weights, mu, cov, gamma):
    return weights @ mu - 0.5 * gamma * weights @ cov @ weights


def slsqp_weights(mu, cov, gamma, upper):
    """Naive reference: SciPy SLSQP from equal weights, tightly converged (the former solver).

    SLSQP's ``ftol`` is absolute, so the objective is first divided by its scale (a 1%-vol
    minimum variance has utilities ~1e-7, where ``ftol=1e-15`` would stop ~1e-4 from the
    optimum); the argmin is unchanged.
    """
    n_assets = mu.shape[0]
    scale = max(gamma * np.trace(cov) / n_assets, np.abs(mu).max())

    def objective(w):
        sigma_w = cov @ w
        value, gradient = 0.5 * gamma * w @ sigma_w - mu @ w, gamma * sigma_w - mu
        return value / scale, gradient / scale

    result = minimize(
        objective,
        np.full(n_assets, 1 / n_assets),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, upper)] * n_assets,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": np.ones_like}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    weights = np.clip(result.x, 0.0, upper)
    return weights / weights.sum(), result.success


def reference_weights(mu, cov, gamma, upper):
    """SLSQP, then the exact optimum on its active set (the sign checks can fail).

    SLSQP sometimes ends with "Positive directional derivative for linesearch" at a point it
    cannot improve on in floating point; its active set is then still usable if the exact
    solution on it passes the KKT checks, and the example is discarded otherwise.
    """
    weights, success = slsqp_weights(mu, cov, gamma, upper)
    refined = kkt_refined(weights, mu, cov, gamma, upper)
    assume(success or refined is not weights)
    return refined


def kkt_refined(weights, mu, cov, gamma, upper, tol=1e-7):
    """Exact optimum on the active set of ``weights``, if it satisfies the KKT conditions.

    SLSQP stops on the change in the objective (``ftol``), so on flat problems (low gamma and
    volatility) its free weights can sit ~1e-5 from the optimum. Fixing the weights it put on a
    bound and solving the budget-constrained first-order conditions of the others in closed
    form gives the exact optimum whenever the signs of the multipliers confirm that active set;
    otherwise SLSQP's own weights are returned.
    """
    at_zero, at_cap = weights < tol, weights > upper - tol
    free = ~(at_zero | at_cap)
    if not free.any():
        return weights
    fixed = np.where(at_cap, upper, 0.0)
    cov_ff = cov[np.ix_(free, free)]
    tilt = mu[free] - gamma * cov[np.ix_(free, ~free)] @ fixed[~free]
    inv_tilt, inv_ones = np.linalg.solve(cov_ff, tilt), np.linalg.solve(cov_ff, np.ones(free.sum()))
    eta = (inv_tilt.sum() - gamma * (1 - fixed.sum())) / inv_ones.sum()
    exact = fixed.copy()
    exact[free] = (inv_tilt - eta * inv_ones) / gamma
    gradient = mu - gamma * cov @ exact - eta  # multiplier of each bound, up to its sign
    kkt = (
        exact[free].min() >= 0
        and exact[free].max() <= upper
        and np.all(gradient[at_zero] <= 1e-10)
        and np.all(gradient[at_cap] >= -1e-10)
    )
    return exact if kkt else weights


# --- Ledoit-Wolf -----------------------------------------------------------------------------


def test_ledoit_wolf_reference_panel():
    shrunk = ledoit_wolf_covariance(LW_PANEL)
    sample = np.cov(LW_PANEL, rowvar=False, ddof=0)  # sklearn divides by T
    off_diagonal = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(sample[off_diagonal], 1.9167e-4, rtol=1e-4)
    np.testing.assert_allclose(shrunk[off_diagonal], 1.4964e-4, rtol=1e-4)
    np.testing.assert_allclose(np.diag(shrunk), 2.9167e-4, rtol=1e-4)
    delta = 1 - shrunk[0, 1] / sample[0, 1]
    assert delta == pytest.approx(0.21928, abs=1e-5)


def test_ledoit_wolf_rejects_a_vector():
    with pytest.raises(ValueError, match=r"`simple_returns` must have shape .* got \(6,\)"):
        ledoit_wolf_covariance(LW_PANEL[:, 0])


# --- mean-variance against closed forms -------------------------------------------------------


@pytest.mark.parametrize("max_weight", [1.0, 0.6])
def test_mean_variance_equals_closed_form_when_bounds_are_slack(rng, max_weight):
    cov, gamma = random_covariance(rng, 6), 5.0
    target = np.array([0.10, 0.25, 0.05, 0.20, 0.15, 0.25])
    ones = np.ones(6)
    mu = gamma * cov @ target + 0.004 * ones  # any eta: the budget absorbs it
    np.testing.assert_allclose(closed_form_weights(mu, cov, gamma), target, atol=1e-12)
    weights = MeanVariance(risk_aversion=gamma, max_weight=max_weight).allocate(mu, cov)
    np.testing.assert_allclose(weights, target, atol=WEIGHT_ATOL)


def test_mean_variance_allows_negative_closed_form_to_bind_at_zero(rng):
    cov, gamma = random_covariance(rng, 4), 5.0
    mu = np.array([0.03, 0.02, -0.05, 0.01])
    assert closed_form_weights(mu, cov, gamma).min() < 0
    weights = MeanVariance(risk_aversion=gamma, max_weight=1.0).allocate(mu, cov)
    assert weights.min() >= 0
    assert utility(weights, mu, cov, gamma) >= utility(np.full(4, 0.25), mu, cov, gamma)


@pytest.mark.parametrize("slack", [0.0, 1e-14, 1e-12, 1e-10, 1e-9, 1e-7])
def test_cap_leaving_a_sliver_around_equal_weights(rng, slack):
    cov, mu, gamma = random_covariance(rng, 7, 0.25), rng.normal(0.01, 0.03, 7), 6.0
    max_weight = (1 + slack) / 7
    weights = MeanVariance(risk_aversion=gamma, max_weight=max_weight).allocate(mu, cov)
    np.testing.assert_allclose(weights, np.full(7, 1 / 7), atol=slack + 1e-15)
    reference, _ = slsqp_weights(mu, cov, gamma, max_weight)
    assert utility(weights, mu, cov, gamma) >= utility(reference, mu, cov, gamma) - 1e-15


def test_cap_binds_for_the_dominant_asset():
    cov = np.diag([0.01, 0.01, 0.01])
    weights = MeanVariance(risk_aversion=5.0, max_weight=0.4).allocate([0.2, 0.0, 0.0], cov)
    np.testing.assert_allclose(weights, [0.4, 0.3, 0.3], atol=WEIGHT_ATOL)


def test_minimum_variance_equals_closed_form_and_ignores_mu(rng):
    cov = np.diag([0.01, 0.02, 0.04, 0.05])
    inv_ones = np.linalg.solve(cov, np.ones(4))
    expected = inv_ones / inv_ones.sum()
    allocator = MinimumVariance(max_weight=1.0)
    np.testing.assert_allclose(allocator.allocate(np.zeros(4), cov), expected, atol=WEIGHT_ATOL)
    np.testing.assert_allclose(
        allocator.allocate(rng.normal(size=4), cov), expected, atol=WEIGHT_ATOL
    )


def test_equal_weight():
    np.testing.assert_array_equal(EqualWeight().allocate(np.zeros(4), np.eye(4)), np.full(4, 0.25))


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 10),
    cap_slack=st.floats(0.0, 1.0),
    gamma=st.floats(0.5, 50.0),
    vol=st.floats(0.01, 0.3),
)
def test_mean_variance_respects_budget_and_bounds(seed, n_assets, cap_slack, gamma, vol):
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets, vol)
    mu = rng.normal(0.01, 0.03, n_assets)
    max_weight = 1 / n_assets + cap_slack * (1 - 1 / n_assets)
    weights = mean_variance_weights(mu, cov, gamma, max_weight)
    assert abs(weights.sum() - 1) <= CONSTRAINT_ATOL
    assert weights.min() >= -CONSTRAINT_ATOL
    assert weights.max() <= max_weight + CONSTRAINT_ATOL
    equal = np.full(n_assets, 1 / n_assets)  # feasible, and the solver's starting point
    assert utility(weights, mu, cov, gamma) >= utility(equal, mu, cov, gamma) - 1e-12


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.sampled_from([2, 3, 7, 12, 25, 50]),
    cap_slack=st.floats(0.0, 1.0),
    gamma=st.floats(0.5, 50.0),
    vol=st.floats(0.01, 0.3),
    zero_mean=st.booleans(),
)
def test_qp_matches_slsqp_reference(seed, n_assets, cap_slack, gamma, vol, zero_mean):
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets, vol)
    mu = np.zeros(n_assets) if zero_mean else rng.normal(0.01, 0.03, n_assets)
    max_weight = min(1.0, 1 / n_assets + cap_slack * (1 - 1 / n_assets))
    weights = mean_variance_weights(mu, cov, gamma, max_weight)
    reference = reference_weights(mu, cov, gamma, max_weight)
    np.testing.assert_allclose(weights, reference, atol=WEIGHT_ATOL)
    assert utility(weights, mu, cov, gamma) >= utility(reference, mu, cov, gamma) - UTILITY_ATOL


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_assets=st.integers(2, 30), gamma=st.floats(0.5, 50.0))
def test_qp_matches_closed_form_when_no_bound_binds(seed, n_assets, gamma):
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets)
    target = rng.dirichlet(np.full(n_assets, 5.0))  # interior: every weight positive
    mu = gamma * cov @ target + rng.normal(0, 0.01)  # the budget absorbs any common shift
    np.testing.assert_allclose(closed_form_weights(mu, cov, gamma), target, atol=1e-10)
    weights = mean_variance_weights(mu, cov, gamma, max_weight=1.0)
    np.testing.assert_allclose(weights, target, atol=WEIGHT_ATOL)


@pytest.mark.parametrize("n_assets", [7, 50])
def test_warm_start_changes_the_iterations_not_the_answer(rng, n_assets):
    """Last month's weights start DAQP's working set; a wrong or inconsistent start only costs
    iterations (every weight marked at the cap plus the budget over-determines the start)."""
    cov, gamma, upper = random_covariance(rng, n_assets), 5.0, 3.0 / n_assets
    last_month = rng.normal(0.01, 0.03, n_assets)
    this_month = last_month + rng.normal(0, 0.002, n_assets)
    previous = solve_capped_budget_qp(gamma * cov, -last_month, upper)
    cold = solve_capped_budget_qp(gamma * cov, -this_month, upper)
    slsqp, _ = slsqp_weights(this_month, cov, gamma, upper)
    np.testing.assert_allclose(
        cold.x, kkt_refined(slsqp, this_month, cov, gamma, upper), atol=WEIGHT_ATOL
    )
    starts = [
        previous.x,
        np.full(n_assets, upper),
        np.zeros(n_assets),
        rng.uniform(0, upper, n_assets),
    ]
    for start in starts:
        warm = solve_capped_budget_qp(gamma * cov, -this_month, upper, warm_start=start)
        assert warm.solved
        np.testing.assert_allclose(warm.x, cold.x, atol=1e-12)
    warm = solve_capped_budget_qp(gamma * cov, -this_month, upper, warm_start=previous.x)
    assert warm.iterations < cold.iterations


def test_cached_constraints_are_not_written_by_the_solver(rng):
    """One set of bound arrays serves every solve of a size: DAQP must leave them as built."""
    budget, upper_bounds, lower_bounds = qp._constraints(5, 0.4)
    for _ in range(3):
        cov, mu = random_covariance(rng, 5), rng.normal(0.01, 0.03, 5)
        solve_capped_budget_qp(5.0 * cov, -mu, 0.4, warm_start=rng.uniform(0, 0.4, 5))
    np.testing.assert_array_equal(budget, np.ones((1, 5)))
    np.testing.assert_array_equal(upper_bounds, [0.4] * 5 + [1.0])
    np.testing.assert_array_equal(lower_bounds, [0.0] * 5 + [1.0])


@pytest.mark.parametrize("slack", [2.2e-16, 1e-15, 1e-14, 1e-13, 1e-11, 1e-9])
def test_nearly_linear_qp_lands_on_the_cheapest_vertex(rng, slack):
    """The pinned sliver's QP: a Hessian ``slack`` times the linear term is an LP on the simplex.

    Its optimum is the vertex of the smallest linear coefficient whenever that one leads the
    next by more than the Hessian can move (here by 0.01 against at most ``slack``).
    DAQP's automatic regularisation called points 30 out of the simplex optimal at such ratios.
    """
    for _ in range(10):
        n_assets = int(rng.integers(2, 30))
        cov = random_covariance(rng, n_assets, 0.3)
        linear = rng.permutation(np.linspace(-0.03, 0.03, n_assets)) + 0.01 * (n_assets == 2)
        solution = solve_capped_budget_qp(slack * cov, linear, 1.0)
        assert solution.solved, solution.status
        expected = np.eye(n_assets)[np.argmin(linear)]
        np.testing.assert_allclose(solution.x, expected, atol=1e-9)


def test_an_optimal_point_off_the_constraints_is_a_failure(monkeypatch):
    def outside(*args, **kwargs):  # what DAQP returned on some nearly linear problems
        return np.array([30.0, -29.0, 0.0]), 0.0, 1, {"iterations": 4}

    monkeypatch.setattr(qp.daqp, "solve", outside)
    solution = solve_capped_budget_qp(np.eye(3), np.zeros(3), 1.0)
    assert not solution.solved
    assert solution.status == "Solved at an infeasible point (violation 2.90e+01)"
    with pytest.raises(
        ValueError,
        match=r"^at 2023-01-31: mean-variance solve failed: DAQP status Solved at an infeasible "
        r"point \(violation 2.90e\+01\) after 4 iterations",
    ):
        MeanVariance(max_weight=1.0).allocate(np.zeros(3), np.eye(3), label="2023-01-31")


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("allocator", [MeanVariance(max_weight=0.1), MinimumVariance(0.1)])
def test_infeasible_cap_raises_with_the_date(allocator):
    with pytest.raises(
        ValueError,
        match=r"^at 2020-03-31: infeasible: max_weight=0.1 with n_assets=7 .* 1/7 = 0.1429",
    ):
        allocator.allocate(np.zeros(7), np.eye(7), label="2020-03-31")


def test_infeasible_without_label_has_no_prefix():
    with pytest.raises(ValueError, match=r"^infeasible: max_weight=0.15 with n_assets=6"):
        MeanVariance(max_weight=0.15).allocate(np.zeros(6), np.eye(6))


def test_indefinite_covariance_raises_with_the_date():
    indefinite = np.diag([1.0, -1.0, 1.0])  # symmetric, finite, but not a covariance
    with pytest.raises(
        ValueError,
        match=r"^at 2021-01-31: `cov` must be positive semi-definite; its smallest eigenvalue is "
        r"-1",
    ):
        MeanVariance(max_weight=0.5).allocate(np.zeros(3), indefinite, label="2021-01-31")


def test_singular_covariance_is_accepted():
    ones = np.ones((3, 3)) * 0.01  # rank one: semi-definite, every portfolio has one variance
    weights = MinimumVariance(max_weight=0.5).allocate(np.zeros(3), ones)
    assert abs(weights.sum() - 1) <= CONSTRAINT_ATOL and weights.max() <= 0.5 + CONSTRAINT_ATOL


def test_unconverged_solve_raises_with_the_date(monkeypatch):
    def stalled(*args, **kwargs):
        return QPSolution(np.full(3, 1 / 3), "IterationLimit", 200)

    monkeypatch.setattr(allocation, "solve_capped_budget_qp", stalled)
    with pytest.raises(
        ValueError,
        match=r"^at 2021-01-31: mean-variance solve failed: DAQP status IterationLimit after "
        r"200 iterations \(n_assets=3",
    ):
        MeanVariance().allocate(np.zeros(3), np.eye(3), label="2021-01-31")


def test_infeasible_solve_raises_with_the_date(monkeypatch):
    monkeypatch.setattr(allocation, "_check_max_weight", lambda max_weight, n, label: 0.2)
    with pytest.raises(
        ValueError, match=r"^at 2022-06-30: mean-variance solve failed: DAQP status Infeasible"
    ):
        MeanVariance().allocate(np.zeros(3), np.eye(3), label="2022-06-30")


def test_solution_violating_the_cap_after_cleanup_raises(monkeypatch):
    def sloppy(*args, **kwargs):  # "solved" but only 80% invested: rescaling breaks the cap
        return QPSolution(np.array([0.4, 0.4, 0.0]), "Solved", 9)

    monkeypatch.setattr(allocation, "solve_capped_budget_qp", sloppy)
    with pytest.raises(ValueError, match=r"violates its constraints \(budget error .* bound"):
        MeanVariance(max_weight=0.4).allocate(np.zeros(3), np.eye(3))


@pytest.mark.parametrize(
    ("allocator", "mu", "cov", "match"),
    [
        (MeanVariance(), np.zeros(3), np.eye(4), r"`cov` must have shape \(3, 3\) .* got \(4, 4\)"),
        (MeanVariance(), np.zeros((3, 1)), np.eye(3), r"`mu` must have shape \(n_assets,\)"),
        (MeanVariance(), np.zeros(3), np.triu(np.ones((3, 3))), r"`cov` must be symmetric"),
        (MeanVariance(), np.array([0, np.nan, 0]), np.eye(3), r"must be finite"),
        (MeanVariance(max_weight=1.5), np.zeros(3), np.eye(3), r"`max_weight` must be in \(0, 1]"),
        (MeanVariance(risk_aversion=-1), np.zeros(3), np.eye(3), r"`risk_aversion` must be pos"),
        (EqualWeight(), np.zeros((2, 2)), np.eye(2), r"`mu` must have shape \(n_assets,\)"),
    ],
)
def test_bad_inputs_raise(allocator, mu, cov, match):
    with pytest.raises(ValueError, match=match):
        allocator.allocate(mu, cov)


def test_make_allocator():
    assert isinstance(make_allocator("equal_weight"), EqualWeight)
    assert make_allocator(AllocatorName.MEAN_VARIANCE, max_weight=0.5).max_weight == 0.5
    assert MeanVariance().get_params() == {"risk_aversion": 5.0, "max_weight": 0.4}
    with pytest.raises(ValueError, match=r"unknown allocator name='hrp'; valid names are: mean"):
        make_allocator("hrp")
