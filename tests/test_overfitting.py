from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.evaluation.overfitting import (
    BootstrapResult,
    PBOResult,
    probability_of_backtest_overfitting,
    sharpe_by_column,
    sharpe_difference_ci,
    stationary_bootstrap_indices,
)


def _naive_cscv_logits(m, n_blocks, score):
    """CSCV written from the paper, split by split, ranks from scipy."""
    blocks = np.split(m, n_blocks)
    logits = []
    for chosen in combinations(range(n_blocks), n_blocks // 2):
        train = np.vstack([blocks[b] for b in chosen])
        test = np.vstack([blocks[b] for b in range(n_blocks) if b not in chosen])
        best = int(np.argmax([score(train[:, j]) for j in range(m.shape[1])]))
        oos = [score(test[:, j]) for j in range(m.shape[1])]
        w = stats.rankdata(oos)[best] / (m.shape[1] + 1)
        logits.append(np.log(w / (1 - w)))
    return np.array(logits)


@pytest.mark.parametrize(
    ("metric", "score"),
    [
        (sharpe_by_column, lambda x: x.mean() / x.std(ddof=1)),
        (lambda a: a.mean(axis=-2), np.mean),
    ],
    ids=["sharpe-fast-path", "custom-mean"],
)
def test_pbo_matches_naive_cscv(rng, metric, score):
    m = rng.normal(0.0, 0.05, (48, 5))
    res = probability_of_backtest_overfitting(m, n_blocks=6, metric=metric)
    expected = _naive_cscv_logits(m, 6, score)
    assert isinstance(res, PBOResult)
    assert res.n_splits == 20 and res.logits.shape == (20,)
    np.testing.assert_allclose(res.logits, expected)
    assert res.pbo == pytest.approx(np.mean(expected <= 0))


def test_pbo_fast_path_equals_generic_metric(rng):
    m = rng.normal(0.0, 0.04, (96, 8))
    fast = probability_of_backtest_overfitting(m, n_blocks=8)
    generic = probability_of_backtest_overfitting(
        m, n_blocks=8, metric=lambda a: sharpe_by_column(a)
    )
    np.testing.assert_allclose(fast.logits, generic.logits)
    np.testing.assert_allclose(fast.oos_performance, generic.oos_performance)


def test_pbo_of_pure_noise_is_one_half_on_average(rng):
    # one sample's PBO is noisy (its splits share the data), so average over 20 samples
    results = [
        probability_of_backtest_overfitting(rng.normal(0.0, 0.04, (240, 20))) for _ in range(20)
    ]
    assert results[0].n_splits == 12870
    assert np.mean([r.pbo for r in results]) == pytest.approx(0.5, abs=0.1)
    assert np.mean([r.prob_oos_loss for r in results]) == pytest.approx(0.5, abs=0.1)
    for r in results:
        assert r.prob_oos_below_median <= r.pbo  # equal up to ties at the median
    # selection on noise: the in-sample winner's score degrades out of sample
    assert np.mean([r.is_performance.mean() - r.oos_performance.mean() for r in results]) > 0.1


def test_pbo_of_planted_edge_is_near_zero(rng):
    m = rng.normal(0.0, 0.04, (240, 20))
    m[:, 7] += 0.03
    res = probability_of_backtest_overfitting(pd.DataFrame(m))
    assert res.pbo < 0.02
    assert res.prob_oos_loss < 0.02
    assert res.oos_performance.mean() > 0.5 * res.is_performance.mean()  # the edge persists


def test_pbo_drops_oldest_rows_to_equal_blocks(rng):
    m = rng.normal(0.0, 0.04, (100, 6))
    full = probability_of_backtest_overfitting(m, n_blocks=8)  # 100 // 8 = 12 rows per block
    np.testing.assert_array_equal(
        full.logits, probability_of_backtest_overfitting(m[4:], n_blocks=8).logits
    )


def test_pbo_errors(rng):
    m = rng.normal(size=(64, 4))
    with pytest.raises(ValueError, match="`n_blocks` must be an even integer >= 2, got 7"):
        probability_of_backtest_overfitting(m, n_blocks=7)
    with pytest.raises(ValueError, match="has 20 rows, too few for n_blocks=16: need at least 32"):
        probability_of_backtest_overfitting(m[:20])
    with pytest.raises(ValueError, match="at least 2 configurations .*got 1"):
        probability_of_backtest_overfitting(m[:, :1], n_blocks=4)
    with pytest.raises(ValueError, match=r"must be 2-D .*got \(64,\)"):
        probability_of_backtest_overfitting(m[:, 0], n_blocks=4)
    m[3, 2] = np.nan
    with pytest.raises(ValueError, match="`returns` contains NaN"):
        probability_of_backtest_overfitting(m, n_blocks=4)


def test_stationary_bootstrap_indices_structure():
    idx = stationary_bootstrap_indices(500, 6, 400, np.random.default_rng(3))
    assert idx.shape == (400, 500) and idx.min() >= 0 and idx.max() < 500
    np.testing.assert_array_equal(idx, stationary_bootstrap_indices(500, 6, 400, 3))
    steps = np.diff(idx, axis=1)
    continues = (steps == 1) | (steps == -499)  # wrap-around continues the block
    # a new block starts w.p. 1/6 (and lands on the next index w.p. 1/500)
    assert 1 - continues.mean() == pytest.approx(1 / 6 * (1 - 1 / 500), abs=0.005)
    # all positions are equally likely: the resampled series is stationary
    counts = np.bincount(idx.ravel(), minlength=500) / idx.size
    assert counts.max() < 2.0 / 500


def test_stationary_bootstrap_iid_and_errors():
    idx = stationary_bootstrap_indices(50, 1, 200, 0)
    assert (np.diff(idx, axis=1) == 1).mean() == pytest.approx(1 / 50, abs=0.01)
    with pytest.raises(ValueError, match="`mean_block` must be >= 1, got 0.5"):
        stationary_bootstrap_indices(50, 0.5, 10, 0)
    with pytest.raises(ValueError, match="`n_boot` must be a positive integer, got 0"):
        stationary_bootstrap_indices(50, 3, 0, 0)


def test_sharpe_difference_ci_reproducible_and_antisymmetric(rng):
    a, b = rng.normal(0.01, 0.04, 120), rng.normal(0.0, 0.05, 120)
    res = sharpe_difference_ci(a, b, n_boot=500, random_state=7)
    assert isinstance(res, BootstrapResult)
    assert res == sharpe_difference_ci(a, b, n_boot=500, random_state=7)
    assert res != sharpe_difference_ci(a, b, n_boot=500, random_state=8)
    expected = np.sqrt(12) * (a.mean() / a.std(ddof=1) - b.mean() / b.std(ddof=1))
    assert res.difference == pytest.approx(expected)
    assert res.ci_low < res.difference < res.ci_high
    swapped = sharpe_difference_ci(b, a, n_boot=500, random_state=7)
    assert swapped.difference == pytest.approx(-res.difference)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-res.ci_high, -res.ci_low))
    assert swapped.p_value == pytest.approx(res.p_value)


def test_sharpe_difference_ci_identical_series(rng):
    a = rng.normal(0.01, 0.04, 60)
    res = sharpe_difference_ci(a, a.copy(), n_boot=200, random_state=0)
    assert (res.difference, res.ci_low, res.ci_high, res.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_sharpe_difference_ci_coverage(rng):
    means, sds, rho = np.array([0.01, 0.005]), np.array([0.04, 0.05]), 0.5
    cov = np.outer(sds, sds) * np.array([[1, rho], [rho, 1]])
    true_difference = np.sqrt(12) * (means[0] / sds[0] - means[1] / sds[1])
    covered = 0
    for _ in range(100):
        x = rng.multivariate_normal(means, cov, size=240)
        res = sharpe_difference_ci(x[:, 0], x[:, 1], n_boot=300, random_state=rng)
        covered += res.ci_low <= true_difference <= res.ci_high
    assert 85 <= covered <= 99


def test_sharpe_difference_ci_errors(rng):
    a = rng.normal(size=24)
    with pytest.raises(ValueError, match=r"`returns_a` \(24,\) and `returns_b` \(23,\)"):
        sharpe_difference_ci(a, a[1:])
    with pytest.raises(ValueError, match="`alpha` must be in"):
        sharpe_difference_ci(a, a, alpha=1.5)
    a[0] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        sharpe_difference_ci(a, a)
