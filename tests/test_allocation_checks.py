"""The allocators' input checks: cheap on the common path, and none of them dropped.

A :class:`CheckedCovariance` is checked once (what a rebalancing date's dozen allocators share)
and then gives the very weights of the plain array; every bad input still raises, naming the
date, whichever form the covariance takes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies.allocation as allocation
from strategies import CheckedCovariance, MeanVariance, MinimumVariance, mean_variance_weights


def random_covariance(rng, n_assets, monthly_vol=0.08):
    factors = rng.normal(size=(n_assets, n_assets))
    corr_like = factors @ factors.T / n_assets + 0.2 * np.eye(n_assets)
    scale = monthly_vol / np.sqrt(np.diag(corr_like))
    return corr_like * np.outer(scale, scale)


def naive_symmetric_psd(cov):
    """The checks as first written: np.allclose, then the smallest eigenvalue."""
    symmetric = np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12)
    return symmetric and np.linalg.eigvalsh((cov + cov.T) / 2)[0] >= -1e-9 * np.trace(cov)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.sampled_from([2, 3, 7, 12, 50]),
    cap_slack=st.floats(0.0, 1.0),
    gamma=st.floats(0.5, 50.0),
    skew=st.sampled_from([0.0, 1e-13, 1e-10]),
)
def test_a_checked_covariance_gives_the_same_weights_to_the_bit(
    seed, n_assets, cap_slack, gamma, skew
):
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets)
    cov[0, -1] += skew * cov[0, -1]  # round-off asymmetry: symmetrised by both forms
    mu = rng.normal(0.01, 0.03, n_assets)
    cap = min(1.0, 1 / n_assets + cap_slack * (1 - 1 / n_assets))
    checked = CheckedCovariance(cov)
    np.testing.assert_array_equal(checked.matrix, (cov + cov.T) / 2)
    for allocator in (MeanVariance(gamma, cap), MinimumVariance(cap)):
        np.testing.assert_array_equal(
            allocator.allocate(mu, checked), allocator.allocate(mu, cov.copy())
        )
    np.testing.assert_array_equal(
        mean_variance_weights(mu, checked, gamma, cap), mean_variance_weights(mu, cov, gamma, cap)
    )


def test_an_exactly_symmetric_covariance_is_used_as_given():
    # (cov + cov') / 2 is cov to the bit when cov is symmetric: no copy, the same weights.
    cov = random_covariance(np.random.default_rng(0), 5)
    assert (cov == cov.T).all()
    assert allocation._symmetrised(cov, None) is cov
    skewed = cov.copy()
    skewed[1, 2] *= 1 + 1e-12
    np.testing.assert_array_equal(allocation._symmetrised(skewed, None), (skewed + skewed.T) / 2)


def test_a_checked_covariance_is_a_read_only_copy():
    cov = 0.01 * np.eye(3)
    checked = CheckedCovariance(cov)
    cov[0, 0] = -1.0  # the caller's array changes later: the checked one does not
    assert checked.matrix[0, 0] == 0.01
    with pytest.raises(ValueError, match="read-only"):
        checked.matrix[0, 0] = -1.0
    assert repr(checked) == "CheckedCovariance(n_assets=3)"


def test_a_checked_covariance_skips_the_checks_it_passed(monkeypatch):
    checked = CheckedCovariance(0.01 * np.eye(3))

    def fail(*args):
        raise AssertionError("checked twice")

    monkeypatch.setattr(allocation, "_check_semi_definite", fail)
    monkeypatch.setattr(allocation, "_symmetrised", fail)
    weights = MinimumVariance(max_weight=0.5).allocate(np.zeros(3), checked)
    np.testing.assert_allclose(weights, 1 / 3, atol=1e-12)
    with pytest.raises(AssertionError, match="checked twice"):
        MinimumVariance(max_weight=0.5).allocate(np.zeros(3), 0.01 * np.eye(3))


INDEFINITE = np.diag([1.0, -1.0, 1.0])
ASYMMETRIC = np.triu(np.ones((3, 3)))


@pytest.mark.parametrize(
    ("cov", "match"),
    [
        (np.eye(3)[:2], r"`cov` must have shape \(n_assets, n_assets\), got \(2, 3\)$"),
        (np.zeros(3), r"`cov` must have shape \(n_assets, n_assets\), got \(3,\)$"),
        (np.zeros((0, 0)), r"`cov` must have shape \(n_assets, n_assets\), got \(0, 0\)$"),
        (np.diag([1.0, np.inf, 1.0]), r"`cov` must be finite; got NaN or inf$"),
        (np.diag([1.0, np.nan, 1.0]), r"`cov` must be finite; got NaN or inf$"),
        (ASYMMETRIC, r"`cov` must be symmetric; pass a covariance matrix$"),
        (INDEFINITE, r"`cov` must be positive semi-definite; its smallest eigenvalue is -1$"),
    ],
)
def test_a_bad_covariance_is_an_error_naming_the_date_when_checked(cov, match):
    with pytest.raises(ValueError, match="^at 2020-03-31: " + match):
        CheckedCovariance(cov, label="2020-03-31")
    with pytest.raises(ValueError, match="^" + match):
        CheckedCovariance(cov)


@pytest.mark.parametrize(
    ("mu", "match"),
    [
        (np.zeros(4), r"`cov` must have shape \(4, 4\) to match mu, got \(3, 3\)$"),
        (np.zeros((3, 1)), r"`mu` must have shape \(n_assets,\), got \(3, 1\)$"),
        (np.zeros(0), r"`mu` must have shape \(n_assets,\), got \(0,\)$"),
        (np.array([0.0, np.nan, 0.0]), r"`mu` and `cov` must be finite; got NaN or inf$"),
        (np.array([0.0, -np.inf, 0.0]), r"`mu` and `cov` must be finite; got NaN or inf$"),
    ],
)
def test_a_bad_mu_is_an_error_naming_the_date_with_a_checked_covariance(mu, match):
    checked = CheckedCovariance(0.01 * np.eye(3))
    for allocator in (MeanVariance(max_weight=1.0), MinimumVariance(max_weight=1.0)):
        if allocator.__class__ is MinimumVariance and "finite" in match:
            continue  # minimum variance ignores mu's values (only its shape)
        with pytest.raises(ValueError, match="^at 2020-03-31: " + match):
            allocator.allocate(mu, checked, label="2020-03-31")


@pytest.mark.parametrize("checked", [False, True])
def test_an_infeasible_cap_is_an_error_with_a_checked_covariance_too(checked):
    cov = CheckedCovariance(np.eye(7)) if checked else np.eye(7)
    with pytest.raises(ValueError, match=r"^at 2020-03-31: infeasible: max_weight=0.1 with n_"):
        MeanVariance(max_weight=0.1).allocate(np.zeros(7), cov, label="2020-03-31")


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 12),
    shift=st.sampled_from([-1.0, -1e-3, -1e-6, 0.0, 1e-6, 1e-3]),
    skew=st.sampled_from([0.0, 1e-14, 1e-6]),
)
def test_the_checks_agree_with_a_naive_reference(seed, n_assets, shift, skew):
    # Symmetric, semi-definite or not, against np.allclose and eigvalsh; the margins of
    # 1e-6 of the trace keep the cases clear of both sides' tolerances.
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets)
    smallest = np.linalg.eigvalsh(cov)[0]
    cov = cov + (shift * np.trace(cov) - smallest) * np.eye(n_assets)
    cov[0, 1] += skew * abs(cov[0, 1])
    expected = naive_symmetric_psd(cov)
    try:
        CheckedCovariance(cov)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert accepted == expected
    try:
        mean_variance_weights(np.zeros(n_assets), cov, 5.0)
    except ValueError as error:
        assert not expected, error
    else:
        assert expected
