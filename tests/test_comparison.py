from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.compare.compare import compare_runs, load_comparison, write_comparison
from backtest.compare.runs import model_panels
from backtest.compare.stats import (
    diebold_mariano_differential,
    forecast_tests,
    holm_adjust,
)
from backtest.config import config_from_mapping
from backtest.evaluation.forecasts import clark_west, diebold_mariano, pooled_clark_west
from backtest.evaluation.overfitting import choose_n_blocks
from backtest.reports.run_dir import load_run
from backtest.reports.staging import seal

VARIANTS = ("base", "indicators", "relatives")
STRATEGIES = ("hist_mean", "forecast", "skill")
BENCHMARKS = ("equal_weight", "min_variance", "SPY")
TICKERS = ("AAA", "BBB", "CCC")

# REFERENCES.md, Clark-West worked example
CW_R = np.array([0.02, -0.01, 0.03, 0.0, 0.01, -0.02])
CW_RBAR = np.array([0.005, 0.006, 0.004, 0.006, 0.006, 0.006])
CW_RHAT = np.array([0.01, 0.0, 0.015, 0.002, 0.004, -0.005])


def _dates(n_months: int) -> pd.DatetimeIndex:
    return pd.date_range("2015-01-31", periods=n_months, freq="ME", name="date")


def write_run(
    path: Path,
    variant: str,
    net: pd.DataFrame,
    lstm: pd.DataFrame,
    hist_mean: pd.DataFrame,
    realised: pd.DataFrame,
    random_state: int = 0,
    others: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """A run directory in exactly the formats `backtest run` writes (models: lstm, others)."""
    path.mkdir(parents=True)
    config = {
        "config": {
            "variant": variant,
            "portfolio": {"risk_free": 0.0},
            "random_state": random_state,
        }
    }
    (path / "config.json").write_text(json.dumps(config))
    tidy = net.rename_axis("date").reset_index().melt("date", var_name="strategy", value_name="net")
    tidy["gross"] = tidy["net"] + 0.001
    tidy[["date", "strategy", "gross", "net"]].to_csv(path / "portfolio_returns.csv", index=False)
    roles = [
        "benchmark" if s in BENCHMARKS else "baseline" if s == "hist_mean" else "strategy"
        for s in net.columns
    ]
    sharpe = net.mean() / net.std() * np.sqrt(12)
    perf = pd.DataFrame({"strategy": net.columns, "role": roles, "sharpe": sharpe.to_numpy()})
    perf.to_csv(path / "performance.csv", index=False)
    frames = []
    for model, frame in (("lstm", lstm), *(others or {}).items(), ("hist_mean", hist_mean)):
        long = frame.rename_axis("date").reset_index().melt("date", var_name="ticker")
        long = long.rename(columns={"value": "forecast"})
        long["model"] = model
        frames.append(long)
    fc = pd.concat(frames, ignore_index=True)
    real = realised.rename_axis("date").reset_index().melt("date", var_name="ticker")
    fc = fc.merge(real.rename(columns={"value": "realised"}), on=["date", "ticker"])
    fc["origin"] = fc["date"] - pd.offsets.MonthEnd(1)
    fc["train_start"] = pd.Timestamp("2010-01-31")
    fc["train_end"] = fc["origin"]
    cols = ["date", "ticker", "model", "forecast", "realised", "origin", "train_start", "train_end"]
    fc[cols].to_csv(path / "forecasts.csv", index=False)
    (path / "summary.md").write_text(f"# Run {variant}\n\n## Verdict\n\nNone.\n")
    pd.DataFrame({"model": ["lstm"], "ticker": ["pooled"], "rmse": [0.1]}).to_csv(
        path / "forecast_metrics.csv", index=False
    )
    reseal(path)
    return path


def reseal(path: Path) -> None:
    """Seal a hand-made (or hand-edited) run directory as `backtest run` does."""
    config = json.loads((path / "config.json").read_text())["config"]
    seal(path, "run", config_from_mapping(config).to_dict())


def make_grid(
    root: Path,
    rng: np.random.Generator,
    n_months: int = 120,
    edge: dict[str, float] | None = None,
    variants: tuple[str, ...] = VARIANTS,
    strategies: tuple[str, ...] = STRATEGIES,
) -> list[Path]:
    """Runs of noise strategies (optionally with planted edges, keyed "variant/strategy")."""
    dates = _dates(n_months)
    bench = pd.DataFrame(rng.normal(0.008, 0.04, (n_months, 3)), dates, list(BENCHMARKS))
    realised = pd.DataFrame(rng.normal(0.01, 0.08, (n_months, 3)), dates, list(TICKERS))
    hist_mean = pd.DataFrame(rng.normal(0.01, 0.002, (n_months, 3)), dates, list(TICKERS))
    dirs = []
    for variant in variants:
        net = pd.DataFrame(rng.normal(0.008, 0.04, (n_months, len(strategies))), dates, strategies)
        for key, mu in (edge or {}).items():
            v, s = key.split("/")
            if v == variant:
                net[s] += mu
        lstm = hist_mean + rng.normal(0, 0.02, hist_mean.shape)
        dirs.append(write_run(root / variant, variant, net.join(bench), lstm, hist_mean, realised))
    return dirs


# ---------------------------------------------------------------- PBO, DSR and the verdict


def test_pbo_of_noise_configurations_is_one_half_on_average(tmp_path, rng):
    # one grid's PBO is noisy (its CSCV splits share the data): average over several grids
    results = [compare_runs(make_grid(tmp_path / f"g{i}", rng), n_boot=200) for i in range(12)]
    assert results[0].n_configurations == 3 * 3 + 3
    assert results[0].n_blocks == 12  # 120 months: 12 blocks of 10, none dropped
    assert np.mean([r.pbo for r in results]) == pytest.approx(0.5, abs=0.15)
    assert sum(bool(r.winners) for r in results) <= 2  # StepM: family-wise 5% per grid
    assert sum("nothing beat 1/N net of costs" in r.verdict for r in results) >= 10


def test_planted_edge_gives_low_pbo_and_is_named_winner(tmp_path, rng):
    res = compare_runs(make_grid(tmp_path, rng, edge={"indicators/skill": 0.03}), n_boot=1000)
    assert res.pbo < 0.05
    assert res.best == "indicators/skill"
    assert res.winners == ["indicators/skill"]
    row = res.table.loc["indicators/skill"]
    assert row["ci_low"] > 0 and row["dsr"] > 0.95 and row["p_holm"] < 0.05
    assert "indicators/skill beat 1/N net of costs (SPA and StepM)" in res.verdict
    # one sentence per line: the conclusion is a line of its own, not glued to its neighbours
    lines = res.verdict.splitlines()
    assert "Conclusion at 5%: indicators/skill beat 1/N net of costs (SPA and StepM)." in lines
    assert "nothing beat 1/N" not in res.verdict
    assert f"PBO = {res.pbo:.2f}" in res.verdict


def test_dsr_of_best_uses_all_configurations(tmp_path, rng):
    from backtest.evaluation.deflation import effective_trials
    from backtest.evaluation.overfitting import sharpe_by_column
    from backtest.evaluation.performance import deflated_sharpe_ratio

    res = compare_runs(make_grid(tmp_path, rng), n_boot=100)
    trials = res.table.index[res.table["role"] == "strategy"]
    sr = sharpe_by_column(res.returns[trials].to_numpy())
    n_eff = effective_trials(res.returns[trials])[0]
    expected = deflated_sharpe_ratio(
        res.returns[res.best].to_numpy(), int(np.ceil(n_eff)), float(np.var(sr, ddof=1))
    )
    assert res.best in trials  # benchmarks are not selected, nor counted
    assert res.best_dsr == pytest.approx(expected)
    assert res.table["sharpe"].is_monotonic_decreasing
    assert res.table["best"].sum() == 1 and res.table.loc[res.best, "best"]


def test_benchmarks_enter_once_and_identical_strategies_merge(tmp_path, rng):
    dirs = make_grid(tmp_path, rng)
    # hist_mean identical in every run: one configuration, with a note
    first = pd.read_csv(dirs[0] / "portfolio_returns.csv")
    for d in dirs[1:]:
        other = pd.read_csv(d / "portfolio_returns.csv")
        mask = other["strategy"] == "hist_mean"
        other.loc[mask, "net"] = first.loc[first["strategy"] == "hist_mean", "net"].to_numpy()
        other.to_csv(d / "portfolio_returns.csv", index=False)
        reseal(d)
    res = compare_runs(dirs, n_boot=100)
    assert res.n_configurations == 3 * 2 + 1 + 3
    for name in (*BENCHMARKS, "hist_mean"):
        assert res.table.loc[name, "variant"] == "all"
    assert "base/forecast" in res.table.index and "relatives/skill" in res.table.index
    assert any("hist_mean has identical returns" in n for n in res.notes)


def test_strategy_identical_in_some_runs_merges_those(tmp_path, rng):
    dirs = make_grid(tmp_path, rng)
    base = pd.read_csv(dirs[0] / "portfolio_returns.csv")
    rel = pd.read_csv(dirs[2] / "portfolio_returns.csv")
    mask = rel["strategy"] == "hist_mean"
    rel.loc[mask, "net"] = base.loc[base["strategy"] == "hist_mean", "net"].to_numpy()
    rel.to_csv(dirs[2] / "portfolio_returns.csv", index=False)
    reseal(dirs[2])
    res = compare_runs(dirs, n_boot=100)
    assert res.n_configurations == 3 * 3 - 1 + 3
    assert res.table.loc["base+relatives/hist_mean", "variant"] == "base+relatives"
    assert "indicators/hist_mean" in res.table.index
    assert "base/hist_mean" not in res.table.index
    assert any("hist_mean has identical returns in base, relatives" in n for n in res.notes)


def test_differing_benchmark_is_noted(tmp_path, rng):
    dirs = make_grid(tmp_path, rng)
    pr = pd.read_csv(dirs[1] / "portfolio_returns.csv")
    pr.loc[pr["strategy"] == "SPY", "net"] += 0.001
    pr.to_csv(dirs[1] / "portfolio_returns.csv", index=False)
    reseal(dirs[1])
    res = compare_runs(dirs, n_boot=100)
    assert list(res.table.index).count("SPY") == 1
    assert any("benchmark SPY differs across runs" in n for n in res.notes)


def test_common_months_only(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=60)
    pr = pd.read_csv(dirs[2] / "portfolio_returns.csv", parse_dates=["date"])
    pr[pr["date"] > pr["date"].min() + pd.offsets.MonthEnd(20)].to_csv(
        dirs[2] / "portfolio_returns.csv", index=False
    )
    reseal(dirs[2])
    res = compare_runs(dirs, n_boot=100)
    assert res.n_months == 60 - 21
    assert res.n_blocks == 12  # 39 months: 12 blocks drop 3, the fewest


@pytest.mark.parametrize(("n_periods", "expected"), [(58, 14), (32, 16), (31, 10), (14, 6), (5, 2)])
def test_choose_n_blocks(n_periods, expected):
    assert choose_n_blocks(n_periods) == expected
    assert n_periods >= 2 * expected


def test_choose_n_blocks_error():
    with pytest.raises(ValueError, match=r"at least 4 common months .* n_periods=3"):
        choose_n_blocks(3)


def test_holm_adjust_worked_example():
    p = np.array([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(holm_adjust(p), [0.03, 0.06, 0.06, np.nan])


def test_holm_adjust_leaves_the_collector_as_it_found_it(monkeypatch):
    """The freeze that keeps statsmodels' gc.collect() cheap is undone, even on an error."""
    import gc

    import backtest.evaluation.models as models

    before = gc.get_freeze_count()
    holm_adjust(np.array([0.2, 0.01]))
    assert gc.get_freeze_count() == before

    def failing(*args, **kwargs):
        assert gc.get_freeze_count() > before  # frozen during the call
        raise RuntimeError("boom")

    monkeypatch.setattr(models, "multipletests", failing)
    with pytest.raises(RuntimeError, match="boom"):
        holm_adjust(np.array([0.2, 0.01]))
    assert gc.get_freeze_count() == before


# ---------------------------------------------------------------- bootstrap reproducibility


def test_bootstrap_ci_reproducible_with_seed(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=60)
    a = compare_runs(dirs, n_boot=300, random_state=7)
    b = compare_runs(dirs, n_boot=300, random_state=7)
    c = compare_runs(dirs, n_boot=300, random_state=8)
    cols = ["ci_low", "ci_high", "p_value"]
    pd.testing.assert_frame_equal(a.table[cols], b.table[cols])
    assert not np.allclose(a.table[cols].fillna(0), c.table[cols].fillna(0))
    # default seed: the first run's config.random_state (0 here)
    d = compare_runs(dirs, n_boot=300)
    e = compare_runs(dirs, n_boot=300, random_state=0)
    pd.testing.assert_frame_equal(d.table[cols], e.table[cols])
    assert d.random_state == 0


# ---------------------------------------------------------------- forecast tests


def _panels(rng, n=40, variants=("base", "relatives")):
    dates = _dates(n)
    realised = pd.DataFrame(rng.normal(0.01, 0.08, (n, 3)), dates, list(TICKERS))
    hist = pd.DataFrame(rng.normal(0.01, 0.002, (n, 3)), dates, list(TICKERS))
    panels = {}
    for v in variants:
        lstm = realised * 0.2 + rng.normal(0, 0.03, (n, 3))
        lstm.iloc[:3, 1] = np.nan  # a ticker with missing months
        panels[v] = {"forecast": lstm, "hist_mean": hist, "realised": realised}
    return panels


def test_forecast_tests_equal_direct_calls(rng):
    panels = _panels(rng)
    table = forecast_tests(panels).set_index(["test", "model", "versus", "ticker"])
    r = panels["base"]["realised"]
    e_base = r - panels["base"]["forecast"]
    e_rel = r - panels["relatives"]["forecast"]
    for t in TICKERS:
        ok = e_base[t].notna() & e_rel[t].notna()
        direct = diebold_mariano(e_rel[t][ok], e_base[t][ok])  # > 0: base more accurate
        row = table.loc[("diebold_mariano", "base", "relatives", t)]
        assert row["statistic"] == pytest.approx(direct.statistic, rel=1e-9)
        assert row["p_value"] == pytest.approx(direct.p_value, rel=1e-9)
        assert row["n_months"] == ok.sum()
        for v in ("base", "relatives"):
            p = panels[v]
            ok = p["forecast"][t].notna()
            cw = clark_west(r[t][ok], p["forecast"][t][ok], p["hist_mean"][t][ok])
            row = table.loc[("clark_west", v, "hist_mean", t)]
            assert row["statistic"] == pytest.approx(cw.statistic, rel=1e-12)
            assert row["p_value"] == pytest.approx(cw.p_value, rel=1e-12)
    for v in ("base", "relatives"):
        p = panels[v]
        cw = pooled_clark_west(r.to_numpy(), p["forecast"].to_numpy(), p["hist_mean"].to_numpy())
        assert table.loc[("clark_west", v, "hist_mean", "pooled"), "statistic"] == pytest.approx(
            cw.statistic, rel=1e-12
        )


def test_forecast_tests_cover_every_model_of_every_run(tmp_path, rng):
    dates = _dates(40)
    realised = pd.DataFrame(rng.normal(0.01, 0.08, (40, 3)), dates, list(TICKERS))
    hist = pd.DataFrame(rng.normal(0.01, 0.002, (40, 3)), dates, list(TICKERS))
    frames, dirs = {}, []
    for variant in ("base", "relatives"):
        nets = pd.DataFrame(rng.normal(0.008, 0.04, (40, 4)), dates, [*STRATEGIES, "equal_weight"])
        own = {m: realised * w + rng.normal(0, 0.03, (40, 3)) for m, w in (("lstm", 0.1),
               ("ridge", 0.3))}  # fmt: skip
        frames.update({f"{variant}/{m}": f for m, f in own.items()})
        dirs.append(write_run(tmp_path / variant, variant, nets, own["lstm"], hist, realised,
                              others={"ridge": own["ridge"]}))  # fmt: skip
    # what compare_runs tabulates (forecast_tests.csv), without its bootstrap tests
    ft = forecast_tests(model_panels([load_run(d) for d in dirs], ["base", "relatives"]))
    pooled = ft[ft["ticker"] == "pooled"].set_index(["test", "model", "versus"])
    labels = ["base/lstm", "base/ridge", "relatives/lstm", "relatives/ridge"]
    assert set(pooled.loc["clark_west"].index) == {(m, "hist_mean") for m in labels}
    assert len(pooled.loc["diebold_mariano"]) == 6  # every pair of the four
    # one pair across runs and models, against a naive HLN statistic on the pooled differential
    a, b = frames["base/ridge"], frames["relatives/lstm"]
    d = (((realised - b) ** 2 - (realised - a) ** 2).mean(axis=1)).to_numpy()
    n = d.size
    naive = d.mean() / np.sqrt(np.var(d) / n) * np.sqrt((n - 1) / n)
    row = pooled.loc[("diebold_mariano", "base/ridge", "relatives/lstm")]
    assert row["statistic"] == pytest.approx(naive, rel=1e-9) and row["n_months"] == n
    cw = pooled_clark_west(realised.to_numpy(), a.to_numpy(), hist.to_numpy())
    assert pooled.loc[("clark_west", "base/ridge", "hist_mean"), "statistic"] == pytest.approx(
        cw.statistic, rel=1e-12
    )


def test_pooled_diebold_mariano_matches_naive_hln(rng):
    panels = _panels(rng)
    row = forecast_tests(panels).set_index(["test", "ticker"]).loc[("diebold_mariano", "pooled")]
    r = panels["base"]["realised"]
    d = ((r - panels["relatives"]["forecast"]) ** 2 - (r - panels["base"]["forecast"]) ** 2).mean(
        axis=1
    )
    d = d.to_numpy()
    n = d.size
    naive = d.mean() / np.sqrt(np.var(d) / n) * np.sqrt((n - 1) / n)  # HLN with h = 1
    assert row["statistic"] == pytest.approx(naive, rel=1e-9)
    assert row["p_value"] == pytest.approx(2 * stats.t(n - 1).sf(abs(naive)), rel=1e-9)
    assert row["n_months"] == n
    assert diebold_mariano_differential(d).statistic == pytest.approx(naive, rel=1e-9)


def test_clark_west_worked_example_through_run_files(tmp_path, rng):
    dates = _dates(6)
    one = ["AAA"]
    net = pd.DataFrame(rng.normal(0.01, 0.04, (6, 2)), dates, ["forecast", "equal_weight"])
    run = write_run(
        tmp_path / "base",
        "base",
        net,
        pd.DataFrame(CW_RHAT, dates, one),
        pd.DataFrame(CW_RBAR, dates, one),
        pd.DataFrame(CW_R, dates, one),
    )
    res = compare_runs([run], n_boot=100)
    cw = res.forecast_tests.set_index(["test", "ticker"])
    for ticker in ("AAA", "pooled"):
        row = cw.loc[("clark_west", ticker)]
        assert row["statistic"] == pytest.approx(2.40, abs=0.005)
        assert row["mean_differential"] == pytest.approx(2.53e-4, abs=5e-7)
        assert row["versus"] == "hist_mean" and row["n_months"] == 6
    assert "diebold_mariano" not in set(res.forecast_tests["test"])  # one variant: no pairs
    assert res.n_blocks == 2


# ---------------------------------------------------------------- writing and reading back


def test_write_and_load_round_trip(tmp_path, rng):
    res = compare_runs(make_grid(tmp_path / "runs", rng, n_months=48), n_boot=200)
    out = tmp_path / "out"
    md = write_comparison(res, out)
    for name in (
        "comparison.csv", "forecast_tests.csv", "comparison.md", "pbo_logits.csv",
        "pbo_logits.png", "comparison_returns.csv", "comparison.json",
    ):  # fmt: skip
        assert (out / name).is_file(), name
    image = mpimg.imread(out / "pbo_logits.png")
    assert image.ndim == 3 and image.shape[0] > 100
    text = md.read_text()
    assert res.verdict in text and "## Probability of backtest overfitting" in text
    assert "| configuration | variant | strategy |" in text
    csv = pd.read_csv(out / "comparison.csv")
    expected_cols = ["configuration", "variant", "strategy", "role", "sharpe", "sharpe_diff_vs_1N"]
    assert list(csv.columns[:6]) == expected_cols
    assert {"ci_low", "ci_high", "p_value", "dsr"} <= set(csv.columns)
    ft = pd.read_csv(out / "forecast_tests.csv")
    assert set(ft["test"]) == {"diebold_mariano", "clark_west"}
    assert len(ft) == 3 * (len(TICKERS) + 1) + 3 * (len(TICKERS) + 1)  # 3 pairs, 3 variants
    back = load_comparison(out)
    assert back.verdict == res.verdict and back.pbo == res.pbo and back.best == res.best
    assert back.n_blocks == res.n_blocks and back.notes == res.notes
    pd.testing.assert_frame_equal(back.table, res.table, check_exact=False, check_freq=False)
    np.testing.assert_allclose(back.logits["logit"], res.logits["logit"])
    np.testing.assert_allclose(back.returns.to_numpy(), res.returns.to_numpy())


def test_compare_cli_writes_beside_runs(tmp_path, rng, capsys):
    from backtest.cli import main

    dirs = make_grid(tmp_path, rng, n_months=30)
    assert main(["compare", *map(str, dirs)]) == 0
    assert (tmp_path / "comparison.md").is_file()
    assert "PBO =" in capsys.readouterr().out
    assert main(["compare", str(dirs[0]), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "comparison.csv").is_file()


# ---------------------------------------------------------------- errors


def test_error_missing_directory(tmp_path):
    with pytest.raises(ValueError, match=r"'.*nowhere' does not exist"):
        compare_runs([tmp_path / "nowhere"])


def test_error_incomplete_run(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=20)
    (dirs[1] / "forecasts.csv").unlink()
    with pytest.raises(
        ValueError, match=r"indicators' is not a finished backtest run: missing forecasts\.csv"
    ):
        compare_runs(dirs)


def test_error_bad_config(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=20)
    (dirs[0] / "config.json").write_text('{"data": {}}')
    with pytest.raises(ValueError, match=r"cannot parse .*config\.json.*'config'"):
        compare_runs(dirs)


def test_error_missing_column(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=20)
    pd.read_csv(dirs[0] / "portfolio_returns.csv").drop(columns="net").to_csv(
        dirs[0] / "portfolio_returns.csv", index=False
    )
    reseal(dirs[0])
    with pytest.raises(ValueError, match=r"portfolio_returns\.csv lacks the column\(s\) \['net'\]"):
        compare_runs(dirs)


def test_error_file_changed_after_the_run(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=20)
    # a file copied in from another run: every file parses, but the set is mixed
    (dirs[0] / "portfolio_returns.csv").write_bytes(
        (dirs[1] / "portfolio_returns.csv").read_bytes()
    )
    with pytest.raises(
        ValueError,
        match=r"base' is not one complete run \(changed since the run portfolio_returns\.csv\)",
    ):
        compare_runs(dirs)


def test_error_no_common_months(tmp_path, rng):
    a = make_grid(tmp_path / "a", rng, n_months=20, variants=("base",))
    b = make_grid(tmp_path / "b", rng, n_months=20, variants=("relatives",))
    pr = pd.read_csv(b[0] / "portfolio_returns.csv", parse_dates=["date"])
    pr["date"] = pr["date"] + pd.offsets.MonthEnd(30)
    pr.to_csv(b[0] / "portfolio_returns.csv", index=False)
    reseal(b[0])
    with pytest.raises(ValueError, match=r"share no month .*2015-01\.\.2016-08.*overlapping"):
        compare_runs([*a, *b])


def test_error_single_configuration(tmp_path, rng):
    dates = _dates(12)
    frame = pd.DataFrame(rng.normal(0, 0.05, (12, 1)), dates, ["AAA"])
    net = pd.DataFrame(rng.normal(0.01, 0.04, (12, 1)), dates, ["equal_weight"])
    run = write_run(tmp_path / "base", "base", net, frame, frame, frame)
    with pytest.raises(ValueError, match=r"only 1 configuration .* nothing to compare"):
        compare_runs([run])


def test_error_no_equal_weight(tmp_path, rng):
    dates = _dates(12)
    frame = pd.DataFrame(rng.normal(0, 0.05, (12, 1)), dates, ["AAA"])
    net = pd.DataFrame(rng.normal(0.01, 0.04, (12, 2)), dates, ["forecast", "skill"])
    run = write_run(tmp_path / "base", "base", net, frame, frame, frame)
    with pytest.raises(ValueError, match=r"no 'equal_weight' portfolio .* default benchmarks"):
        compare_runs([run])


def test_error_duplicate_and_empty(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=20)
    with pytest.raises(ValueError, match="given more than once"):
        compare_runs([dirs[0], dirs[0]])
    with pytest.raises(ValueError, match="`run_dirs` is empty"):
        compare_runs([])


def test_few_months_warns_in_verdict_and_notes(tmp_path, rng):
    res = compare_runs(make_grid(tmp_path, rng, n_months=8), n_boot=200)
    assert res.verdict.startswith("Caution: only 8 common months")
    assert any("only 8 common months" in n and "base 2015-01..2015-08" in n for n in res.notes)
    assert res.n_blocks == 4
    longer = compare_runs(make_grid(tmp_path / "long", rng, n_months=36), n_boot=100)
    assert "Caution" not in longer.verdict and not longer.notes


def test_error_too_few_months(tmp_path, rng):
    dirs = make_grid(tmp_path, rng, n_months=3)
    with pytest.raises(ValueError, match=r"at least 4 common months"):
        compare_runs(dirs)


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_run_variant_all_writes_comparison(tmp_path):
    from backtest.cli import main

    argv = [
        "run", "--variant", "all", "--source", "demo",
        "--min-train", "80", "--epochs", "2", "--units", "4", "2",
        "--strategies", "hist_mean", "forecast", "skill", "--n-jobs", "1", "--no-progress",
        "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(tmp_path / "comparison.csv")
    variants = set(table["variant"])
    assert {"base", "indicators", "relatives"} <= variants
    # the demo has an S&P 500 index, not the SPY ETF: no market benchmark
    assert set(table.loc[table["variant"] == "all", "strategy"]) >= set(BENCHMARKS) - {"SPY"}
    assert table["configuration"].is_unique and table["sharpe"].notna().all()
    md = (tmp_path / "comparison.md").read_text()
    # the tiny config leaves few common months: some bootstrap CIs may be undefined, and say so
    defined = table["ci_low"].notna()
    assert table.loc[defined, "ci_low"].le(table.loc[defined, "sharpe_diff_vs_1N"] + 1e-12).all()
    if (~defined & (table["strategy"] != "equal_weight")).any():
        assert "bootstrap CI is undefined" in md
    n_months = len(pd.read_csv(tmp_path / "comparison_returns.csv"))
    assert f"over {n_months} common months" in md
    if n_months < 36:
        assert f"Caution: only {n_months} common months" in md
    assert "## Verdict" in md and "PBO = " in md and "deflated Sharpe ratio" in md
    assert "Conclusion at 5%:" in md and "beat" in md
    ft = pd.read_csv(tmp_path / "forecast_tests.csv")
    # every model of every run (3 variants x lstm, ridge): 15 pairs, 6 tests against the mean
    pooled = ft[ft["ticker"] == "pooled"]
    assert len(pooled[pooled["test"] == "diebold_mariano"]) == 15
    assert set(pooled.loc[pooled["test"] == "clark_west", "model"]) == {
        f"{v}/{m}" for v in ("base", "indicators", "relatives") for m in ("lstm", "ridge")
    }
