"""The forecaster contract, the registry, and a new model run end to end through ``run``."""

from __future__ import annotations

import html
import re
from pathlib import Path

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

        def member_predictions(self, X):  # two members around the mean: a seed spread
            return np.stack([np.tile(self.mean_ + d, (len(X), 1)) for d in (-0.01, 0.01)])

        def predict(self, X):
            return self.member_predictions(X).mean(axis=0)

    monkeypatch.setitem(registry._REGISTRY, "toy", Toy)
    prices = _prices_csv(rng, tmp_path / "prices.csv")
    argv = [
        "run", "--prices", str(prices), "--tickers", *TARGETS, "--relatives", *RELATIVES,
        "--models", "toy", "--lookback", "3", "--min-train", "40", "--n-jobs", "1",
        "--no-progress", "--strategies", "hist_mean", "forecast", "skill",
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
    # its two members reach the member table, the summary's verdict and the report's table
    assert set(pd.read_csv(out / "member_metrics.csv").member) == {0, 1}
    assert "Seed spread (a description, not a test): " in (out / "summary.md").read_text()
    assert "R\u00b2_OS, worst member" in (out / "report.html").read_text(encoding="utf-8")


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
        "--strategies", "hist_mean", "forecast", "skill", "--start", "2015-01-01",
        "--end", "2020-10-01", "--results-dir", str(tmp_path / "results"),
        "--cache-dir", str(tmp_path / "cache"), "--run-name", "r", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def forest_run(tmp_path_factory) -> Path:
    """One finished run of three models (a TOML-defined forest, ridge, zero), with its report."""
    tmp_path = tmp_path_factory.mktemp("forest")
    prices = _prices_csv(np.random.default_rng(12345), tmp_path / "prices.csv")
    (tmp_path / "models.toml").write_text(FOREST_TOML)
    assert main(_run_argv(prices, tmp_path, "--config", str(tmp_path / "models.toml"))) == 0
    return tmp_path / "results" / "r"


def test_a_toml_defined_sklearn_estimator_runs_end_to_end(forest_run):
    forecasts = pd.read_csv(forest_run / "forecasts.csv")
    assert set(forecasts.model) == {"forest", "ridge", "zero", "hist_mean"}
    forest = forecasts[forecasts.model == "forest"].forecast
    assert forest.notna().all() and forest.std() > 0
    assert (forecasts[forecasts.model == "zero"].forecast == 0).all()


MODELS = ["forest", "ridge", "zero", "hist_mean"]  # FOREST_TOML's, then the benchmark


def test_forecast_metrics_score_every_model_against_a_naive_r2_os(forest_run):
    forecasts = pd.read_csv(forest_run / "forecasts.csv")
    metrics = pd.read_csv(forest_run / "forecast_metrics.csv")
    assert list(dict.fromkeys(metrics.model)) == MODELS
    wide = forecasts.pivot_table(index=["date", "ticker"], columns="model", values="forecast")
    realised = forecasts[forecasts.model == "hist_mean"].set_index(["date", "ticker"]).realised
    realised = realised.reindex(wide.index)
    for model in MODELS:
        rows = metrics[metrics.model == model].set_index("ticker")
        assert list(rows.index) == [*TARGETS, "pooled"]
        for ticker in [*TARGETS, "pooled"]:
            pick = slice(None) if ticker == "pooled" else wide.index.get_level_values(1) == ticker
            r, f, b = realised[pick], wide[model][pick], wide["hist_mean"][pick]
            sse = ((r - f) ** 2).sum()
            assert rows.loc[ticker, "r2_os_vs_mean"] == pytest.approx(
                1 - sse / ((r - b) ** 2).sum(), abs=1e-9
            )
            assert rows.loc[ticker, "r2_os_vs_zero"] == pytest.approx(
                1 - sse / (r**2).sum(), abs=1e-9
            )
    assert metrics[metrics.model == "hist_mean"].cw_p.isna().all()  # no test against itself


def _html_rows(text: str, section: str) -> tuple[list[str], dict[str, list[str]]]:
    body = text[text.index(f'<section id="{section}"') :]
    body = body[: body.index("</section>")]
    header = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", body)]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if cells:
            rows[cells[0]] = cells[1:]
    return header[1:], rows


def test_the_report_compares_every_model_with_the_values_of_its_csvs(forest_run):
    metrics = pd.read_csv(forest_run / "forecast_metrics.csv")
    pooled = metrics[metrics.ticker == "pooled"].set_index("model")
    dm = pd.read_csv(forest_run / "model_comparison.csv")
    dm = dm[dm.ticker == "pooled"]
    tests = pd.read_csv(forest_run / "inference.csv")
    mcs = tests[tests.test == "mcs"].set_index("subject").p_value
    header, rows = _html_rows((forest_run / "report.html").read_text(), "models-compared")
    assert list(rows) == MODELS
    assert header == [
        "Months", "RMSE", "R\u00b2_OS vs mean", "R\u00b2_OS vs zero", "Clark-West p",
        "DM vs forest", "DM p vs forest", "MCS p", "In MCS",
    ]  # fmt: skip

    def num(value: float, fmt: str) -> str:
        return "\u2013" if not np.isfinite(value) else format(value, fmt)

    for model in MODELS:
        ab = dm[(dm.model == model) & (dm.versus == "forest")]
        ba = dm[(dm.model == "forest") & (dm.versus == model)]
        stat, p = (
            (ab.dm_stat.iloc[0], ab.p_value.iloc[0]) if len(ab)
            else (-ba.dm_stat.iloc[0], ba.p_value.iloc[0]) if len(ba)
            else (np.nan, np.nan)
        )  # fmt: skip
        row = pooled.loc[model]
        assert rows[model] == [
            str(int(row.n_months)), num(row.rmse, ".2%"), num(row.r2_os_vs_mean, "+.2%"),
            num(row.r2_os_vs_zero, "+.2%"), num(row.cw_p, ".3f"), num(stat, ".2f"),
            num(p, ".3f"), num(mcs[model], ".3f"), "yes" if mcs[model] > 0.05 else "no",
        ], model  # fmt: skip
    # the rows carry numbers, not only dashes: a test against the mean and a DM pair
    assert np.isfinite(pooled.loc["forest"].cw_p)
    assert rows["hist_mean"][5] != "\u2013" and rows["forest"][5] == "\u2013"
    # membership is the verdict's own model confidence set (arch's rule: p > level)
    summary = (forest_run / "summary.md").read_text()
    held = re.search(r"holds: (.*?); eliminated", summary)[1].split(", ")
    assert sorted(held) == sorted(m for m in MODELS if rows[m][-1] == "yes")
    # summary.md shows the same table: the same models and values, to 4 decimals
    md = {
        cells[0]: cells[1:]
        for line in summary.split("## Models compared")[1].split("\n## ")[0].splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    assert [m for m in md if m in MODELS] == MODELS
    for model in MODELS:
        assert md[model][2] == f"{pooled.loc[model].r2_os_vs_mean:.4f}"
        assert md[model][-1] == str(mcs[model] > 0.05)


def test_every_model_has_its_per_ticker_table_in_the_report(forest_run):
    text = (forest_run / "report.html").read_text()
    section = text[text.index('<section id="forecast-metrics"') :]
    section = section[: section.index("</section>")]
    assert re.findall(r"<h3>(.*?)</h3>", section) == MODELS[:3]


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


def test_the_verdict_box_gives_each_model_its_own_bullet(forest_run):
    # Model names are lower case ('ridge did not beat ...'): split at '. ' before a capital,
    # a model's sentence was glued to the one before it, and the headline carried two claims.
    text = (forest_run / "report.html").read_text()
    box = text[text.index('<section id="verdict"') :]
    box = box[: box.index("</section>")]
    headline = html.unescape(re.search(r'<p class="headline">(.*?)</p>', box).group(1))
    assert headline.startswith("Conclusion at 5%") and headline.count(". ") == 0
    bullets = [html.unescape(b) for b in re.findall(r"<li>(.*?)</li>", box)]
    for model in ["forest", "ridge", "zero"]:
        own = [b for b in bullets if b.startswith(model)]
        assert len(own) == 1, (model, bullets)
        assert own[0].count("Per ticker, Clark-West") == 1
