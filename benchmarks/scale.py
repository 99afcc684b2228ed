"""How run time and memory grow with tickers, months, seeds and workers.

Each configuration runs in a fresh Python process with a fresh window cache, so that
memory, caches and TensorFlow state never carry over:

``table``
    The whole pipeline (``backtest run``: data, walk-forward, strategies, reports,
    charts) on seeded GBM month-end prices of ``n`` synthetic tickers over ``m``
    months, with a tiny model (``--units 8 4 --epochs 5 --min-train 60``, variant
    ``base`` so that the inputs grow with the tickers), fitted by each layout: one
    local process (``--n-jobs 1``), two local loky workers (``--n-jobs 2``) and a
    2-worker local Dask cluster (``--backend dask-local --workers 2``). One markdown
    table: wall time split into start-up (to the first LSTM window stored), fitting (from
    there to the last window stored) and after (strategies, inference, reports, charts), CPU
    time of the process tree, windows per minute, the ratio to the linear expectation,
    and the peak RSS of the main process and of each fitting worker.
``workers``
    The first ``--windows`` walk-forward windows of the default model on the real
    data (``relatives``), fitted by 1 and 2 local (loky) workers and by a 2-worker
    local Dask cluster. Windows per minute with and without start-up, and the peak
    RSS of the main process and of each worker.

The linear expectation: if a run's cost were ``windows x seeds / fitting processes``
times a constant, its windows per minute would be the smallest configuration's
(the first row) times ``processes / seeds`` relative to it; "vs linear" is the measured
rate over that (1.00 = linear, below 1 = slower than linear).

Peak RSS of the main process is its ``ru_maxrss``; of each worker, the largest RSS seen
by sampling every process of the tree with psutil every 0.2 s. Chart workers (forked
from the main process, sharing its pages) are not counted as workers.

Usage::

    python benchmarks/scale.py table                 # 10/50 tickers x 120/240 months x 3
    python benchmarks/scale.py table --quick         # 10 tickers x 84 months: a smoke test
    python benchmarks/scale.py workers --windows 16
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_PRICES = REPO.parent / "shared" / "data" / "prices_monthly.csv"
# min_train 60: Bayes-Stein needs more training months than assets + 2 (50 tickers).
TINY = ["--units", "8", "4", "--epochs", "5", "--min-train", "60"]


def gbm_prices(n_tickers: int, n_months: int, seed: int = 0) -> pd.DataFrame:
    """Seeded geometric-Brownian month-end prices: ``T00..`` plus a market ``SPY``."""
    rng = np.random.default_rng(seed)
    names = [f"T{i:02d}" for i in range(n_tickers)] + ["SPY"]
    drift = rng.uniform(0.0, 0.015, len(names))
    vol = rng.uniform(0.04, 0.12, len(names))
    log_steps = drift - vol**2 / 2 + vol * rng.standard_normal((n_months, len(names)))
    index = pd.date_range("2000-01-31", periods=n_months, freq="ME", name="date")
    return pd.DataFrame(100 * np.exp(np.cumsum(log_steps, axis=0)), index=index, columns=names)


# What starts a fitting worker: loky's worker entry point, or multiprocessing's spawn
# (Dask's nannies spawn their workers). Forked chart workers have the main command line.
WORKER_MARKS = ("popen_loky", "spawn_main")


class TreeMemory:
    """Peak RSS of this process and of each descendant, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process()
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.commands: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                if proc.pid not in self.commands:
                    self.commands[proc.pid] = " ".join(proc.cmdline())
                rss = proc.memory_info().rss
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> TreeMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        """Sampled peaks in GB: the main process, each fitting worker, the other children."""
        workers, others = [], []
        for pid, peak in self.peaks.items():
            if pid == self.root.pid:
                continue
            is_worker = any(mark in self.commands.get(pid, "") for mark in WORKER_MARKS)
            (workers if is_worker else others).append(peak / 1e9)
        return {
            "main_gb": self.peaks.get(self.root.pid, 0) / 1e9,
            "workers_gb": sorted(workers, reverse=True),
            "other_children_gb": sorted(others, reverse=True),
            "commands": {str(pid): self.commands.get(pid, "")[:120] for pid in self.peaks},
        }


def rusage(loky: bool) -> dict[str, float]:
    """``ru_maxrss`` (GB; Linux reports KiB) and CPU seconds of this process and its children.

    Loky keeps its workers for reuse; with ``loky`` they are shut down first so that they
    are reaped and counted among the children (a Dask cluster reaps its own at close).
    """
    if loky:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "self_maxrss_gb": me.ru_maxrss * 1024 / 1e9,
        "children_maxrss_gb": children.ru_maxrss * 1024 / 1e9,
        "cpu_s": me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime,
    }


# --- one measurement, run inside a fresh process ---------------------------------------------

# Fitting layouts of ``table``: the run's flags and its number of fitting processes.
LAYOUTS = {
    "n-jobs-1": (["--n-jobs", "1"], 1),
    "n-jobs-2": (["--n-jobs", "2"], 2),
    "dask-local-2": (["--backend", "dask-local", "--workers", "2"], 2),
}


def run_argv(prices: pd.DataFrame, root: Path, layout: str, n_seeds: int) -> list[str]:
    """``backtest run`` arguments for ``prices`` (written under ``root``) and a layout."""
    prices.to_csv(root / "prices.csv", date_format="%Y-%m-%d")
    tickers = [c for c in prices.columns if c != "SPY"]
    return [
        "run",
        "--variant",
        "base",
        "--prices",
        str(root / "prices.csv"),
        "--tickers",
        *tickers,
        "--relatives",
        "SPY",
        "--start",
        f"{prices.index[0]:%Y-%m-01}",
        "--end",
        f"{prices.index[-1]:%Y-%m-01}",
        *TINY,
        "--seeds",
        str(n_seeds),
        *LAYOUTS[layout][0],
        "--no-progress",
        "--results-dir",
        str(root / "results"),
        "--cache-dir",
        str(root / "cache"),
        "--run-name",
        "scale",
    ]


def arrivals(cache: Path, started: float) -> tuple[float, float]:
    """Seconds from ``started`` (epoch) to the first LSTM window and to the last window stored.

    The engine stores each window as it arrives (an atomic write), so the files'
    modification times are the arrival times, without touching the pipeline. The first
    LSTM window carries its process's TensorFlow import and first trace; a ridge window
    fitted beside it would arrive before either.
    """
    times, lstm = [], []
    for path in (cache / "windows").rglob("*.npz"):
        times.append(path.stat().st_mtime)
        with np.load(path) as record:
            if "name='lstm'" in str(record["__identity__"]):
                lstm.append(times[-1])
    return min(lstm or times) - started, max(times) - started


def one_pipeline(n_tickers: int, n_months: int, layout: str, n_seeds: int) -> dict:
    """``backtest run`` on synthetic prices with a fresh cache, in this process."""
    from backtest.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = run_argv(gbm_prices(n_tickers, n_months), root, layout, n_seeds)
        epoch, started = time.time(), time.perf_counter()
        with TreeMemory() as memory, contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        wall = time.perf_counter() - started
        if code != 0:
            raise RuntimeError(f"backtest run failed with exit code {code}")
        config = json.loads((root / "results" / "scale" / "config.json").read_text())
        first, last = arrivals(root / "cache", epoch)
    windows = config["data"]["windows"]["computed"]
    return {
        "tickers": n_tickers,
        "months": n_months,
        "layout": layout,
        "processes": LAYOUTS[layout][1],
        "seeds": n_seeds,
        "windows": windows,
        "wall_s": wall,
        "startup_s": first,
        "fitting_s": last - first,
        "after_s": wall - last,
        "windows_per_min": 60 * windows / wall,
        **memory.summary(),
        **rusage(loky=layout == "n-jobs-2"),
    }


def one_workers(layout: str, n_windows: int) -> dict:
    """The first ``n_windows`` default-model windows on the real data, in this process."""
    from backtest.config import RunConfig
    from backtest.data.prices import load_prices
    from backtest.engine.store import WindowStore
    from backtest.engine.walkforward import plan_jobs, prepare, run_jobs

    config = RunConfig()
    tickers = list(dict.fromkeys([*config.data.targets, *config.data.relatives]))
    with tempfile.TemporaryDirectory() as tmp:
        data = load_prices(
            tickers,
            config.data.start,
            config.data.end,
            prices_path=SHARED_PRICES,
            cache_dir=Path(tmp),
        )
        seq, _ = prepare(config, data.prices)
        jobs = plan_jobs(config, seq)[:n_windows]
        arrivals: list[float] = []

        def timed(stream, total):
            for item in stream:
                arrivals.append(time.perf_counter())
                yield item

        started = time.perf_counter()
        with TreeMemory() as memory:
            match layout:
                case "loky-1" | "loky-2":
                    from backtest.engine.local import local_runner

                    runner = local_runner(int(layout[-1]))
                    run_jobs(jobs, WindowStore(Path(tmp) / "w"), runner, timed)
                case "dask-local-2":
                    from backtest.engine.cluster import dask_runner

                    with dask_runner("dask-local", None, 2) as runner:
                        started_fits = time.perf_counter()
                        run_jobs(jobs, WindowStore(Path(tmp) / "w"), runner, timed)
        wall = time.perf_counter() - started
    n = len(arrivals)
    # Steady rate: windows after the first (which pays TF import and tracing) per minute.
    steady = 60 * (n - 1) / (arrivals[-1] - arrivals[0]) if n > 1 else float("nan")
    out = {
        "layout": layout,
        "windows": n,
        "wall_s": wall,
        "windows_per_min": 60 * n / wall,
        "steady_windows_per_min": steady,
        **memory.summary(),
        **rusage(loky=layout.startswith("loky")),
    }
    if layout.startswith("dask"):
        out["cluster_start_s"] = started_fits - started
    return out


# --- the driver ------------------------------------------------------------------------------


def in_fresh_process(*args: str) -> dict:
    """Run ``scale.py _one ...`` in a new interpreter and return its JSON line."""
    done = subprocess.run(
        [sys.executable, __file__, "_one", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_line() -> str:
    """The 1-minute load average against the core count, for the record."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def gb(values: list[float]) -> str:
    """Peaks in GB, largest first; none means the fits ran in the main process."""
    return ", ".join(f"{v:.2f}" for v in values) or "(in main)"


TABLE_HEAD = (
    "| tickers | months | layout | seeds | windows | wall s | start-up s | fitting s | after s "
    "| CPU s | windows/min | vs linear | peak RSS main GB | peak RSS per worker GB |\n"
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(r: dict, base: dict) -> str:
    """One row; "vs linear" against ``base`` scaled by processes / seeds."""
    expected = base["windows_per_min"] * (r["processes"] / base["processes"])
    expected *= base["seeds"] / r["seeds"]
    return (
        f"| {r['tickers']} | {r['months']} | `{' '.join(LAYOUTS[r['layout']][0])}` | "
        f"{r['seeds']} | {r['windows']} | "
        f"{r['wall_s']:.1f} | {r['startup_s']:.1f} | {r['fitting_s']:.1f} | "
        f"{r['after_s']:.1f} | {r['cpu_s']:.0f} | {r['windows_per_min']:.0f} | "
        f"{r['windows_per_min'] / expected:.2f} | {r['self_maxrss_gb']:.2f} | "
        f"{gb(r['workers_gb'])} |"
    )


def table(tickers: list[int], months: list[int], layouts: list[str], seeds: list[int]) -> None:
    """Every configuration in a fresh process, smallest first; one row as each finishes.

    The layouts of one configuration run one after the other, so that a change of load
    during the table hits all three alike.
    """
    started = time.perf_counter()
    print(
        f"Whole pipeline on synthetic GBM prices, tiny model (`{' '.join(TINY)}`, variant "
        f"`base`), a fresh process and cache per row; {load_line()} at start.\n"
    )
    print(TABLE_HEAD, flush=True)
    base, failed = None, []
    for n_seeds in sorted(seeds):
        for m in sorted(months):
            for n in sorted(tickers):
                for layout in layouts:
                    try:
                        r = in_fresh_process("pipeline", str(n), str(m), layout, str(n_seeds))
                    except RuntimeError as exc:  # the rest of the table is still worth having
                        failed.append(f"{n} x {m} {layout} seeds {n_seeds}: {exc}")
                        print(f"| {n} | {m} | {layout} | {n_seeds} | failed (below) |", flush=True)
                        continue
                    base = base or r
                    print(table_row(r, base), flush=True)
    minutes = (time.perf_counter() - started) / 60
    print(
        f"\nwindows: computed by the run (every model); start-up: to the first LSTM window "
        f"stored (imports, data, cluster, TensorFlow import and first trace); fitting: from there "
        f"to the last window stored; after: "
        f"strategies, inference, reports, charts. CPU s: user + system of the process tree. "
        f"vs linear: windows/min over the first row's times processes / seeds. Peak RSS: "
        f"the main process's ru_maxrss; each fitting worker's, sampled every 0.2 s. "
        f"{load_line()} at end; the table took {minutes:.1f} min."
    )
    for failure in failed:
        print(f"\nfailed: {failure}")
    if failed:
        raise SystemExit(1)


def workers(n_windows: int) -> None:
    print(f"## Default model, real data, first {n_windows} windows ({load_line()} at start)\n")
    print(
        "| layout | wall s | windows/min (incl. start-up) | steady windows/min "
        "| peak RSS main GB | peak RSS per worker GB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for layout in ("loky-1", "loky-2", "dask-local-2"):
        r = in_fresh_process("workers", layout, str(n_windows))
        extra = f" (cluster start {r['cluster_start_s']:.1f} s)" if "cluster_start_s" in r else ""
        print(
            f"| {layout}{extra} | {r['wall_s']:.1f} | {r['windows_per_min']:.1f} | "
            f"{r['steady_windows_per_min']:.1f} | {r['main_gb']:.2f} | {gb(r['workers_gb'])} |",
            flush=True,
        )
    print(f"\n({load_line()} at end)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("table", help="the whole pipeline: tickers x months x layouts")
    t.add_argument("--tickers", type=int, nargs="+", default=[10, 50])
    t.add_argument("--months", type=int, nargs="+", default=[120, 240])
    t.add_argument("--layouts", nargs="+", choices=list(LAYOUTS), default=list(LAYOUTS))
    t.add_argument("--seeds", type=int, nargs="+", default=[1])
    t.add_argument("--quick", action="store_true", help="10 tickers x 84 months only")
    w = sub.add_parser("workers", help="the default model on the real data: 1/2 loky vs Dask")
    w.add_argument("--windows", type=int, default=16)
    one = sub.add_parser("_one")
    one.add_argument("kind", choices=["pipeline", "workers"])
    one.add_argument("params", nargs="+")
    args = parser.parse_args(argv)
    match args.what:
        case "table" if args.quick:
            table([10], [84], args.layouts, args.seeds)
        case "table":
            table(args.tickers, args.months, args.layouts, args.seeds)
        case "workers":
            workers(args.windows)
        case "_one" if args.kind == "pipeline":
            n, m, layout, n_seeds = args.params
            print(json.dumps(one_pipeline(int(n), int(m), layout, int(n_seeds))))
        case "_one":
            print(json.dumps(one_workers(args.params[0], int(args.params[1]))))


if __name__ == "__main__":
    main()
