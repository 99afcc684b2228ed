"""Every model downstream: DM between models, fan-out of strategies, look-ahead per model,
and known-truth power of a feasible linear comparator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.config import config_from_mapping
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import walk_forward
from backtest.evaluation.models import (
    comparator_sentence,
    model_comparison,
    model_metrics,
    models_table,
)
from backtest.portfolio.rebalance import backtest_strategies

TARGETS, RELATIVES = ("A", "B", "C"), ("X", "Y")
SLOW = pytest.mark.slow
BUILT_IN = ["ridge", "ols", "zero", pytest.param("elastic_net", marks=SLOW),
            pytest.param("gbm", marks=SLOW)]  # fmt: skip


def _local(fn, jobs):
    for job in jobs:
        yield job.key, fn(job)


def _prices(rng, n=72):
    dates = pd.date_range("2012-01-31", periods=n, freq="ME")
    steps = rng.normal(0.005, 0.05, (n, 5))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=dates,
                        columns=[*TARGETS, *RELATIVES])  # fmt: skip


def _config(models, **kw):
    values = {"targets": TARGETS, "relatives": RELATIVES, "lookback": 3, "min_train": 36,
              "models": models, **kw}  # fmt: skip
    return config_from_mapping(values)


def test_dm_between_models_equals_a_naive_hln_statistic(rng):
    idx = pd.date_range("2020-01-31", periods=40, freq="ME")
    realised = pd.DataFrame(rng.normal(0, 0.05, (40, 2)), idx, ["A", "B"])
    a = realised + rng.normal(0, 0.03, (40, 2))
    b = realised + rng.normal(0, 0.04, (40, 2))
    table = model_comparison(realised, {"a": a, "b": b}).set_index("ticker")
    d = ((realised - b) ** 2 - (realised - a) ** 2).mean(axis=1).to_numpy()
    n = d.size
    dm = d.mean() / np.sqrt(np.mean((d - d.mean()) ** 2) / n) * np.sqrt((n - 1) / n)
    assert table.loc["pooled", "dm_stat"] == pytest.approx(dm, rel=1e-10)
    assert table.loc["pooled", "p_value"] == pytest.approx(2 * stats.t(n - 1).sf(abs(dm)))
    assert table.loc["pooled", "p_value_better"] == pytest.approx(stats.t(n - 1).sf(dm))
    metrics = model_metrics(realised, {"a": a, "b": b}, realised * 0)
    summary = models_table(metrics, model_comparison(realised, {"a": a, "b": b}), "a")
    assert summary.loc["b", "dm_stat_vs_a"] == pytest.approx(-dm, rel=1e-10)
    sentence = comparator_sentence(summary, "a")
    assert sentence.startswith("Beating the historical mean (Clark-West at 5%): a, b;")
    assert sentence.endswith(f"a beats b (DM p = {table.loc['pooled', 'p_value']:.2f}).")


@pytest.mark.parametrize("model", BUILT_IN)
def test_no_model_forecast_sees_prices_after_its_origin(rng, tmp_path, model):
    prices = _prices(rng)
    config = _config([model])
    cut = prices.index[55]
    later = prices.copy()
    later.loc[later.index > cut] *= np.exp(rng.normal(0, 0.3, later.loc[later.index > cut].shape))
    a = walk_forward(config, prices, WindowStore(tmp_path / "a"), _local)
    b = walk_forward(config, later, WindowStore(tmp_path / "b"), _local)
    before = a.origin <= cut
    pd.testing.assert_frame_equal(a.forecast()[before], b.forecast()[before])
    pd.testing.assert_frame_equal(a.hist_mean[before], b.hist_mean[before])
    if model != "zero":
        assert not np.allclose(a.forecast()[~before], b.forecast()[~before])


def test_forecast_strategies_run_once_per_model_with_safe_names(rng, tmp_path):
    prices = _prices(rng)
    config = _config(["ridge", "zero"])
    panel = walk_forward(config, prices, WindowStore(tmp_path), _local)
    returns = np.log(prices).diff().iloc[1:][list(TARGETS)]
    names = ["hist_mean", "forecast", "skill", "bayes_stein"]
    result = backtest_strategies(panel, returns, names, 5.0, 0.6, 10.0)
    assert list(result.results) == [
        "hist_mean", "forecast", "skill", "bayes_stein", "forecast@zero", "skill@zero",
        "min_variance", "equal_weight",
    ]  # fmt: skip
    mu = result.expected.pivot_table(index=["date", "ticker"], columns="strategy", values="mu")
    # the raw-forecast strategy on each model is that model's forecast
    np.testing.assert_allclose(mu["forecast@zero"], 0.0, atol=1e-15)
    ridge = panel.forecasts["ridge"].stack().reindex(mu.index)
    np.testing.assert_allclose(mu["forecast"], ridge.to_numpy(), rtol=1e-12)


@pytest.fixture
def small_model():
    from backtest.data.synthetic import MarketModel

    corr = np.full((7, 7), 0.3)
    np.fill_diagonal(corr, 1.0)
    vol = np.full(7, 0.06)
    return MarketModel(
        ("A", "B", "C", "D"), ("X", "Y", "Z"), np.array([0.01, 0.005, 0.0, 0.0075]),
        np.zeros(3), corr * np.outer(vol, vol),
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("signal", [0.0, 0.3])
def test_ridge_finds_a_strong_planted_signal_and_nothing_without_one(small_model, signal):
    from backtest.study.run import run_study

    config = config_from_mapping({"lookback": 1, "min_train": 36, "models": ["ridge", "zero"],
                                  "strategies": ["hist_mean"]})  # fmt: skip
    result = run_study(small_model, [signal], 8, 120, config, runner=_local)
    ridge = result.models[result.models["model"] == "ridge"]
    if signal > 0:
        assert ridge["r2_os"].mean() > 0.05
        assert ridge["cw_reject"].mean() >= 0.75
    else:
        # no signal: the mean R2_OS is not above zero beyond its standard error
        se = ridge["r2_os"].std(ddof=1) / np.sqrt(len(ridge))
        assert ridge["r2_os"].mean() < 2 * se
        assert ridge["cw_reject"].mean() <= 0.375
