"""Read one run directory back: what ``report`` shows and what ``compare`` and the study read.

A directory is a finished run when it holds :data:`REQUIRED_FILES`; the reader names what is
missing and what to run otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Files without which a directory is not a finished run (file -> what it provides).
REQUIRED_FILES = {
    "config.json": "run configuration and data span",
    "summary.md": "verdict",
    "performance.csv": "strategy ranking",
    "forecast_metrics.csv": "forecast metrics per ticker",
}

#: Outputs of ``python -m backtest compare``, looked for next to the run and one level up.
COMPARISON_FILES = ("comparison.md", "comparison.csv", "pbo_logits.png")

_RUN_HINT = (
    "write one with `python -m backtest run --variant relatives --results-dir DIR` "
    "and pass DIR/<run-name>"
)


@dataclass(frozen=True)
class RunOutputs:
    """Everything the report shows, read from one run directory.

    Attributes
    ----------
    run_dir : Path
        The run directory (``results/<run-name>/``).
    title : str
        The first heading of ``summary.md``.
    verdict : str
        The text under ``## Verdict`` in ``summary.md``.
    config : dict
        ``config.json``: keys ``config``, ``data`` and ``versions``.
    performance : pandas.DataFrame
        ``performance.csv`` indexed by strategy, best net Sharpe first.
    forecast_metrics : pandas.DataFrame
        ``forecast_metrics.csv`` indexed by ticker (last row ``pooled``).
    expected, weights, portfolio_returns : pandas.DataFrame or None
        The tidy CSVs of the same names; None when absent.
    comparison_dir : Path or None
        Where ``comparison.md``/``comparison.csv`` were found, if anywhere.
    comparison_verdict : str
        The text under ``## Verdict`` in ``comparison.md`` ('' if none).
    other_comparison : Path or None
        A folder holding a comparison of other runs that does not include this one.
    """

    run_dir: Path
    title: str
    verdict: str
    config: dict
    performance: pd.DataFrame
    forecast_metrics: pd.DataFrame
    expected: pd.DataFrame | None
    weights: pd.DataFrame | None
    portfolio_returns: pd.DataFrame | None
    comparison_dir: Path | None
    comparison_verdict: str
    other_comparison: Path | None = None

    def path(self, name: str) -> Path:
        """A file of the run directory."""
        return self.run_dir / name


def markdown_section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a markdown text ('' if there is none)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(rf"##\s+{re.escape(heading)}\s*", line.strip(), flags=re.IGNORECASE):
            body = []
            for rest in lines[i + 1 :]:
                if re.match(r"#{1,2}\s", rest):
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return ""


def _not_a_run(run_dir: Path, absent: list[str]) -> ValueError:
    runs = sorted(p.name for p in run_dir.iterdir() if p.is_dir() and (p / "config.json").is_file())
    hint = f"; it holds the runs {', '.join(runs)}: pass one of those" if runs else ""
    what = ", ".join(f"{name} ({REQUIRED_FILES[name]})" for name in absent)
    return ValueError(
        f"run_dir={str(run_dir)!r} is not a finished backtest run: missing {what}{hint}; "
        f"{_RUN_HINT}"
    )


def _read_csv(path: Path, index: str | None = None) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}; rerun the backtest to rewrite it") from exc
    if index is not None:
        if index not in frame.columns:
            raise ValueError(
                f"{path} has no {index!r} column (columns: {list(frame.columns)}); "
                "rerun the backtest to rewrite it"
            )
        frame = frame.set_index(index)
    return frame


def _covers(folder: Path, run_dir: Path) -> bool:
    """Whether the comparison in ``folder`` includes ``run_dir`` (True if it does not say)."""
    try:
        listed = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))["run_dirs"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    # Paths were recorded as given on the command line, maybe relative to another working
    # directory: a same-named run directory counts unless it resolves elsewhere.
    here = run_dir.resolve()
    for entry in map(Path, listed):
        if entry.resolve() == here or (not entry.is_absolute() and entry.name == run_dir.name):
            return True
    return False


def _comparison_folders(run_dir: Path) -> list[Path]:
    return [
        folder
        for folder in (run_dir, run_dir.parent)
        if any((folder / name).is_file() for name in COMPARISON_FILES[:2])
    ]


def find_comparison(run_dir: Path) -> Path | None:
    """The run directory or its parent, whichever holds a comparison covering this run."""
    return next((f for f in _comparison_folders(run_dir) if _covers(f, run_dir)), None)


def load_run(run_dir: str | Path) -> RunOutputs:
    """Read a run directory; ValueError naming what is missing if it is not a run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(
            f"run_dir={str(run_dir)!r} does not exist or is not a directory; {_RUN_HINT}"
        )
    absent = [name for name in REQUIRED_FILES if not (run_dir / name).is_file()]
    if absent:
        raise _not_a_run(run_dir, absent)
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"cannot parse {run_dir / 'config.json'}: {exc}; rerun the backtest"
        ) from exc
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    title = next(
        (line[2:].strip() for line in summary.splitlines() if line.startswith("# ")),
        f"Backtest {run_dir.name}",
    )
    comparison_dir = find_comparison(run_dir)
    comparison_md = comparison_dir / "comparison.md" if comparison_dir else None
    return RunOutputs(
        run_dir=run_dir,
        title=title,
        verdict=markdown_section(summary, "Verdict"),
        config=config if isinstance(config, dict) else {},
        performance=_read_csv(run_dir / "performance.csv", "strategy"),
        forecast_metrics=_read_csv(run_dir / "forecast_metrics.csv", "ticker"),
        expected=_read_csv(run_dir / "expected_returns.csv"),
        weights=_read_csv(run_dir / "weights.csv"),
        portfolio_returns=_read_csv(run_dir / "portfolio_returns.csv"),
        comparison_dir=comparison_dir,
        comparison_verdict=(
            markdown_section(comparison_md.read_text(encoding="utf-8"), "Verdict")
            if comparison_md is not None and comparison_md.is_file()
            else ""
        ),
        other_comparison=next(
            (f for f in _comparison_folders(run_dir) if f != comparison_dir), None
        ),
    )
