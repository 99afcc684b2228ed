from __future__ import annotations

import pandas as pd

from backtest.reports.files import verdict


def _metrics(r2, p):
    return pd.DataFrame(
        {"r2_os_vs_mean": [r2, -0.01, r2], "cw_p": [p, 0.9, p]}, index=["A", "B", "pooled"]
    )


def _performance(sharpes):
    roles = {
        "hist_mean": "baseline",
        "equal_weight": "benchmark",
        "lstm": "strategy",
        "skill": "strategy",
    }
    perf = pd.DataFrame({"sharpe": pd.Series(sharpes), "role": pd.Series(roles)})
    return perf.sort_values("sharpe", ascending=False)


def test_verdict_says_plainly_when_the_lstm_loses_and_nothing_beats_one_over_n():
    text = verdict(
        _metrics(-0.02, 0.8),
        _performance({"hist_mean": 0.5, "equal_weight": 0.9, "lstm": 0.4, "skill": 0.6}),
    )
    assert "lost to the historical mean" in text
    assert "No strategy beat equal weight" in text
    assert "beat the mean on 0 of 2 tickers" in text.lower()


def test_verdict_qualifies_a_win_with_the_bootstrap_interval(rng):
    perf = _performance({"hist_mean": 0.5, "equal_weight": 0.6, "lstm": 0.7, "skill": 0.65})
    noise = pd.DataFrame(rng.normal(0.01, 0.05, (60, 4)), columns=perf.index)
    text = verdict(_metrics(0.01, 0.01), perf, noise)
    assert "beat the historical mean out of sample" in text
    assert "within noise" in text
    edge = noise.copy()
    edge["lstm"] = noise["equal_weight"] + 0.03 + rng.normal(0, 0.002, 60)
    assert "exceeds 1/N's" in verdict(_metrics(0.01, 0.01), perf, edge)
