"""Inline style sheet and content policy of ``report.html`` (no external resource)."""

from __future__ import annotations

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
table.heatmap td, table.heatmap th { padding: 2px 5px; font-size: 12px; }
.heatmaps { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
  gap: 4px 24px; }
.heatmaps h4 { margin: 8px 0 2px; }
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
