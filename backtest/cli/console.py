"""The terminal of a command: one line per stage, a bar for the windows, the rest in run.log.

A run shows each stage as it happens (loading data, starting workers, fitting windows with
an ETA, allocating and writing results, writing the report), then the summary. Everything
else that libraries say (Python warnings, log records of yfinance, Dask, TensorFlow's Python
side) goes to ``run.log`` in the run directory; our own UserWarnings are also shown. TensorFlow's
C++ start-up lines are switched off through the environment before any worker imports it.

``--quiet`` shows only results and errors; ``--verbose`` also echoes the log to the terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

__all__ = ["NORMAL", "QUIET", "VERBOSE", "Console", "current", "quiet_tensorflow"]

QUIET, NORMAL, VERBOSE = 0, 1, 2
_OURS = tuple(str(Path(__file__).resolve().parents[2] / name) for name in ("backtest", "models",
              "strategies"))  # fmt: skip
_current: Console | None = None


def quiet_tensorflow(verbose: bool = False) -> None:
    """Set TensorFlow's environment before it is imported here or in any worker.

    ``TF_ENABLE_ONEDNN_OPTS=0`` is what stops the oneDNN notice and the absl line before it
    (``TF_CPP_MIN_LOG_LEVEL`` alone does not with TF 2.21); it is also set in verbose mode so
    that the numbers never depend on the verbosity. Workers inherit the environment.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def current() -> Console:
    """The console of the running command (a normal one outside :meth:`Console.capture`)."""
    return _current or Console(NORMAL)


class _Buffer(logging.Handler):
    def __init__(self, echo: Callable[[str], None] | None) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.echo = echo
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)


class Console:
    """Progress and messages on stderr at a verbosity level; library output kept for run.log.

    Parameters
    ----------
    level : int
        :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`.
    animate : bool, default True
        Spinners and bars when the stream is a terminal; else (and with ``--no-progress``)
        one line per finished stage.
    stream : text stream, optional
        Where progress goes (default ``sys.stderr`` at call time).
    """

    def __init__(self, level: int = NORMAL, animate: bool = True, stream: TextIO | None = None):
        self.level = level
        self.stream = stream or sys.stderr
        self.animate = animate and self.stream.isatty() and level >= NORMAL
        self.log = _Buffer(self.say if level >= VERBOSE else None)
        self._stage: tuple[str, float] | None = None
        self._stop: threading.Event | None = None
        self._spinner: threading.Thread | None = None

    # --- messages ---------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A line on stderr (normal and verbose)."""
        if self.level >= NORMAL:
            print(text, file=self.stream, flush=True)

    def event(self, text: str) -> None:
        """A line on stderr (normal and verbose) that clears a bar's line on a terminal first."""
        if self.level >= NORMAL:
            clear = "\r\033[K" if self.animate else ""
            print(f"{clear}{text}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """``note: ...`` on stderr (normal and verbose), always in run.log."""
        self.log.lines.append(f"note: {text}")
        self.say(f"note: {text}")

    def warn(self, text: str) -> None:
        """``warning: ...`` on stderr at every level (a warning is a result), and in run.log."""
        self.log.lines.append(f"warning: {text}")
        clear = "\r\033[K" if self.animate else ""
        print(f"{clear}warning: {text}", file=self.stream, flush=True)

    def _showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        # Our own UserWarnings (e.g. n_jobs lowered to fit the memory) are for the user;
        # numpy's floating-point RuntimeWarnings and every library's warnings go to run.log.
        text = f"{category.__name__}: {message} ({filename}:{lineno})"
        if str(filename).startswith(_OURS) and issubclass(category, UserWarning):
            self.warn(str(message))
        else:
            self.log.lines.append(f"WARNING py.warnings: {text}")
            if self.level >= VERBOSE:
                self.say(f"library warning: {text}")

    @contextmanager
    def capture(self) -> Iterator[Console]:
        """Route warnings and log records here (and to run.log) while a command runs."""
        global _current
        root = logging.getLogger()
        saved = (_current, warnings.showwarning, root.level)
        _current, warnings.showwarning = self, self._showwarning
        root.addHandler(self.log)
        root.setLevel(logging.INFO if self.level >= VERBOSE else logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.showwarning = self._showwarning
                warnings.simplefilter("default")
                yield self
        finally:
            self.finish()
            root.removeHandler(self.log)
            _current, warnings.showwarning, level = saved
            root.setLevel(level)

    def write_log(self, path: Path) -> Path:
        """Write every captured line so far to ``path`` (e.g. ``run.log``)."""
        path.write_text("\n".join(self.log.lines) + ("\n" if self.log.lines else ""))
        return path

    # --- stages -----------------------------------------------------------------------

    def stage(self, text: str) -> None:
        """Start a stage (finishing the open one): a spinner with elapsed seconds on a tty."""
        self.finish()
        self._stage = (text, time.perf_counter())
        if self.animate:
            self._stop = threading.Event()
            self._spinner = threading.Thread(target=self._spin, args=(self._stop,), daemon=True)
            self._spinner.start()

    def _spin(self, stop: threading.Event) -> None:
        frames = "|/-\\"
        i = 0
        while not stop.wait(0.2) and self._stage is not None:
            text, started = self._stage
            elapsed = time.perf_counter() - started
            self.stream.write(f"\r{frames[i % 4]} {text} {elapsed:4.0f} s")
            self.stream.flush()
            i += 1

    def finish(self, failed: bool = False) -> None:
        """End the open stage with its time (``- loading data: 3.1 s``); silently if failed."""
        if self._stage is None:
            return
        if self._stop is not None:
            self._stop.set()
            self._spinner.join()
            self._stop = self._spinner = None
        text, started = self._stage
        self._stage = None
        if failed and self.animate:
            self.stream.write("\r\033[K")
        elif self.level >= NORMAL and not failed:
            clear = "\r\033[K" if self.animate else ""
            line = f"{clear}- {text}: {time.perf_counter() - started:.1f} s"
            print(line, file=self.stream, flush=True)

    def windows(self, desc: str, after: str | None = "allocating, writing results and charts"):
        """A progress callback for the window stream of a walk-forward.

        Shows "starting workers" until the first window arrives, then a bar whose rate and
        ETA count fitting only; when the stream ends, starts the stage ``after`` (if any).
        """

        def wrap(stream: Iterable, total: int) -> Iterator:
            if total == 0:
                self.say(f"- {desc}: every window read from the cache")
                if after:
                    self.stage(after)
                yield from stream
                return
            self.stage(f"starting workers for {total} window(s)")
            items = iter(stream)
            first = next(items, None)
            self.finish()
            fitting = time.perf_counter()
            bar = self._bar(desc, total)
            try:
                if first is not None:
                    bar.update(1)
                    yield first
                for item in items:
                    bar.update(1)
                    yield item
            finally:
                bar.close()
            if self.level >= NORMAL and not self.animate:
                seconds = time.perf_counter() - fitting
                print(f"- {desc}: {total} in {seconds:.1f} s", file=self.stream, flush=True)
            if after:
                self.stage(after)

        return wrap

    def _bar(self, desc: str, total: int):
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=desc,
            unit="window",
            disable=not self.animate,
            file=self.stream,
            dynamic_ncols=True,
        )
