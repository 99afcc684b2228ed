"""Evidence gathered from strategy returns drives the verdict's conclusion."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from backtest.reports.evidence import Evidence, holm, strategy_evidence
from backtest.reports.verdict import verdict

BENCHMARKS = {"1/N": "equal_weight", "mean-variance on the historical mean": "hist_mean"}


def _panel(rng, edge: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    market = rng.normal(0.008, 0.04, 120)
    names = ["equal_weight", "hist_mean", "a", "b", "c", "d"]
    net = pd.DataFrame(
        {n: market + rng.normal(0, 0.01, 120) for n in names},
        index=pd.date_range("2010-01-31", periods=120, freq="ME"),
    )
    net["d"] += edge
    turnover = pd.DataFrame(0.1, index=net.index, columns=names)
    return net, net + 0.0001, turnover


def _verdict(net, gross, turnover) -> str:
    rest = strategy_evidence(net, gross, turnover, ["a", "b", "c", "d"], BENCHMARKS, 5.0)
    return verdict(Evidence(level=0.05, forecasts=(), mcs=None, **rest))


def test_a_planted_winner_is_named_and_noise_is_not(rng):
    text = _verdict(*_panel(rng, 0.01))
    assert "Conclusion at 5%: d beat 1/N net of costs" in text
    noise = _verdict(*_panel(rng, 0.0))
    assert "Conclusion at 5%: nothing beat 1/N net of costs" in noise


def test_holm_matches_statsmodels_and_keeps_nan():
    p = pd.Series([0.01, 0.04, np.nan, 0.03], index=list("abcd"))
    adjusted = holm(p)
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    np.testing.assert_allclose(adjusted[["a", "b", "d"]], expected)
    assert np.isnan(adjusted["c"])
    np.testing.assert_allclose(adjusted[["a", "b", "d"]], [0.03, 0.06, 0.06])
