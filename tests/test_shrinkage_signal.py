"""Skill and Black-Litterman weights on a synthetic market with a known planted signal.

A linear learner (expanding OLS of each target on last month's relatives) stands in for the
model: with no signal it only fits noise, with a strong one it finds it. The weights the
strategies give its forecast must follow the truth, not the noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.data.synthetic import MarketModel
from strategies import BlackLitterman, MarketView, SkillBlend

N_TGT, N_REL, N_MONTHS, FIRST = 4, 4, 180, 60


def market_model() -> MarketModel:
    corr = np.eye(N_TGT + N_REL)
    corr[:N_TGT, :N_TGT] = 0.3
    np.fill_diagonal(corr, 1.0)
    vol = np.array([0.08, 0.09, 0.10, 0.07, 0.04, 0.05, 0.05, 0.06])
    names = tuple("ABCD"), tuple("WXYZ")
    return MarketModel(*names, np.full(N_TGT, 0.01), np.zeros(N_REL), corr * np.outer(vol, vol))


def views(signal_r2: float, seed: int) -> list[MarketView]:
    """One view per month from FIRST + 24 on, with the OLS learner's scored record."""
    market = market_model().simulate(N_MONTHS, signal_r2, random_state=seed)
    r = market.log_returns.iloc[:, :N_TGT].to_numpy()
    x = market.log_returns.iloc[:, N_TGT:].to_numpy()
    forecasts, benchmarks = np.full_like(r, np.nan), np.full_like(r, np.nan)
    for t in range(FIRST, N_MONTHS):  # forecast of month t from months < t
        design = np.column_stack([np.ones(t - 1), x[: t - 1]])
        coef, *_ = np.linalg.lstsq(design, r[1:t], rcond=None)
        forecasts[t] = np.concatenate([[1.0], x[t - 1]]) @ coef
        benchmarks[t] = r[:t].mean(axis=0)
    out = []
    for t in range(FIRST + 24, N_MONTHS, 12):  # origin t-1: months FIRST..t-1 are scored
        scored = slice(FIRST, t)
        out.append(
            MarketView(r[:t], forecasts[t], forecasts[scored], benchmarks[scored], r[scored])
        )
    return out


def mean_weight(strategy, signal_r2: float) -> float:
    all_views = [view for seed in range(4) for view in views(signal_r2, seed)]
    weights = [np.mean(strategy.fit(view).intensity_) for view in all_views]
    return float(np.mean(weights))


@pytest.mark.parametrize("strategy", [SkillBlend(), BlackLitterman()], ids=["skill", "bl"])
def test_weight_on_the_forecast_rises_with_the_planted_signal(strategy):
    weights = [mean_weight(strategy, signal) for signal in (0.0, 0.05, 0.2)]
    assert weights[0] < weights[1] < weights[2]


def test_skill_stays_near_zero_without_signal_and_moves_toward_a_strong_one():
    assert mean_weight(SkillBlend(), 0.0) < 0.05
    assert mean_weight(SkillBlend(), 0.2) > 0.4


def test_black_litterman_gives_a_skill_less_model_less_than_the_prior():
    assert mean_weight(BlackLitterman(), 0.0) < 0.4
    assert mean_weight(BlackLitterman(), 0.2) > 0.5
