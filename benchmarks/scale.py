"""How run time and memory grow with tickers, months and workers.

Two measurements, each configuration in a fresh Python process so that memory and
TensorFlow state never carry over:

``grid``
    The whole pipeline (``backtest run``: data, walk-forward, strategies, reports,
    charts) on seeded GBM month-end prices of ``n`` synthetic tickers over ``m``
    months, with a tiny model (``--units 8 4 --epochs 5 --min-train 60``, variant ``base`` so the
    inputs grow with the tickers). Wall time, windows per minute, peak RSS.
``workers``
    The first ``--windows`` walk-forward windows of the default model on the real
    data (``relatives``), fitted by 1 and 2 local (loky) workers and by a 2-worker
    local Dask cluster. Windows per minute with and without start-up, and the peak
    RSS of the main process and of each worker.

Peak RSS comes from ``resource.getrusage`` (``ru_maxrss``, self and reaped children)
and from sampling every process of the tree with psutil every 0.2 s (per worker).

Usage::

    python benchmarks/scale.py grid --tickers 10 25 50 --months 120 240
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


class TreeMemory:
    """Peak RSS of this process and of each descendant, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process()
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
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

    def summary(self) -> dict[str, float]:
        """Main process peak and the peaks of workers (children above 300 MB) in GB."""
        main = self.peaks.get(self.root.pid, 0)
        workers = sorted(
            (v for k, v in self.peaks.items() if k != self.root.pid and v > 300e6), reverse=True
        )
        return {"main_gb": main / 1e9, "workers_gb": [w / 1e9 for w in workers]}


def rusage_gb() -> dict[str, float]:
    """``ru_maxrss`` of this process and of its reaped children, in GB (Linux: KiB).

    Loky keeps its workers for reuse; they are shut down first so that they are reaped
    and counted among the children.
    """
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    return {
        "self_maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "children_maxrss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9,
    }


# --- one measurement, run inside a fresh process ---------------------------------------------


def one_pipeline(n_tickers: int, n_months: int, n_jobs: int) -> dict:
    """``backtest run`` on synthetic prices, in this process."""
    from backtest.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prices = gbm_prices(n_tickers, n_months)
        prices.to_csv(root / "prices.csv", date_format="%Y-%m-%d")
        tickers = [c for c in prices.columns if c != "SPY"]
        argv = [
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
            "--n-jobs",
            str(n_jobs),
            "--no-progress",
            "--results-dir",
            str(root / "results"),
            "--cache-dir",
            str(root / "cache"),
            "--run-name",
            "scale",
        ]
        started = time.perf_counter()
        with TreeMemory() as memory, contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        wall = time.perf_counter() - started
        if code != 0:
            raise RuntimeError(f"backtest run failed with exit code {code}")
        config = json.loads((root / "results" / "scale" / "config.json").read_text())
    windows = config["data"]["windows"]["computed"]
    return {
        "tickers": n_tickers,
        "months": n_months,
        "n_jobs": n_jobs,
        "windows": windows,
        "wall_s": wall,
        "windows_per_min": 60 * windows / wall,
        **memory.summary(),
        **rusage_gb(),
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
        **rusage_gb(),
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


def grid(tickers: list[int], months: list[int], n_jobs: int) -> None:
    print(f"## Pipeline scale (tiny model, {n_jobs} worker(s); {load_line()} at start)\n")
    print(
        "| tickers | months | windows | wall s | windows/min | peak RSS main GB "
        "| peak RSS per worker GB | ru_maxrss self / children GB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in months:
        for n in tickers:
            r = in_fresh_process("pipeline", str(n), str(m), str(n_jobs))
            per_worker = ", ".join(f"{w:.2f}" for w in r["workers_gb"]) or "(in main)"
            print(
                f"| {n} | {m} | {r['windows']} | {r['wall_s']:.1f} | "
                f"{r['windows_per_min']:.0f} | {r['main_gb']:.2f} | {per_worker} | "
                f"{r['self_maxrss_gb']:.2f} / {r['children_maxrss_gb']:.2f} |",
                flush=True,
            )
    print(f"\n({load_line()} at end)")


def workers(n_windows: int) -> None:
    print(f"## Default model, real data, first {n_windows} windows ({load_line()} at start)\n")
    print(
        "| layout | wall s | windows/min (incl. start-up) | steady windows/min "
        "| peak RSS main GB | peak RSS per worker GB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for layout in ("loky-1", "loky-2", "dask-local-2"):
        r = in_fresh_process("workers", layout, str(n_windows))
        per_worker = ", ".join(f"{w:.2f}" for w in r["workers_gb"]) or "(in main)"
        extra = f" (cluster start {r['cluster_start_s']:.1f} s)" if "cluster_start_s" in r else ""
        print(
            f"| {layout}{extra} | {r['wall_s']:.1f} | {r['windows_per_min']:.1f} | "
            f"{r['steady_windows_per_min']:.1f} | {r['main_gb']:.2f} | {per_worker} |",
            flush=True,
        )
    print(f"\n({load_line()} at end)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    g = sub.add_parser("grid")
    g.add_argument("--tickers", type=int, nargs="+", default=[10, 25, 50])
    g.add_argument("--months", type=int, nargs="+", default=[120, 240])
    g.add_argument("--n-jobs", type=int, default=2)
    w = sub.add_parser("workers")
    w.add_argument("--windows", type=int, default=16)
    one = sub.add_parser("_one")
    one.add_argument("kind", choices=["pipeline", "workers"])
    one.add_argument("params", nargs="+")
    args = parser.parse_args(argv)
    match args.what:
        case "grid":
            grid(args.tickers, args.months, args.n_jobs)
        case "workers":
            workers(args.windows)
        case "_one" if args.kind == "pipeline":
            print(json.dumps(one_pipeline(*map(int, args.params))))
        case "_one":
            print(json.dumps(one_workers(args.params[0], int(args.params[1]))))


if __name__ == "__main__":
    main()
