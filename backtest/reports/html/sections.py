"""The sections of ``report.html``, in reading order, each built from a run's files.

Longer than ~300 lines because it holds one small builder per report section, in page order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from backtest import __version__
from backtest.reports.html.overfitting import overfitting
from backtest.reports.html.tables import (
    expected_returns_table,
    forecast_metrics_table,
    intensity_table,
    latest_weights_table,
    models_compared_table,
    performance_table_html,
    wealth_table,
)
from backtest.reports.html.tearsheet import tearsheet
from backtest.reports.html.template import esc, facts, figure, key_values, missing, paragraph
from backtest.reports.html.template import section as _section

if TYPE_CHECKING:
    from backtest.reports.run_dir import RunResult


def split_sentences(text: str) -> list[str]:
    """A verdict's sentences: its lines, or the text split at '. ' before a capital or digit.

    A run's verdict has one sentence per line; a one-line paragraph (a comparison's verdict, a
    run written before that) is split at sentence ends.
    """
    text = text.strip()
    if "\n" in text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text) if s.strip()]


def _verdict_box(run: RunResult, section_id: str, heading: str) -> str:
    sentences = split_sentences(run.verdict) or ["summary.md has no '## Verdict' section."]
    parts = [
        f'<section id="{section_id}" class="verdict"><h2>{esc(heading)}</h2>',
        f'<p class="headline">{esc(sentences[0])}</p>',
    ]
    if sentences[1:]:
        parts.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in sentences[1:]) + "</ul>")
    if run.comparison_verdict:
        parts.append('<p class="label" style="margin-top:10px">Across configurations</p>')
        parts.append(
            "<ul>"
            + "".join(f"<li>{esc(s)}</li>" for s in split_sentences(run.comparison_verdict))
            + "</ul>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _data(run: RunResult) -> dict:
    return run.data


def _cfg(run: RunResult) -> dict:
    return run.config.to_dict()


def _assets(run: RunResult, key: str) -> list[str]:
    return list((_cfg(run).get("data") or {}).get(key) or [])


def _flatten(mapping: dict, prefix: str = "") -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            pairs += _flatten(value, f"{prefix}{key}.")
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            pairs.append((f"{prefix}{key}", "default" if shown is None else shown))
    return pairs


def configuration(run: RunResult) -> str:
    """Variant, assets, data span and source, fingerprint, settings and package versions."""
    cfg, data = _cfg(run), _data(run)
    months = data.get("forecast_months") or ["?", "?"]
    n_months = len(run.portfolio_returns.date.unique()) if run.portfolio_returns is not None else 0
    fingerprint = str(data.get("fingerprint", ""))
    windows = data.get("windows") or {}
    top = facts(
        [
            ("Variant", cfg.get("variant", "?")),
            ("Assets", ", ".join(_assets(run, "targets")) or "?"),
            ("Relatives (inputs)", ", ".join(_assets(run, "relatives")) or "none"),
            ("Price data", f"{data.get('first_month', '?')} to {data.get('last_month', '?')}"),
            (
                "Out of sample",
                f"{months[0]} to {months[-1]}" + (f" ({n_months} months)" if n_months else ""),
            ),
            ("Data fingerprint", fingerprint[:12] or "?"),
        ]
    )
    source = [("Source", data.get("source", "?")), ("Fingerprint (SHA-256)", fingerprint)]
    if windows:
        source.append(
            (
                "Walk-forward windows",
                f"{windows.get('computed', 0)} computed, {windows.get('cached', 0)} from cache",
            )
        )
    source += [("Note", note) for note in data.get("notes", [])]
    versions = sorted(run.versions.items())
    groups: dict[str, list[tuple[str, object]]] = {
        "Walk-forward": [],
        "Model (LSTM)": [],
        "Portfolio": [],
    }
    titles = {"walk_forward": "Walk-forward", "model": "Model (LSTM)", "portfolio": "Portfolio"}
    for key, value in _flatten(cfg):
        section, _, name = key.rpartition(".")
        if section == "data" or key == "variant":
            continue
        if section == "portfolio" and name == "strategies" and value == "default":
            value = "all"  # strategies = None means every registered strategy was run.
        groups[titles.get(section, "Walk-forward")].append((name, value))
    groups["Software"] = versions
    columns = "".join(
        f"<div><h4>{esc(name)}</h4>{key_values(pairs) if pairs else paragraph('n/a', 'note')}</div>"
        for name, pairs in groups.items()
    )
    return "\n".join(
        [top, "<h3>Data</h3>", key_values(source), f'<div class="columns">{columns}</div>']
    )


def ranking(run: RunResult) -> str:
    """The strategy ranking table with benchmarks set apart."""
    return "\n".join(
        [
            paragraph(
                "Ranked by Sharpe ratio of monthly net (after-cost) returns, annualised. "
                "CAGR, volatility, drawdown, turnover (per month), costs and hit rate "
                "are in percent."
            ),
            '<p class="legend">Rows: <span class="swatch" style="background:#eef1f4"></span>'
            'benchmark (no forecast) <span class="swatch" style="background:#fdf6e3"></span>'
            "baseline: mean-variance on the raw historical mean; \u2605 best Sharpe ratio.</p>",
            performance_table_html(run.performance),
        ]
    )


def equity(run: RunResult) -> str:
    """Equity curves and drawdowns, with total return and drawdown figures."""
    return "\n".join(
        [
            figure(
                run.path("equity_curves.png"),
                "Equity curves and drawdowns of every strategy and benchmark",
                "Growth of $1 invested at the first out-of-sample month, net of trading costs "
                "(log scale); bold: the three best strategies by Sharpe ratio and the "
                "benchmarks, faded: the others. Lower panel: drawdown from the running peak, "
                "of the bold lines.",
            ),
            wealth_table(run.portfolio_returns, run.performance)
            if run.portfolio_returns is not None
            else missing("portfolio_returns.csv", "Monthly returns missing"),
        ]
    )


def weights(run: RunResult) -> str:
    """Weights chart and the latest target weights."""
    return "\n".join(
        [
            figure(
                run.path("weights.png"),
                "Stacked portfolio weights of each strategy over time",
                "Target weights chosen at each monthly rebalance and held for the month "
                "(steps), per strategy; the dashed line is the per-asset cap.",
            ),
            latest_weights_table(run.weights, _assets(run, "targets"), run.performance)
            if run.weights is not None
            else missing("weights.csv", "Weights missing"),
        ]
    )


def shrinkage(run: RunResult) -> str:
    """How far each strategy moved the historical mean toward its target."""
    return "\n".join(
        [
            paragraph(
                "Each strategy's expected return is mu = (1 \u2212 s) \u00d7 historical mean "
                "+ s \u00d7 target, where the target is a model's forecast or a prior: "
                "s = 0 keeps the historical mean, s = 1 takes the target as it is."
            ),
            figure(
                run.path("shrinkage_intensity.png"),
                "Shrinkage intensity of each strategy over time",
                "Intensity s at each decision month (averaged over assets where it is per asset).",
            ),
            intensity_table(run.expected)
            if run.expected is not None
            else missing("expected_returns.csv", "Expected returns missing"),
        ]
    )


def expected_returns(run: RunResult) -> str:
    """Expected returns before (historical mean, raw forecast) and after shrinkage."""
    return "\n".join(
        [
            figure(
                run.path("expected_returns.png"),
                "Expected returns per asset at the last decision: historical mean vs shrunk",
                "At the last decision month: the historical mean (before shrinkage) against "
                "each strategy's shrunk expected return, annualised log returns.",
            ),
            expected_returns_table(run.expected)
            if run.expected is not None
            else missing("expected_returns.csv", "Expected returns missing"),
            figure(
                run.path("expected_returns_over_time.png"),
                "Expected returns per asset over time",
                "The same over the whole backtest, per asset.",
            ),
        ]
    )


def models_compared(run: RunResult) -> str:
    """Every model, pooled: R2_OS, Clark-West, DM against the primary model, MCS."""
    table = run.models_compared
    if table is None:
        return missing("model_comparison.csv", "Model comparison missing")
    primary = run.primary_model
    return "\n".join(
        [
            paragraph(
                "Every model of the run and the historical mean, pooled over the tickers "
                "(the same table as summary.md). R\u00b2_OS and Clark-West are against the "
                f"historical mean (CW p < 0.05 in bold); DM compares each model with {primary}, "
                "the primary model (> 0: more accurate than it); the model confidence set "
                "holds the models not distinguishable from the most accurate at 5%. "
                "Hover a header for its definition."
            ),
            *(
                [
                    paragraph(
                        "Members and the three R\u00b2_OS after them: the ensemble averages "
                        "that many differently seeded fits, and each member alone scores "
                        "between the worst and the best shown (member_metrics.csv has every "
                        "one): how much of the score is the seed. A description, not a test."
                    )
                ]
                if "n_members" in table
                else []
            ),
            models_compared_table(table, primary),
        ]
    )


def forecast_metrics(run: RunResult) -> str:
    """Out-of-sample forecast accuracy per ticker and pooled, one table per model."""
    models = [m for m in dict.fromkeys(run.forecast_metrics["model"]) if m != "hist_mean"]
    parts = [
        paragraph(
            "Monthly log-return forecasts of each model against the historical mean, out of "
            "sample. R\u00b2_OS > 0 (green) means smaller squared errors than the benchmark. "
            "Per-ticker Clark-West p-values are Holm-adjusted over the tickers; only an "
            "adjusted p < 0.05 (bold) is evidence of predictive skill. "
            "Hover a header for its definition."
        )
    ]
    for model in models:
        parts += [f"<h3>{esc(model)}</h3>", forecast_metrics_table(run.metrics_of(model))]
    return "\n".join(parts)


def squared_errors(run: RunResult) -> str:
    """Goyal-Welch cumulative squared-error difference."""
    return figure(
        run.path("cumulative_sse_difference.png"),
        "Cumulative squared-error difference, historical mean minus each model, per asset",
        "Goyal-Welch plot: cumulative SSE of the historical mean minus that of each model "
        "(one line per model). A rising curve means the model is beating the mean over that "
        "stretch (blue area: ahead), a falling one that it is losing (orange: behind). The "
        "final value is the "
        "whole-sample gain, in squared percent of monthly log return (a 5% error is 25 %²).",
    )


def forecast_vs_realised(run: RunResult) -> str:
    """Forecasts against realised returns."""
    return figure(
        run.path("forecast_vs_realised.png"),
        "Each model's forecasts and historical mean against realised monthly returns, per asset",
        "Grey bars: the realised monthly log return. Solid lines: each model's forecast made for "
        "that month; dashed black line: the historical mean. All on one axis, so the "
        "forecasts' small size against the returns they forecast shows as it is.",
    )


def conclusion(run: RunResult) -> str:
    """The verdict once more, for readers who scrolled to the end."""
    return _verdict_box(run, "conclusion", "Verdict, once more")


#: (id, heading, builder) in reading order; the table of contents is built from it.
SECTIONS: tuple[tuple[str, str, Callable[[RunResult], str]], ...] = (
    ("configuration", "Run configuration and data", configuration),
    ("ranking", "Strategy ranking", ranking),
    ("equity", "Equity curves and drawdowns", equity),
    ("tearsheet", "Tear sheet: the best strategies and the benchmarks", tearsheet),
    ("weights", "Portfolio weights", weights),
    ("shrinkage", "Shrinkage intensity", shrinkage),
    ("expected-returns", "Expected returns before and after shrinkage", expected_returns),
    ("models-compared", "Models compared", models_compared),
    ("forecast-metrics", "Forecast accuracy per ticker", forecast_metrics),
    ("squared-errors", "Cumulative squared-error difference", squared_errors),
    ("forecast-vs-realised", "Forecasts against realised returns", forecast_vs_realised),
    ("overfitting", "Overfitting statistics", overfitting),
)


def render_body(run: RunResult) -> str:
    """Title, verdict, table of contents, every section, the verdict again, a footer."""
    data = _data(run)
    written = datetime.fromtimestamp(os.path.getmtime(run.path("config.json")), timezone.utc)
    toc = "".join(
        f'<li><a href="#{sid}">{esc(heading)}</a></li>'
        for sid, heading in [
            ("verdict", "Verdict"),
            *[(s, h) for s, h, _ in SECTIONS],
            ("conclusion", "Verdict, once more"),
        ]
    )
    parts = [
        f"<header><h1>{esc(run.title)}</h1>",
        paragraph(
            f"Run {run.run_dir.name} \u00b7 data {data.get('first_month', '?')} to "
            f"{data.get('last_month', '?')} \u00b7 written {written:%Y-%m-%d %H:%M} UTC",
            "subtitle",
        )
        + "</header>",
        _verdict_box(run, "verdict", "Verdict"),
        f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>',
        *[_section(sid, heading, build(run)) for sid, heading, build in SECTIONS],
        conclusion(run),
        f"<footer>Generated by backtest {esc(__version__)} from the files in "
        f"<code>{esc(run.run_dir)}</code>. Self-contained: charts are embedded, nothing is "
        "loaded from the network.</footer>",
    ]
    return "\n".join(parts)
