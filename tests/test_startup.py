"""Start-up hygiene: what the main process imports (each check in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

QUICK = [
    "run",
    "--variant",
    "relatives",
    "--source",
    "demo",
    "--epochs",
    "2",
    "--min-train",
    "82",
    "--units",
    "4",
    "2",
    "--n-jobs",
    "1",
    "--no-progress",
    "--strategies",
    "hist_mean",
    "forecast",
]

REPORT_HEAVY = (
    "import sys\n"
    "from backtest.cli import main\n"
    "try:\n"
    "    code = main({argv!r})\n"
    "except SystemExit as stop:\n"
    "    code = stop.code\n"
    "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy))\n"
    "sys.exit(code)\n"
)


def _run_reporting_imports(argv):
    done = subprocess.run(
        [sys.executable, "-c", REPORT_HEAVY.format(argv=argv)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_fully_cached_run_does_not_import_tensorflow(tmp_path):
    argv = [*QUICK, "--cache-dir", str(tmp_path / "cache"), "--results-dir", str(tmp_path / "r")]
    assert _run_reporting_imports(argv) == "HEAVY=keras,tensorflow"  # the cold run fits
    assert _run_reporting_imports(argv) == "HEAVY="  # every window cached: no TensorFlow


def test_help_imports_neither_tensorflow_nor_keras():
    done = subprocess.run(
        [sys.executable, "-c", REPORT_HEAVY.format(argv=["--help"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="
