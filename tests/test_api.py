"""The Python API: ``from backtest import RunConfig, run`` returns what the run directory holds."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtest import RunConfig, run
from backtest.config import DataConfig, ModelConfig, ModelsConfig, WalkForwardConfig
from backtest.reports.run_dir import load_run

TARGETS = ("AAA", "BBB", "CCC", "DDD")
RELATIVES = ("SPY", "QQQ")


class FakeRunner:
    """A window runner without TensorFlow: a forecast that depends on train and test data."""

    def __call__(self, fn, jobs):
        for job in jobs:
            signal = job.X_test[:, -1, :].mean(axis=1, keepdims=True)
            forecast = job.y_train.mean(axis=0) + 0.2 * signal
            yield job.key, {"forecast": forecast, "epochs_run": [1], "best_val_loss": [0.0]}


@pytest.fixture
def prices_csv(rng, tmp_path):
    index = pd.date_range("2010-01-01", periods=70, freq="MS", name="date")
    steps = rng.normal(0.01, 0.06, size=(len(index), len(TARGETS) + len(RELATIVES)))
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=[*TARGETS, *RELATIVES]
    )
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    return path, prices


def _config() -> RunConfig:
    return RunConfig(
        data=DataConfig(targets=TARGETS, relatives=RELATIVES, start="2010-01-01", end="2015-10-01"),
        walk_forward=WalkForwardConfig(min_train=40),
        model=ModelConfig(lookback=6, epochs=2, units=(4,)),
        models=ModelsConfig(names=("lstm",)),  # FakeRunner stands in for one model
    )


def test_run_returns_what_the_directory_holds(prices_csv, tmp_path):
    path, prices = prices_csv
    config = _config()
    result = run(
        config,
        path,
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        runner=FakeRunner(),
    )
    assert result.run_dir == tmp_path / "results" / "relatives"
    assert result.config == config
    back = load_run(result.run_dir)
    assert back.config == config
    assert set(result.forecasts) == set(back.forecasts) == {"lstm", "hist_mean"}
    for model in result.forecasts:
        pd.testing.assert_frame_equal(result.forecasts[model], back.forecasts[model])
    pd.testing.assert_frame_equal(result.performance, back.performance)
    # realised values are the log returns of the prices, month by month (naive reference)
    naive = np.log(prices / prices.shift(1)).dropna()
    naive.index = naive.index + pd.offsets.MonthEnd(0)
    got = result.realised
    np.testing.assert_allclose(got.to_numpy(), naive.loc[got.index, list(got.columns)], rtol=1e-8)
    assert "equal_weight" in result.net and result.roles["equal_weight"] == "benchmark"
    assert result.verdict and result.verdict == back.verdict


@pytest.mark.slow  # two runs (no Keras)
def test_run_in_memory_gives_the_same_numbers(prices_csv, tmp_path):
    path, _ = prices_csv
    config = _config()
    kept = run(
        config, path, results_dir=tmp_path / "r", cache_dir=tmp_path / "c", runner=FakeRunner()
    )
    memory = run(config, path, cache_dir=tmp_path / "c", runner=FakeRunner())
    assert memory.run_dir is None
    pd.testing.assert_frame_equal(kept.portfolio_returns, memory.portfolio_returns)
    with pytest.raises(ValueError, match="with a different configuration.*--overwrite"):
        run(
            dataclasses.replace(config, random_state=1),
            path,
            results_dir=tmp_path / "r",
            cache_dir=tmp_path / "c",
            runner=FakeRunner(),
        )


def test_import_backtest_is_light():
    code = (
        "import sys, backtest; heavy = [m for m in ('tensorflow', 'sklearn', 'keras', "
        "'matplotlib') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
