"""Mutation-test one core module with mutmut, using only the tests that exercise it.

mutmut reads its settings from ``pyproject.toml`` in the directory it runs in and
writes its mutated copy of the tree to ``mutants/`` there. This script builds a
scratch copy of the repository per module (outside the worktree), writes that
module's ``[tool.mutmut]`` section into the copy's ``pyproject.toml`` (the module as
``only_mutate``, its test files as the test selection, fast tests only), runs
``mutmut run`` at low priority with one child process (its progress goes to
``mutmut.log`` in the scratch copy), and prints the count of killed / survived /
other mutants. A 2-core machine runs one module in a few minutes.

Usage::

    python scripts/mutation.py --list
    python scripts/mutation.py backtest/features.py [--children 1] [--work-dir DIR]
    python scripts/mutation.py backtest/features.py --survivors   # diffs of survivors
    python scripts/mutation.py backtest/features.py --rerun-survivors  # after adding tests

``--rerun-survivors`` refreshes the scratch copy's tests from the worktree and runs mutmut
on the last run's survivors (and mutants no test reached) only: adding tests cannot revive
a killed mutant, so this gives the score of a full run in a fraction of its time (run in
full after changing the module or its existing tests).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backtest", "models", "strategies")

# Each core module and the fast test files that exercise it (tests/test_gaps_*.py are
# the tests mutation testing asked for; they are listed with the module they guard).
TARGETS: dict[str, tuple[str, ...]] = {
    "backtest/features.py": ("tests/test_features.py", "tests/test_gaps_features.py"),
    "backtest/splits.py": ("tests/test_splits.py", "tests/test_gaps_features.py"),
    "models/base.py": ("tests/test_gaps_baseline.py",),
    "backtest/portfolio/pnl.py": ("tests/test_portfolio.py", "tests/test_gaps_portfolio.py"),
    "backtest/evaluation/forecasts.py": ("tests/test_metrics.py", "tests/test_gaps_metrics.py"),
    "backtest/evaluation/performance.py": (
        "tests/test_performance.py",
        "tests/test_gaps_performance.py",
    ),
    "backtest/evaluation/overfitting.py": (
        "tests/test_overfitting.py",
        "tests/test_gaps_overfitting.py",
        "tests/test_inference.py",  # choose_n_blocks, pbo_interval
    ),
    "backtest/engine/store.py": ("tests/test_engine.py", "tests/test_gaps_store.py"),
    "backtest/engine/walkforward.py": (
        "tests/test_engine.py",
        "tests/test_gaps_engine.py",
        "tests/test_baseline_window.py",  # history_window, baseline
    ),
    "strategies/shrinkage.py": ("tests/test_shrinkage.py", "tests/test_gaps_strategies.py"),
    "strategies/bayesian.py": ("tests/test_shrinkage.py", "tests/test_gaps_strategies.py"),
    "strategies/allocation.py": ("tests/test_allocation.py", "tests/test_gaps_allocation.py"),
    "strategies/inputs.py": ("tests/test_shrinkage.py", "tests/test_gaps_strategies.py"),
}

_STATUS = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def _scratch(module: str, tests: tuple[str, ...], work: Path) -> None:
    """Copy the tree into ``work`` and write the module's mutmut section there."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, work / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    present = [t for t in tests if (ROOT / t).is_file()]
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    lines = ["", "[tool.mutmut]"]
    for key, value in {
        **settings,
        "only_mutate": [module],
        "pytest_add_cli_args_test_selection": present,
    }.items():
        lines.append(f"{key} = {_toml(value)}")
    (work / "pyproject.toml").write_text(text.rstrip() + "\n" + "\n".join(lines) + "\n")


def _changed_sources(work: Path) -> list[str]:
    """Source files that differ between the worktree and the scratch copy."""
    changed = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            copy = work / relative
            if not copy.is_file() or not filecmp.cmp(path, copy, shallow=False):
                changed.append(str(relative))
    return changed


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _results(work: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        match = _STATUS.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def main(argv: list[str] | None = None) -> int:
    """Run mutmut on one module (or list the modules) and print its score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="?", help="a path from --list")
    parser.add_argument("--list", action="store_true", help="print the core modules")
    parser.add_argument("--children", type=int, default=1, help="mutmut worker processes")
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default /tmp)")
    parser.add_argument("--survivors", action="store_true", help="print surviving diffs")
    parser.add_argument("--reuse", action="store_true", help="reuse the last scratch copy")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="refresh the scratch copy's tests and re-test the last run's survivors only",
    )
    args = parser.parse_args(argv)
    if args.list or not args.module:
        for module, tests in TARGETS.items():
            print(f"{module}: {' '.join(tests)}")
        return 0
    if args.module not in TARGETS:
        parser.error(f"unknown module {args.module!r}; see --list")
    name = args.module.removesuffix(".py").replace("/", ".")
    work = args.work_dir or Path("/tmp") / f"mutation-{name}"
    rerun: list[str] = []
    if args.rerun_survivors:
        changed = _changed_sources(work)
        if changed:
            parser.error(
                f"the source changed since the last run of {args.module} ({changed[0]}, "
                f"{len(changed)} file(s)); run it in full, without --rerun-survivors"
            )
        rerun = [m for m, s in _results(work).items() if s in ("survived", "no tests")]
        shutil.rmtree(work / "tests")
        shutil.copytree(
            ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__")
        )
    elif not args.reuse:
        _scratch(args.module, TARGETS[args.module], work)
    command = ["nice", "-n", "15", sys.executable, "-m", "mutmut", "run"]
    command += ["--max-children", str(args.children), *rerun]
    with open(work / "mutmut.log", "w") as log:  # mutmut's progress spinner
        subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT, check=False)
    statuses = _results(work)
    counts = Counter(statuses.values())
    print(f"{args.module}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    survivors = [m for m, s in statuses.items() if s == "survived"]
    for mutant in survivors:
        if args.survivors:
            shown = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", mutant],
                cwd=work,
                capture_output=True,
                text=True,
                check=False,
            )
            print(shown.stdout)
        else:
            print(f"  survived: {mutant}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
