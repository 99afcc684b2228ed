"""The report's overfitting section: the cross-configuration comparison, if any, and DSR."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from backtest.reports.html.tables import sharpe_deflation_table
from backtest.reports.html.template import esc, figure, markdown, paragraph
from backtest.reports.html.template import table as _table

if TYPE_CHECKING:
    from pathlib import Path

    from backtest.reports.run_dir import RunResult


def split_after_section(text: str, heading: str) -> tuple[str, str]:
    """Split markdown after the ``## heading`` section; ``(text, '')`` if it is absent."""
    lines = text.splitlines()
    pattern = rf"##\s+{re.escape(heading)}\s*"
    for i, line in enumerate(lines):
        if re.fullmatch(pattern, line.strip(), flags=re.IGNORECASE):
            for j in range(i + 1, len(lines)):
                if re.match(r"#{1,2}\s", lines[j]):
                    return "\n".join(lines[:j]), "\n".join(lines[j:])
            return text, ""
    return text, ""


def overfitting(run: RunResult) -> str:
    """PBO and cross-configuration statistics if a comparison exists; DSR/PSR always."""
    folder = run.comparison_dir
    parts = _no_comparison(run) if folder is None else _comparison(run, folder)
    parts += [
        "<h3>Deflated Sharpe ratio within this run</h3>",
        sharpe_deflation_table(run.performance),
    ]
    return "\n".join(parts)


def _no_comparison(run: RunResult) -> list[str]:
    """What to run to get the cross-configuration statistics."""
    results = run.run_dir.parent
    runs = " ".join(str(results / v) for v in ("base", "indicators", "relatives"))
    parts = [
        "<p><b>No cross-configuration comparison was run</b> for this result, so there is "
        "no Probability of Backtest Overfitting, no Diebold-Mariano test between variants "
        "and no bootstrap interval for the Sharpe difference against 1/N here. To get them, "
        "either</p><ul>"
        "<li>run every variant, which compares them at the end: "
        f"<code>python -m backtest run --variant all --results-dir {esc(results)}</code> "
        "(with this run's other options), or</li>"
        f"<li>compare finished runs: <code>python -m backtest compare {esc(runs)}</code>,"
        "</li></ul><p>then write this report again with "
        f"<code>python -m backtest report {esc(run.run_dir)}</code>.</p>"
    ]
    if run.other_comparison is not None:
        parts.append(
            paragraph(
                f"A comparison exists in {run.other_comparison}, but it does not include "
                "this run, so it is not shown.",
                "note",
            )
        )
    return parts


def _comparison(run: RunResult, folder: Path) -> list[str]:
    """The comparison found in ``folder``: its PBO histogram, verdict and full table."""
    where = "this run directory" if folder == run.run_dir else str(folder)
    parts = [
        f"<p>From the comparison written by <code>python -m backtest compare</code> "
        f"in {esc(where)}.</p>"
    ]
    written = max(
        (folder / n).stat().st_mtime
        for n in ("comparison.md", "comparison.csv")
        if (folder / n).is_file()
    )
    if written < run.path("config.json").stat().st_mtime:
        parts.append(
            '<p class="missing">This comparison was written before this run finished, so '
            "its numbers may describe an earlier version of the run: run "
            "<code>python -m backtest compare</code> on the same run directories again, "
            "then write this report again.</p>"
        )
    logits = (
        figure(
            folder / "pbo_logits.png",
            "Distribution of the CSCV logits of the in-sample winner's out-of-sample rank",
            "Logits of the in-sample best configuration's relative rank out of sample; "
            "the share at or below zero is the Probability of Backtest Overfitting.",
        )
        if (folder / "pbo_logits.png").is_file()
        else ""
    )
    md = folder / "comparison.md"
    text = md.read_text(encoding="utf-8") if md.is_file() else ""
    # The histogram belongs with the PBO paragraph, before the next section.
    head, tail = split_after_section(text, "Probability of backtest overfitting")
    parts += [markdown(head), logits, markdown(tail)]
    csv = folder / "comparison.csv"
    if csv.is_file():
        try:
            frame = pd.read_csv(csv)
            full = _table(frame.set_index(frame.columns[0]))
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            # A damaged side file should not cost the reader the rest of the report.
            full = paragraph(f"comparison.csv could not be read ({exc}).", "missing")
        parts.append(
            "<details><summary>Full comparison table (comparison.csv)</summary>"
            + full
            + "</details>"
        )
    return parts
