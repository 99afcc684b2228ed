"""The verdict says no more than its tests: a table of evidence -> expected key phrases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from backtest.evaluation.deflation import DeflatedBest
from backtest.evaluation.economic import EconomicValue, Interval
from backtest.evaluation.overfitting import PBOInterval
from backtest.evaluation.sharpe_tests import Alternative, SharpeDifferenceTest
from backtest.evaluation.snooping import ConfidenceSet, SuperiorityTest
from backtest.reports.evidence import Evidence, ForecastEvidence
from backtest.reports.verdict import verdict

LABELS = {"equal_weight": "1/N", "hist_mean": "mean-variance on the historical mean"}


def spa(benchmark="equal_weight", p=0.4, superior=(), best="skill@ridge", diff=0.001):
    return SuperiorityTest(
        benchmark, ("skill@ridge", "blend_50", "james_stein"), best, diff, p, p, p, superior, 0.05
    )


def lw(diff=0.1, p=0.3, low=-0.2, high=0.4):
    return SharpeDifferenceTest(diff, 0.15, p, low, high, Alternative.GREATER, 6, 2000)


def dsr(rho=0.5, vs0=0.9, vs1n=0.4):
    return DeflatedBest("skill@ridge", 1.2, 30, 30 * (1 - rho) + rho, rho, 0.5, vs0, "1/N", 1.1,
                        vs1n)  # fmt: skip


def mcs(included=("hist_mean", "lstm"), excluded=()):
    names = [*included, *excluded]
    p = pd.Series([0.5] * len(included) + [0.01] * len(excluded), index=names)
    return ConfidenceSet(tuple(included), tuple(excluded), p, p * 0 + 0.004, 0.05)


def value(low=-1.0, high=2.0):
    i = Interval((low + high) / 2, low, high)
    return EconomicValue(i, Interval(50.0, -100.0, 200.0), Interval(30.0, 0.0, 80.0), 5.0)


def forecast(model="lstm", r2=-0.01, p=0.6, rejected=()):
    return ForecastEvidence(model, r2, p, tuple(rejected), 7)


BASE = Evidence(
    level=0.05,
    forecasts=(forecast(),),
    mcs=mcs(),
    superiority=(spa(), spa("hist_mean", p=0.5)),
    best="skill@ridge",
    sharpe_vs_1n=lw(),
    deflated=dsr(),
    pbo=PBOInterval(0.6, 0.2, 0.9, 14, 200),
    economic={"equal_weight": value()},
    gamma=5.0,
    n_strategies=30,
    labels=LABELS,
)


def case(name, expected, absent=(), **changes):
    return pytest.param(dataclasses.replace(BASE, **changes), expected, absent, id=name)


CASES = [
    case(
        "nothing_beat_1N",
        [
            "Conclusion at 5%: nothing beat 1/N net of costs",
            "Nothing beat 1/N once the search over 3 strategies",
        ],
        absent=["beat 1/N net of costs (SPA"],
    ),  # fmt: skip
    case(
        "spa_and_stepm_find_one",
        [
            "skill@ridge beat 1/N net of costs (SPA and StepM)",
            "StepM (family-wise 5%) identifies: skill@ridge",
        ],
        superiority=(spa(p=0.01, superior=("skill@ridge",)), spa("hist_mean")),
        absent=["nothing beat 1/N"],
    ),  # fmt: skip
    case(
        "spa_rejects_stepm_names_none",
        ["no single strategy can be named (StepM)", "identifies: none of them individually"],
        superiority=(spa(p=0.03), spa("hist_mean")),
    ),  # fmt: skip
    case(
        "benchmark_named_in_each_spa_sentence",
        ["Nothing beat mean-variance on the historical mean once the search"],
    ),  # fmt: skip
    case(
        "best_of_n_interval_above_zero_not_confirmed_by_spa",
        ["does not confirm it beats 1/N", "best of 30"],
        sharpe_vs_1n=lw(0.5, 0.01, 0.1, 0.9),
    ),  # fmt: skip
    case(
        "interval_above_zero_and_spa_rejects_no_caveat",
        ["one-sided p = 0.010"],
        absent=["does not confirm"],
        sharpe_vs_1n=lw(0.5, 0.01, 0.1, 0.9),
        superiority=(spa(p=0.01, superior=("skill@ridge",)),),
    ),  # fmt: skip
    case(
        "r2_negative_while_cw_rejects",
        ["pooled R2_OS is -0.50%", "yet Clark-West rejects at 5%", "only a shrunk combination"],
        forecasts=(forecast(r2=-0.005, p=0.01),),
        absent=["lstm beat the historical mean"],
    ),  # fmt: skip
    case(
        "r2_positive_cw_rejects",
        [
            "lstm beat the historical mean out of sample: pooled R2_OS "
            "+0.40%, and Clark-West rejects"
        ],
        forecasts=(forecast(r2=0.004, p=0.02),),
    ),  # fmt: skip
    case(
        "r2_positive_not_significant_is_a_point_estimate",
        ["pooled R2_OS is +0.30%, a point estimate", "no evidence of skill"],
        forecasts=(forecast(r2=0.003, p=0.2),),
        absent=["beat the historical mean out"],
    ),  # fmt: skip
    case("r2_negative_cw_not_rejecting", ["lstm did not beat the historical mean"]),
    case(
        "several_models_each_named",
        ["ridge beat the historical mean", "lstm did not beat"],
        forecasts=(forecast(), forecast("ridge", 0.01, 0.001)),
    ),  # fmt: skip
    case(
        "holm_rejections_only_are_named",
        ["after Holm's adjustment over 7 tickers for: TSLA"],
        forecasts=(forecast(rejected=("TSLA",)),),
    ),  # fmt: skip
    case("no_holm_rejection", ["over 7 tickers for: none"]),
    case(
        "strategies_98pct_correlated",
        ["near copies (98% correlated)", "close to one bet", "correlate 98% on average"],
        deflated=dsr(rho=0.98),
    ),  # fmt: skip
    case(
        "low_correlation_no_copies_sentence",
        ["correlate 20% on average"],
        absent=["near copies"],
        deflated=dsr(rho=0.2),
    ),  # fmt: skip
    case("dsr_fails_against_1N", ["does not survive deflation against 1/N at 95%"]),
    case(
        "dsr_passes_against_1N",
        ["it survives deflation against 1/N at 95%"],
        deflated=dsr(vs0=0.999, vs1n=0.97),
    ),  # fmt: skip
    case(
        "pbo_interval_spanning_half",
        ["PBO = 0.60", "contains 0.5, so PBO is uninformative"],
        absent=["overfitting)"],
    ),  # fmt: skip
    case(
        "pbo_clearly_high",
        ["below-median configuration out of sample more often than not"],
        pbo=PBOInterval(0.8, 0.6, 0.95, 14, 200),
        absent=["uninformative"],
    ),  # fmt: skip
    case(
        "pbo_clearly_low",
        ["low overfitting risk", "errs low", "says nothing about beating a benchmark"],
        pbo=PBOInterval(0.1, 0.0, 0.3, 14, 200),
    ),  # fmt: skip
    case(
        "cer_interval_includes_zero",
        ["CER gain +0.50% a year (includes zero: [-1.00, +2.00])", "over 1/N at risk aversion 5"],
    ),  # fmt: skip
    case(
        "cer_interval_excludes_zero",
        ["CER gain +2.00% a year (excludes zero"],
        economic={"equal_weight": value(1.0, 3.0)},
    ),  # fmt: skip
    case(
        "mcs_names_the_set",
        ["model confidence set", "holds: hist_mean; eliminated: lstm"],
        mcs=mcs(("hist_mean",), ("lstm",)),
    ),  # fmt: skip
    case(
        "too_short_for_snooping_tests",
        ["too few months for the snooping tests against 1/N"],
        superiority=(),
        absent=["nothing beat 1/N net"],
    ),  # fmt: skip
    case("one_level_throughout", ["at 5%"], absent=["at 10%", "90%"]),
]


@pytest.mark.parametrize(("evidence", "expected", "absent"), CASES)
def test_verdict_states_what_the_tests_support(evidence, expected, absent):
    text = verdict(evidence)
    for phrase in expected:
        assert phrase in text, f"missing {phrase!r} in: {text}"
    for phrase in absent:
        assert phrase not in text, f"unexpected {phrase!r} in: {text}"


def test_verdict_never_says_beat_without_a_rejection():
    text = verdict(BASE)
    assert "beat 1/N net of costs (" not in text
    assert "above 1/N" not in text and "beat the mean on" not in text


def test_table_has_at_least_fifteen_cases():
    assert len(CASES) >= 15
    assert np.all([len(c.values[1]) > 0 for c in CASES])
