"""Draw a run's charts: each chart once, in parallel worker processes when that pays.

A :class:`ChartJob` names a module-level chart function and its arguments (plain frames
and numbers, so a job pickles cheaply); :func:`render_charts` draws a batch of jobs in the
calling process or in a pool of ``fork``-started workers that inherit the already imported
matplotlib. Rendering is CPU-bound and each figure is independent, so on two cores two
workers draw a run's charts in about half the time when the cores are free (the number of
workers follows :func:`free_cores`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ChartJob", "free_cores", "render_charts"]


@dataclass(frozen=True)
class ChartJob:
    """One chart: ``draw(*args, **kwargs)`` writes a PNG and returns its path."""

    draw: Callable[..., Path]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Path:
        """Draw the chart."""
        return self.draw(*self.args, **self.kwargs)


def _run(job: ChartJob) -> Path:
    return job()


def _can_fork() -> bool:
    """Whether to fork: on POSIX, with no thread alive but this one and daemon helpers.

    A run's main process holds at most tqdm's monitor thread (a daemon that sleeps between
    checks of its own instances) when the charts are drawn; the forked workers only draw
    with matplotlib and never touch what such a thread may lock.
    """
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    return "fork" in multiprocessing.get_all_start_methods() and all(t.daemon for t in others)


def free_cores() -> int:
    """Cores not busy with other work: the CPU count less the load beyond this process.

    On a busy machine (load average at or above the core count) extra workers only add
    fork and pickling costs to time-shared cores, so the charts are drawn in one process.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, int(cores - max(0.0, load - 1.0) + 0.5))


def render_charts(jobs: Sequence[ChartJob], n_jobs: int | None = None) -> list[Path]:
    """Draw every job, in order of submission, and return the PNG paths.

    Parameters
    ----------
    jobs : sequence of ChartJob
        The charts to draw.
    n_jobs : int, optional
        Worker processes; default :func:`free_cores` (at most 4 and one per job). With 1,
        or where a fork is not safe (another thread running, no ``fork`` start method),
        the charts are drawn in this process. The PNGs are the same either way.

    Returns
    -------
    list of Path
        The written files, in the order of `jobs`.
    """
    if n_jobs is None:
        n_jobs = min(len(jobs), free_cores(), 4)
    if n_jobs <= 1 or len(jobs) <= 1 or not _can_fork():
        return [job() for job in jobs]
    context = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        # Python >= 3.12 warns on any fork beside a thread; see _can_fork for why it is safe.
        warnings.filterwarnings("ignore", ".*multi-threaded.*fork", DeprecationWarning)
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
            return list(pool.map(_run, jobs))
