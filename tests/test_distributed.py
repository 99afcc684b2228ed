from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.cli import main
from backtest.config import ModelConfig, config_from_mapping
from backtest.engine import cluster as distributed
from backtest.engine.cluster import WindowRef, dask_runner, fit_ref, pool_sequences
from backtest.engine.local import Backend
from backtest.engine.walkforward import plan_jobs, prepare
from backtest.features import Variant
from backtest.splits import WindowKind

TINY_ARGS = ["--epochs", "3", "--min-train", "80", "--units", "8", "4", "--no-progress"]


def _prices(rng, n_months=60, names=("A", "B", "C", "X")):
    index = pd.date_range("2012-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(n_months, len(names)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list(names))


def _jobs(rng, **kw):
    model = ModelConfig(units=(4, 2), dense_units=4, epochs=3, lookback=6)
    base = dict(
        targets=("A", "B", "C"),
        relatives=("X",),
        variant=Variant.RELATIVES,
        model=model,
        min_train=30,
        models=["lstm"],
    )
    config = config_from_mapping({**base, **kw})
    seq, _ = prepare(config, _prices(rng))
    return seq, plan_jobs(config, seq)


def _same_job(a, b):
    assert (a.key, a.model, a.seed, a.rows) == (b.key, b.model, b.seed, b.rows)
    for name in ("X_train", "y_train", "X_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), strict=True)


def _echo(job):
    """A cheap stand-in for fit_window that reveals how the worker got its arrays."""
    base = job.X_train.base
    return {
        "job": job,
        "one_array": base is not None and base is job.X_test.base,
        "ids": (id(base), id(job.y_train.base)),
    }


# --- pooling: one copy of the sequences, each window four integers ----------------------------


@pytest.mark.parametrize(
    "kw",
    [{}, {"window": WindowKind.ROLLING, "train_size": 32}, {"refit_every": 4}],
    ids=["expanding", "rolling", "refit-every-4"],
)
def test_pooled_sequences_rebuild_every_job_bit_for_bit(rng, kw):
    seq, jobs = _jobs(rng, **kw)
    X, y = pool_sequences(jobs)
    np.testing.assert_array_equal(X, seq.X[: len(X)])
    labelled = ~np.isnan(y).all(axis=1)
    np.testing.assert_array_equal(y[labelled], seq.y[: len(y)][labelled])
    for job in jobs:
        key, out = fit_ref(_echo, X, y, WindowRef(job.key, job.rows, job.model, job.seed))
        assert key == job.key
        _same_job(out["job"], job)


def test_a_window_ref_is_far_smaller_than_its_job(rng):
    import pickle

    _, jobs = _jobs(rng)
    size = {}
    for which, job in (("first", jobs[0]), ("last", jobs[-1])):
        ref = WindowRef(job.key, job.rows, job.model, job.seed)
        size[which] = len(pickle.dumps(ref)), len(pickle.dumps(job))
        assert len(pickle.dumps(ref)) * 5 < len(pickle.dumps(job))
    # A ref carries no rows: its size does not grow with the window, the job's does.
    grown = jobs[-1].X_train.nbytes - jobs[0].X_train.nbytes
    assert abs(size["last"][0] - size["first"][0]) < 16
    assert size["last"][1] - size["first"][1] >= grown


def test_jobs_without_rows_or_from_different_arrays_are_not_pooled(rng):
    _, jobs = _jobs(rng)
    assert pool_sequences([]) is None
    assert pool_sequences([*jobs[:-1], dataclasses.replace(jobs[-1], rows=None)]) is None
    shifted = dataclasses.replace(jobs[3], X_train=jobs[3].X_train + 1.0)
    assert pool_sequences([*jobs[:3], shifted, *jobs[4:]]) is None
    # Several variants' windows in one pool (run --variant all): one more feature is another
    # array, not a broadcasting error.
    wider = dataclasses.replace(
        jobs[3],
        X_train=np.concatenate([jobs[3].X_train, jobs[3].X_train[..., :1]], axis=-1),
        X_test=np.concatenate([jobs[3].X_test, jobs[3].X_test[..., :1]], axis=-1),
    )
    assert pool_sequences([*jobs[:3], wider, *jobs[4:]]) is None


# --- flags and errors, before any work ----------------------------------------------------


def test_dask_without_a_scheduler_says_how_to_fix_it():
    with pytest.raises(
        ValueError,
        match=r"--backend dask needs --scheduler tcp://HOST:PORT.*"
        r"--backend dask-local --workers N",
    ):
        dask_runner("dask", None, 2)


def test_dask_local_rejects_a_scheduler_and_bad_worker_counts():
    with pytest.raises(ValueError, match=r"--scheduler 'tcp://h:1' is for --backend dask"):
        dask_runner("dask-local", "tcp://h:1", 2)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"`--workers` must be a positive integer, got {bad}"):
            dask_runner("dask-local", None, bad)
    with pytest.raises(ValueError, match="serves --backend dask or dask-local, got 'loky'"):
        dask_runner("loky", None, 2)


def test_dask_local_workers_are_capped_by_memory(monkeypatch):
    monkeypatch.setattr("backtest.engine.local.available_memory", lambda: 2_500_000_000)
    with pytest.warns(UserWarning, match=r"workers=5 workers need about 5 GB but 2.5 GB"):
        runner = dask_runner("dask-local", None, 5)
    assert runner.n_workers == 2 and runner.backend is Backend.DASK_LOCAL


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_clear_error_naming_the_address(monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(
        OSError,
        match=rf"cannot reach the Dask scheduler at --scheduler "
        rf"'{address}' within 1 s .*`dask worker {address}`",
    ):
        dask_runner("dask", address, 2)


def test_cli_reports_dask_flag_errors_with_exit_code_2(tmp_path, capsys):
    argv = [
        "run",
        "--source",
        "demo",
        *TINY_ARGS,
        "--results-dir",
        str(tmp_path / "r"),
        "--cache-dir",
        str(tmp_path / "c"),
        "--backend",
        "dask",
    ]
    assert main(argv) == 2
    assert "error: --backend dask needs --scheduler" in capsys.readouterr().err
    assert not (tmp_path / "c" / "windows").exists()


# --- on real clusters -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        yield c


@pytest.mark.slow
def test_existing_cluster_streams_every_window_from_one_scattered_copy(rng, cluster):
    _, jobs = _jobs(rng)
    runner = dask_runner("dask", cluster.scheduler_address, 1)
    out = dict(runner(_echo, jobs))
    assert sorted(out) == sorted(job.key for job in jobs)
    for job in jobs:
        got = out[job.key]
        _same_job(got["job"], job)
        # the worker sliced its window out of the whole scattered array ...
        assert got["one_array"]
    # ... which each worker holds once, whatever the number of windows
    assert len({o["ids"] for o in out.values()}) <= len(cluster.workers)


@pytest.mark.slow
def test_unpoolable_jobs_are_shipped_whole(rng, cluster):
    _, jobs = _jobs(rng)
    jobs = [dataclasses.replace(job, rows=None) for job in jobs[:4]]
    out = dict(dask_runner("dask", cluster.scheduler_address, 1)(_echo, jobs))
    for job in jobs:
        _same_job(out[job.key]["job"], job)
        assert not out[job.key]["one_array"]


@pytest.mark.slow
def test_worker_errors_reach_the_caller(rng, cluster):
    _, jobs = _jobs(rng)

    def boom(job):
        raise ArithmeticError(f"window {job.key[:8]} failed")

    with pytest.raises(ArithmeticError, match="failed"):
        list(dask_runner("dask", cluster.scheduler_address, 1)(boom, jobs[:2]))


@pytest.mark.slow
def test_dask_local_cluster_lives_for_one_call_or_one_with_block(rng):
    _, jobs = _jobs(rng)
    runner = dask_runner("dask-local", None, 2)
    assert sorted(k for k, _ in runner(_echo, jobs[:3])) == sorted(j.key for j in jobs[:3])
    assert runner._client is None
    with runner:
        client = runner._client
        assert client.cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert len(client.scheduler_info()["workers"]) == 2
        for _ in range(2):
            assert len(list(runner(_echo, jobs[:2]))) == 2
        assert runner._client is client
        assert _listening_addresses(client) == {"127.0.0.1"}
    assert runner._client is None and client.status == "closed"


def _listening_addresses(client) -> set[str]:
    """IP addresses the scheduler (this process) and the workers listen on."""
    import os

    import psutil

    pids = [os.getpid(), *client.run(os.getpid).values()]
    return {
        conn.laddr.ip
        for pid in pids
        for conn in psutil.Process(pid).net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }


def _forecasts(run_dir: Path) -> str:
    return (run_dir / "forecasts.csv").read_text()


@pytest.mark.slow
def test_local_dask_cluster_gives_forecasts_identical_to_one_job(tmp_path, real_prices, capsys):
    common = [
        "run",
        *real_prices.flags(),
        *TINY_ARGS,
        "--strategies",
        "hist_mean",
        "forecast",
        "--results-dir",
        str(tmp_path),
    ]
    assert (
        main([*common, "--n-jobs", "1", "--run-name", "one", "--cache-dir", str(tmp_path / "c1")])
        == 0
    )
    assert (
        main(
            [
                *common,
                "--backend",
                "dask-local",
                "--workers",
                "2",
                "--run-name",
                "dask",
                "--cache-dir",
                str(tmp_path / "c2"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("windows 28 computed / 0 cached") == 2  # 14 windows x lstm, ridge
    assert _forecasts(tmp_path / "one") == _forecasts(tmp_path / "dask")
    for name in ("portfolio_returns.csv", "weights.csv"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "dask" / name).read_text()


_ORPHAN_SCRIPT = """
import os, sys, time
from backtest.engine.cluster import dask_runner

if __name__ == "__main__":
    with dask_runner("dask-local", None, 2) as runner:
        print(*runner._client.run(os.getpid).values(), flush=True)
        time.sleep(600)
"""


@pytest.mark.slow
def test_local_cluster_workers_die_with_a_killed_run(tmp_path):
    """SIGKILL leaves no orphan workers: each exits when its parent's pipe closes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "hold.py"
    script.write_text(_ORPHAN_SCRIPT)
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=repo,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def alive(pid):
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 30
    try:
        while any(alive(p) for p in pids):
            assert time.monotonic() < deadline, f"orphan Dask workers {pids} outlived the run"
            time.sleep(0.1)
    finally:
        for p in filter(alive, pids):  # only our own test's workers, by id
            os.kill(p, signal.SIGKILL)
