"""Issue 12: nothing silently wrong. Bad values refused before work, naming the key and flag;
run directories complete or refused; the swap survives a kill."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.cli import main
from backtest.config import RunConfig, config_from_mapping
from backtest.reports.run_dir import load_run
from backtest.validation import SCHEMA, check_values

QUICK = ["--epochs", "2", "--units", "4", "--n-jobs", "1", "--no-progress", "--min-train", "40"]
QUICK += ["--lookback", "6", "--strategies", "hist_mean", "forecast", "james_stein"]
QUICK += ["--models", "lstm"]  # the fake runner gives every model the same forecast


class FakeRunner:
    """Windows without TensorFlow: a forecast that depends on train and test data."""

    def __call__(self, fn, jobs):
        for job in jobs:
            signal = job.X_test[:, -1, :].mean(axis=1, keepdims=True)
            forecast = job.y_train.mean(axis=0) + 0.2 * signal
            yield job.key, {"forecast": forecast, "epochs_run": [1], "best_val_loss": [0.0]}


@pytest.fixture
def fake_runner(monkeypatch):
    monkeypatch.setattr("backtest.cli.run.make_runner", lambda args: FakeRunner())


def _argv(real_prices, tmp_path, *extra, name="r"):
    return [
        "run", "--variant", "base", *real_prices.flags(), "--results-dir",
        str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), "--run-name", name,
        *QUICK, *extra,
    ]  # fmt: skip


def _left_behind(tmp_path: Path) -> list[str]:
    results = tmp_path / "results"
    return sorted(p.name for p in results.iterdir()) if results.exists() else []


# --- values refused before any work, through the command line --------------------------------

BAD_FLAGS = [
    (["--epochs", "0"], r"\[model\] epochs \(--epochs\) = 0 is not allowed: .*integer in \[1, "),
    (["--epochs", "-1"], r"epochs \(--epochs\) = -1"),
    (["--cost-bps", "1e9"], r"cost_bps \(--cost-bps\) = 1000000000.0 .*number in \[0, 1000\]"),
    (["--lookback", "0"], r"lookback \(--lookback\) = 0 .*integer in \[1, 120\]"),
    (["--lookback", "-3"], r"lookback \(--lookback\) = -3"),
    (["--min-train", "0"], r"min_train \(--min-train\) = 0"),
    (["--min-train", "-5"], r"min_train \(--min-train\) = -5"),
    (["--seeds", "0"], r"n_seeds \(--seeds\) = 0 .*integer in \[1, 100\]"),
    (["--units", "0"], r"units \(--units\) = \[0\] .*integer in \[1, 4096\]"),
    (["--max-weight", "0"], r"max_weight \(--max-weight\) = 0.0 .*\(0, 1\]"),
    (["--risk-aversion", "-1"], r"risk_aversion \(--risk-aversion\) = -1.0"),
    (["--start", "2021-01-01", "--end", "2020-01-01"], r"start \(--start\) .* not before end"),
    (["--start", "31/01/2020"], r"start \(--start\) = '31/01/2020' .*'YYYY-MM-DD'"),
    (["--run-name", "../../x"], r"--run-name '\.\./\.\./x' is not a plain directory name"),
    (["--n-jobs", "0"], r"--n-jobs = 0 is not allowed"),
    (["--models", "lstm", "lstm"], r"models \(--models\) .*'lstm' given twice"),
    (["--models", "nosuch"], r"unknown model 'nosuch'; choose from"),
    (
        ["--strategies", "hist_mean", "lstm"],
        r"strategy 'lstm' was renamed 'forecast': .*forecast@ridge on ridge.*write 'forecast' in "
        r"--strategies or \[portfolio\] strategies",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD_FLAGS, ids=lambda v: str(v)[:30])
def test_bad_flag_is_refused_before_any_work(real_prices, tmp_path, capsys, extra, message):
    assert main(_argv(real_prices, tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and __import__("re").search(message, err), err
    assert "Traceback" not in err
    assert _left_behind(tmp_path) == []
    assert not list((tmp_path / "cache").rglob("*.npz")), "no window fitted"
    assert not (tmp_path / "x").exists()


def test_duplicate_tickers_are_named(real_prices, tmp_path, capsys):
    argv = _argv(real_prices, tmp_path)
    first = real_prices.targets[0]
    at = argv.index("--tickers") + 1
    argv[at : at + len(real_prices.targets)] = [first, first, *real_prices.targets[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"targets (--tickers) = ['{first}', '{first}'" in err and f"'{first}' given twice" in err


BAD_TOML = [
    ('[model]\nunits = "64"\n', r"\[model\] units \(--units\) = '64' is not allowed: .* a list"),
    ('[model]\nepochs = "5"\n', r"epochs \(--epochs\) = '5' .*an integer"),
    ("[model]\nunits = 64\n", r"units \(--units\) = 64 is not allowed"),
    ("[model]\nlookback = 3.5\n", r"lookback \(--lookback\) = 3.5 .*an integer"),
    ('[data]\ntargets = "NVDA"\n', r"targets \(--tickers\) = 'NVDA' is not allowed: .* a list"),
    ("[model]\ndropout = true\n", r"\[model\] dropout = True is not allowed"),
    ("[model]\nepoch = 5\n", r"unknown config key\(s\) \['model.epoch'\]"),
    (
        '[models]\nnames = ["lstm"]\n[models.ridge]\nparams = {alpha = 1.0}\n',
        r"\[models.ridge\] is configured but 'ridge' is not in models",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_TOML, ids=lambda v: str(v)[:24])
def test_bad_toml_value_is_refused(real_prices, tmp_path, capsys, text, message):
    (tmp_path / "c.toml").write_text(text)
    assert main(_argv(real_prices, tmp_path, "--config", str(tmp_path / "c.toml"))) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err
    assert _left_behind(tmp_path) == []


def test_ranges_are_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "maximum epochs (default 200); allowed: an integer in [1, 100000]" in out
    assert "allowed: a number in [0, 1000]" in out


def test_compare_out_file_is_named(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["compare", str(tmp_path / "a"), "--out", str(tmp_path / "file")]) == 2
    assert "--out '" in capsys.readouterr().err


# --- one config value space: valid config or a ValueError naming the key --------------------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 5000), max_size=6),
    st.lists(st.sampled_from(["AAA", "BBB", "SPY", "a b", ""]), max_size=4),
)
_KEYS = st.sampled_from([*SCHEMA, "bogus"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_any_config_dict_loads_valid_or_names_its_key(values):
    try:
        config = config_from_mapping(values)
    except ValueError as exc:
        assert any(key in str(exc) for key in values), (values, str(exc))
        return
    assert isinstance(config, RunConfig)
    check_values(config.to_dict())  # a loaded config is a valid one
    assert all(type(u) is int for u in config.model.units)
    assert all(isinstance(t, str) for t in config.data.targets)
    assert type(config.model.epochs) is int and type(config.walk_forward.min_train) is int


# --- run directories: reuse, mixing, incompleteness, a kill during the swap ------------------


@pytest.mark.slow  # three CLI runs (no Keras), ~1 min under load
def test_same_name_other_config_is_refused_unless_overwrite(
    real_prices, tmp_path, capsys, fake_runner
):
    assert main(_argv(real_prices, tmp_path)) == 0
    run_dir = tmp_path / "results" / "r"
    before = (run_dir / "forecasts.csv").read_bytes()
    assert main(_argv(real_prices, tmp_path, "--seed", "3")) == 2
    assert "holds a run with a different configuration" in capsys.readouterr().err
    assert (run_dir / "forecasts.csv").read_bytes() == before
    assert load_run(run_dir).config.random_state == 0
    assert main(_argv(real_prices, tmp_path, "--seed", "3", "--overwrite")) == 0
    assert load_run(run_dir).config.random_state == 3
    assert [p for p in _left_behind(tmp_path) if "staging" in p] == []


@pytest.mark.slow  # two CLI runs (no Keras)
def test_mixed_or_incomplete_directory_is_refused(real_prices, tmp_path, capsys, fake_runner):
    assert main(_argv(real_prices, tmp_path, name="a")) == 0
    assert main(_argv(real_prices, tmp_path, "--lookback", "5", name="b")) == 0
    a, b = tmp_path / "results" / "a", tmp_path / "results" / "b"
    shutil.copy(b / "forecasts.csv", a / "forecasts.csv")
    capsys.readouterr()
    assert main(["report", str(a)]) == 2
    assert (
        "is not one complete run (changed since the run forecasts.csv)" in capsys.readouterr().err
    )
    assert main(["compare", str(a), str(b)]) == 2
    (b / "manifest.json").unlink()
    assert main(["report", str(b)]) == 2
    assert "has no valid manifest.json: it is incomplete" in capsys.readouterr().err


_KILL_AT_SWAP = textwrap.dedent(
    """
    import os, signal, sys
    import backtest.reports.staging as staging
    import backtest.cli.run as run
    sys.path.insert(0, {tests!r})
    from test_config_faults import FakeRunner
    run.make_runner = lambda args: FakeRunner()
    real = staging._exchange
    def exchange(a, b):
        if {after}:
            real(a, b)
        os.kill(os.getpid(), signal.SIGKILL)
    staging._exchange = exchange
    from backtest.cli import main
    main({argv!r})
    """
)


@pytest.mark.slow  # three CLI runs, one killed (no Keras)
@pytest.mark.parametrize("after", [False, True], ids=["before-exchange", "after-exchange"])
def test_a_kill_during_the_swap_leaves_one_whole_run(real_prices, tmp_path, fake_runner, after):
    assert main(_argv(real_prices, tmp_path)) == 0
    run_dir = tmp_path / "results" / "r"
    old = load_run(run_dir)
    argv = _argv(real_prices, tmp_path, "--seed", "7", "--overwrite")
    script = _KILL_AT_SWAP.format(tests=str(Path(__file__).parent), after=after, argv=argv)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=os.environ)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    now = load_run(run_dir)  # whole and verified, either run
    assert now.config.random_state == (7 if after else 0)
    if not after:
        assert now.portfolio_returns.equals(old.portfolio_returns)
    leftovers = [p for p in _left_behind(tmp_path) if "staging" in p]
    assert len(leftovers) == 1  # cleaned by the next run into that name:
    assert main(_argv(real_prices, tmp_path, "--seed", "7", "--overwrite")) == 0
    assert [p for p in _left_behind(tmp_path) if "staging" in p] == []
    assert json.loads((run_dir / "config.json").read_text())["config"]["random_state"] == 7


# --- price files that used to fail late or unclearly ------------------------------------------

_GOOD = "date,A,B,C\n2020-01-31,10,20,30\n2020-02-29,11,21,31\n2020-03-31,12,22,32\n"
BAD_FILES = [
    ("huge.csv", _GOOD.replace("21,", "1e300,"), r"not positive finite numbers \(B on 2020-02-29"),
    ("tiny.csv", _GOOD.replace("21,", "1e-300,"), r"\(B on 2020-02-29: 1e-300\) in the plausible"),
    ("dmy.csv", "date,A\n31/01/2020,1\n29/02/2020,2\n", r"'31/01/2020' are ambiguous .*YYYY-MM-DD"),
    ("semi.csv", "date;A;B\n2020-01-31;1,5;2,5\n", r"separated by ';' .*decimal"),
    ("nodate.csv", "A,B\n10,20\n11,21\n", r"date column holds numbers .*no date column"),
    ("prices.parquet", "PAR1", r"\.parquet files are not read; export a wide CSV"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_price_file_is_named_before_any_work(tmp_path, capsys, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    argv = ["run", "--prices", str(path), "--tickers", "A", "--relatives", "--start", "2020-01-01"]
    argv += ["--end", "2020-03-01", "--results-dir", str(tmp_path / "results"), *QUICK]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err
    assert _left_behind(tmp_path) == []


def test_gzipped_csv_reads_like_the_csv(tmp_path):
    import gzip

    from backtest.data.csvfile import read_price_csv

    (tmp_path / "p.csv").write_text(_GOOD)
    with gzip.open(tmp_path / "p.csv.gz", "wt") as f:
        f.write(_GOOD)
    plain, zipped = read_price_csv(tmp_path / "p.csv"), read_price_csv(tmp_path / "p.csv.gz")
    assert plain.equals(zipped) and plain.loc["2020-02-29", "B"] == 21


def test_strategy_hint_fits_the_failure(real_prices, tmp_path, capsys):
    argv = _argv(real_prices, tmp_path)
    at = argv.index("--tickers") + 1
    argv[at : at + len(real_prices.targets)] = list(real_prices.targets[:3])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "at least 4 assets" in err and "use more --tickers" in err
    assert "raise --min-train" not in err


def test_simulate_missing_calibration_file_names_its_flag(tmp_path, capsys):
    argv = [
        "simulate",
        "--calibrate-on",
        str(tmp_path / "nope.csv"),
        "--results-dir",
        str(tmp_path),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--calibrate-on" in err and "--prices" not in err


def test_cache_dir_under_a_file_fails_before_any_work(real_prices, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    argv = _argv(real_prices, tmp_path, "--cache-dir", str(tmp_path / "afile" / "cache"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot write the window cache" in err and "(Not a directory); pass --cache-dir" in err
    assert "[Errno" not in err and _left_behind(tmp_path) == []


def test_end_past_the_data_is_one_clause_for_all_tickers(real_prices, tmp_path, capsys):
    assert main(_argv(real_prices, tmp_path, "--end", "2023-06-01")) == 2
    err = capsys.readouterr().err
    assert err.count("no price at the end month 2023-06") == 1, err
    assert f"{', '.join(real_prices.tickers())} have no price at the end month" in err
    assert "move --end to 2022-11 or earlier, or drop them" in err


@pytest.mark.slow  # one CLI run (no Keras)
def test_a_short_run_says_its_statistics_are_noise(real_prices, tmp_path, capsys, fake_runner):
    assert main(_argv(real_prices, tmp_path, "--min-train", "92")) == 0
    result = load_run(tmp_path / "results" / "r")
    n_months = len(result.realised)
    assert n_months < 24
    assert result.verdict.startswith(f"Caution: only {n_months} out-of-sample month(s)")
    assert "Caution: only" in capsys.readouterr().out
