"""Where window fits run: this process, local joblib workers, or a Dask cluster."""

from __future__ import annotations

import os
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
    if n_jobs < 1:
        raise ValueError(f"`n_jobs` must be a positive integer or -1 (all cores), got {n_jobs}")
    return cap_by_memory(n_jobs, "n_jobs")


def _keyed(fn: Callable[[WindowJob], dict], job: WindowJob) -> tuple[str, dict]:
    return job.key, fn(job)


def local_runner(n_jobs: int) -> Callable:
    """Run windows in this process (``n_jobs=1``) or in ``n_jobs`` loky workers."""

    def run(fn: Callable[[WindowJob], dict], jobs: list[WindowJob]) -> Iterator:
        if n_jobs == 1:
            for job in jobs:
                yield _keyed(fn, job)
            return
        from joblib import Parallel, delayed

        # Workers pin TensorFlow to one thread each before its first op
        # (models._network.configure_tensorflow), so n_jobs workers use n_jobs cores.
        parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
        yield from parallel(delayed(_keyed)(fn, job) for job in jobs)

    return run
