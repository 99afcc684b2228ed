"""``backtest report RUN_DIR``: a self-contained report.html of one run."""

from __future__ import annotations

from pathlib import Path

from backtest.reports.html.report import write_report


def report_command(run_dir: Path) -> None:
    """``backtest report RUN_DIR``: write the report and say where it is."""
    path = write_report(run_dir)
    print(f"report: {path}")
