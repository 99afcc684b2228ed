"""Overfitting statistics: what mutation testing found unchecked (issue 15).

CSCV is checked against a naive loop over every split (Bailey et al. 2017) with a
custom metric on integer-valued returns, so ties (an OOS score of exactly 0, a best
configuration exactly at the median) happen and must be counted as the paper says:
strictly below. 12 blocks give 924 splits, more than one batch of the vectorised code.
"""

from __future__ import annotations

import re
import warnings
from itertools import combinations

import numpy as np
import pytest

from backtest.evaluation.overfitting import (
    probability_of_backtest_overfitting,
    sharpe_by_column,
    stationary_bootstrap_indices,
)


def _total(x):
    return x.sum(axis=-2)


def _naive_cscv(m, n_blocks, metric):
    blocks = np.array_split(m, n_blocks)
    logits, losses, below = [], [], []
    for chosen in combinations(range(n_blocks), n_blocks // 2):
        rest = [k for k in range(n_blocks) if k not in chosen]
        is_perf = metric(np.concatenate([blocks[k] for k in chosen]))
        oos = metric(np.concatenate([blocks[k] for k in rest]))
        best = int(np.argmax(is_perf))
        rank = np.sum(oos < oos[best]) + (np.sum(oos == oos[best]) + 1) / 2
        w = rank / (m.shape[1] + 1)
        logits.append(np.log(w / (1 - w)))
        losses.append(oos[best] < 0)
        below.append(oos[best] < np.median(oos))
    return np.array(logits), np.mean(losses), np.mean(below)


def test_cscv_matches_a_naive_loop_with_ties_and_several_batches():
    rng = np.random.default_rng(9)
    m = rng.integers(-1, 2, size=(24, 3)).astype(float)  # sums tie often
    result = probability_of_backtest_overfitting(m, n_blocks=12, metric=_total)
    logits, loss, below = _naive_cscv(m, 12, _total)
    assert result.n_splits == 924
    np.testing.assert_allclose(result.logits, logits)
    assert result.pbo == pytest.approx(np.mean(logits <= 0))
    assert result.prob_oos_loss == pytest.approx(loss)
    assert result.prob_oos_below_median == pytest.approx(below)
    assert 0 < loss < 1 and 0 < below < 1


def test_cscv_smallest_panel_two_configurations_two_blocks_of_two_rows():
    m = np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 3.0], [1.0, 1.0]])
    result = probability_of_backtest_overfitting(m, n_blocks=2, metric=_total)
    # split 1: IS rows 0-1 (3 vs 1) picks config 0, OOS rows 2-3 (1 vs 4): it is the worst,
    # rank 1 of 2, w = 1/3, logit log(1/2). Split 2: IS (1 vs 4) picks config 1, OOS (3 vs 1):
    # the worst again. Both splits overfit.
    np.testing.assert_allclose(result.logits, [np.log(0.5), np.log(0.5)])
    assert result.pbo == 1.0 and result.prob_oos_loss == 0.0


@pytest.mark.parametrize(
    ("shape", "n_blocks", "message"),
    [
        ((8, 1), 2, "`returns` needs at least 2 configurations (columns), got 1."),
        ((8, 2), 3, "`n_blocks` must be an even integer >= 2, got 3."),
        ((8, 2), 0, "`n_blocks` must be an even integer >= 2, got 0."),
        ((8, 2), 2.0, "`n_blocks` must be an even integer >= 2, got 2.0."),
        (
            (7, 2), 4,
            "`returns` has 7 rows, too few for n_blocks=4: need at least 8 (2 per block); "
            "lower `n_blocks`.",
        ),
    ],
)  # fmt: skip
def test_panel_validation_messages(shape, n_blocks, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        probability_of_backtest_overfitting(np.ones(shape), n_blocks=n_blocks)


def test_constant_columns_give_nan_sharpe_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sr = sharpe_by_column(np.array([[0.0, 0.01, 0.02], [0.0, 0.01, 0.04]]))
    assert np.isnan(sr[0]) and sr[1] == np.inf and np.isfinite(sr[2])


def test_bootstrap_paths_are_circular_blocks():
    # mean_block huge: one block per path, consecutive indices wrapping around.
    idx = stationary_bootstrap_indices(7, 1e12, 50, rng=0)
    np.testing.assert_array_equal(idx, (idx[:, [0]] + np.arange(7)) % 7)
    assert set(idx[:, 0]) == set(range(7))  # every start is possible, 0 included
    # mean_block 1: every index starts a new block, all values appear in every column.
    iid = stationary_bootstrap_indices(5, 1.0, 400, rng=1)
    assert all(set(iid[:, t]) == set(range(5)) for t in range(5))
    # the smallest valid sizes
    np.testing.assert_array_equal(stationary_bootstrap_indices(1, 6.0, 1, rng=0), [[0]])
    for kwargs, name in ((dict(n=0, n_boot=3), "n"), (dict(n=3, n_boot=0), "n_boot")):
        with pytest.raises(ValueError, match=rf"^`{name}` must be a positive integer"):
            stationary_bootstrap_indices(mean_block=6.0, **kwargs, rng=0)


def _naive_sharpe_difference(a, b, idx, alpha):
    def annual_sharpe(x):
        return np.sqrt(12) * x.mean() / x.std(ddof=1)

    diff = annual_sharpe(a) - annual_sharpe(b)
    boot = np.array([annual_sharpe(a[row]) - annual_sharpe(b[row]) for row in idx])
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    p = (1 + np.sum(np.abs(boot - diff) >= abs(diff))) / (1 + len(idx))
    return diff, low, high, p


def test_sharpe_difference_ci_matches_a_loop_over_the_documented_defaults():
    from backtest.evaluation.overfitting import sharpe_difference_ci

    rng = np.random.default_rng(12)
    a, b = rng.normal(0.012, 0.05, 40), rng.normal(0.008, 0.04, 40)
    idx = stationary_bootstrap_indices(40, 6, 2000, 3)  # defaults: mean block 6, 2000 draws
    expected = _naive_sharpe_difference(a, b, idx, 0.05)
    got = sharpe_difference_ci(a.astype(object), b.astype(object), random_state=3)
    np.testing.assert_allclose(
        [got.difference, got.ci_low, got.ci_high, got.p_value], expected, rtol=1e-10
    )


def test_sharpe_difference_ci_bounds_and_messages():
    from backtest.evaluation.overfitting import sharpe_difference_ci

    three = [0.01, 0.03, -0.02]
    assert np.isfinite(sharpe_difference_ci(three, [0.0, 0.02, 0.01], n_boot=20).difference)
    message = (
        "`returns_a` (2,) and `returns_b` (2,) must be 1-D of the same length >= 3; "
        "align the two series on their common dates first."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        sharpe_difference_ci(three[:2], three[:2])
    with pytest.raises(ValueError, match=r"^`returns_a` or `returns_b` contains NaN or inf; al"):
        sharpe_difference_ci([*three, np.nan], [*three, 0.0])
    for alpha in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^`alpha` must be in \(0, 1\), got {alpha}\.$"):
            sharpe_difference_ci(three, three, alpha=alpha)


def test_cscv_batches_cover_every_split_of_14_blocks():
    rng = np.random.default_rng(2)
    m = rng.integers(-1, 2, size=(28, 3)).astype(float)
    result = probability_of_backtest_overfitting(m, n_blocks=14, metric=_total)
    logits, loss, below = _naive_cscv(m, 14, _total)
    assert result.n_splits == 3432  # more than six batches of 512
    np.testing.assert_allclose(result.logits, logits)
    assert (result.prob_oos_loss, result.prob_oos_below_median) == pytest.approx((loss, below))


# --- pbo_interval and the bootstrap's quiet failures (mutation run of overfitting.py) --------


def _naive_pbo_interval(m, n_blocks, n_boot, mean_block, alpha, seed):
    point = probability_of_backtest_overfitting(m, n_blocks).pbo
    idx = stationary_bootstrap_indices(len(m), mean_block, n_boot, seed)
    draws = [probability_of_backtest_overfitting(m[row], n_blocks).pbo for row in idx]
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return point, low, high


def test_pbo_interval_matches_a_loop_over_the_documented_defaults():
    from backtest.evaluation.overfitting import pbo_interval

    m = np.random.default_rng(4).normal(0.0, 0.04, (16, 4))
    # Defaults: S from choose_n_blocks (8 for 16 months), 200 resamples, mean block 6, seed 0.
    got = pbo_interval(m.astype(object))
    point, low, high = _naive_pbo_interval(m, 8, 200, 6, 0.05, 0)
    assert (got.n_blocks, got.n_boot) == (8, 200)
    np.testing.assert_allclose([got.pbo, got.low, got.high], [point, low, high], rtol=1e-12)
    assert low < high  # the resamples disagree: the comparison can tell the seeds apart
    # An explicit S, level and seed are used as given.
    got = pbo_interval(m, n_blocks=4, n_boot=30, mean_block=2, alpha=0.2, random_state=3)
    expected = _naive_pbo_interval(m, 4, 30, 2, 0.2, 3)
    np.testing.assert_allclose([got.pbo, got.low, got.high], expected, rtol=1e-12)
    assert got.n_blocks == 4


def test_pbo_interval_scores_resamples_in_stacks_as_one_at_a_time(monkeypatch):
    from backtest.evaluation import overfitting

    # Ties (returns on a 1% grid) make argmax and the ranks sensitive to any difference in
    # the numbers; a stack of 3 resamples leaves a partial last stack (200 = 66 x 3 + 2).
    rng = np.random.default_rng(11)
    m = np.round(rng.normal(0.0, 0.03, (30, 5)), 2)
    monkeypatch.setattr(overfitting, "_STACK_CELLS", 3 * 252 * 5)
    got = overfitting.pbo_interval(m, n_blocks=10, alpha=0.3, random_state=5)
    point, low, high = _naive_pbo_interval(m, 10, 200, 6, 0.3, 5)
    assert (got.pbo, got.low, got.high) == (point, low, high)
    assert low < high


@pytest.mark.parametrize("n_blocks", [2, 4, 8, 14, 16])
def test_cscv_splits_in_reverse_order_are_the_complements(n_blocks):
    from backtest.evaluation.overfitting import _splits

    # probability_of_backtest_overfitting reads the out-of-sample halves as the in-sample
    # halves reversed; this is the property it relies on.
    chosen, in_sample = _splits(n_blocks)
    assert chosen.shape == (len(list(combinations(range(n_blocks), n_blocks // 2))), n_blocks // 2)
    assert np.array_equal(in_sample.sum(axis=1), np.full(len(chosen), n_blocks // 2))
    assert np.array_equal(~in_sample, in_sample[::-1])


def test_pbo_interval_containing_half_at_either_end_is_uninformative():
    from backtest.evaluation.overfitting import PBOInterval

    assert PBOInterval(0.6, 0.5, 0.8, 8, 10).uninformative()
    assert PBOInterval(0.3, 0.2, 0.5, 8, 10).uninformative()
    assert not PBOInterval(0.3, 0.2, 0.49, 8, 10).uninformative()


def test_sharpe_difference_ci_is_quiet_on_constant_resamples():
    from backtest.evaluation.overfitting import sharpe_difference_ci

    # Four months: many resamples repeat one month, so one series' resample is all zeros
    # (0/0) and the other's a constant 0.01 (x/0). Those draws are NaN or inf, not warnings.
    a, b = [0.0, 0.0, 0.0, 0.01], [0.01, 0.01, 0.01, 0.02]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sharpe_difference_ci(a, b, n_boot=200, mean_block=6, random_state=0)
    assert np.isfinite(result.difference)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((88,), 8),  # 88 = 8 x 11: only S = 8 drops nothing (10..16 drop 4..8)
        ((72,), 12),  # 8 and 12 drop nothing, the larger wins; 18 is above max_blocks
        ((4,), 2),  # the smallest panel: 2 blocks of 2
        ((20, 2, 4), 4),  # even S only, from min_blocks = 2
        ((28, 5, 8), 8),  # odd min_blocks rounds up to 6: 6 and 8 drop 4, not 4 or 7 (0)
    ],
)
def test_choose_n_blocks_hand_cases(args, expected):
    from backtest.evaluation.overfitting import choose_n_blocks

    assert choose_n_blocks(*args) == expected


def test_choose_n_blocks_message():
    from backtest.evaluation.overfitting import choose_n_blocks

    message = (
        "CSCV needs at least 4 common months (2 blocks of 2), got n_periods=3; "
        "compare runs that share more forecast months."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        choose_n_blocks(3)


def test_cscv_on_object_input_and_its_nan_message():
    m = np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 3.0], [1.0, 1.0]]).astype(object)
    result = probability_of_backtest_overfitting(m, n_blocks=2, metric=_total)
    np.testing.assert_allclose(result.logits, [np.log(0.5), np.log(0.5)])  # hand case above
    message = "`returns` contains NaN or inf; drop or fill those periods first."
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        probability_of_backtest_overfitting(np.where(np.eye(8, 2) > 0, np.nan, 0.0), 2)


def test_cscv_is_quiet_on_constant_columns():
    # A column of zeros (0/0 Sharpe in every half) and a constant 0.01 (x/0): NaN and inf.
    rng = np.random.default_rng(3)
    m = np.column_stack([np.zeros(16), np.full(16, 0.01), rng.normal(0, 0.04, (16, 2))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = probability_of_backtest_overfitting(m, n_blocks=4)
    assert result.n_splits == 6


def _naive_stationary_bootstrap(n, mean_block, n_boot, seed):
    """Politis-Romano by a loop, on the same draws: a new block restarts at starts[b, t]."""
    gen = np.random.default_rng(seed)
    starts = gen.integers(0, n, size=(n_boot, n))
    new_block = gen.random((n_boot, n)) < 1.0 / mean_block
    idx = np.empty((n_boot, n), dtype=int)
    for b in range(n_boot):
        idx[b, 0] = starts[b, 0]
        for t in range(1, n):
            idx[b, t] = starts[b, t] if new_block[b, t] else (idx[b, t - 1] + 1) % n
    return idx


def test_stationary_bootstrap_matches_a_loop():
    np.testing.assert_array_equal(
        stationary_bootstrap_indices(30, 3.0, 20, rng=5),
        _naive_stationary_bootstrap(30, 3.0, 20, 5),
    )


def test_pbo_interval_level_and_default_block_on_fine_grained_pbo():
    from backtest.evaluation.overfitting import pbo_interval

    # 24 months: S = 12, 924 splits, so PBO takes fine-grained values and the quantiles of
    # the 200 resamples move with the level and with the mean block length.
    m = np.random.default_rng(8).normal(0.0, 0.04, (24, 6))
    got = pbo_interval(m, alpha=0.5)
    expected = _naive_pbo_interval(m, 12, 200, 6, 0.5, 0)
    assert got.n_blocks == 12
    np.testing.assert_allclose([got.pbo, got.low, got.high], expected, rtol=1e-12)
    other = _naive_pbo_interval(m, 12, 200, 7, 0.5, 0)  # the test can tell mean block 7
    assert (other[1], other[2]) != (expected[1], expected[2])
