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
