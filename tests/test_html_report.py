from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from backtest.cli import main
from backtest.config import config_from_mapping
from backtest.reports.html.report import REPORT_NAME, write_report
from backtest.reports.html.sections import SECTIONS, split_sentences
from backtest.reports.html.template import PNG_SIGNATURE, markdown, png_data_uri
from backtest.reports.html.template import page as page_html
from backtest.reports.run_dir import REQUIRED_FILES, find_comparison, load_run, markdown_section
from backtest.reports.staging import seal

TICKERS = ["AAA", "BBB", "CCC"]
STRATEGIES = {"forecast": "strategy", "blend_50": "strategy", "hist_mean": "baseline"}
BENCHMARKS = {"equal_weight": "benchmark", "SPY": "benchmark"}
CHARTS = (
    "equity_curves.png",
    "weights.png",
    "shrinkage_intensity.png",
    "expected_returns.png",
    "expected_returns_over_time.png",
    "cumulative_sse_difference.png",
    "forecast_vs_realised.png",
    "tearsheet_yearly.png",
    "tearsheet_rolling.png",
    "tearsheet_distribution.png",
)
HOSTILE = "<script>alert('x')</script>"
VERDICT = (
    "The LSTM lost to the historical mean out of sample (pooled R2_OS -1.20%, Clark-West "
    "p = 0.700): its forecasts add no predictive skill here. No forecast strategy beat equal "
    f"weight (1/N, Sharpe 0.90) net of costs. Note {HOSTILE}."
)


def _png(path: Path, slope: int) -> None:
    fig, ax = plt.subplots(figsize=(2, 1.2), dpi=50)
    ax.plot(np.arange(10) * slope)
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's PNGs, drawn once per module (matplotlib is the slow part of a fixture)."""
    folder = tmp_path_factory.mktemp("charts")
    for i, name in enumerate([*CHARTS, "pbo_logits.png"]):
        _png(folder / name, i + 1)
    return folder


def _write(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, index=False)


def make_run(out: Path, rng: np.random.Generator, charts: Path) -> Path:
    """A small, complete run directory as ``python -m backtest run`` writes it."""
    out.mkdir(parents=True)
    months = pd.date_range("2023-01-31", periods=8, freq="ME")
    config = {
        "config": {
            "data": {"targets": TICKERS, "relatives": ["SPY"]},
            "variant": "relatives",
            "walk_forward": {"min_train": 40},
            "model": {"units": [8, 4], "epochs": 3, "lookback": 12},
            "portfolio": {"strategies": None, "cost_bps": 10.0},
        },
        "data": {
            "fingerprint": "f" * 64,
            "source": f"csv:/data/{HOSTILE}.csv",
            "first_month": "2019-01",
            "last_month": "2023-08",
            "forecast_months": ["2023-01", "2023-08"],
            "notes": [f"a note with {HOSTILE}"],
            "windows": {"cached": 2, "computed": 6},
        },
        "versions": {"python": "3.11.7", "numpy": "2.4.6"},
    }
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (out / "summary.md").write_text(
        f"# Walk-forward backtest, variant 'relatives'\n\n## Verdict\n\n{VERDICT}\n\n"
        "## Strategies and benchmarks\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        encoding="utf-8",
    )
    roles = {**STRATEGIES, **BENCHMARKS}
    perf = pd.DataFrame(
        {
            "strategy": list(roles),
            "role": list(roles.values()),
            "cagr": rng.normal(0.1, 0.05, len(roles)),
            "ann_vol": rng.uniform(0.1, 0.2, len(roles)),
            "sharpe": np.sort(rng.normal(1.0, 0.3, len(roles)))[::-1],
            "max_drawdown": -rng.uniform(0.05, 0.3, len(roles)),
            "hit_rate": rng.uniform(0.4, 0.7, len(roles)),
            "psr": rng.uniform(0.5, 1.0, len(roles)),
            "dsr": rng.uniform(0.3, 0.9, len(roles)),
        }
    )
    perf.loc[0, "cagr"] = 0.1234
    _write(out / "performance.csv", perf)
    metrics = pd.DataFrame(
        {
            "model": "lstm",
            "ticker": [*TICKERS, "pooled"],
            "n_months": 8,
            "rmse": rng.uniform(0.05, 0.1, 4),
            "r2_os_vs_mean": rng.normal(0, 0.02, 4),
            "cw_t": rng.normal(size=4),
            "cw_p": [0.01, 0.3, 0.6, 0.2],
            "cw_p_holm": [0.03, 0.6, 0.6, 0.2],  # Holm over 3 tickers; pooled is its own
        }
    )
    _write(out / "forecast_metrics.csv", metrics)
    rows = [
        (m - pd.offsets.MonthEnd(1), m, t, s, rng.normal(0.01, 0.01), rng.uniform())
        for m in months
        for t in TICKERS
        for s in STRATEGIES
    ]
    expected = pd.DataFrame(
        rows, columns=["origin", "date", "ticker", "strategy", "mu", "intensity"]
    )
    _write(out / "expected_returns.csv", expected)
    weights = pd.DataFrame(
        [
            (m - pd.offsets.MonthEnd(1), s, t, 1 / len(TICKERS))
            for m in months
            for s in [*STRATEGIES, "equal_weight"]
            for t in TICKERS
        ],
        columns=["origin", "strategy", "ticker", "weight"],
    )
    _write(out / "weights.csv", weights)
    returns = pd.DataFrame(
        [(m, s, r, r - 0.001) for m in months for s in roles for r in [rng.normal(0.01, 0.04)]],
        columns=["date", "strategy", "gross", "net"],
    )
    _write(out / "portfolio_returns.csv", returns)
    forecasts = pd.DataFrame(
        [
            (m, t, model, rng.normal(0.01, 0.01), rng.normal(0.01, 0.05))
            for m in months
            for t in TICKERS
            for model in ("lstm", "hist_mean")
        ],
        columns=["date", "ticker", "model", "forecast", "realised"],
    )
    _write(out / "forecasts.csv", forecasts)
    for name in CHARTS:
        shutil.copy(charts / name, out / name)
    seal_run(out)
    return out


def seal_run(out: Path) -> None:
    """Seal a hand-made run directory the way `backtest run` does (its manifest)."""
    record = json.loads((out / "config.json").read_text(encoding="utf-8"))
    seal(out, "run", config_from_mapping(record["config"]).to_dict())


def add_comparison(folder: Path, run_dirs: list[Path], charts: Path) -> None:
    (folder / "comparison.md").write_text(
        "# Comparison of base, relatives\n\n## Verdict\n\n"
        "No configuration beats equal weight after deflation (PBO 0.62).\n\n"
        "## Configurations, ranked by net Sharpe ratio\n\n"
        "| configuration | sharpe | dsr |\n|---|---|---|\n| relatives:forecast | 0.900 | 0.410 |\n"
        "\n## Probability of backtest overfitting\n\nCSCV: PBO = 0.620.\n"
        "\n## Forecast tests\n\nDiebold-Mariano and Clark-West.\n",
        encoding="utf-8",
    )
    pd.DataFrame({"configuration": ["relatives:forecast"], "sharpe": [0.9], "dsr": [0.41]}).to_csv(
        folder / "comparison.csv", index=False
    )
    (folder / "comparison.json").write_text(
        json.dumps({"run_dirs": [str(p) for p in run_dirs]}), encoding="utf-8"
    )
    shutil.copy(charts / "pbo_logits.png", folder / "pbo_logits.png")


@pytest.fixture
def run_dir(tmp_path: Path, rng: np.random.Generator, charts: Path) -> Path:
    return make_run(tmp_path / "results" / "relatives", rng, charts)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.headings: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "id":
                self.ids.add(value or "")
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())


def _parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    return parser


def _img_srcs(text: str) -> list[str]:
    return [v for tag, name, v in _parse(text).attrs if tag == "img" and name == "src"]


def test_report_has_every_section_in_order(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    page = _parse(text)
    ids = ["verdict", *[sid for sid, _, _ in SECTIONS], "conclusion"]
    assert set(ids) <= page.ids
    positions = [text.index(f'id="{sid}"') for sid in ids]
    assert positions == sorted(positions)
    hrefs = [v for tag, name, v in page.attrs if tag == "a" and name == "href"]
    assert hrefs[: len(ids)] == [f"#{sid}" for sid in ids]  # table of contents
    for _, heading, _ in SECTIONS:
        assert heading in page.headings
    for needed in ("Strategy ranking", "Overfitting statistics", "Shrinkage intensity"):
        assert needed in page.headings
    for needed in ("Risk and relative performance", "Worst drawdowns", "Monthly returns, %"):
        assert f"<h3>{needed}</h3>" in text


def test_tear_sheet_covers_the_best_strategies_and_benchmarks(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    sheet = text[text.index('id="tearsheet"') : text.index('id="weights"')]
    for name in ("forecast", "blend_50", "equal_weight", "SPY"):
        assert f"<h4>{name}</h4>" in sheet  # a monthly heatmap each
    assert "<h4>hist_mean</h4>" not in sheet  # the baseline is not among the best
    for header in ("Beta vs SPY", "IR vs 1/N", "CVaR 95%", "Excess kurtosis", "recovery"):
        assert header in sheet
    # The heatmap cell of forecast's first month is its net return in percent, coloured.
    returns = pd.read_csv(run_dir / "portfolio_returns.csv")
    first = returns[returns.strategy == "forecast"].net.iloc[0]
    heat = sheet[sheet.index("<h4>forecast</h4>") :]
    assert re.search(rf'style="background:rgb\([^"]+\)[^"]*">{100 * first:.1f}</td>', heat)
    for name in CHARTS[-3:]:
        assert name not in sheet  # embedded, not linked
    assert sheet.count("<img ") == 3


def test_every_image_is_an_embedded_png(run_dir):
    srcs = _img_srcs(write_report(run_dir).read_text(encoding="utf-8"))
    assert len(srcs) == len(CHARTS)
    for src in srcs:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        data = base64.b64decode(src[len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        image = mpimg.imread(io.BytesIO(data), format="png")
        assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10


def test_no_external_references(run_dir, charts):
    add_comparison(run_dir.parent, [run_dir], charts)
    text = write_report(run_dir).read_text(encoding="utf-8")
    for tag, name, value in _parse(text).attrs:
        if name in ("src", "href", "srcset", "action", "data", "poster"):
            assert value.startswith(("data:", "#")), (tag, name, value[:60])
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower()
    assert "@import" not in text and "url(" not in text


def test_text_from_files_is_escaped(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert html.escape(HOSTILE) in text
    assert text.count(html.escape(HOSTILE)) >= 3  # verdict, source, note


def test_verdict_is_prominent_at_top_and_repeated(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    headline = html.escape(split_sentences(VERDICT)[0])
    first = text.index(headline)
    assert first < text.index('id="configuration"')
    assert text.index(headline, first + 1) > text.index('id="overfitting"')
    assert '<p class="headline">' in text[text.index('id="verdict"') : first]


def test_ranking_formats_percentages_and_marks_benchmarks(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    ranking = text[text.index('id="ranking"') : text.index('id="equity"')]
    assert "12.3%" in ranking  # cagr 0.1234
    for name in BENCHMARKS:
        assert re.search(rf'<tr class="benchmark[^"]*"><td>{name}</td>', ranking)
    assert re.search(r'<tr class="baseline[^"]*"><td>hist_mean</td>', ranking)
    assert not re.search(r'<tr class="benchmark[^"]*"><td>forecast</td>', ranking)


def test_forecast_metrics_table_per_ticker(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    block = text[text.index('id="forecast-metrics"') : text.index('id="squared-errors"')]
    for ticker in TICKERS:
        assert f"<td>{ticker}</td>" in block
    assert '<tr class="pooled"><td>pooled</td>' in block
    assert '<td class="num sig">0.030</td>' in block  # Holm-adjusted p < 0.05 in bold
    assert '<td class="num sig">0.010</td>' not in block  # the unadjusted p is not bold


def test_missing_required_file_is_a_clear_error(run_dir):
    (run_dir / "performance.csv").unlink()
    with pytest.raises(ValueError, match=r"not a finished backtest run: missing performance\.csv"):
        write_report(run_dir)
    with pytest.raises(ValueError, match=r"python -m backtest run"):
        load_run(run_dir)
    assert not (run_dir / REPORT_NAME).exists()


@pytest.mark.parametrize("name", list(REQUIRED_FILES))
def test_each_required_file_is_named_when_missing(run_dir, name):
    (run_dir / name).unlink()
    with pytest.raises(ValueError, match=re.escape(name)):
        load_run(run_dir)


def test_results_parent_points_at_its_runs(run_dir):
    with pytest.raises(ValueError, match=r"it holds the runs relatives: pass one of those"):
        load_run(run_dir.parent)


def test_nonexistent_directory(tmp_path):
    with pytest.raises(ValueError, match=r"run_dir='.*nowhere' does not exist"):
        load_run(tmp_path / "nowhere")


def test_missing_chart_shows_a_notice_not_a_broken_image(run_dir):
    (run_dir / "weights.png").unlink()
    (run_dir / "forecast_vs_realised.png").write_bytes(b"not a png")
    seal_run(run_dir)  # a run that wrote a broken chart and none for the weights
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert len(_img_srcs(text)) == len(CHARTS) - 2
    assert "<code>weights.png</code> is not in the run directory" in text
    assert "<code>forecast_vs_realised.png</code> is not a valid PNG" in text


def test_no_comparison_says_so_and_how_to_get_one(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    block = text[text.index('id="overfitting"') : text.index('id="conclusion"')]
    assert "No cross-configuration comparison was run" in block
    assert "python -m backtest run --variant all" in block
    assert "python -m backtest compare" in block
    assert "Deflated Sharpe ratio within this run" in block
    assert '<th class="num" title=' in block and ">DSR</th>" in block and ">PSR</th>" in block


def test_comparison_in_parent_is_included(run_dir, charts):
    add_comparison(run_dir.parent, [run_dir], charts)
    assert find_comparison(run_dir) == run_dir.parent
    text = write_report(run_dir).read_text(encoding="utf-8")
    block = text[text.index('id="overfitting"') : text.index('id="conclusion"')]
    assert "No cross-configuration comparison was run" not in block
    assert "<h4>Probability of backtest overfitting</h4>" in block
    assert "<td>relatives:forecast</td>" in block
    assert len(_img_srcs(block)) == 1  # pbo_logits.png
    pbo = block.index("<h4>Probability of backtest overfitting</h4>")
    assert pbo < block.index("<img") < block.index("<h4>Forecast tests</h4>")
    assert '<td class="num">0.900</td>' in block
    top = text[: text.index('id="configuration"')]
    assert "No configuration beats equal weight after deflation" in top


def test_comparison_older_than_the_run_is_flagged(run_dir, charts):
    add_comparison(run_dir.parent, [run_dir], charts)
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert "written before this run finished" not in text
    stamp = (run_dir / "config.json").stat().st_mtime
    for name in ("comparison.md", "comparison.csv"):
        os.utime(run_dir.parent / name, (stamp - 3600, stamp - 3600))
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert "written before this run finished" in text


def test_comparison_of_other_runs_is_not_taken_for_this_one(run_dir, tmp_path, charts):
    add_comparison(run_dir.parent, [tmp_path / "elsewhere" / "base"], charts)
    assert find_comparison(run_dir) is None
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert "No cross-configuration comparison was run" in text
    assert "does not include this run" in text


def test_damaged_comparison_csv_does_not_sink_the_report(run_dir, charts):
    add_comparison(run_dir.parent, [run_dir], charts)
    (run_dir.parent / "comparison.csv").write_text("", encoding="utf-8")
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert "comparison.csv could not be read" in text
    assert "<h4>Probability of backtest overfitting</h4>" in text


def test_unparseable_config_is_named(run_dir):
    (run_dir / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cannot parse .*config\.json.*rerun the backtest"):
        load_run(run_dir)


def test_write_is_atomic_and_idempotent(run_dir):
    first = write_report(run_dir).read_bytes()
    second = write_report(run_dir).read_bytes()
    assert first == second
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


def test_cli_report(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / REPORT_NAME).is_file()
    assert str(run_dir / REPORT_NAME) in capsys.readouterr().out
    (run_dir / "config.json").unlink()
    assert main(["report", str(run_dir)]) == 2
    assert "missing config.json" in capsys.readouterr().err


def test_markdown_subset():
    out = markdown(
        "# Title\n\n## Verdict\n\nSome **bold** and `code` <b>.\n\n- one\n- two\n\n"
        "| a | b |\n|---|---:|\n| 1 | <i> |\n\n#hashtag is text\n",
        demote=2,
    )
    assert "<h3>Title</h3>" in out and "<h4>Verdict</h4>" in out
    assert "<b>bold</b>" in out and "<code>code</code>" in out and "&lt;b&gt;." in out
    assert "<ul><li>one</li><li>two</li></ul>" in out
    assert "<th>a</th><th>b</th>" in out and "<td>&lt;i&gt;</td>" in out
    assert "---" not in out
    assert "<p>#hashtag is text</p>" in out


def test_markdown_section_and_sentences():
    text = "# T\n\n## Verdict\n\nA is 0.5. B: p = 0.12. c stays.\n\n## Next\n\nno"
    assert markdown_section(text, "Verdict") == "A is 0.5. B: p = 0.12. c stays."
    assert markdown_section(text, "Missing") == ""
    assert split_sentences("A is 0.5. B: p = 0.12. c stays.") == [
        "A is 0.5.",
        "B: p = 0.12. c stays.",
    ]


def test_equal_weight_name_matches_the_engine():
    from backtest.portfolio import rebalance
    from backtest.reports.html import tables as html_tables

    assert html_tables.EQUAL_WEIGHT == rebalance.EQUAL_WEIGHT


def test_best_configuration_is_read_against_equal_weight(run_dir):
    text = write_report(run_dir).read_text(encoding="utf-8")
    block = text[text.index('id="overfitting"') : text.index('id="conclusion"')]
    assert "<b>Best in this run: forecast</b>" in block
    assert "not against equal weight (1/N: Sharpe" in block


def test_png_data_uri_rejects_non_png():
    with pytest.raises(ValueError, match=r"expected PNG bytes"):
        png_data_uri(b"GIF89a....")


# --- in a real browser -------------------------------------------------------------------

_CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)

# Injected at the top of <head> (before the page's Content-Security-Policy, which forbids
# scripts): records script errors and, once loaded, which images failed to decode.
_PROBE = """<script>
window.addEventListener('error', function (e) {
  var root = document.documentElement;
  root.setAttribute('data-errors', (root.getAttribute('data-errors') || '') + e.message + ';');
});
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var out = document.createElement('pre');
  out.id = 'probe-result';
  out.textContent = JSON.stringify({n: imgs.length, broken: broken.map(function (i) {
    return i.alt; })});
  document.body.appendChild(out);
});
</script>"""


def _browse(page: Path, tmp_path: Path) -> tuple[dict, list[str], str]:
    """Load ``page`` in headless Chromium: (probe result, console messages, dumped DOM)."""
    probed = tmp_path / f"probed-{page.name}"
    text = page.read_text(encoding="utf-8")
    probed.write_text(text.replace("<head>", "<head>\n" + _PROBE, 1), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    cmd = [
        _CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        probed.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    dom = proc.stdout
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, flags=re.S)
    assert found, f"the probe did not run (exit {proc.returncode}): {proc.stderr[-2000:]}"
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(html.unescape(found[1])), console, dom


@pytest.mark.slow
@pytest.mark.skipif(_CHROMIUM is None, reason="chromium not installed: apt-get install chromium")
def test_page_loads_in_chromium_without_broken_images_or_errors(run_dir, tmp_path, charts):
    add_comparison(run_dir.parent, [run_dir], charts)
    result, console, dom = _browse(write_report(run_dir), tmp_path)
    assert result == {"n": len(CHARTS) + 1, "broken": []}
    assert console == []
    assert "data-errors" not in dom.split("<head>", 1)[0]


@pytest.mark.slow
@pytest.mark.skipif(_CHROMIUM is None, reason="chromium not installed: apt-get install chromium")
def test_browser_probe_catches_broken_images_and_errors(tmp_path):
    # The harness itself must be able to fail: a corrupt image, a script error, and an
    # external image that the page's policy forbids.
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<img alt="corrupt" src="data:image/png;base64,iVBORw0KGgoAAAAxyz">'
        "<script>undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    result, console, dom = _browse(page, tmp_path)
    assert result == {"n": 1, "broken": ["corrupt"]}
    assert any("undefinedFunction" in line for line in console)
    assert "undefinedFunction is not defined" in dom


@pytest.mark.slow
@pytest.mark.skipif(_CHROMIUM is None, reason="chromium not installed: apt-get install chromium")
def test_report_policy_blocks_external_resources(tmp_path):
    # The report's Content-Security-Policy: an external image would be refused, not fetched.
    page = tmp_path / "external.html"
    img = '<img alt="external" src="' + "https" + '://example.invalid/x.png">'
    page.write_text(page_html("t", img), encoding="utf-8")
    result, console, _ = _browse(page, tmp_path)
    assert result == {"n": 1, "broken": ["external"]}
    assert any("Content Security Policy" in line for line in console)
