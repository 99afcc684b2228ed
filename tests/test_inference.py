"""Snooping-robust tests, Ledoit-Wolf Sharpe test, economic value, deflation and PBO interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import MCS, SPA, StationaryBootstrap, StepM
from scipy.optimize import brentq

from backtest.evaluation.deflation import deflated_best, effective_trials
from backtest.evaluation.economic import (
    break_even_cost,
    certainty_equivalent,
    economic_value,
    performance_fee,
)
from backtest.evaluation.overfitting import choose_n_blocks, pbo_interval
from backtest.evaluation.performance import expected_max_sharpe, probabilistic_sharpe_ratio
from backtest.evaluation.sharpe_tests import sharpe_difference_test
from backtest.evaluation.snooping import model_confidence_set, superiority_test


def _returns(seed: int, edge: float = 0.0, n: int = 120, k: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.008, 0.04, n)
    frame = pd.DataFrame({f"s{j}": market + rng.normal(0, 0.01, n) for j in range(k)})
    frame["s5"] += edge
    return frame


# --- SPA / StepM / MCS against arch called directly ------------------------------------------


def test_spa_and_stepm_match_arch_and_find_a_planted_winner():
    r = _returns(1, edge=0.01)
    res = superiority_test(r, "s0", level=0.05, random_state=7)
    spa = SPA(-r["s0"], -r.drop(columns="s0"), block_size=6, reps=1000, seed=7)
    spa.compute()
    stepm = StepM(-r["s0"], -r.drop(columns="s0"), size=0.05, block_size=6, reps=1000, seed=7)
    stepm.compute()
    assert res.spa_p_value == pytest.approx(spa.pvalues["consistent"])
    assert set(res.superior) == set(stepm.superior_models) and "s5" in res.superior
    assert res.rejects() and res.best == "s5"


def test_spa_rejects_pure_noise_at_about_the_nominal_rate():
    rejections = [superiority_test(_returns(seed), "s0", reps=300, random_state=seed).rejects()
                  for seed in range(40)]  # fmt: skip
    assert np.mean(rejections) <= 0.15  # nominal 5%; 40 draws: <= 6 rejections


def test_mcs_matches_arch_and_drops_a_clearly_worse_model():
    rng = np.random.default_rng(3)
    losses = pd.DataFrame(rng.normal(1.0, 0.3, (120, 4)) ** 2, columns=list("abcd"))
    losses["d"] += 1.0
    res = model_confidence_set(losses, level=0.05, random_state=5)
    mcs = MCS(losses, size=0.05, reps=1000, block_size=6, method="R", seed=5)
    mcs.compute()
    assert set(res.included) == set(mcs.included) and "d" in res.excluded
    assert res.p_values["d"] < 0.05


def test_mcs_treats_identical_models_as_one():
    # Two forecasters with the same losses (e.g. two names for one model) cannot be told apart;
    # arch alone fails on their zero-variance difference.
    rng = np.random.default_rng(3)
    losses = pd.DataFrame(rng.normal(1.0, 0.3, (120, 3)) ** 2, columns=list("abd"))
    losses["d"] += 1.0
    losses["a2"] = losses["a"]
    res = model_confidence_set(losses, level=0.05, random_state=5)
    mcs = MCS(losses[["a", "b", "d"]], size=0.05, reps=1000, block_size=6, method="R", seed=5)
    mcs.compute()
    assert set(res.included) == set(mcs.included) | {"a2"} and "d" in res.excluded
    assert res.p_values["a2"] == res.p_values["a"] == pytest.approx(mcs.pvalues["Pvalue"]["a"])
    same = pd.DataFrame({"x": losses["a"], "y": losses["a"]})
    assert model_confidence_set(same).included == ("x", "y")


def test_superiority_test_names_a_missing_benchmark():
    with pytest.raises(ValueError, match=r"`benchmark`='zz' is not a column"):
        superiority_test(_returns(0), "zz")


# --- Ledoit-Wolf (2008) ----------------------------------------------------------------------


def _naive_hac_se(a, b, lags):
    y = np.column_stack([a, b, a**2, b**2])
    n = len(a)
    u = y - y.mean(0)
    psi = u.T @ u / n
    for k in range(1, lags + 1):
        g = u[k:].T @ u[:-k] / n
        psi += (1 - k / (lags + 1)) * (g + g.T)
    mu, gam = y.mean(0)[:2], y.mean(0)[2:]
    grad = np.array([gam[0] / (gam[0] - mu[0] ** 2) ** 1.5, -gam[1] / (gam[1] - mu[1] ** 2) ** 1.5,
                     -0.5 * mu[0] / (gam[0] - mu[0] ** 2) ** 1.5,
                     0.5 * mu[1] / (gam[1] - mu[1] ** 2) ** 1.5])  # fmt: skip
    return np.sqrt(grad @ psi @ grad / n)


def test_ledoit_wolf_hac_standard_error_matches_a_naive_computation(rng):
    x = rng.multivariate_normal([0.01, 0.005], [[0.0025, 0.002], [0.002, 0.0025]], 150)
    res = sharpe_difference_test(x[:, 0], x[:, 1], block_size=5, n_boot=200)
    assert res.se_hac == pytest.approx(_naive_hac_se(x[:, 0], x[:, 1], 4) * np.sqrt(12))
    sr = x.mean(0) / x.std(0)
    assert res.difference == pytest.approx((sr[0] - sr[1]) * np.sqrt(12))


def test_ledoit_wolf_size_on_equal_sharpe_pairs():
    cov = np.array([[1.0, 0.8], [0.8, 1.0]]) * 0.0025
    rejected = []
    for seed in range(100):
        x = np.random.default_rng(seed).multivariate_normal([0.01, 0.01], cov, 120)
        rejected.append(sharpe_difference_test(x[:, 0], x[:, 1], n_boot=299,
                                               random_state=seed).p_value < 0.05)  # fmt: skip
    assert 0.0 < np.mean(rejected) <= 0.12


def test_ledoit_wolf_finds_a_real_difference_and_is_seeded(rng):
    cov = np.array([[1.0, 0.8], [0.8, 1.0]]) * 0.0025
    x = rng.multivariate_normal([0.02, 0.005], cov, 120)
    a = sharpe_difference_test(x[:, 0], x[:, 1], random_state=3)
    assert a.p_value < 0.05 and a.ci_low > 0
    assert a == sharpe_difference_test(x[:, 0], x[:, 1], random_state=3)
    flipped = sharpe_difference_test(x[:, 1], x[:, 0], random_state=3)
    assert flipped.p_value > 0.9  # one-sided: b is not better than a


# --- economic value -------------------------------------------------------------------------


def test_cer_gain_and_fee_match_a_hand_computation(rng):
    s, b = rng.normal(0.012, 0.04, 120), rng.normal(0.008, 0.045, 120)
    gamma = 5.0
    assert certainty_equivalent(s, gamma) == pytest.approx(
        12 * (s.mean() - gamma / 2 * np.var(s, ddof=1))
    )
    k = gamma / (2 * (1 + gamma))

    def gap(fee):
        return np.sum((1 + s - fee) - k * (1 + s - fee) ** 2) - np.sum((1 + b) - k * (1 + b) ** 2)

    expected = brentq(gap, -0.05, 0.05) * 12 * 1e4
    assert performance_fee(s, b, gamma) == pytest.approx(expected, rel=1e-9)
    assert performance_fee(b, b, gamma) == pytest.approx(0.0, abs=1e-9)


def test_break_even_cost_equates_the_engine_net_means(rng):
    g, gb = rng.normal(0.012, 0.04, 120), rng.normal(0.008, 0.04, 120)
    tau, taub = rng.uniform(0.2, 0.6, 120), rng.uniform(0.0, 0.1, 120)
    bps = break_even_cost(g, tau, gb, taub)
    c = bps / 1e4
    net, netb = (1 - c * tau) * (1 + g) - 1, (1 - c * taub) * (1 + gb) - 1
    assert net.mean() == pytest.approx(netb.mean(), abs=1e-12)
    assert break_even_cost(gb, tau, g, taub) == 0.0  # no edge even before costs
    assert break_even_cost(g, taub, gb, tau) == np.inf  # earns more and trades less


def test_economic_value_intervals_bracket_the_estimates(rng):
    s, b = rng.normal(0.012, 0.04, 120), rng.normal(0.008, 0.045, 120)
    v = economic_value(s, b, 5.0, n_boot=200, random_state=1)
    for x in (v.cer_gain, v.fee_bps):
        assert x.low < x.estimate < x.high
    assert np.isnan(v.break_even_bps.estimate)


def _naive_interval(statistic, columns, n_boot, seed, alpha):
    """One arch bootstrap per statistic, the scalar statistic on every resample in turn."""
    boot = StationaryBootstrap(6, columns, seed=seed)
    draws = np.array([statistic(*data[0][0].T) for data in boot.bootstrap(n_boot)])
    draws = draws[~np.isnan(draws)]
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return statistic(*columns.T), low, high


def test_economic_value_intervals_equal_a_loop_over_arch_resamples(rng):
    # The strategy trades less than the benchmark in some months, more in others: some
    # resamples' break-even cost is 0 (no edge), some inf (less trading), most finite.
    n, gamma = 40, 5.0
    s, b = rng.normal(0.012, 0.04, n), rng.normal(0.008, 0.04, n)
    tau, taub = rng.uniform(0.0, 0.4, n), rng.uniform(0.0, 0.4, n)
    v = economic_value(s, b, gamma, s, tau, b, taub, n_boot=300, alpha=0.2, random_state=4)

    def gain(x, y):
        return 100.0 * (certainty_equivalent(x, gamma) - certainty_equivalent(y, gamma))

    pair, cols = np.column_stack([s, b]), np.column_stack([s, tau, b, taub])
    for got, (statistic, columns) in zip(
        (v.cer_gain, v.fee_bps, v.break_even_bps),
        ((gain, pair), (lambda x, y: performance_fee(x, y, gamma), pair), (break_even_cost, cols)),
        strict=True,
    ):
        expected = _naive_interval(statistic, columns, 300, 4, 0.2)
        assert (got.estimate, got.low, got.high) == pytest.approx(expected, rel=1e-12)
        assert got.low < got.high
    boot = StationaryBootstrap(6, cols, seed=4)
    evens = [break_even_cost(*data[0][0].T) for data in boot.bootstrap(300)]
    assert 0.0 in evens and np.inf in evens  # the interval saw both limits


# --- deflation and PBO ------------------------------------------------------------------------


def test_effective_trials_count_copies_once(rng):
    base = rng.normal(0, 0.04, 200)
    copies = pd.DataFrame({f"c{j}": base + rng.normal(0, 1e-6, 200) for j in range(10)})
    independent = pd.DataFrame(rng.normal(0, 0.04, (200, 10)))
    assert effective_trials(copies)[0] == pytest.approx(1.0, abs=1e-3)
    assert effective_trials(independent)[0] == pytest.approx(10, abs=0.6)


def test_deflated_best_uses_trials_only_and_tests_against_1n(rng):
    trials = pd.DataFrame(rng.normal(0.01, 0.04, (120, 5)), columns=list("abcde"))
    bench = pd.Series(rng.normal(0.012, 0.04, 120), name="equal_weight")
    d = deflated_best(trials, bench)
    sr = trials.mean() / trials.std(ddof=1)
    n_eff = effective_trials(trials)[0]
    sr0 = expected_max_sharpe(int(np.ceil(n_eff)), sr.var(ddof=1))
    assert d.best == sr.idxmax()
    assert d.dsr_vs_zero == pytest.approx(probabilistic_sharpe_ratio(trials[d.best], sr0))
    sr_b = bench.mean() / bench.std(ddof=1)
    assert d.dsr_vs_benchmark == pytest.approx(
        probabilistic_sharpe_ratio(trials[d.best], sr_b + sr0)
    )


@pytest.mark.parametrize(("n_periods", "expected"), [(58, 14), (60, 12), (64, 16), (10, 4)])
def test_pbo_blocks_drop_the_fewest_months(n_periods, expected):
    assert choose_n_blocks(n_periods) == expected


def test_pbo_interval_covers_half_on_noise_and_not_with_a_winner():
    covered = [pbo_interval(np.random.default_rng(s).normal(0, 0.04, (58, 10)), n_boot=100,
                            random_state=s).uninformative() for s in range(20)]  # fmt: skip
    assert np.mean(covered) >= 0.75
    rng = np.random.default_rng(99)
    m = rng.normal(0, 0.04, (120, 10))
    m[:, 3] += 0.04
    res = pbo_interval(m, n_boot=100)
    assert res.high < 0.5 and not res.uninformative()


def test_stepm_names_every_candidate_when_all_beat_the_benchmark():
    r = _returns(4)
    r[["s1", "s2", "s3", "s4", "s5"]] += 0.02
    assert superiority_test(r, "s0").superior == ("s1", "s2", "s3", "s4", "s5")
