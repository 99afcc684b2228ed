"""Faults the engine must survive without losing finished work or half-writing a file.

Every slow test runs the real engine (``backtest run`` with the quick config: 14 windows
on the shared monthly data) and compares its outputs with one uninterrupted run.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.cli import main
from backtest.engine import store as store_module
from backtest.engine.store import WindowStore

REPO = Path(__file__).resolve().parents[1]
N_WINDOWS = 14
QUICK = [
    "--epochs",
    "3",
    "--min-train",
    "80",
    "--units",
    "8",
    "4",
    "--n-jobs",
    "1",
    "--no-progress",
    "--strategies",
    "hist_mean",
    "forecast",
    "--models",
    "lstm",  # one model: N_WINDOWS windows (the default runs lstm and ridge)
]
COMPARED = ("forecasts.csv", "portfolio_returns.csv", "weights.csv")


def run_args(prices: list[str], results: Path, cache: Path, name: str = "run") -> list[str]:
    return [
        "run",
        "--variant",
        "relatives",
        *prices,
        *QUICK,
        "--results-dir",
        str(results),
        "--cache-dir",
        str(cache),
        "--run-name",
        name,
    ]


def window_files(cache: Path) -> list[Path]:
    return sorted((cache / "windows").glob("**/*.npz"))


def assert_store_whole(cache: Path) -> int:
    """Every stored window reads back and passes its checksum; returns how many."""
    files = window_files(cache)
    store = WindowStore(cache / "windows")
    for path in files:
        assert store.load(path.stem) is not None, f"{path} is half-written or corrupt"
    assert store.corrupt == []
    return len(files)


def assert_same_results(run: Path, reference: Path) -> None:
    for name in COMPARED:
        assert (run / name).read_text() == (reference / name).read_text(), name


def windows_line(stdout: str) -> tuple[int, int]:
    found = re.findall(r"windows (\d+) computed / (\d+) cached", stdout)
    assert len(found) == 1, stdout
    return int(found[0][0]), int(found[0][1])


@pytest.fixture(scope="module")
def prices(real_prices) -> list[str]:
    """Flags that read the demo dataset's prices from a CSV."""
    return real_prices.flags()


@pytest.fixture(scope="module")
def reference(prices, tmp_path_factory) -> Path:
    """One uninterrupted run of the quick config; its results directory."""
    root = tmp_path_factory.mktemp("reference")
    assert main(run_args(prices, root, root / "cache", "ref")) == 0
    assert assert_store_whole(root / "cache") == N_WINDOWS
    return root / "ref"


def cli_process(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backtest", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def wait_for_windows(proc: subprocess.Popen, cache: Path, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while len(window_files(cache)) < n:
        assert proc.poll() is None, f"the run ended before {n} windows: {proc.communicate()}"
        assert time.monotonic() < deadline, "no windows appeared in time"
        time.sleep(0.01)


# --- killed, corrupted, full: nothing finished is lost ---------------------------------------


@pytest.mark.slow
def test_sigkill_part_way_then_rerun_computes_only_the_missing_windows(prices, reference, tmp_path):
    args = run_args(prices, tmp_path, tmp_path / "cache")
    proc = cli_process(args)
    wait_for_windows(proc, tmp_path / "cache", 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    n_kept = assert_store_whole(tmp_path / "cache")
    assert 2 <= n_kept < N_WINDOWS, "the kill must land part-way"
    assert not (tmp_path / "run" / "forecasts.csv").exists()

    rerun = subprocess.run(
        [sys.executable, "-m", "backtest", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert windows_line(rerun.stdout) == (N_WINDOWS - n_kept, n_kept)
    assert assert_store_whole(tmp_path / "cache") == N_WINDOWS
    assert_same_results(tmp_path / "run", reference)
    assert not list((tmp_path / "run").glob(".*.tmp"))


@pytest.mark.slow
def test_truncated_and_altered_windows_are_detected_recomputed_and_reported(
    prices, reference, tmp_path, capsys
):
    cache = tmp_path / "cache"
    shutil.copytree(reference.parent / "cache", cache)
    files = window_files(cache)
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated mid-write
    files[1].write_bytes(b"")  # empty
    raw = bytearray(files[2].read_bytes())
    stored = WindowStore(cache / "windows").load(files[2].stem)["forecast"]
    at = raw.find(stored.tobytes())
    assert at > 0
    raw[at + 3] ^= 0x01  # one bit of one forecast flipped, file otherwise intact
    files[2].write_bytes(bytes(raw))

    assert main(run_args(prices, tmp_path, cache)) == 0
    captured = capsys.readouterr()
    assert "warning: 3 cached window(s) failed their checksum and were recomputed" in captured.err
    assert windows_line(captured.out) == (3, N_WINDOWS - 3)
    assert assert_store_whole(cache) == N_WINDOWS
    assert_same_results(tmp_path / "run", reference)


@pytest.mark.slow
def test_disk_full_mid_run_is_a_clear_error_and_keeps_the_windows_written(
    prices, reference, tmp_path, monkeypatch, capsys
):
    """ENOSPC raised by the store's write after 3 windows (simulated: no tmpfs here)."""
    real_write, written = store_module.atomic_write_bytes, []

    def fills_up(path, data):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)
        written.append(path)

    monkeypatch.setattr(store_module, "atomic_write_bytes", fills_up)
    args = run_args(prices, tmp_path, tmp_path / "cache")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(r"error: \[Errno 28\] No space left on device: '.*\.npz'", err), err
    assert assert_store_whole(tmp_path / "cache") == 3

    monkeypatch.undo()
    assert main(args) == 0
    assert windows_line(capsys.readouterr().out) == (N_WINDOWS - 3, 3)
    assert_same_results(tmp_path / "run", reference)


# --- one results directory, two runs --------------------------------------------------------


@pytest.mark.slow
def test_a_second_run_on_the_same_results_directory_fails_fast(prices, reference, tmp_path, capsys):
    first = cli_process(run_args(prices, tmp_path, tmp_path / "cache1"))
    wait_for_windows(first, tmp_path / "cache1", 1)
    started = time.monotonic()
    assert main(run_args(prices, tmp_path, tmp_path / "cache2")) == 2
    assert time.monotonic() - started < 30
    assert first.poll() is None, "the first run must still hold the directory"
    err = capsys.readouterr().err
    assert f"error: another run is writing to '{tmp_path / 'run'}'" in err
    assert "wait for it or pass --run-name" in err
    assert not list((tmp_path / "cache2").rglob("*.npz")), "no work before the lock"

    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0
    assert windows_line(out) == (N_WINDOWS, 0)
    assert_same_results(tmp_path / "run", reference)


# --- unwritable results directory: an error before any work ---------------------------------


def test_results_dir_that_cannot_be_created_fails_before_any_work(prices, tmp_path, capsys):
    """A path below a regular file: mkdir fails even for root, whom chmod does not stop."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    args = run_args(prices, blocker / "results", tmp_path / "cache")
    assert main(args) == 2
    err = capsys.readouterr().err
    target = blocker / "results" / "run"
    assert f"error: cannot write to the results directory '{target}' (Not a directory)" in err
    assert "choose another with --results-dir or free some space" in err
    assert not list((tmp_path / "cache").rglob("*.npz")), "no window fitted"


def test_full_disk_at_start_fails_before_any_work(prices, tmp_path, monkeypatch, capsys):
    """The run's 64 KiB write probe hitting ENOSPC (simulated by patching the probe's write:
    this checks the message and that nothing runs, not the kernel's behaviour)."""
    real = Path.write_bytes

    def full(self, data):
        if self.name.endswith(".write-test"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    assert main(run_args(prices, tmp_path, tmp_path / "cache")) == 2
    err = capsys.readouterr().err
    assert "cannot write to the results directory" in err
    assert "(No space left on device); choose another with --results-dir or free some space" in err
    assert not list((tmp_path / "cache").rglob("*.npz")), "no window fitted"


# --- bad input through the command line: exit code 2 and an error naming the problem --------


def _csv_args(path: Path, tmp_path: Path) -> list[str]:
    return [
        "run",
        "--prices",
        str(path),
        "--tickers",
        "AAA",
        "--relatives",
        "BBB",
        "--start",
        "2020-01-01",
        "--end",
        "2020-03-01",
        *QUICK,
        "--results-dir",
        str(tmp_path / "r"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,AAA,BBB\n2020-01-31,1,2\n".encode("utf-16"), "is not UTF-8 text"),
        (
            b"date,AAA,BBB\n2020-01-31,1,2\n2020-02-31,1,2\n",
            "unparseable date '2020-02-31' in data row 2",
        ),
        (b"date,AAA,BBB,AAA\n2020-01-31,1,2,3\n", r"duplicate column names ['AAA']"),
        (
            b"date,AAA,BBB\n2020-01-31,1,x\n2020-02-29,1,y\n",
            "column 'BBB' holds text, e.g. 'x' in data row 1",
        ),
    ],
    ids=["utf16-encoding", "unparseable-date", "duplicate-columns", "string-ticker-column"],
)
def test_bad_price_csv_is_exit_code_2_naming_the_problem(tmp_path, capsys, content, message):
    path = tmp_path / "prices.csv"
    path.write_bytes(content)
    assert main(_csv_args(path, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert str(path) in err or path.name in err


# --- Yahoo Finance failures, patched at yfinance.download (no network) ----------------------


def _daily(rng, tickers=("AAA", "BBB")) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.bdate_range("2019-12-02", "2020-04-30"), name="Date")
    steps = rng.normal(0.0, 0.01, size=(len(index), len(tickers)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=tickers)


def _yahoo(daily: pd.DataFrame | None = None, error: Exception | None = None):
    def download(tickers, start=None, end=None, **kwargs):
        if error is not None:
            raise error
        frame = daily.loc[(daily.index >= start) & (daily.index < end)]
        close = frame[[t for t in sorted(tickers) if t in frame.columns]]
        return pd.concat({"Close": close}, axis=1, names=["Price", "Ticker"])

    return download


def _nan_row(daily: pd.DataFrame) -> pd.DataFrame:
    out = daily.copy()
    out.loc["2020-02-12"] = np.nan
    return out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: _yahoo(error=ConnectionError("Could not resolve host")),
            r"could not download AAA, BBB from Yahoo Finance .*ConnectionError: Could not resolve",
        ),
        (lambda d: _yahoo(d.iloc[:0]), r"could not download AAA, BBB from Yahoo Finance"),
        (
            lambda d: _yahoo(d[["AAA"]]),
            r"Yahoo returned no prices for BBB \(got only AAA\)"
            r".*the partial download was not cached",
        ),
        (
            lambda d: _yahoo(_nan_row(d)),
            r"missing prices inside a ticker's own date span: "
            r"AAA \(1 missing, first: 2020-02-12\); BBB \(1 missing, first: 2020-02-12\)",
        ),
    ],
    ids=["raises", "empty", "subset", "nan-row"],
)
def test_yahoo_failures_are_exit_code_2_and_nothing_is_cached(
    rng, tmp_path, monkeypatch, capsys, make, message
):
    import yfinance

    monkeypatch.setattr(yfinance, "download", make(_daily(rng)))
    args = [
        "run",
        "--tickers",
        "AAA",
        "--relatives",
        "BBB",
        "--start",
        "2020-01-01",
        "--end",
        "2020-03-01",
        *QUICK,
        "--results-dir",
        str(tmp_path / "r"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and re.search(message, err), err
    prices_cache = tmp_path / "c" / "prices"
    assert not prices_cache.exists() or not any(prices_cache.iterdir())
