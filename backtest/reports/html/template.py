"""Building blocks of the self-contained HTML report: page, tables, figures, markdown.

Everything here returns HTML text with every value taken from a file escaped. Images are
embedded as ``data:`` URIs and the style sheet is inline, so the page needs no network and
survives being e-mailed as a single attachment.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from backtest.reports.html.style import CSP, CSS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Formatter = Callable[[object], str]


def esc(value: object) -> str:
    """HTML-escape ``str(value)`` (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A whole HTML document: inline CSS, no script, no external resource."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def section(section_id: str, heading: str, *parts: str) -> str:
    """``<section id=...>`` with an ``<h2>`` heading; ``parts`` are HTML already."""
    inner = "\n".join(p for p in parts if p)
    return f'<section id="{esc(section_id)}">\n<h2>{esc(heading)}</h2>\n{inner}\n</section>'


def paragraph(text: str, css_class: str | None = None) -> str:
    """A ``<p>`` of escaped text."""
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<p{cls}>{esc(text)}</p>"


def missing(name: str, what: str) -> str:
    """A visible notice in place of an output the run directory lacks."""
    return (
        f'<p class="missing">{esc(what)}: <code>{esc(name)}</code> is not in the run directory.</p>'
    )


def png_data_uri(data: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes; ValueError if they are not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(
            f"expected PNG bytes starting with {PNG_SIGNATURE!r}, got {data[:8]!r}; "
            "regenerate the chart with the run command"
        )
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(path: Path, alt: str, caption: str) -> str:
    """The PNG at ``path`` embedded as a data URI, with a caption; a notice if unusable."""
    if not path.is_file():
        return missing(path.name, "Chart missing")
    try:
        uri = png_data_uri(path.read_bytes())
    except ValueError:
        return f'<p class="missing">Chart <code>{esc(path.name)}</code> is not a valid PNG.</p>'
    return (
        f'<figure><img src="{uri}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))


def fmt_pct(digits: int = 1, signed: bool = False) -> Formatter:
    """Format a fraction as a percentage (0.123 -> '12.3%')."""
    sign = "+" if signed else ""
    return lambda v: f"{float(v):{sign}.{digits}%}"


def fmt_num(digits: int = 2) -> Formatter:
    """Format a number with fixed decimals."""
    return lambda v: f"{float(v):.{digits}f}"


def fmt_int(v: object) -> str:
    """Format a count."""
    return f"{int(float(v)):d}"


def fmt_auto(v: object) -> str:
    """Numbers to 4 significant digits, anything else as text."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Real):
        return f"{float(v):.4g}"
    return str(v)


def table(
    frame: pd.DataFrame,
    *,
    formats: Mapping[str, Formatter] | None = None,
    labels: Mapping[str, str] | None = None,
    tooltips: Mapping[str, str] | None = None,
    row_class: Callable[[object, pd.Series], str] | None = None,
    cell_class: Callable[[str, object], str] | None = None,
    index_label: str | None = None,
) -> str:
    """An escaped HTML table of ``frame`` (index as the first column).

    Numeric cells are right-aligned; missing values show as an en dash. ``formats`` maps a
    column to a formatter (default :func:`fmt_auto`), ``labels`` renames headers,
    ``tooltips`` adds a header ``title``, ``row_class(index, row)`` and
    ``cell_class(column, value)`` add CSS classes.
    """
    formats, labels, tooltips = formats or {}, labels or {}, tooltips or {}
    head = [f"<th>{esc(index_label if index_label is not None else frame.index.name or '')}</th>"]
    for col in frame.columns:
        tip = f' title="{esc(tooltips[col])}"' if col in tooltips else ""
        num = " num" if pd.api.types.is_numeric_dtype(frame[col]) else ""
        head.append(f'<th class="{num.strip()}"{tip}>{esc(labels.get(col, col))}</th>')
    rows = []
    for idx, row in frame.iterrows():
        cells = [f"<td>{esc(idx)}</td>"]
        for col in frame.columns:
            value = row[col]
            classes = []
            if _is_missing(value):
                text, classes = "\u2013", ["na"]
            else:
                text = formats.get(col, fmt_auto)(value)
                if isinstance(value, numbers.Real) and not isinstance(value, bool):
                    classes.append("num")
                if cell_class:
                    classes.append(cell_class(col, value))
            cls = " ".join(c for c in classes if c)
            cells.append(f'<td class="{cls}">{esc(text)}</td>' if cls else f"<td>{esc(text)}</td>")
        rcls = row_class(idx, row) if row_class else ""
        rows.append(f'<tr class="{esc(rcls)}">' if rcls else "<tr>")
        rows[-1] += "".join(cells) + "</tr>"
    return (
        '<div class="scroll"><table>\n<thead><tr>'
        + "".join(head)
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def key_values(pairs: Iterable[tuple[str, object]]) -> str:
    """A two-column table of escaped label/value pairs."""
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f'<div class="scroll"><table class="kv"><tbody>{rows}</tbody></table></div>'


def facts(pairs: Iterable[tuple[str, object]]) -> str:
    """Prominent label/value cards for the few facts a reader looks for first."""
    cards = "".join(
        f'<div class="fact"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
        for k, v in pairs
    )
    return f'<div class="facts">{cards}</div>'


_BLOCK_START = re.compile(r"#{1,6}\s|\s*\||\s*[-*]\s")
_NUMBER = re.compile(r"[-+]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?%?|[-+]?(nan|inf)", re.I)
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    """Escape ``text``, keeping markdown ``code`` and **bold** as tags."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(esc(text[pos : m.start()]))
        out.append(f"<code>{esc(m[1])}</code>" if m[1] is not None else f"<b>{esc(m[2])}</b>")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _md_table(lines: list[str]) -> str:
    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    header = cells(lines[0])
    body = [cells(x) for x in lines[1:] if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", x)]
    head = "".join(f"<th>{_inline(c)}</th>" for c in header)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_inline(c)}</td>'
            if _NUMBER.fullmatch(c)
            else f"<td>{_inline(c)}</td>"
            for c in r
        )
        + "</tr>"
        for r in body
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def markdown(text: str, demote: int = 2) -> str:
    """The small markdown subset our own ``*.md`` outputs use, as escaped HTML.

    Headings (shifted down ``demote`` levels, at most ``<h6>``), pipe tables, ``-``/``*``
    bullet lists, paragraphs, inline ``code`` and **bold**. Anything else is kept as text.
    """
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := re.match(r"(#{1,6})\s+(.*)", line):
            level = min(len(m[1]) + demote, 6)
            blocks.append(f"<h{level}>{_inline(m[2].strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            blocks.append(_md_table(lines[i:j]))
            i = j
        elif re.match(r"\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"\s*[-*]\s+", lines[i]):
                items.append(re.sub(r"^\s*[-*]\s+", "", lines[i]))
                i += 1
            blocks.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in items) + "</ul>")
        else:
            # The first line is always taken, so text that only looks like a block start
            # ("#tag") cannot stall the loop.
            para, i = [line.strip()], i + 1
            while i < len(lines) and lines[i].strip() and not _BLOCK_START.match(lines[i]):
                para.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(blocks)
