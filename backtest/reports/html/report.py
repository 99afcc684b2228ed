"""``python -m backtest report RUN_DIR``: one self-contained ``report.html`` per run.

The report is built only from the files a run wrote (``config.json``, ``summary.md``, the
CSVs and the PNG charts), plus, when present in the run directory or its parent, the
cross-configuration comparison (``comparison.md``, ``comparison.csv``, ``pbo_logits.png``).
Charts are embedded as base64 data URIs and the CSS is inline: the file needs no network and
can be e-mailed as it is.
"""

from __future__ import annotations

from pathlib import Path

from backtest.atomic import atomic_write_text
from backtest.reports.html.sections import render_body
from backtest.reports.html.template import page
from backtest.reports.run_dir import RunResult, load_run

REPORT_NAME = "report.html"


def render_report(run: RunResult) -> str:
    """The whole HTML document of ``run`` (see :mod:`backtest.reports.html.sections`)."""
    return page(run.title, render_body(run))


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path.

    Parameters
    ----------
    run_dir : str or Path
        A directory written by ``python -m backtest run`` (``results/<run-name>/``).

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    ValueError
        When ``run_dir`` is not a finished run (names the missing files and what to run).
    """
    run = load_run(run_dir)
    path = run.run_dir / REPORT_NAME
    atomic_write_text(path, render_report(run))
    return path
