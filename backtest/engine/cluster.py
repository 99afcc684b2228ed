"""Window fits on a Dask cluster: an existing one, or a local one for trying it out.

``--backend dask --scheduler tcp://HOST:PORT`` connects to a running scheduler;
``--backend dask-local --workers N`` starts a :class:`~dask.distributed.LocalCluster`
of ``N`` single-threaded worker processes on 127.0.0.1 and closes it afterwards.

The fits go through joblib's Dask backend (``joblib.parallel_config(backend="dask")``)
with ``return_as="generator_unordered"``: the backend supports result callbacks, so
windows stream back as they finish and the engine stores each one on arrival, exactly
as with the local loky runner. A run killed part-way keeps every window it received.

Data is scattered once. A walk-forward's windows are slices of one array of sequences
(an expanding window's training set is a prefix of the next one's), so shipping each
window's ``X_train`` would send the same rows ``n_windows`` times. Instead the runner
rebuilds the shared ``X`` and ``y`` from the jobs' ``rows``, broadcasts them to every
worker once (joblib's ``scatter=``), and sends each window as its key, four row
indices, the model parameters and the seed; the worker slices out an identical
:class:`~backtest.engine.walkforward.WindowJob` and calls the same ``fit_window``. Jobs without
``rows`` (or whose arrays do not match the rebuilt ones) are shipped whole.

Each worker pins TensorFlow to one thread on first use
(:func:`models._network.configure_tensorflow`), so results are bit for bit those of
``--n-jobs 1`` and ``N`` workers use ``N`` cores. Workers of an external cluster must
have this package and TensorFlow installed (``pip install .[dask]`` on every node).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from backtest.engine.local import Backend, cap_by_memory
from backtest.engine.walkforward import WindowJob
from models.registry import ModelSpec

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WindowRef:
    """A window without its arrays: the rows of the shared sequences it uses."""

    key: str
    rows: tuple[int, int, int, int]
    model: ModelSpec
    seed: int


class _SlowExitFilter(logging.Filter):
    """Hide the nanny's "still alive, killing" warning when a local cluster closes.

    A process that has imported TensorFlow takes several seconds to tear down its
    interpreter; the nanny kills it after 4 s. By then every result has been received,
    so the kill loses nothing and the warning would only alarm.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Worker process still alive after")


def pool_sequences(jobs: list[WindowJob]) -> tuple[np.ndarray, np.ndarray] | None:
    """Rebuild the arrays ``X, y`` that every job was sliced from, or ``None``.

    Rows no job uses stay NaN. Returns ``None`` when a job has no ``rows`` or when the
    jobs disagree with each other (they were not cut from one array, e.g. the windows of
    several variants, whose samples have other shapes): then each job must be shipped whole.
    """
    if not jobs or any(job.rows is None for job in jobs):
        return None
    sample = lambda job: [(a.shape[1:], a.dtype) for a in (job.X_train, job.y_train, job.X_test)]  # noqa: E731
    if any(sample(job) != sample(jobs[0]) for job in jobs):
        return None
    n_rows = max(max(job.rows[1], job.rows[3]) for job in jobs)
    first = jobs[0]
    X = np.full((n_rows, *first.X_train.shape[1:]), np.nan, dtype=first.X_train.dtype)
    y = np.full((n_rows, *first.y_train.shape[1:]), np.nan, dtype=first.y_train.dtype)
    for job in jobs:
        a, b, c, d = job.rows
        X[a:b], y[a:b], X[c:d] = job.X_train, job.y_train, job.X_test
    for job in jobs:
        a, b, c, d = job.rows
        if not (
            np.array_equal(X[a:b], job.X_train, equal_nan=True)
            and np.array_equal(y[a:b], job.y_train, equal_nan=True)
            and np.array_equal(X[c:d], job.X_test, equal_nan=True)
        ):
            return None
    return X, y


def fit_ref(
    fn: Callable[[WindowJob], dict], X: np.ndarray, y: np.ndarray, ref: WindowRef
) -> tuple[str, dict]:
    """Rebuild the window ``ref`` from the scattered ``X, y`` and fit it (in a worker)."""
    a, b, c, d = ref.rows
    job = WindowJob(ref.key, X[a:b], y[a:b], X[c:d], ref.model, ref.seed, ref.rows)
    return ref.key, fn(job)


def fit_job(fn: Callable[[WindowJob], dict], job: WindowJob) -> tuple[str, dict]:
    """Fit a whole shipped job (in a worker)."""
    return job.key, fn(job)


class DaskRunner:
    """A window runner on a Dask cluster, with the contract of ``local_runner``.

    ``runner(fn, jobs)`` yields ``(job.key, fn(job))`` in completion order. Each call
    connects (``dask``) or starts a local cluster (``dask-local``) and closes it when
    the stream ends or is abandoned; inside ``with runner:`` one connection or cluster
    serves every call (several variants), and is closed on exit.

    Parameters
    ----------
    backend : Backend
        ``dask`` (existing scheduler) or ``dask-local`` (start a local cluster).
    scheduler : str or None
        Scheduler address of ``dask``, e.g. ``tcp://10.0.0.5:8786``.
    n_workers : int
        Worker processes of ``dask-local``.
    connect_timeout : float
        Seconds to wait for the scheduler before giving up.
    """

    def __init__(
        self,
        backend: Backend,
        scheduler: str | None,
        n_workers: int,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.backend = backend
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.connect_timeout = connect_timeout
        self._session: ExitStack | None = None
        self._client = None

    def connect(self, stack: ExitStack):
        """Open a client (and for ``dask-local`` its cluster) whose closing ``stack`` owns."""
        from dask.distributed import Client, LocalCluster

        if self.backend is Backend.DASK_LOCAL:
            nanny_log, quiet = logging.getLogger("distributed.nanny"), _SlowExitFilter()
            nanny_log.addFilter(quiet)
            stack.callback(nanny_log.removeFilter, quiet)
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    host=LOOPBACK,
                    dashboard_address=f"{LOOPBACK}:0",
                )
            )
            return stack.enter_context(Client(cluster, set_as_default=False))
        try:
            client = Client(self.scheduler, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, ValueError) as exc:
            raise OSError(
                f"cannot reach the Dask scheduler at --scheduler {self.scheduler!r} within "
                f"{self.connect_timeout:.0f} s ({type(exc).__name__}: {exc}); start one with "
                f"`dask scheduler` and `dask worker {self.scheduler}` on the cluster, fix the "
                "address, or use --backend dask-local --workers N to run on this machine"
            ) from None
        return stack.enter_context(client)

    def __enter__(self) -> DaskRunner:
        self._session = ExitStack()
        self._client = self.connect(self._session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (and the local cluster) held by ``with runner:``."""
        if self._session is not None:
            self._session.close()
        self._session, self._client = None, None

    def __call__(self, fn: Callable[[WindowJob], dict], jobs: list[WindowJob]) -> Iterator:
        """Fit ``jobs`` on the cluster, yielding ``(job.key, fn(job))`` as each finishes."""
        if not jobs:
            return
        with ExitStack() as stack:
            client = self._client or self.connect(stack)
            yield from self._stream(client, fn, jobs)

    @staticmethod
    def _stream(client, fn: Callable[[WindowJob], dict], jobs: list[WindowJob]) -> Iterator:
        from joblib import Parallel, delayed, parallel_config

        pooled = pool_sequences(jobs)
        scatter = list(pooled) if pooled is not None else []
        # The backend scatters at construction: build Parallel inside the config, then
        # leave it so the caller's code between yields does not run under it.
        with parallel_config(backend="dask", client=client, scatter=scatter):
            parallel = Parallel(n_jobs=-1, batch_size=1, return_as="generator_unordered")
        if pooled is None:
            tasks = (delayed(fit_job)(fn, job) for job in jobs)
        else:
            X, y = pooled
            tasks = (
                delayed(fit_ref)(fn, X, y, WindowRef(job.key, job.rows, job.model, job.seed))
                for job in jobs
            )
        yield from parallel(tasks)


def dask_runner(backend: str | Backend, scheduler: str | None, workers: int) -> DaskRunner:
    """The runner of ``--backend dask`` or ``--backend dask-local``, checked before any work.

    Parameters
    ----------
    backend : {"dask", "dask-local"}
        Connect to ``scheduler``, or start ``workers`` local worker processes.
    scheduler : str or None
        Address of a running scheduler, required by ``dask``, e.g. ``tcp://host:8786``.
    workers : int
        Worker processes of ``dask-local`` (capped by available memory, with a warning).

    Returns
    -------
    DaskRunner
        ``runner(fn, jobs) -> iterator of (job.key, fn(job))``.

    Raises
    ------
    ValueError
        Bad flags, or ``dask.distributed`` is not installed.
    OSError
        The scheduler cannot be reached (tried once here, so a run fails before any work).
    """
    backend = Backend(backend)
    if backend is Backend.LOKY:
        raise ValueError("dask_runner serves --backend dask or dask-local, got 'loky'")
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ValueError(
            f"--backend {backend.value} needs dask.distributed, which is not installed; "
            "install it with `pip install .[dask]`, or use --backend loky"
        ) from None
    match backend:
        case Backend.DASK:
            if not scheduler:
                raise ValueError(
                    "--backend dask needs --scheduler tcp://HOST:PORT, the address of a running "
                    "Dask scheduler; or use --backend dask-local --workers N to start a cluster "
                    "on this machine"
                )
            runner = DaskRunner(backend, scheduler, workers, connect_timeout=CONNECT_TIMEOUT_S)
            with runner:  # fail now, not after the data and features are ready
                pass
            return runner
        case _:
            if scheduler:
                raise ValueError(
                    f"--scheduler {scheduler!r} is for --backend dask; --backend dask-local "
                    "starts its own cluster (drop --scheduler, or use --backend dask)"
                )
            if not isinstance(workers, int) or workers < 1:
                raise ValueError(f"`--workers` must be a positive integer, got {workers!r}")
            return DaskRunner(backend, None, cap_by_memory(workers, "workers"))
