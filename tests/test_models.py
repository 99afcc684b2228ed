"""The forecaster contract, the registry, and a new model run end to end through ``run``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from backtest.cli import main
from models import registry
from models.base import Forecaster, HistoricalMean, Zero
from models.lstm import LSTMForecaster

TARGETS, RELATIVES = ("A", "B", "C"), ("X", "Y")


def _prices_csv(rng, path, n_months=70):
    dates = pd.date_range("2015-01-31", periods=n_months, freq="ME")
    names = [*TARGETS, *RELATIVES]
    log_prices = np.cumsum(rng.normal(0.005, 0.05, (n_months, len(names))), axis=0)
    frame = pd.DataFrame(100 * np.exp(log_prices), index=dates, columns=names)
    frame.rename_axis("date").to_csv(path)
    return path


def test_forecasters_clone_with_their_parameters():
    lstm = LSTMForecaster(units=(8, 4), epochs=3, random_state=7)
    copy = clone(lstm)
    assert copy is not lstm and copy.get_params() == lstm.get_params()
    assert clone(Zero()).get_params() == {}
    X, y = np.zeros((5, 2, 3)), np.arange(10.0).reshape(5, 2)
    np.testing.assert_allclose(HistoricalMean().fit(X, y).predict(X[:2]), [[4, 5], [4, 5]])
    np.testing.assert_array_equal(Zero().fit(X, y).predict(X[:3]), np.zeros((3, 2)))


def test_the_registry_names_unknown_models_and_guards_the_benchmark():
    with pytest.raises(ValueError, match=r"unknown model 'nope'; choose from \['lstm'"):
        registry.forecaster_class("nope")
    with pytest.raises(ValueError, match="'hist_mean' is the benchmark every run has"):
        registry.register("hist_mean", Zero)
    with pytest.raises(ValueError, match="a forecaster named 'lstm' is already registered"):
        registry.register("lstm", Zero)


def test_a_registered_toy_forecaster_runs_end_to_end(rng, tmp_path, monkeypatch):
    class Toy(Forecaster):
        def __init__(self, shift: float = 0.001):
            self.shift = shift

        def fit(self, X, y):
            self.mean_ = np.mean(y, axis=0) + self.shift
            return self

        def predict(self, X):
            return np.tile(self.mean_, (len(X), 1))

    monkeypatch.setitem(registry._REGISTRY, "toy", Toy)
    prices = _prices_csv(rng, tmp_path / "prices.csv")
    argv = [
        "run", "--prices", str(prices), "--tickers", *TARGETS, "--relatives", *RELATIVES,
        "--models", "toy", "--lookback", "3", "--min-train", "40", "--n-jobs", "1",
        "--no-progress", "--strategies", "hist_mean", "lstm", "skill",
        "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
        "--run-name", "toy", "--start", "2015-01-01", "--end", "2020-10-01",
    ]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "results" / "toy"
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert set(forecasts.model) == {"toy", "hist_mean"}
    toy = forecasts[forecasts.model == "toy"].set_index(["date", "ticker"]).forecast
    # the toy forecasts the mean of its training targets plus its shift; its first window's
    # targets are the returns from month `lookback` (the first full sequence) to the origin
    returns = np.log(pd.read_csv(prices, index_col="date", parse_dates=True)).diff().iloc[1:]
    first = pd.Timestamp(forecasts.date.min())
    origin = returns.index[returns.index.get_loc(first) - 1]
    expected = returns.iloc[3:][list(TARGETS)].loc[:origin].mean() + 0.001
    np.testing.assert_allclose(toy.loc[str(first.date())].to_numpy(), expected.to_numpy())
    assert (out / "performance.csv").exists()


FOREST_TOML = """
[models]
names = ["forest", "ridge", "zero"]

[models.forest]
estimator = "sklearn.ensemble:RandomForestRegressor"
params = {n_estimators = 20, min_samples_leaf = 5}
"""


def _run_argv(prices, tmp_path, *extra):
    return [
        "run", "--prices", str(prices), "--tickers", *TARGETS, "--relatives", *RELATIVES,
        "--lookback", "3", "--min-train", "40", "--n-jobs", "1", "--no-progress",
        "--strategies", "hist_mean", "lstm", "skill", "--start", "2015-01-01",
        "--end", "2020-10-01", "--results-dir", str(tmp_path / "results"),
        "--cache-dir", str(tmp_path / "cache"), "--run-name", "r", *extra,
    ]  # fmt: skip


def test_a_toml_defined_sklearn_estimator_runs_end_to_end(rng, tmp_path):
    prices = _prices_csv(rng, tmp_path / "prices.csv")
    (tmp_path / "models.toml").write_text(FOREST_TOML)
    assert main(_run_argv(prices, tmp_path, "--config", str(tmp_path / "models.toml"))) == 0
    forecasts = pd.read_csv(tmp_path / "results" / "r" / "forecasts.csv")
    assert set(forecasts.model) == {"forest", "ridge", "zero", "hist_mean"}
    forest = forecasts[forecasts.model == "forest"].forecast
    assert forest.notna().all() and forest.std() > 0
    assert (forecasts[forecasts.model == "zero"].forecast == 0).all()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('estimator = "sklearn.ensemble:NoSuchForest"', r"cannot be imported"),
        ('estimator = "sklearn.ensemble"', r"must be 'module:Class'"),
        ('estimator = "sklearn.cluster:KMeans"', r"is not a scikit-learn regressor"),
        (
            'estimator = "sklearn.ensemble:RandomForestRegressor"\nparams = {n_trees = 3}',
            r"has no parameter\(s\) \['n_trees'\]; its parameters are \[",
        ),
    ],
)
def test_a_bad_estimator_fails_before_any_fitting(rng, tmp_path, capsys, table, message):
    prices = _prices_csv(rng, tmp_path / "prices.csv")
    (tmp_path / "m.toml").write_text(f'[models]\nnames = ["bad"]\n\n[models.bad]\n{table}\n')
    code = main(_run_argv(prices, tmp_path, "--config", str(tmp_path / "m.toml")))
    assert code != 0
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "cache" / "windows").exists() or not any(
        (tmp_path / "cache" / "windows").rglob("*.npz")
    )


def test_unknown_model_names_and_parameters_are_clear_errors():
    from backtest.config import config_from_mapping
    from backtest.engine.walkforward import model_specs

    with pytest.raises(ValueError, match=r"unknown model 'rigde'; choose from \["):
        model_specs(config_from_mapping({"models": ["rigde"]}))
    bad = {"models": {"names": ["ridge"], "ridge": {"params": {"alpha": 1.0}}}}
    with pytest.raises(ValueError, match=r"model 'ridge' has no parameter\(s\) \['alpha'\]"):
        model_specs(config_from_mapping(bad))
    with pytest.raises(ValueError, match="'hist_mean' always runs as the benchmark"):
        model_specs(config_from_mapping({"models": ["hist_mean"]}))


def test_a_run_without_the_lstm_never_imports_tensorflow(rng, tmp_path):
    import subprocess
    import sys

    prices = _prices_csv(rng, tmp_path / "prices.csv")
    argv = _run_argv(prices, tmp_path, "--models", "ridge", "ols", "elastic_net", "gbm", "zero")
    code = (
        "import sys\nfrom backtest.cli import main\n"
        f"assert main({argv!r}) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print('TF', loaded[:3])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TF []" in done.stdout
