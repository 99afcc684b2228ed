from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from backtest.cli.console import NORMAL, QUIET, VERBOSE, Console

REPO = Path(__file__).resolve().parents[1]
NOISE = re.compile(r"tensorflow|absl|oneDNN|cuda|Warning|warnings\.warn|I0000|W0000", re.I)
STAGE_LINE = re.compile(
    r"^(- .+: \d+(\.\d+)? s|- .+: \d+ in \d+\.\d s|- .+: every window read from the cache|"
    r"data: .+|note: .+|done in .+)$"
)


def _console(level: int) -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(level, stream=stream), stream


def test_library_warnings_and_logs_go_to_the_log_not_the_terminal(tmp_path):
    console, stream = _console(NORMAL)
    with console.capture():
        warnings.warn_explicit("old API", FutureWarning, "/site-packages/lib/x.py", 3)
        logging.getLogger("distributed.worker").warning("heartbeat missed")
        logging.getLogger("distributed.worker").info("an info line")
    assert stream.getvalue() == ""
    text = console.write_log(tmp_path / "run.log").read_text()
    assert "FutureWarning: old API (/site-packages/lib/x.py:3)" in text
    assert "WARNING distributed.worker: heartbeat missed" in text
    assert "an info line" not in text  # INFO only in --verbose


def test_our_own_warnings_are_shown_at_every_level():
    ours = str(REPO / "backtest" / "engine" / "local.py")
    for level in (QUIET, NORMAL, VERBOSE):
        console, stream = _console(level)
        with console.capture():
            warnings.warn_explicit("n_jobs=4 needs 4 GB", UserWarning, ours, 50)
        assert stream.getvalue() == "warning: n_jobs=4 needs 4 GB\n"
    console, stream = _console(NORMAL)
    with console.capture():
        warnings.warn_explicit("divide by zero encountered", RuntimeWarning, ours, 60)
    assert stream.getvalue() == ""  # numpy's floating-point noise: run.log only
    assert any("RuntimeWarning: divide by zero" in line for line in console.log.lines)


def test_verbose_echoes_library_lines_and_quiet_shows_no_stage():
    console, stream = _console(VERBOSE)
    with console.capture():
        logging.getLogger("yfinance").error("Cookie/crumb fetch failed")
    assert "ERROR yfinance: Cookie/crumb fetch failed" in stream.getvalue()
    console, stream = _console(QUIET)
    with console.capture():
        console.stage("loading data")
        console.note("resampled")
        console.finish()
    assert stream.getvalue() == ""


def test_all_windows_cached_says_so():
    console, stream = _console(NORMAL)
    assert list(console.windows("fitting windows", after="allocating")(iter(()), 0)) == []
    console.finish()
    assert stream.getvalue().startswith("- fitting windows: every window read from the cache\n")


def test_stages_and_windows_report_each_stage_with_its_time():
    console, stream = _console(NORMAL)
    console.stage("loading data")
    progress = console.windows("fitting windows", after="allocating")
    assert list(progress(iter(range(3)), 3)) == [0, 1, 2]
    console.finish()
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "- loading data",
        "- starting workers for 3 window(s)",
        "- fitting windows",
        "- allocating",
    ]
    assert all(STAGE_LINE.match(line) for line in lines), lines


@pytest.mark.slow
def test_a_normal_run_prints_stages_and_results_only(tmp_path):
    """Two workers import TensorFlow: none of its, absl's or any warning line may show."""
    common = [
        sys.executable, "-m", "backtest", "run", "--source", "demo", "--epochs", "1",
        "--units", "4", "2", "--min-train", "82", "--models", "lstm", "--strategies",
        "hist_mean", "forecast", "--n-jobs", "2", "--cache-dir", str(tmp_path / "cache"),
        "--results-dir", str(tmp_path / "results"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(common, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not [line for line in lines if NOISE.search(line)], done.stderr
    assert all(STAGE_LINE.match(line) for line in lines), done.stderr
    stages = [line.split(":")[0] for line in lines if line.startswith("- ")]
    assert stages[0] == "- loading data" and stages[-1] == "- writing the report"
    assert "- relatives" in stages  # the windows' line
    assert (tmp_path / "results" / "relatives" / "run.log").is_file()
    assert "== relatives:" in done.stdout
    quiet = subprocess.run(
        [*common, "--quiet", "--run-name", "q"], env=env, cwd=tmp_path, capture_output=True,
        text=True,
    )  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert [line.split(":")[0] for line in quiet.stdout.splitlines()] == ["results", "report"]
