"""The historical mean and the strategies' sample moments use every return known at the origin.

A hand-made series: the first ``lookback`` months (which have no full feature sequence, so
train no model) carry a large visible return. A baseline that averaged only the models'
target months would miss them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_mapping
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import walk_forward
from backtest.portfolio.rebalance import views

TARGETS, RELATIVES = ("A", "B"), ("X",)
LOOKBACK, N_MONTHS, EARLY = 6, 60, 0.30


def _prices(rng) -> pd.DataFrame:
    returns = rng.normal(0.0, 0.02, (N_MONTHS - 1, 3))
    returns[:LOOKBACK] = EARLY  # visible: the first `lookback` returns are +30% log
    dates = pd.date_range("2010-01-31", periods=N_MONTHS, freq="ME")
    log_prices = np.vstack([np.zeros(3), np.cumsum(returns, axis=0)])
    return pd.DataFrame(100 * np.exp(log_prices), index=dates, columns=[*TARGETS, *RELATIVES])


def _zero_runner(fn, jobs):
    for job in jobs:
        yield job.key, {"forecast": np.zeros((len(job.X_test), len(TARGETS)))}


@pytest.mark.parametrize(
    ("variant", "window"),
    [("relatives", "expanding"), ("base", "rolling"), ("indicators", "expanding")],
)
def test_baseline_averages_every_month_up_to_the_origin(rng, tmp_path, variant, window):
    config = config_from_mapping(
        {
            "targets": TARGETS, "relatives": RELATIVES, "variant": variant,
            "lookback": LOOKBACK, "min_train": 10, "window": window, "train_size": 40,
        }
    )  # fmt: skip
    prices = _prices(rng)
    panel = walk_forward(config, prices, WindowStore(tmp_path), _zero_runner)
    returns = np.log(prices[list(TARGETS)]).diff().iloc[1:]  # naive reference
    first = panel.origin[0]
    for i, origin in enumerate(panel.origin):
        known = returns.loc[:origin]
        expected = known if window == "expanding" else known.iloc[-40:]
        np.testing.assert_allclose(panel.hist_mean.iloc[i], expected.mean(), rtol=1e-12)
        assert panel.train_start[i] == expected.index[0]
    # the early months are in the first baseline: it sits far above the mean of the
    # months after the first `lookback`, which is what a target-months-only mean would be
    truncated = returns.loc[:first].iloc[LOOKBACK:].mean()
    assert (panel.hist_mean.iloc[0] - truncated > 0.05).all()
    if window == "expanding":
        assert panel.train_start[0] == returns.index[0]
    # the strategies' sample mean and covariance see the same months
    for i, (origin, view) in enumerate(views(panel, returns)):
        expected = returns.loc[panel.train_start[i] : origin]
        np.testing.assert_array_equal(view.returns, expected.to_numpy())
        np.testing.assert_allclose(view.historical_mean, panel.hist_mean.iloc[i], rtol=1e-12)
