"""Local workers: capped by the cores, and gone within seconds when the main process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backtest.engine.local import available_cores, resolve_n_jobs

_PARENT = textwrap.dedent(
    """
    import sys, time
    from dataclasses import dataclass
    from backtest.engine.local import local_runner

    @dataclass
    class Job:
        key: str

    def slow(job):
        print("worker", __import__("os").getpid(), flush=True)
        time.sleep(120)
        return {}

    for _ in local_runner(2)(slow, [Job("a"), Job("b")]):
        pass
    """
)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc, no psutil needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOKY_MAX_CPU_COUNT": "2"},
    )
    workers = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline:
        line = parent.stdout.readline()
        if line.startswith("worker"):
            workers.add(int(line.split()[1]))
    assert len(workers) == 2, "both workers should have started"
    assert all(_alive(w) for w in workers)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leave them behind if the test fails
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent by more than 5 s"


def test_n_jobs_above_the_cores_is_capped_with_a_warning():
    cores = available_cores()
    with pytest.warns(UserWarning, match=rf"n_jobs={cores + 7} is more than the {cores} cores"):
        assert resolve_n_jobs(cores + 7) <= cores
    with pytest.raises(ValueError, match=r"--n-jobs = 0 is not allowed: .*-1 \(all cores\)"):
        resolve_n_jobs(0)


@pytest.mark.parametrize("free", [1, 2])
def test_auto_runner_delivers_every_window_once_with_or_without_a_worker(monkeypatch, free):
    from types import SimpleNamespace

    from backtest.engine import local

    monkeypatch.setattr(local, "free_cores", lambda: free)
    monkeypatch.setattr(local, "available_cores", lambda: 2)
    jobs = [SimpleNamespace(key=f"w{i}") for i in range(12)]
    # vars(job) is the job's fields: a dict, picklable by reference in any worker
    got = list(local.auto_runner()(vars, jobs))
    assert sorted(key for key, _ in got) == sorted(job.key for job in jobs)
    assert all(result == {"key": key} for key, result in got)


def _pid(job) -> dict:
    return {"pid": os.getpid()}


def _mixed_jobs(n_slow: int, n_quick: int) -> list:
    from types import SimpleNamespace

    from models.registry import ModelSpec

    lstm, ridge = ModelSpec.of("lstm"), ModelSpec.of("ridge")
    return [SimpleNamespace(key=f"lstm{i}", model=lstm) for i in range(n_slow)] + [
        SimpleNamespace(key=f"ridge{i}", model=ridge) for i in range(n_quick)
    ]


def _live_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def test_slow_windows_fit_in_workers_and_quick_ones_here(monkeypatch):
    from backtest.engine import local

    monkeypatch.setattr(local, "free_cores", lambda: 2)
    monkeypatch.setattr(local, "available_cores", lambda: 2)
    jobs = _mixed_jobs(4, 5)
    got = dict(local.auto_runner()(_pid, jobs))
    assert sorted(got) == sorted(job.key for job in jobs)  # every window once
    here = {key for key, result in got.items() if result["pid"] == os.getpid()}
    # The LSTM's TensorFlow start-up is paid in the workers only; ridge fits here meanwhile.
    assert here == {f"ridge{i}" for i in range(5)}
    # The workers are shut down with their manager thread: nothing keeps the chart pool from
    # forking (render._can_fork allows daemon threads only, such as a queue's feeder that a
    # killed worker's queue may keep for a moment).
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    assert not [t.name for t in others if "Executor" in t.name or not t.daemon]


def _slow_to_exit(job) -> dict:
    """A worker job that leaves an exit handler behind, as TensorFlow's teardown is one."""
    import multiprocessing.util

    marker = Path(job.marker)
    multiprocessing.util.Finalize(None, marker.write_text, args=("exited",), exitpriority=10)
    return {"pid": os.getpid()}


@pytest.mark.parametrize("runner", ["auto", "n_jobs=2"])
def test_workers_are_not_left_to_exit_on_their_own(monkeypatch, tmp_path, runner):
    """Once every window is in, the workers are killed, not waited for while they tear down.

    A worker with TensorFlow took 1.7 s to exit after its last window, in the run's critical
    path; killed, its exit handlers never run (on the previous tree, they ran and wrote here).
    With ``--n-jobs 2`` joblib's reusable executor kept its workers (and a non-daemon manager
    thread, which keeps the charts from forking) after the windows were in.
    """
    import threading
    from types import SimpleNamespace

    from backtest.engine import local
    from models.registry import ModelSpec

    monkeypatch.setattr(local, "free_cores", lambda: 2)
    monkeypatch.setattr(local, "available_cores", lambda: 2)
    lstm = ModelSpec.of("lstm")
    jobs = [
        SimpleNamespace(key=f"lstm{i}", model=lstm, marker=str(tmp_path / f"exit{i}"))
        for i in range(4)
    ]
    run = local.auto_runner() if runner == "auto" else local.local_runner(2)
    got = dict(run(_slow_to_exit, jobs))
    assert sorted(got) == [job.key for job in jobs]
    assert os.getpid() not in {r["pid"] for r in got.values()}  # fitted in workers
    assert not list(tmp_path.iterdir()), "a worker ran its exit handlers: it was waited for"
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    assert not [t.name for t in others if not t.daemon]


def test_one_free_core_fits_everything_here_quick_windows_first(monkeypatch):
    from backtest.engine import local

    monkeypatch.setattr(local, "free_cores", lambda: 1)
    got = list(local.auto_runner()(_pid, _mixed_jobs(2, 3)))
    assert [key for key, _ in got] == ["ridge0", "ridge1", "ridge2", "lstm0", "lstm1"]
    assert {result["pid"] for _, result in got} == {os.getpid()}


def test_a_held_runner_keeps_its_workers_for_the_next_walk_forward(monkeypatch):
    from backtest.engine import local

    monkeypatch.setattr(local, "free_cores", lambda: 2)
    monkeypatch.setattr(local, "available_cores", lambda: 2)
    with local.auto_runner() as runner:
        first = {r["pid"] for _, r in runner(_pid, _mixed_jobs(3, 0))}
        assert [name for name in _live_threads() if "Executor" in name]  # still up
        second = {r["pid"] for _, r in runner(_pid, _mixed_jobs(3, 0))}
    assert first & second, "the second walk-forward should reuse a warm worker"
    assert not [name for name in _live_threads() if "Executor" in name]


@pytest.mark.parametrize(
    ("n_slow", "free", "expected"), [(58, 2, 2), (58, 4, 2), (30, 2, 1), (1, 2, 1), (200, 3, 3)]
)
def test_the_number_of_slow_workers_follows_the_work(n_slow, free, expected):
    from backtest.engine.local import slow_workers

    assert slow_workers(n_slow, free) == expected


@pytest.mark.slow
def test_two_workers_both_fit_when_lstm_and_ridge_windows_alternate(tmp_path, recwarn):
    """No worker is replaced by loky's memory-leak check when TensorFlow loads in it.

    Windows come planned LSTM, ridge, LSTM, ridge, ...; a worker that began with a ridge
    window and then imported TensorFlow grew by more than loky's 300 MB allowance and was
    stopped, leaving every LSTM window to the other worker (fails on the previous order).
    """
    import numpy as np
    import pandas as pd

    from backtest.config import ModelConfig, config_from_mapping
    from backtest.engine.local import local_runner
    from backtest.engine.store import WindowStore
    from backtest.engine.walkforward import walk_forward
    from backtest.features import Variant

    rng = np.random.default_rng(0)
    index = pd.date_range("2012-01-31", periods=54, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(len(index), 3))
    prices = pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list("ABX"))
    config = config_from_mapping(
        {
            "targets": ("A", "B"),
            "relatives": ("X",),
            "variant": Variant.BASE,
            "model": ModelConfig(units=(4, 2), epochs=2),
            "min_train": 32,
            "models": ["lstm", "ridge"],
        }
    )
    panel = walk_forward(config, prices, WindowStore(tmp_path), local_runner(2))
    assert panel.n_computed == 2 * len(panel.dates)
    stopped = [w for w in recwarn if "worker stopped" in str(w.message)]
    assert not stopped, stopped[0].message
