"""Subperiod and rolling stability measures against naive computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.evaluation.stability import (
    rolling_r2_os,
    rolling_sharpe_difference,
    subperiod_table,
    subperiods,
)


def _frames(rng, n=40):
    dates = pd.date_range("2020-01-31", periods=n, freq="ME")
    r = pd.DataFrame(rng.normal(0.01, 0.08, (n, 3)), dates, list("ABC"))
    f = r * 0.3 + rng.normal(0, 0.05, (n, 3))
    b = pd.DataFrame(0.01, dates, list("ABC"))
    net = pd.DataFrame(rng.normal(0.01, 0.04, (n, 2)), dates, ["s", "equal_weight"])
    return r, f, b, net


def test_rolling_r2_os_matches_a_window_by_hand(rng):
    r, f, b, _ = _frames(rng)
    rolled = rolling_r2_os(r, f, b, window=24)
    window = slice(40 - 24, 40)
    by_hand = 1 - ((r - f) ** 2).iloc[window].to_numpy().sum() / (
        ((r - b) ** 2).iloc[window].to_numpy().sum()
    )
    assert rolled.iloc[-1] == pytest.approx(by_hand)
    assert rolled.iloc[:23].isna().all()


def test_rolling_sharpe_difference_matches_by_hand(rng):
    *_, net = _frames(rng)
    diff = rolling_sharpe_difference(net, "equal_weight", window=24)
    last = net.iloc[-24:]
    sr = np.sqrt(12) * last.mean() / last.std(ddof=1)
    assert diff["s"].iloc[-1] == pytest.approx(sr["s"] - sr["equal_weight"])


def test_subperiods_are_halves_then_calendar_years(rng):
    r, f, b, net = _frames(rng)
    labels = [label for label, _ in subperiods(r.index)]
    assert labels[:2] == ["first half 2020-01..2021-08", "second half 2021-09..2023-04"]
    assert labels[2:] == ["2020", "2021", "2022", "2023"]
    table = subperiod_table(r, {"m": f}, b, net, "equal_weight")
    year = table[(table.period == "2021") & (table.measure == "r2_os")]["value"].iloc[0]
    rows = r.index.year == 2021
    expected = 1 - ((r - f) ** 2)[rows].to_numpy().sum() / ((r - b) ** 2)[rows].to_numpy().sum()
    assert year == pytest.approx(expected)
