"""Where window fits run: this process, local joblib workers, or a Dask cluster.

By default (:class:`AutoRunner`) the windows of a slow-to-start model (the LSTM: each process
pays TensorFlow's import and the compiled fit's trace, ~9 s of CPU, before its first fit) go
to loky workers on the free cores, as many as the work pays for (:func:`slow_workers`),
while this process fits the quick (scikit-learn) windows; so this process never imports
TensorFlow beside a worker, and draws its charts in forked workers once its own workers are
shut down. With one free core everything is fitted here, the quick windows first. The
numbers are the same whoever fits a window.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from enum import Enum

from backtest.engine.walkforward import WindowJob

# Measured peak resident memory of one worker fitting the seed's network with the
# compiled loop (shared/PERFORMANCE.md: ~0.76 GB); rounded up for headroom.
WORKER_MEMORY_BYTES = 1_000_000_000


class Backend(str, Enum):
    """Execution backends for window fits."""

    LOKY = "loky"
    DASK = "dask"
    DASK_LOCAL = "dask-local"


def available_cores() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available now, or ``None`` where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cap_by_memory(n_workers: int, name: str = "n_jobs") -> int:
    """Cap a worker count at what the available memory holds, warning when it does.

    Each worker holds its own TensorFlow (~1 GB, :data:`WORKER_MEMORY_BYTES`); more
    workers than memory allows would swap or be killed by the OOM killer hours into
    a run, so the count is lowered up front with a warning naming ``name``.
    """
    memory = available_memory()
    if memory is None:
        return n_workers
    fits = max(1, memory // WORKER_MEMORY_BYTES)
    if n_workers > fits:
        warnings.warn(
            f"{name}={n_workers} workers need about {n_workers * WORKER_MEMORY_BYTES / 1e9:.0f} "
            f"GB but {memory / 1e9:.1f} GB is available; using {name}={fits}",
            stacklevel=3,
        )
        return int(fits)
    return n_workers


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Turn ``--n-jobs`` into a worker count that fits the cores and the memory.

    ``None`` or ``-1`` means all cores. More workers than cores only oversubscribe
    them; more than memory allows would swap or be killed, so the count is capped,
    with a warning that says why.
    """
    cores = available_cores()
    if n_jobs is None or n_jobs == -1:
        n_jobs = cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(
            f"--n-jobs = {n_jobs!r} is not allowed: it must be a positive integer or -1 (all cores)"
        )
    if n_jobs > cores:
        warnings.warn(
            f"n_jobs={n_jobs} is more than the {cores} cores this process may use; using "
            f"n_jobs={cores} (more workers would only share the cores and the memory)",
            stacklevel=2,
        )
        n_jobs = cores
    return cap_by_memory(n_jobs, "n_jobs")


_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.5
"""Seconds between a worker's checks that its parent is alive."""


def exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process ``parent`` dies.

    A SIGKILLed or OOM-killed main process cannot shut its loky workers down; each would
    otherwise live on for minutes holding its own TensorFlow (~0.8 GB). On Linux the
    kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere
    a daemon thread checks every :data:`WATCH_INTERVAL` seconds that the parent is still
    this process's parent and exits at once when it is not.
    """
    import ctypes
    import signal
    import threading
    import time

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)

    if os.getppid() != parent:  # the parent died before the initializer ran
        os._exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _keyed(fn: Callable[[WindowJob], dict], job: WindowJob) -> tuple[str, dict]:
    return job.key, fn(job)


def free_cores() -> int:
    """Cores not busy with other work: the cores this process may use less what others use now.

    On a busy machine extra processes only add their start-up to time-shared cores. "Now" is a
    tenth-of-a-second sample of the CPUs' idle time (``/proc/stat``), taken while this process
    waits: the 1-minute load average lags by a minute, so right after another job ended it
    called an idle machine busy (measured: a cold run fitted in one process, 50 s of windows
    where a worker beside it took 12-25 s). Without ``/proc/stat``, the load average less this
    process is the estimate.
    """
    cores = available_cores()
    idle = _idle_cpus()
    if idle is not None:
        return max(1, min(cores, int(idle + 0.5)))
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, int(cores - max(0.0, load - 1.0) + 0.5)))


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs since boot, from the first line of ``/proc/stat``."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait; user .. steal


def _idle_cpus(interval: float = 0.1) -> float | None:
    """How many CPUs were idle over the next ``interval`` seconds (None without /proc/stat)."""
    try:
        idle0, total0 = _cpu_times()
        time.sleep(interval)
        idle1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (idle1 - idle0) / (total1 - total0) * (os.cpu_count() or 1)


WINDOWS_PER_START = 24
"""Slow-to-start windows per worker below which one more worker is not started. A worker's
start-up (~9 s of CPU) is ~50 compiled LSTM fits (~0.16 s of CPU each); a second worker starts
beside the first on a free core, so it saves its share of the fits in wall time, and from ~24
windows each that share is worth half a start-up of CPU."""


def slow_workers(n_slow: int, free: int) -> int:
    """Workers for ``n_slow`` slow-to-start windows on ``free`` cores.

    One per :data:`WINDOWS_PER_START` windows, at least one, at most one per free core.
    """
    return min(free, max(1, n_slow // WINDOWS_PER_START))


def slow_to_start(job: WindowJob) -> bool:
    """Whether the model of ``job`` pays a start-up in each process before its first fit.

    The forecaster class says so (``slow_start``, e.g. the LSTM: TensorFlow's import and the
    compiled fit's trace); a scikit-learn model, or a job without a model, does not.
    """
    spec = getattr(job, "model", None)
    if spec is None or spec.estimator is not None:
        return False
    from models.registry import forecaster_class

    return bool(getattr(forecaster_class(spec.name), "slow_start", False))


def split_by_start(jobs: list[WindowJob]) -> tuple[list[WindowJob], list[WindowJob]]:
    """``jobs`` as (slow-to-start, quick), each in the given order (:func:`slow_to_start`)."""
    slow = [job for job in jobs if slow_to_start(job)]
    return slow, [job for job in jobs if not slow_to_start(job)]


class AutoRunner:
    """Fit windows here and in loky workers on the free cores; the default local runner.

    When two or more cores are free, slow-to-start windows (:func:`slow_to_start`) go to
    :func:`slow_workers` workers, submitted before anything else, while this process fits the
    quick windows and then waits; this process never fits them beside a worker, so it never
    imports TensorFlow then and no window is fitted twice. With one free core this process
    fits every window, the quick ones first. A list of quick windows only runs here beside
    ``free - 1`` workers (:func:`_beside_workers`). The workers are killed and their threads
    joined when the stream ends, so that the run's charts can fork; held open (``with runner:``),
    the runner keeps them warm for the next walk-forward and shuts them down on exit.

    Parameters
    ----------
    max_processes : int, optional
        At most this many worker processes for slow windows, or fitting processes (this one
        included) for quick ones (default: all cores); capped by the memory
        (:func:`cap_by_memory`).
    """

    def __init__(self, max_processes: int | None = None) -> None:
        self.max_processes = max_processes
        self._held = False
        self._executors: list = []

    def __enter__(self) -> AutoRunner:
        self._held = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._held = False
        self._shutdown()

    def _shutdown(self) -> None:
        # Joined: a live executor thread would keep the chart pool from forking. Killed: every
        # result is in (the store is written here, never in a worker), or the run is ending
        # on an error, so a worker has nothing left to do or save, and a TensorFlow worker
        # left to exit on its own took 1.7 s, in the run's critical path (0.09 s killed).
        for executor in self._executors:
            executor.shutdown(wait=True, kill_workers=True)
        self._executors = []

    def _executor(self, n_workers: int):
        from joblib.externals.loky import get_reusable_executor

        executor = get_reusable_executor(
            max_workers=n_workers, initializer=exit_with_parent, initargs=(os.getpid(),)
        )
        self._executors.append(executor)
        return executor

    def __call__(self, fn: Callable[[WindowJob], dict], jobs: list[WindowJob]) -> Iterator:
        """Yield ``(job.key, fn(job))`` for every job, in completion order."""
        limit = available_cores() if self.max_processes is None else self.max_processes
        free = cap_by_memory(min(limit, free_cores()), "n_jobs")
        slow, quick = split_by_start(jobs)
        try:
            if free < 2 or len(jobs) < 2:
                for job in quick + slow:
                    yield _keyed(fn, job)
            elif slow:
                executor = self._executor(slow_workers(len(slow), free))
                yield from _slow_in_workers(fn, slow, quick, executor)
            else:
                yield from _beside_workers(fn, jobs, self._executor(free - 1))
        finally:
            if not self._held:
                self._shutdown()


def auto_runner(max_processes: int | None = None) -> AutoRunner:
    """The default local runner, :class:`AutoRunner`."""
    return AutoRunner(max_processes)


def _slow_in_workers(fn: Callable[[WindowJob], dict], slow: list, quick: list, executor):
    """Every result as it finishes: ``slow`` jobs in the workers, ``quick`` ones here meanwhile."""
    from concurrent.futures import as_completed

    futures = [executor.submit(_keyed, fn, job) for job in slow]
    pending = set(futures)
    try:
        for job in quick:
            yield _keyed(fn, job)
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                yield future.result()
        for future in as_completed(pending):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def _beside_workers(fn: Callable[[WindowJob], dict], jobs: list[WindowJob], executor):
    """Every job's result as it finishes, this process fitting beside the executor's workers.

    Workers take jobs from the front, this process from the back; it also fits what the
    workers hold while none of them has delivered anything yet (a worker still starting up).
    """
    futures = [executor.submit(_keyed, fn, job) for job in jobs]
    delivered = [False] * len(jobs)
    by_workers = 0

    def arrived() -> Iterator:
        nonlocal by_workers
        for i, future in enumerate(futures):
            if not delivered[i] and future.done():
                delivered[i] = True
                by_workers += 1
                yield future.result()

    def here(i: int) -> tuple[str, dict]:
        delivered[i] = True
        return _keyed(fn, jobs[i])

    try:
        for i in reversed(range(len(jobs))):
            yield from arrived()
            if not delivered[i] and futures[i].cancel():
                yield here(i)
        # What is left is held by the workers: wait for warm ones, take over from cold ones.
        for i in range(len(jobs)):
            yield from arrived()
            if not delivered[i] and by_workers == 0:
                yield here(i)
        for i, future in enumerate(futures):
            if not delivered[i]:
                delivered[i] = True
                yield future.result()
    finally:
        for future in futures:
            future.cancel()


def local_runner(n_jobs: int) -> Callable:
    """Run windows in this process (``n_jobs=1``) or in ``n_jobs`` loky workers.

    Slow-to-start windows are handed out first, so that each worker's first job is one:
    loky measures a worker's memory after its first job and replaces the worker when it
    later grows by 300 MB, which TensorFlow's import (~600 MB) does in a worker that began
    with a ridge window. That worker was stopped and every LSTM window went to the other one
    (seen in a 2-worker run's log: "A worker stopped while some jobs were given to the
    executor"). The workers are killed once every window is in, as :class:`AutoRunner`'s
    are: joblib's reusable executor had kept them, with ~0.8 GB each, and its manager thread,
    which kept the run's charts from drawing in a forked worker.
    """

    def run(fn: Callable[[WindowJob], dict], jobs: list[WindowJob]) -> Iterator:
        if n_jobs == 1:
            for job in jobs:
                yield _keyed(fn, job)
            return
        from concurrent.futures import as_completed

        from joblib.externals.loky import get_reusable_executor

        # Workers pin TensorFlow to one thread each before its first op
        # (models._network.configure_tensorflow), so n_jobs workers use n_jobs cores;
        # and they exit when this process dies (exit_with_parent).
        executor = get_reusable_executor(
            max_workers=n_jobs, initializer=exit_with_parent, initargs=(os.getpid(),)
        )
        slow, quick = split_by_start(jobs)
        futures = [executor.submit(_keyed, fn, job) for job in slow + quick]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
            executor.shutdown(wait=True, kill_workers=True)

    return run
