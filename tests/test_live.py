from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

import backtest.cli as cli
from backtest.cli.forecast import forecast_command
from backtest.config import config_from_mapping
from backtest.data.prices import PriceData
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import plan_jobs, prepare, window_seed
from backtest.live.forecast import extend_panel, forecast_next, live_window
from backtest.live.report import format_forecast, write_forecast
from backtest.portfolio.rebalance import views

TARGETS, RELATIVES = ("A", "B", "C"), ("X", "Y")
N_MONTHS = 90
STRATEGIES = ["hist_mean", "forecast", "skill", "black_litterman", "bayes_stein"]
TINY = ["--epochs", "2", "--units", "4", "2", "--n-jobs", "1", "--no-progress"]


def _prices(rng, n_months=N_MONTHS):
    index = pd.date_range("2010-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(n_months, len(TARGETS) + len(RELATIVES)))
    return pd.DataFrame(
        100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=[*TARGETS, *RELATIVES]
    )


def _config(**overrides):
    values = {
        "targets": TARGETS, "relatives": RELATIVES, "min_train": 40, "lookback": 6,
        "models": ["lstm"],  # the fake runner stands in for one model
    }  # fmt: skip
    return config_from_mapping({**values, **overrides})


class FakeRunner:
    """A window runner without TensorFlow: a forecast that depends on train and test data."""

    def __init__(self):
        self.n_fits = 0

    def __call__(self, fn, jobs):
        for job in jobs:
            self.n_fits += 1
            signal = job.X_test[:, -1, :].mean(axis=1, keepdims=True)
            forecast = job.y_train.mean(axis=0) + 0.2 * signal
            yield job.key, {"forecast": forecast, "epochs_run": [1], "best_val_loss": [0.0]}


@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_live_window_is_the_last_live_job_when_refitting_monthly(rng, window):
    config = _config(window=window, train_size=50, variant="relatives")
    prices = _prices(rng)
    seq, _ = prepare(config, prices)
    returns = np.log(prices).diff().iloc[1:][list(TARGETS)]
    live = live_window(config, seq, returns)
    last = plan_jobs(config, seq, live=True)[-1]
    assert live.job.key == last.key
    assert live.job.rows == last.rows
    np.testing.assert_array_equal(live.job.X_test, seq.X[-1:])
    assert live.origin == seq.origins[-1] == _prices(rng).index[-1]
    assert live.forecast_month == live.origin + pd.offsets.MonthEnd(1)
    assert live.job.seed == window_seed(config.random_state, config.variant, live.origin)
    n_train = seq.n_labelled if window == "expanding" else 50
    assert live.n_train == n_train
    assert live.fit_start == seq.target_dates[seq.n_labelled - n_train]
    # the baseline averages every return known at the origin (rolling: the last 50 months),
    # including the months before the first full feature sequence
    history = returns if window == "expanding" else returns.iloc[-50:]
    np.testing.assert_allclose(live.hist_mean, history.mean(), rtol=1e-12)
    assert live.train_start == history.index[0]


def test_live_window_uses_every_labelled_sample_whatever_refit_every(rng):
    config = _config(refit_every=4)
    prices = _prices(rng)
    seq, _ = prepare(config, prices)
    live = live_window(config, seq, np.log(prices).diff().iloc[1:])
    np.testing.assert_array_equal(live.job.X_train, seq.X[: seq.n_labelled])
    np.testing.assert_array_equal(live.job.y_train, seq.y[: seq.n_labelled])
    assert not np.isnan(live.job.y_train).any()
    # plan_jobs(live=True) would forecast the live sample with an older fit here
    assert len(plan_jobs(config, seq, live=True)[-1].X_train) < seq.n_labelled


def test_the_live_row_is_appended_but_never_scored(rng, tmp_path):
    config = _config()
    prices = _prices(rng)
    from backtest.engine.walkforward import walk_forward

    panel = walk_forward(config, prices, WindowStore(tmp_path), FakeRunner())
    seq, _ = prepare(config, prices)
    live = live_window(config, seq, np.log(prices).diff().iloc[1:])
    forecast = pd.Series([0.01, 0.02, 0.03], index=list(TARGETS))
    extended = extend_panel(panel, live, forecast.to_frame("lstm"))
    assert len(extended.dates) == len(panel.dates) + 1
    assert extended.dates[-1] == live.forecast_month
    assert extended.realised.iloc[-1].isna().all()
    assert extended.origin[-1] == live.origin and extended.origin.name == panel.origin.name
    origin, view = views(extended, np.log(prices).diff().iloc[1:][list(TARGETS)])[-1]
    assert origin == live.origin
    assert view.n_past == len(panel.dates)  # every past month scored, the live one not
    np.testing.assert_allclose(view.forecast, forecast.to_numpy())
    np.testing.assert_allclose(view.historical_mean, live.hist_mean.to_numpy())


def test_forecast_next_tidy_layout_and_rerun_from_the_store(rng, tmp_path):
    config, prices, runner = _config(), _prices(rng), FakeRunner()
    store = WindowStore(tmp_path)
    result = forecast_next(config, prices, store, runner, STRATEGIES)
    n_windows = len(result.panel.dates) + 1
    assert runner.n_fits == n_windows and not result.live_cached
    tidy = result.tidy()
    assert list(tidy.columns) == [
        "variant", "origin", "forecast_month", "horizon", "ticker", "quantity", "strategy",
        "value",
    ]  # fmt: skip
    assert set(tidy["origin"]) == {f"{prices.index[-1]:%Y-%m-%d}"}
    assert set(tidy["forecast_month"]) == {f"{prices.index[-1] + pd.offsets.MonthEnd(1):%Y-%m-%d}"}
    counts = tidy.groupby("quantity").size()
    assert counts["lstm_forecast"] == counts["hist_mean"] == len(TARGETS)
    assert counts["mu"] == len(TARGETS) * len(STRATEGIES)
    assert counts["weight"] == len(TARGETS) * (len(STRATEGIES) + 2)
    weights = tidy[tidy["quantity"] == "weight"].groupby("strategy")["value"].sum()
    np.testing.assert_allclose(weights, 1.0, atol=1e-8)
    assert {"min_variance", "equal_weight"} <= set(weights.index)
    mu = tidy[tidy["quantity"] == "mu"].pivot(index="ticker", columns="strategy", values="value")
    np.testing.assert_allclose(
        mu.loc[list(TARGETS), "forecast"], result.forecast.loc[list(TARGETS)]
    )
    np.testing.assert_allclose(mu.loc[list(TARGETS), "hist_mean"], result.live.hist_mean)
    again = forecast_next(config, prices, store, runner, STRATEGIES)
    assert runner.n_fits == n_windows and again.live_cached  # nothing refitted
    pd.testing.assert_frame_equal(again.tidy(), tidy)


def test_base_horizon_averages_a_cached_path(rng, tmp_path, monkeypatch):
    calls = []

    def fake_fit_path(X_train, y_train, window, params, seed, horizon, features, targets):
        calls.append(horizon)
        path = np.arange(horizon * len(targets)).reshape(horizon, -1) / 100.0
        return {"path": path, "epochs_run": np.ones(1), "best_val_loss": np.zeros(1)}

    monkeypatch.setattr("backtest.live.forecast.fit_path", fake_fit_path)
    config, prices, store = _config(variant="base"), _prices(rng), WindowStore(tmp_path)
    result = forecast_next(config, prices, store, FakeRunner(), STRATEGIES, horizon=3)
    assert calls == [3]
    assert list(result.path.index) == list(
        pd.date_range(prices.index[-1], periods=4, freq="ME")[1:]
    )
    np.testing.assert_allclose(result.forecast, [0.03, 0.04, 0.05])  # mean of rows 0, 3, 6 ...
    np.testing.assert_allclose(result.recommendation.mu["forecast"], result.forecast)
    assert set(result.tidy()["horizon"]) == {3}
    again = forecast_next(config, prices, store, FakeRunner(), STRATEGIES, horizon=3)
    assert calls == [3] and again.live_cached


def _write_csv(prices: pd.DataFrame, path: Path) -> Path:
    # yfinance-style monthly file: first day of month, that month's last close
    frame = prices.set_axis(prices.index.to_period("M").to_timestamp(), axis=0)
    frame.rename_axis("date").to_csv(path)
    return path


def _args(prices: Path, tmp: Path, cache: str, *extra: str) -> list[str]:
    return [
        "forecast", "--prices", str(prices), "--cache-dir", str(tmp / cache),
        "--results-dir", str(tmp / "results"), *TINY, *extra,
    ]  # fmt: skip


def test_cli_forecast_uses_no_month_after_the_cutoff(rng, tmp_path, monkeypatch):
    monkeypatch.setattr("backtest.cli.common.make_runner", lambda args: FakeRunner())
    prices = _prices(rng)
    full = _write_csv(prices, tmp_path / "full.csv")
    cut = prices.index[79]
    short = _write_csv(prices.loc[:cut], tmp_path / "short.csv")
    # --config, not --tickers: the targets are the config key 'targets'
    (tmp_path / "assets.toml").write_text(f"targets = {list(TARGETS)}\n")
    common = ["--config", str(tmp_path / "assets.toml"), "--relatives", *RELATIVES]
    common += ["--variant", "relatives"]
    common += ["--start", "2010-01-01", "--end", f"{cut:%Y-%m-01}", "--min-train", "40"]
    common += ["--lookback", "6", "--strategies", *STRATEGIES]
    outputs = []
    for name, path in (("full", full), ("short", short)):
        assert cli.main(_args(path, tmp_path, f"cache-{name}", *common, "--run-name", name)) == 0
        outputs.append((tmp_path / "results" / name / "forecast.csv").read_text())
    assert outputs[0] == outputs[1]
    table = pd.read_csv(tmp_path / "results" / "full" / "forecast.csv")
    assert set(table["origin"]) == {f"{cut:%Y-%m-%d}"}
    assert set(table["forecast_month"]) == {f"{cut + pd.offsets.MonthEnd(1):%Y-%m-%d}"}
    for name in ("forecast.png", "forecast.json"):
        assert (tmp_path / "results" / "full" / name).stat().st_size > 0


def test_relatives_refuses_a_longer_horizon_before_any_work(tmp_path, capsys):
    argv = _args(tmp_path / "missing.csv", tmp_path, "cache", "--variant", "relatives")
    args = cli.build_parser().parse_args([*argv, "--horizon", "2"])
    config, variants = cli.resolve_config(args)
    with pytest.raises(ValueError, match=r"horizon=2 is not possible for variant 'relatives'"):
        forecast_command(args, config, variants)
    assert not (tmp_path / "results").exists()
    assert cli.main(_args(tmp_path / "missing.csv", tmp_path, "c", "--horizon", "3")) == 2
    assert "only a one-step (next-month) forecast is possible" in capsys.readouterr().err


@pytest.fixture
def result_and_data(rng, tmp_path):
    config, prices = _config(), _prices(rng)
    result = forecast_next(config, prices, WindowStore(tmp_path / "w"), FakeRunner(), STRATEGIES)
    return config, result, PriceData(prices, "csv:test")


def test_files_are_written_and_the_chart_decodes(result_and_data, tmp_path):
    config, result, data = result_and_data
    out = tmp_path / "run"
    out.mkdir()
    written = write_forecast(result, out, config, data)
    assert [p.name for p in written] == ["forecast.csv", "forecast.png", "forecast.json"]
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "forecast.csv", keep_default_na=False).drop(columns="value"),
        result.tidy().drop(columns="value").astype({"horizon": "int64"}),
    )
    image = mpimg.imread(out / "forecast.png")
    assert image.shape[0] >= 600 and image.shape[1] >= 1000
    assert image[..., :3].std() > 0.05  # not a blank canvas
    meta = json.loads((out / "forecast.json").read_text())
    assert meta["forecast_month"] == f"{data.prices.index[-1] + pd.offsets.MonthEnd(1):%Y-%m}"
    assert meta["data"]["last_month"] == f"{data.prices.index[-1]:%Y-%m}"
    assert meta["data"]["fingerprint"] == data.fingerprint
    assert meta["live_fit"]["n_train"] == result.live.n_train


def test_terminal_table_names_the_month_and_sums_weights(result_and_data):
    _, result, data = result_and_data
    text = format_forecast(result)
    month = data.prices.index[-1] + pd.offsets.MonthEnd(1)
    assert f"forecast for {month:%b %Y}, data to {data.prices.index[-1]:%Y-%m}" in text
    for ticker in TARGETS:
        assert f"\n{ticker} " in text
    sums = [line for line in text.splitlines() if line.startswith("sum ")]
    assert len(sums) == 1
    np.testing.assert_allclose([float(v) for v in sums[0].split()[1:]], 100.0)
    assert "LSTM path" not in text  # one-step forecast: no path table


def test_terminal_table_shows_each_models_raw_forecast_once(rng, tmp_path):
    config, prices = _config(models=["lstm", "ridge"]), _prices(rng)
    result = forecast_next(config, prices, WindowStore(tmp_path), FakeRunner(), STRATEGIES)
    assert {"forecast", "forecast@ridge", "skill@ridge"} <= set(result.recommendation.mu.columns)
    lines = format_forecast(result).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Expected return"))
    header = lines[at + 1].split()
    # the raw forecasts appear as the models' columns, not again as strategies
    assert header[:4] == ["lstm", "ridge", "hist", "mean"]
    assert "forecast" not in header and "forecast@ridge" not in header
    assert {"skill", "skill@ridge", "black_litterman@ridge"} <= set(header)


@pytest.mark.slow
def test_real_data_forecast_uses_no_month_after_its_cutoff(real_prices, tmp_path):
    source = real_prices.path
    raw = pd.read_csv(source, parse_dates=["date"])
    short = tmp_path / "prices_to_2021-06.csv"
    raw[raw["date"] <= "2021-06-30"].to_csv(short, index=False, date_format="%Y-%m-%d")
    tiny = ["--tickers", *real_prices.targets, "--relatives", *real_prices.relatives]
    tiny += ["--start", real_prices.start]
    tiny += ["--variant", "relatives", "--end", "2021-06-01", "--min-train", "64"]
    tiny += ["--strategies", "hist_mean", "forecast", "skill", "black_litterman"]
    outputs = []
    for name, path in (("full", source), ("short", short)):
        assert cli.main(_args(path, tmp_path, f"cache-{name}", *tiny, "--run-name", name)) == 0
        outputs.append((tmp_path / "results" / name / "forecast.csv").read_text())
    assert outputs[0] == outputs[1]
    table = pd.read_csv(tmp_path / "results" / "full" / "forecast.csv")
    assert set(table["origin"]) == {"2021-06-30"}
    assert set(table["forecast_month"]) == {"2021-07-31"}
    assert np.isfinite(table["value"]).all()


@pytest.mark.slow
def test_real_data_base_path_starts_at_the_one_step_forecast(real_prices, tmp_path):
    from backtest.data.prices import load_prices
    from backtest.engine.local import local_runner

    config = config_from_mapping(
        {"variant": "base", "targets": real_prices.targets, "relatives": real_prices.relatives,
         "start": real_prices.start, "end": "2021-06-01", "min_train": 64, "epochs": 2,
         "units": (4, 2)}
    )  # fmt: skip
    prices = load_prices(config.data.targets, config.data.start, config.data.end, demo=True).prices
    store, runner = WindowStore(tmp_path / "windows"), local_runner(1)
    one = forecast_next(config, prices, store, runner, ["hist_mean", "forecast"], horizon=1)
    three = forecast_next(config, prices, store, runner, ["hist_mean", "forecast"], horizon=3)
    assert three.path.shape == (3, len(config.data.targets))
    # the in-process fit is the cached one-step window's fit: same seed, same numbers
    np.testing.assert_allclose(three.path.iloc[0], one.forecast, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(three.forecast, three.path.mean(axis=0))
    assert not np.allclose(three.path.iloc[1], three.path.iloc[0])
