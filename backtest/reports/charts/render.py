"""Draw a run's charts: each chart once, in parallel worker processes when that pays.

A :class:`ChartJob` names a module-level chart function and its arguments (plain frames
and numbers, so a job pickles cheaply); :func:`render_charts` draws a batch of jobs in the
calling process or in a pool of ``fork``-started workers that inherit the already imported
matplotlib. Rendering is CPU-bound and each figure is independent, so on two cores two
workers draw a run's charts in about half the time when the cores are free (the number of
workers follows :func:`free_cores`). A :class:`ChartPool` draws them in the background instead,
while the run goes on computing (allocation, inference), and waits for them at its end.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtest.engine.local import free_cores

__all__ = ["ChartJob", "ChartPool", "free_cores", "render_charts"]


@dataclass(frozen=True)
class ChartJob:
    """One chart: ``draw(*args, **kwargs)`` writes a PNG and returns its path."""

    draw: Callable[..., Path]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Path:
        """Draw the chart, with the cyclic garbage collector paused while it draws.

        A figure is hundreds of thousands of small objects, so drawing one triggers hundreds
        of young collections and a few full ones, and a full collection scans every object
        alive in the process (0.25 s each in a run's process, a sixth of the charts' CPU,
        measured). Paused, the figure's objects are all still young when it is done: one
        young collection frees them (a figure holds reference cycles) without scanning the
        rest of the heap.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self.draw(*self.args, **self.kwargs)
        finally:
            if was_enabled:
                gc.enable()
                gc.collect(0)


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


class ChartPool:
    """Charts drawn in background worker processes while the caller goes on; all drawn at exit.

    ``with ChartPool() as charts: charts.submit(jobs); ...`` returns from :meth:`submit` at
    once and draws the jobs in ``n_workers`` forked workers; leaving the block waits for every
    chart, drawing in this process any job no worker has started yet (so the caller's core
    helps once its own work is done), and raises the first chart's error. With no worker
    (one free core, or a fork that is not safe) :meth:`submit` draws the jobs at once, as
    :func:`render_charts` does. The PNGs are the same either way.

    Parameters
    ----------
    n_workers : int, optional
        Background workers; default one per free core beyond the caller's own
        (:func:`free_cores` less one), at most 3.
    """

    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = min(free_cores() - 1, 3) if n_workers is None else n_workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[ChartJob, Future]] = []

    def __enter__(self) -> ChartPool:
        return self

    def submit(self, jobs: Sequence[ChartJob]) -> None:
        """Start drawing ``jobs`` (in the background when there are workers)."""
        if self._pool is None and self.n_workers >= 1 and _can_fork():
            with warnings.catch_warnings():
                # Python >= 3.12 warns on any fork beside a thread; see _can_fork.
                warnings.filterwarnings("ignore", ".*multi-threaded.*fork", DeprecationWarning)
                context = multiprocessing.get_context("fork")
                # With fork, the executor starts all its workers at the first submit, before
                # its own management thread exists.
                self._pool = ProcessPoolExecutor(max_workers=self.n_workers, mp_context=context)
                self._pending += [(job, self._pool.submit(_run, job)) for job in jobs]
            return
        if self._pool is None:
            for job in jobs:
                done: Future = Future()
                done.set_result(job())
                self._pending.append((job, done))
            return
        self._pending += [(job, self._pool.submit(_run, job)) for job in jobs]

    def wait(self) -> list[Path]:
        """Every submitted chart drawn; the PNG paths in order of submission."""
        pending, self._pending = self._pending, []
        drawn_here: dict[int, Path] = {}
        # Newest first: the jobs furthest from a worker are the ones this process can take.
        for i in reversed(range(len(pending))):
            job, future = pending[i]
            if future.cancel():
                drawn_here[i] = job()
        return [drawn_here.get(i) or future.result() for i, (_, future) in enumerate(pending)]

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
