from __future__ import annotations

import json
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from backtest.cli import main

QUICK = [
    "--epochs",
    "2",
    "--min-train",
    "82",
    "--units",
    "4",
    "2",
    "--n-jobs",
    "1",
    "--no-progress",
    "--strategies",
    "hist_mean",
    "forecast",
    "skill",
    "james_stein",
]


def _run(tmp_path, *source, name="r"):
    argv = [
        "run",
        "--variant",
        "relatives",
        *source,
        "--results-dir",
        str(tmp_path / "results"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--run-name",
        name,
        *QUICK,
    ]
    assert main(argv) == 0
    return tmp_path / "results" / name


@pytest.mark.slow
def test_run_writes_every_output_with_real_content(tmp_path, real_prices, capsys):
    out = _run(tmp_path, "--source", "demo")
    printed = capsys.readouterr().out
    assert "r2_os_vs_mean" in printed and "results:" in printed

    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["date", "origin"])
    assert list(forecasts.columns) == [
        "date",
        "ticker",
        "model",
        "forecast",
        "realised",
        "origin",
        "train_start",
        "train_end",
    ]
    n_months = 94 - 82  # labelled samples minus the first training window
    assert forecasts.date.nunique() == n_months
    assert forecasts.date.max() == pd.Timestamp("2022-11-30")
    assert set(forecasts.ticker) == set(real_prices.targets)
    assert set(forecasts.model) == {"lstm", "ridge", "hist_mean"}  # the default models
    assert len(forecasts) == n_months * 7 * 3
    assert (forecasts.date - forecasts.origin).dt.days.between(28, 31).all()
    # realised values are the data's own log returns, labelled by the data's own columns
    amd = np.log(real_prices.prices["AMD"]).diff()
    row = forecasts[(forecasts.ticker == "AMD") & (forecasts.model == "lstm")].iloc[-1]
    assert row.realised == pytest.approx(amd.loc["2022-11-30"], rel=1e-9)

    metrics = pd.read_csv(out / "forecast_metrics.csv", index_col="ticker")
    assert list(dict.fromkeys(metrics.model)) == ["lstm", "ridge", "hist_mean"]
    assert list(metrics.index)[-1] == "pooled" and len(metrics) == 8 * 3
    assert metrics[["rmse", "mae"]].gt(0).all().all()
    assert metrics.n_months.max() == n_months

    perf = pd.read_csv(out / "performance.csv", index_col="strategy")
    assert {
        "hist_mean",
        "forecast",
        "skill",
        "forecast@ridge",
        "skill@ridge",
        "james_stein",
        "equal_weight",
        "min_variance",
    } == set(
        perf.index
    )  # per-model strategies; the demo has SP500 (an index), not the SPY ETF: no SPY benchmark
    assert perf.loc["hist_mean", "role"] == "baseline"
    assert perf.loc["equal_weight", "role"] == "benchmark"
    assert perf.sharpe.is_monotonic_decreasing

    weights = pd.read_csv(out / "weights.csv")
    sums = weights.groupby(["origin", "strategy"]).weight.sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-6)
    capped = weights[weights.strategy != "SPY"]
    assert capped.weight.between(-1e-9, 0.4 + 1e-9).all()

    expected = pd.read_csv(out / "expected_returns.csv")
    hm = expected[expected.strategy == "hist_mean"]
    assert (hm.intensity == 0).all()
    assert set(expected.strategy) == {
        "hist_mean",
        "forecast",
        "skill",
        "forecast@ridge",
        "skill@ridge",
        "james_stein",
    }

    returns = pd.read_csv(out / "portfolio_returns.csv")
    assert {"date", "strategy", "gross", "net"} <= set(returns.columns)
    assert (returns.net <= returns.gross + 1e-12).all()

    summary = (out / "summary.md").read_text()
    assert "## Verdict" in summary and "R2_OS" in summary
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["source"].startswith("demo: skfolio")
    assert config["config"]["data"]["targets"] == list(real_prices.targets)
    assert config["config"]["variant"] == "relatives"
    assert len(config["data"]["fingerprint"]) == 64
    assert "tensorflow" in config["versions"]
    for png in [
        "equity_curves.png",
        "weights.png",
        "shrinkage_intensity.png",
        "expected_returns.png",
        "cumulative_sse_difference.png",
        "forecast_vs_realised.png",
    ]:
        image = mpimg.imread(out / png)
        assert image.shape[0] > 300 and image.shape[1] > 300


@pytest.mark.slow
def test_permuted_csv_columns_give_identical_per_ticker_results(tmp_path, real_prices):
    raw = pd.read_csv(real_prices.path)
    columns = list(raw.columns[1:])
    shuffled = raw[["date", *np.random.default_rng(0).permutation(columns)]]
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    a = _run(tmp_path, *real_prices.flags(), name="a")
    b = _run(tmp_path, *real_prices.flags(tmp_path / "shuffled.csv"), name="b")
    fa = pd.read_csv(a / "forecasts.csv").sort_values(["date", "ticker", "model"])
    fb = pd.read_csv(b / "forecasts.csv").sort_values(["date", "ticker", "model"])
    pd.testing.assert_frame_equal(fa.reset_index(drop=True), fb.reset_index(drop=True))


def test_missing_ticker_is_a_clear_cli_error(tmp_path, capsys):
    code = main(
        [
            "run",
            "--source",
            "demo",
            "--tickers",
            "AMD",
            "ZZZZ",
            "--results-dir",
            str(tmp_path),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2
    assert "ZZZZ" in capsys.readouterr().err


def test_too_little_history_is_a_clear_cli_error(tmp_path, capsys):
    code = main(
        [
            "run",
            "--source",
            "demo",
            "--start",
            "2020-01-01",
            "--end",
            "2022-11-01",
            "--results-dir",
            str(tmp_path),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "too little history" in capsys.readouterr().err


def test_unknown_strategy_and_config_key_are_named(tmp_path, capsys):
    code = main(
        [
            "run",
            "--source",
            "demo",
            "--strategies",
            "magic",
            "--results-dir",
            str(tmp_path),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
            "--min-train",
            "200",
        ]
    )
    assert code == 2
    assert "unknown strategy 'magic'; choose from" in capsys.readouterr().err
    toml = tmp_path / "bad.toml"
    toml.write_text("lookbak = 12\n")
    code = main(["run", "--config", str(toml), "--results-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "lookbak" in err and "valid keys" in err


def test_toml_config_is_overlaid_by_flags(tmp_path):
    from backtest.cli import build_parser, resolve_config

    toml = tmp_path / "c.toml"
    toml.write_text(
        'variant = "base"\ntargets = ["NVDA", "MSI", "AMZN"]\nmin_train = 40\n'
        "[model]\nunits = [16, 8]\nepochs = 50\n"
    )
    args = build_parser().parse_args(["run", "--config", str(toml), "--epochs", "7"])
    config, variants = resolve_config(args)
    assert variants == ["base"]
    assert config.data.targets == ("NVDA", "MSI", "AMZN") and config.walk_forward.min_train == 40
    assert config.model.units == (16, 8) and config.model.epochs == 7


@pytest.mark.slow
def test_run_on_a_synthetic_market_saves_its_truth(tmp_path, real_prices):
    argv = [
        "run",
        "--source",
        "synthetic",
        "--calibrate-on",
        str(real_prices.path),
        "--tickers",
        *real_prices.targets,
        "--relatives",
        *real_prices.relatives,
        "--start",
        real_prices.start,
        "--end",
        real_prices.end,
        "--signal",
        "0.05",
        "--months",
        "100",
        "--results-dir",
        str(tmp_path / "results"),
        "--cache-dir",
        str(tmp_path / "cache"),
        *QUICK,
    ]
    assert main(argv) == 0
    out = tmp_path / "results" / "relatives"
    truth = pd.read_csv(out / "truth.csv", parse_dates=["date"])
    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["date"])
    assert set(forecasts.date) <= set(truth.date)
    assert set(truth.ticker) == set(real_prices.targets)
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["source"].startswith("synthetic: signal R2=0.05")


def test_synthetic_source_needs_a_market(tmp_path, capsys):
    code = main(["run", "--source", "synthetic", "--results-dir", str(tmp_path)])
    assert code == 2
    assert "--calibrate-on FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--min-train", "8"], r"Bayes-Stein needs n_periods > n_assets \+ 2"),
        (["--max-weight", "0.1"], r"infeasible: max_weight=0.1 with n_assets=7"),
    ],
)
def test_strategy_constraints_fail_before_any_fitting(tmp_path, capsys, flags, message):
    code = main(
        [
            "run",
            "--source",
            "demo",
            *flags,
            "--results-dir",
            str(tmp_path),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "c" / "windows").exists()  # nothing was fitted
