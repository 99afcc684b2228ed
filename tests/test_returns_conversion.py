from __future__ import annotations

import numpy as np
import pytest

from strategies import simple_covariance, simple_expected_returns

N_DRAWS = 1_000_000
MU_LOG = np.array([0.010, 0.005, -0.002])
COV_LOG = np.array(
    [
        [0.0100, 0.0040, -0.0020],
        [0.0040, 0.0225, 0.0030],
        [-0.0020, 0.0030, 0.0064],
    ]
)


@pytest.fixture
def simple_draws(rng):
    return np.expm1(rng.multivariate_normal(MU_LOG, COV_LOG, size=N_DRAWS))


def test_expected_simple_returns_match_monte_carlo(simple_draws):
    standard_error = simple_draws.std(axis=0) / np.sqrt(N_DRAWS)
    expected = simple_expected_returns(MU_LOG, COV_LOG)
    assert np.all(np.abs(simple_draws.mean(axis=0) - expected) < 4 * standard_error)
    # The variance term matters at this precision: exp(mu) - 1 is rejected.
    assert np.all(np.abs(simple_draws.mean(axis=0) - np.expm1(MU_LOG)) > 4 * standard_error)


def test_simple_covariance_matches_monte_carlo(simple_draws):
    sample = np.cov(simple_draws, rowvar=False)
    np.testing.assert_allclose(simple_covariance(MU_LOG, COV_LOG), sample, rtol=0, atol=2e-4)
    # Entry-wise relative error is small too (all entries are well away from zero here).
    np.testing.assert_allclose(simple_covariance(MU_LOG, COV_LOG), sample, rtol=0.02)


def test_simple_variance_is_the_lognormal_formula():
    s2 = np.diag(COV_LOG)
    expected = (np.exp(s2) - 1) * np.exp(2 * MU_LOG + s2)
    np.testing.assert_allclose(np.diag(simple_covariance(MU_LOG, COV_LOG)), expected)


def test_no_risk_means_deterministic_growth():
    zeros = np.zeros((3, 3))
    np.testing.assert_allclose(simple_expected_returns(MU_LOG, zeros), np.expm1(MU_LOG))
    np.testing.assert_array_equal(simple_covariance(MU_LOG, zeros), zeros)


@pytest.mark.parametrize("convert", [simple_expected_returns, simple_covariance])
def test_shape_errors_name_the_argument(convert):
    with pytest.raises(ValueError, match=r"`cov_log` must have shape \(3, 3\) .* got \(2, 2\)"):
        convert(MU_LOG, np.eye(2))
    with pytest.raises(ValueError, match=r"`mu_log` must have shape \(n_assets,\), got \(1, 3\)"):
        convert(MU_LOG[None, :], COV_LOG)
