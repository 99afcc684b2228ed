from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from backtest.engine.panel import ForecastPanel
from backtest.features import Variant
from backtest.live.recommend import recommend
from backtest.portfolio.rebalance import backtest_strategies
from strategies import StrategyName

TICKERS = ["A", "B", "C", "D", "E"]
N_MONTHS, N_TRAIN = 72, 48


def synthetic_panel(rng) -> tuple[ForecastPanel, pd.DataFrame]:
    """Returns and an expanding-window forecast panel over its last 24 months."""
    index = pd.date_range("2010-01-31", periods=N_MONTHS, freq="ME", name="date")
    returns = pd.DataFrame(
        rng.normal(0.01, 0.06, size=(N_MONTHS, len(TICKERS))), index=index, columns=TICKERS
    )
    dates = index[N_TRAIN:]
    origins = index[N_TRAIN - 1 : -1]
    hist = np.array([returns.iloc[:j].mean().to_numpy() for j in range(N_TRAIN, N_MONTHS)])
    realised = returns.loc[dates].to_numpy()
    lstm = 0.5 * hist + 0.5 * realised + rng.normal(0, 0.02, size=realised.shape)
    frame = lambda values: pd.DataFrame(values, index=dates, columns=TICKERS)  # noqa: E731
    panel = ForecastPanel(
        variant=Variant.BASE,
        forecasts={"lstm": frame(lstm)},
        hist_mean=frame(hist),
        realised=frame(realised),
        origin=pd.DatetimeIndex(origins, name="origin"),
        train_start=pd.DatetimeIndex([index[0]] * len(dates), name="train_start"),
        train_end=pd.DatetimeIndex(origins, name="train_end"),
        diagnostics=pd.DataFrame(),
        n_cached=0,
        n_computed=len(dates),
    )
    return panel, returns


def test_recommendation_is_the_backtests_decision_at_that_origin(rng):
    panel, returns = synthetic_panel(rng)
    names = [s.value for s in StrategyName]
    backtest = backtest_strategies(panel, returns, names, 5.0, 0.4, 10.0)
    rec = recommend(panel, returns, names, 5.0, 0.4)
    origin = panel.origin[-1]
    assert rec.origin == origin
    for name in [*names, *rec.benchmarks]:
        np.testing.assert_allclose(
            rec.weights[name].to_numpy(),
            backtest.results[name].weights.loc[origin, TICKERS].to_numpy(),
            atol=1e-10,
            err_msg=name,
        )
    expected = backtest.expected[backtest.expected["origin"] == origin]
    for name in names:
        rows = expected[expected["strategy"] == name].set_index("ticker").loc[TICKERS]
        np.testing.assert_allclose(rec.mu[name].to_numpy(), rows["mu"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(rec.mu_simple[name], rows["mu_simple"], rtol=1e-12)
        np.testing.assert_allclose(rec.intensity[name], rows["intensity"], rtol=1e-12)


def test_recommendation_reads_nothing_after_the_origin(rng):
    panel, returns = synthetic_panel(rng)
    names = ["hist_mean", "forecast", "skill", "black_litterman"]
    rec = recommend(panel, returns, names, 5.0, 0.4)
    later = returns.copy()
    later.loc[later.index > panel.origin[-1]] = 0.5  # the last, unused month
    nan_realised = panel.realised.copy()
    nan_realised.iloc[-1] = np.nan  # the month being decided for is not known yet
    rec_later = recommend(replace(panel, realised=nan_realised), later, names, 5.0, 0.4)
    pd.testing.assert_frame_equal(rec.weights, rec_later.weights)
    pd.testing.assert_frame_equal(rec.mu, rec_later.mu)


def test_weights_are_long_only_capped_and_fully_invested(rng):
    panel, returns = synthetic_panel(rng)
    rec = recommend(panel, returns, ["hist_mean", "forecast", "blend_50"], 5.0, 0.3)
    assert list(rec.weights.columns) == ["hist_mean", "forecast", "blend_50", *rec.benchmarks]
    np.testing.assert_allclose(rec.weights.sum(), 1.0, atol=1e-8)
    assert (rec.weights >= -1e-10).all().all()
    assert (rec.weights <= 0.3 + 1e-8).all().all()
    np.testing.assert_allclose(
        rec.hist_mean.to_numpy(), returns.loc[: panel.origin[-1]].mean().to_numpy()
    )
    np.testing.assert_allclose(rec.mu["hist_mean"], rec.hist_mean)
    np.testing.assert_allclose(rec.mu["forecast"], panel.forecast().iloc[-1])


def test_unknown_strategy_is_named(rng):
    panel, returns = synthetic_panel(rng)
    with pytest.raises(ValueError, match="unknown strategy name='oracle'"):
        recommend(panel, returns, ["oracle"], 5.0, 0.4)
