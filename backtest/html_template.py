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

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Formatter = Callable[[object], str]

#: Nothing but inline styles and data-URI images may load: a stray external reference fails
#: visibly in the browser instead of phoning home from an e-mailed report.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa;
  --accent: #0b5cad; --good: #1a7f37; --bad: #b42318; --bench: #eef1f4; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 40px 0 10px; padding-top: 10px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 6px; }
h4 { font-size: 15px; margin: 16px 0 4px; }
p { margin: 6px 0 10px; }
.subtitle { color: var(--muted); margin: 0 0 18px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--soft); padding: 1px 4px; border-radius: 4px; }
a { color: var(--accent); }
.verdict { border-left: 6px solid var(--accent); background: #eef5fc; padding: 14px 20px;
  margin: 14px 0 20px; border-radius: 0 8px 8px 0; }
.verdict .headline { font-size: 19px; font-weight: 600; margin: 0 0 6px; }
.verdict ul { margin: 4px 0 0; padding-left: 20px; }
.verdict li { margin: 3px 0; }
.verdict h2, .verdict .label { border: 0; padding: 0; text-transform: uppercase;
  letter-spacing: .06em; font-size: 12px;
  color: var(--muted); font-weight: 600; margin: 0 0 4px; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 18px; margin: 0 0 10px; }
nav.toc ol { margin: 4px 0; padding-left: 22px; columns: 2; column-gap: 40px; }
nav.toc li { margin: 2px 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
  gap: 10px; margin: 10px 0 16px; }
.fact { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.fact .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.fact .v { font-weight: 600; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--soft); text-align: left; font-weight: 600; vertical-align: bottom; }
td.num, th.num { text-align: right; }
tr.benchmark td { background: var(--bench); font-style: italic; color: #3d444d; }
tr.baseline td { background: #fdf6e3; }
tr.pooled td { font-weight: 700; border-top: 2px solid var(--ink); }
tr.best td:first-child::after { content: " \\2605"; color: #bf8700; }
td.pos { color: var(--good); } td.neg { color: var(--bad); } td.sig { font-weight: 700; }
td.na { color: #9aa4ae; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr));
  gap: 4px 24px; align-items: start; }
.columns h4 { margin: 8px 0 2px; }
table.kv td { padding: 2px 9px; }
table.kv td:first-child { color: var(--muted); padding-right: 18px; }
table.kv td { white-space: normal; }
.legend { font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 10px; border: 1px solid var(--line);
  vertical-align: middle; margin: 0 4px 0 10px; }
figure { margin: 14px 0 22px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
  border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 6px; max-width: 900px; }
.missing { color: var(--bad); background: #fff1f0; border: 1px dashed #f0b4ae; padding: 8px 12px;
  border-radius: 6px; }
.note { color: var(--muted); font-size: 13.5px; }
details { margin: 8px 0 14px; } summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 48px; color: var(--muted); font-size: 12.5px;
  border-top: 1px solid var(--line); padding-top: 10px; }
@media print { h2 { break-before: page; } figure, table { break-inside: avoid; }
  nav.toc { display: none; } }
"""


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
    rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
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
