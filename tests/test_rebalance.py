from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.engine.panel import ForecastPanel
from backtest.features import Variant
from backtest.portfolio.rebalance import (
    EQUAL_WEIGHT,
    MARKET,
    MIN_VARIANCE,
    backtest_strategies,
    views,
)


def _panel(rng, n_hist=40, n_fc=24, tickers=("A", "B", "C", "D")):
    months = pd.date_range("2010-01-31", periods=n_hist + n_fc, freq="ME", name="date")
    returns = pd.DataFrame(
        rng.normal(0.01, 0.05, (len(months), len(tickers))), index=months, columns=list(tickers)
    )
    dates = months[n_hist:]
    origin = months[n_hist - 1 : -1]
    lstm = pd.DataFrame(
        rng.normal(0.01, 0.01, (n_fc, len(tickers))), index=dates, columns=list(tickers)
    )
    hist = pd.DataFrame([returns.loc[:o].mean() for o in origin], index=dates)
    panel = ForecastPanel(
        variant=Variant.BASE,
        forecasts={"lstm": lstm},
        hist_mean=hist,
        realised=returns.loc[dates],
        origin=pd.DatetimeIndex(origin),
        train_start=pd.DatetimeIndex([months[0]] * n_fc),
        train_end=pd.DatetimeIndex(origin),
        diagnostics=pd.DataFrame(),
        n_cached=0,
        n_computed=n_fc,
    )
    return panel, returns


def test_views_hold_only_what_is_known_at_the_origin(rng):
    panel, returns = _panel(rng)
    for i, (origin, view) in enumerate(views(panel, returns)):
        assert origin == panel.origin[i]
        # forecasts join the trailing-error history only once their month is realised
        assert view.past_forecasts.shape[0] == i
        np.testing.assert_array_equal(view.past_realised, panel.realised.iloc[:i].to_numpy())
        np.testing.assert_array_equal(view.returns, returns.loc[:origin].to_numpy())
        np.testing.assert_array_equal(view.forecast, panel.forecast().iloc[i].to_numpy())


def test_strategy_decisions_do_not_see_the_future(rng):
    panel, returns = _panel(rng)
    strategies = ["hist_mean", "forecast", "skill", "black_litterman", "james_stein"]
    base = backtest_strategies(panel, returns, strategies, 5.0, 0.4, 10.0)
    cut = panel.origin[12]
    later = returns.index > cut
    changed_returns = returns.copy()
    changed_returns.loc[later] = rng.normal(0.05, 0.2, (later.sum(), returns.shape[1]))
    changed = ForecastPanel(**{**panel.__dict__, "realised": changed_returns.loc[panel.dates]})
    other = backtest_strategies(changed, changed_returns, strategies, 5.0, 0.4, 10.0)
    before = base.expected.origin <= cut
    pd.testing.assert_frame_equal(base.expected[before], other.expected[before])
    for name in strategies:
        w_a = base.results[name].weights.loc[:cut]
        w_b = other.results[name].weights.loc[:cut]
        pd.testing.assert_frame_equal(w_a, w_b)


def test_benchmarks_and_market(rng):
    panel, returns = _panel(rng)
    market = pd.Series(rng.normal(0.01, 0.04, len(returns)), index=returns.index)
    result = backtest_strategies(panel, returns, ["hist_mean"], 5.0, 0.4, 10.0, market)
    assert result.benchmarks == (MIN_VARIANCE, EQUAL_WEIGHT, MARKET)
    ew = result.results[EQUAL_WEIGHT].weights
    np.testing.assert_allclose(ew.to_numpy(), 0.25)
    spy = result.results[MARKET]
    np.testing.assert_allclose(spy.gross.to_numpy(), np.expm1(market.loc[panel.dates]).to_numpy())
    assert spy.turnover.iloc[0] == pytest.approx(1.0) and spy.turnover.iloc[1:].abs().max() < 1e-12
    # hist_mean's mu is the window mean; its intensity is zero
    hm = result.expected[result.expected.strategy == "hist_mean"]
    assert (hm.intensity == 0).all()
    first = hm[hm.origin == panel.origin[0]].set_index("ticker").mu
    np.testing.assert_allclose(first.to_numpy(), returns.loc[: panel.origin[0]].mean().to_numpy())


def test_weights_do_not_depend_on_the_callers_blas_threads(rng):
    from threadpoolctl import threadpool_limits

    panel, returns = _panel(rng, n_hist=60)
    names = ["hist_mean", "bayes_stein"]
    free = backtest_strategies(panel, returns, names, 5.0, 0.4, 10.0)
    with threadpool_limits(limits=1):
        limited = backtest_strategies(panel, returns, names, 5.0, 0.4, 10.0)
    for name in [*names, MIN_VARIANCE]:
        np.testing.assert_array_equal(
            free.results[name].weights.to_numpy(), limited.results[name].weights.to_numpy()
        )


def test_expected_and_weights_tables_match_a_cell_by_cell_reading_of_the_decisions(rng):
    from backtest.portfolio.rebalance import decide_every_model

    panel, returns = _panel(rng)
    names = ["hist_mean", "forecast", "skill"]
    result = backtest_strategies(panel, returns, names, 5.0, 0.4, 10.0)
    decisions = decide_every_model(panel, returns, names, 5.0, 0.4)
    naive = pd.DataFrame(
        [
            (d.origin, date, t, s, d.mu.at[t, s], d.mu_simple.at[t, s], d.intensity.at[t, s])
            for d, date in zip(decisions, panel.dates, strict=True)
            for s in d.mu.columns
            for t in panel.tickers
        ],
        columns=["origin", "date", "ticker", "strategy", "mu", "mu_simple", "intensity"],
    )
    pd.testing.assert_frame_equal(result.expected, naive, check_exact=True)
    for name in [*names, MIN_VARIANCE, EQUAL_WEIGHT]:
        rows = [[d.weights.at[t, name] for t in panel.tickers] for d in decisions]
        np.testing.assert_array_equal(result.results[name].weights.to_numpy(), rows)
        assert list(result.results[name].weights.columns) == list(panel.tickers)


def test_weights_tidy_reads_every_strategy_cell_by_cell(rng):
    panel, returns = _panel(rng)
    market = pd.Series(rng.normal(0.01, 0.04, len(returns)), index=returns.index)
    result = backtest_strategies(panel, returns, ["hist_mean", "skill"], 5.0, 0.4, 10.0, market)
    naive = pd.DataFrame(
        [
            (origin, name, ticker, r.weights.at[origin, ticker])
            for name, r in result.results.items()
            for ticker in r.weights.columns  # the market holds one column, SPY
            for origin in r.weights.index
        ],
        columns=["origin", "strategy", "ticker", "weight"],
    )
    pd.testing.assert_frame_equal(result.weights_tidy(), naive, check_exact=True)
