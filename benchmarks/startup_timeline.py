"""Where a cold run's seconds go: a timeline of every fitting process, from the run's start.

Runs ``python -m backtest run ARGS...`` in this process with the window fit wrapped so that
every process that fits (this one, each loky worker) records when it started, when its
TensorFlow import and its first LSTM fit (the network's build and the compiled fit's trace)
were done, and when each window was done; the stages come from the run's own console. Prints
one block per process::

    python benchmarks/startup_timeline.py --variant relatives --prices PRICES.csv \
        --results-dir /tmp/timeline --overwrite [--free 2]

``--free N`` makes the runner and the chart pool decide as if N cores were free (on a loaded
machine, to see what an idle one would do).

Use an empty ``BACKTEST_CACHE_DIR`` for a cold run. The import and the first fit are timed
apart only where the first LSTM window of a process arrives (the import is otherwise lazy).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

_T0 = "BENCH_TIMELINE_T0"
_LOG = "BENCH_TIMELINE_LOG"


def _record(event: str, **extra) -> None:
    entry = {"pid": os.getpid(), "t": time.time() - float(os.environ[_T0]), "event": event}
    with open(os.environ[_LOG], "a") as f:
        f.write(json.dumps({**entry, **extra}) + "\n")


_SEEN = "BENCH_TIMELINE_SEEN"


def _process_start() -> float:
    """When this process started (epoch seconds, from /proc: to within a second, the boot time
    being whole seconds; the same offset for every process)."""
    ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def timed_fit_window(job):
    """The engine's window fit, with this process's start-up and each window timed."""
    from backtest.engine import walkforward

    # This process's engine is patched (the main process) or not (a worker).
    fit_window = getattr(walkforward, "unwrapped_fit_window", walkforward.fit_window)
    # Kept in this process's environment: a worker unpickles this function anew for each job.
    seen = set(filter(None, os.environ.get(_SEEN, "").split(",")))
    if not seen:
        _record("process started", at=_process_start() - float(os.environ[_T0]))
        _record("first job received")
    name = job.model.name
    os.environ[_SEEN] = ",".join(seen | {name})
    if name == "lstm" and name not in seen:
        from models._network import configure_tensorflow

        configure_tensorflow()
        _record("tensorflow imported")
        output = fit_window(job)
        _record("first lstm fit done (build + trace)", model=name)
        return output
    output = fit_window(job)
    _record("window done", model=name)
    return output


def main() -> None:
    """Run the CLI with the wrapped window fit and print the timeline."""
    os.environ[_T0] = repr(time.time())
    log = Path(tempfile.mkstemp(prefix="timeline-", suffix=".jsonl")[1])
    os.environ[_LOG] = str(log)
    from backtest.cli import main as cli_main
    from backtest.engine import local, walkforward
    from backtest.reports.charts import render

    _record("imports of the CLI done")
    walkforward.unwrapped_fit_window = walkforward.fit_window
    walkforward.fit_window = timed_fit_window
    argv = sys.argv[1:]
    if "--free" in argv:  # decide as if that many cores were free (runner and charts)
        at = argv.index("--free")
        free = int(argv[at + 1])
        del argv[at : at + 2]
        local.free_cores = render.free_cores = lambda: free
    status = cli_main(["run", *argv])
    _record("run done")
    by_pid: dict[int, list[dict]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        by_pid.setdefault(entry["pid"], []).append(entry)
    for pid, entries in by_pid.items():
        role = "main" if pid == os.getpid() else "worker"
        print(f"\n{role} process {pid}:", file=sys.stderr)
        windows = {"lstm": 0, "ridge": 0}
        for e in entries:
            if e["event"] == "window done":
                windows[e["model"]] = windows.get(e["model"], 0) + 1
                if windows[e["model"]] not in (1, 2, 5, 10, 20, 30, 40, 50, 58):
                    continue
                label = f"{e['model']} window #{windows[e['model']]} done"
            elif e["event"].startswith("first lstm fit"):
                windows["lstm"] += 1
                label = e["event"]
            elif e["event"] == "process started":
                label, e = "process started", {**e, "t": e["at"]}
            else:
                label = e["event"]
            print(f"  {e['t']:6.1f} s  {label}", file=sys.stderr)
        print(f"  windows fitted here: {windows}", file=sys.stderr)
    log.unlink()
    sys.exit(status)


if __name__ == "__main__":
    main()
