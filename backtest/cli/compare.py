"""``backtest compare RUN_DIR...``: statistics across finished runs."""

from __future__ import annotations

from pathlib import Path

from backtest.compare.compare import compare_runs, write_comparison
from backtest.compare.result import ComparisonResult


def compare_command(run_dirs: list[Path], out: Path | None) -> ComparisonResult:
    """``backtest compare``: compute, write beside the runs (or into ``out``), print the verdict."""
    target = Path(out) if out is not None else Path(run_dirs[0]).parent
    if target.exists() and not target.is_dir():
        raise ValueError(
            f"--out {str(target)!r} is a file; pass a directory to write comparison.* into"
        )
    result = compare_runs(run_dirs)
    md = write_comparison(result, target)
    print(f"\n== comparison of {', '.join(result.variants)} ==")
    print(result.verdict)
    print(f"comparison: {md}")
    return result
