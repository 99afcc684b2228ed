"""``python -m backtest compare RUN_DIR...``: honest verdicts across the grid of runs.

A researcher who tries 3 variants x 10 strategies has run 30 experiments, and the best of
them looks good partly by luck. This module reads finished run directories and reports how
much of the winner's edge survives that: the probability of backtest overfitting (CSCV), the
deflated Sharpe ratio of the best configuration, the Sharpe-ratio difference of every
configuration against equal weight (1/N) with a stationary-bootstrap interval, and
Diebold-Mariano / Clark-West tests of every model of every run (rows ``variant/model``).

:func:`compare_runs` computes (pure, no writing), :func:`write_comparison` writes
``comparison.csv``, ``forecast_tests.csv``, ``comparison.md``, ``pbo_logits.csv``,
``pbo_logits.png``, ``comparison_returns.csv`` and ``comparison.json``, and
:func:`load_comparison` reads them back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from backtest.atomic import atomic_write_text
from backtest.compare.report import comparison_markdown, forecast_sentences, plot_pbo_logits
from backtest.compare.result import ComparisonResult
from backtest.compare.runs import configuration_returns, model_panels, run_labels
from backtest.compare.stats import FEW_MONTHS, forecast_tests, sharpe_table
from backtest.evaluation.overfitting import choose_n_blocks, probability_of_backtest_overfitting
from backtest.evaluation.snooping import model_confidence_set, pooled_squared_errors
from backtest.portfolio.rebalance import EQUAL_WEIGHT
from backtest.reports.evidence import Evidence, model_evidence, strategy_evidence
from backtest.reports.run_dir import RunResult, load_run
from backtest.reports.verdict import verdict_sentences

__all__ = [
    "ComparisonResult",
    "compare_runs",
    "load_comparison",
    "write_comparison",
]

_SCALARS = (
    "run_dirs", "variants", "pbo", "prob_oos_below_median", "prob_oos_loss", "n_blocks",
    "best", "best_dsr", "expected_max_sharpe", "risk_free", "alpha", "n_boot", "mean_block",
    "random_state", "verdict", "notes",
)  # fmt: skip


def compare_runs(
    run_dirs: Sequence[str | Path],
    *,
    n_boot: int = 2000,
    mean_block: float = 6.0,
    alpha: float = 0.05,
    random_state: int | None = None,
    max_blocks: int = 16,
) -> ComparisonResult:
    """Compare the configurations of finished runs (reads files, writes nothing).

    Parameters
    ----------
    run_dirs : sequence of path
        Directories written by ``python -m backtest run``.
    n_boot, mean_block : int, float
        Stationary-bootstrap resamples and mean block length (months).
    alpha : float, default=0.05
        Level of every test and ``1 - alpha`` the coverage of the intervals.
    random_state : int, optional
        Bootstrap seed; defaults to the first run's ``config.random_state``.
    max_blocks : int, default=16
        Upper bound of the CSCV blocks.

    Returns
    -------
    ComparisonResult

    Notes
    -----
    A configuration ``beats_1N`` when Romano-Wolf's StepM (family-wise ``alpha``, against
    equal weight, over every configuration tried) finds it superior. Benchmarks enter the
    grid once, not once per variant.

    Raises
    ------
    ValueError
        A directory is missing or incomplete, the runs share fewer than 4 months, there is
        one configuration only, or no run has an equal-weight portfolio.
    """
    runs, labels, returns, meta, notes = _load_grid(run_dirs)
    n_blocks = choose_n_blocks(returns.shape[0], max_blocks=max_blocks)
    risk_free = runs[0].risk_free
    seed = runs[0].random_state if random_state is None else random_state
    stats_table, sr0 = sharpe_table(
        returns, EQUAL_WEIGHT, risk_free, n_boot, mean_block, alpha, seed
    )
    table = meta.join(stats_table).sort_values("sharpe", ascending=False, kind="stable")
    undefined = list(table.index[table["ci_low"].isna() & (table.index != EQUAL_WEIGHT)])
    if undefined:
        notes.append(
            f"the bootstrap CI is undefined for {len(undefined)} configuration(s): some "
            "resamples repeat one month, whose Sharpe ratio has no standard deviation; "
            "compare over more months."
        )
    excess = returns - ((1.0 + risk_free) ** (1 / 12) - 1.0)
    trials = list(table.index[table["role"] == "strategy"]) or list(table.index)
    evidence = grid_evidence(runs, labels, excess, table, trials, alpha, seed)
    spa_1n = evidence.superiority[0] if evidence.superiority else None
    table["beats_1N"] = table.index.isin(spa_1n.superior if spa_1n else ())
    best = evidence.best or str(table.index[0])
    table["best"] = table.index == best
    # CSCV over the configurations tried: benchmarks are not candidates for selection.
    pbo = probability_of_backtest_overfitting(
        excess[trials] if len(trials) > 1 else excess, n_blocks
    )
    logits = pd.DataFrame(
        {"logit": pbo.logits, "is_sharpe": pbo.is_performance, "oos_sharpe": pbo.oos_performance},
        index=pd.RangeIndex(pbo.n_splits, name="split"),
    )
    result = ComparisonResult(
        run_dirs=tuple(str(p) for p in run_dirs),
        variants=tuple(labels),
        returns=returns,
        table=table,
        forecast_tests=forecast_tests(model_panels(runs, labels)),
        pbo=pbo.pbo,
        prob_oos_below_median=pbo.prob_oos_below_median,
        prob_oos_loss=pbo.prob_oos_loss,
        n_blocks=n_blocks,
        logits=logits,
        best=best,
        best_dsr=evidence.deflated.dsr_vs_zero if evidence.deflated else float("nan"),
        expected_max_sharpe=evidence.deflated.expected_max_sharpe if evidence.deflated else sr0,
        risk_free=risk_free,
        alpha=alpha,
        n_boot=n_boot,
        mean_block=mean_block,
        random_state=seed,
        verdict="",
        notes=tuple(notes),
    )
    return replace(result, verdict=_grid_verdict(result, evidence, len(trials)))


def _load_grid(
    run_dirs: Sequence[str | Path],
) -> tuple[list[RunResult], list[str], pd.DataFrame, pd.DataFrame, list[str]]:
    """Read the runs and align their configurations' returns; refuse what cannot be compared."""
    if not run_dirs:
        raise ValueError("`run_dirs` is empty; pass at least one finished run directory.")
    resolved = [Path(p).resolve() for p in run_dirs]
    dupes = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if dupes:
        raise ValueError(f"run directories given more than once: {dupes}; pass each once.")
    runs = [load_run(p) for p in run_dirs]
    labels = run_labels(runs)
    returns, meta, notes = configuration_returns(runs, labels)
    if returns.shape[1] < 2:
        raise ValueError(
            f"only {returns.shape[1]} configuration in {[str(p) for p in run_dirs]}: nothing "
            "to compare; run more strategies or variants."
        )
    if EQUAL_WEIGHT not in returns:
        raise ValueError(
            f"no {EQUAL_WEIGHT!r} portfolio in the runs {[str(p) for p in run_dirs]}; rerun "
            "them with the default benchmarks."
        )
    if returns.shape[0] < FEW_MONTHS:
        spans = ", ".join(
            f"{lab} {r.net.index.min():%Y-%m}..{r.net.index.max():%Y-%m}"
            for lab, r in zip(labels, runs, strict=True)
        )
        notes.append(
            f"only {returns.shape[0]} common months (runs: {spans}); the shortest run limits "
            "the span. Every statistic here is very noisy: use longer runs before trusting it."
        )
    rates = {r.risk_free for r in runs}
    if len(rates) > 1:
        notes.append(f"the runs use different risk-free rates {sorted(rates)}; the first is used.")
    return runs, labels, returns, meta, notes


def _grid_verdict(result: ComparisonResult, evidence: Evidence, n_trials: int) -> str:
    """The comparison's verdict: the grid's size and span, then what the tests support."""
    caution = (
        [f"Caution: only {result.n_months} common months, too few for reliable tests."]
        if result.n_months < FEW_MONTHS
        else []
    )
    index = result.returns.index
    span = (
        f"{result.n_configurations} configurations ({n_trials} strategies, the rest "
        f"benchmarks) over {result.n_months} common months ({index[0]:%Y-%m} to "
        f"{index[-1]:%Y-%m})."
    )
    # One sentence per line, as a run's verdict: sentences may start with a lower-case
    # 'variant/model' name, which splitting a paragraph at '. ' would glue to the one before.
    return "\n".join([*caution, span, *verdict_sentences(evidence), *forecast_sentences(result)])


def grid_evidence(
    runs: list[RunResult],
    labels: list[str],
    excess: pd.DataFrame,
    table: pd.DataFrame,
    trials: list[str],
    level: float,
    seed: int,
) -> Evidence:
    """The verdict's tests across the grid: each variant's models, every configuration tried.

    SPA and StepM test every configuration of every variant against 1/N and against the
    first run's mean-variance on the historical mean; DSR and PBO count all of them as trials;
    the MCS holds every variant's models and the historical mean on their common months.
    """
    forecasts, all_models = [], {}
    for label, run in zip(labels, runs, strict=True):
        models = {f"{label}/{m}": f for m, f in run.forecasts.items() if m != "hist_mean"}
        found, _, _ = model_evidence(run.realised, models, run.forecasts["hist_mean"], level, seed)
        forecasts += found
        all_models.update(models)
    first = runs[0]
    losses = pooled_squared_errors(
        first.realised, {**all_models, "hist_mean": first.forecasts["hist_mean"]}
    )
    try:
        mcs = model_confidence_set(losses, level=level, random_state=seed)
    except ValueError:
        mcs = None
    baselines = list(table.index[table["role"] == "baseline"])
    benchmarks = {"1/N": EQUAL_WEIGHT}
    if baselines:
        benchmarks["mean-variance on the historical mean"] = baselines[0]
    gamma = runs[0].config.portfolio.risk_aversion
    rest = strategy_evidence(
        excess, None, None, trials, benchmarks, gamma, level=level, random_state=seed
    )
    return Evidence(level=level, forecasts=tuple(forecasts), mcs=mcs, **rest)


def _csv(frame: pd.DataFrame, path: Path, index: bool) -> None:
    atomic_write_text(path, frame.to_csv(index=index, float_format="%.10g"))


def write_comparison(result: ComparisonResult, out_dir: str | Path) -> Path:
    """Write the comparison files into ``out_dir`` (atomically, one file at a time).

    Returns
    -------
    Path
        The path of ``comparison.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _csv(result.table.reset_index(), out / "comparison.csv", False)
    _csv(result.forecast_tests, out / "forecast_tests.csv", False)
    _csv(result.logits.reset_index(), out / "pbo_logits.csv", False)
    _csv(result.returns.reset_index(), out / "comparison_returns.csv", False)
    scalars = {name: getattr(result, name) for name in _SCALARS}
    atomic_write_text(out / "comparison.json", json.dumps(scalars, indent=2, default=float))
    plot_pbo_logits(result.logits["logit"].to_numpy(), result.pbo, out / "pbo_logits.png")
    atomic_write_text(out / "comparison.md", comparison_markdown(result))
    return out / "comparison.md"


def load_comparison(out_dir: str | Path) -> ComparisonResult:
    """Read back what :func:`write_comparison` wrote into ``out_dir``."""
    out = Path(out_dir)
    path = out / "comparison.json"
    if not path.is_file():
        raise ValueError(
            f"no comparison.json in {str(out)!r}; run `python -m backtest compare RUN_DIR...` "
            "first."
        )
    scalars = json.loads(path.read_text(encoding="utf-8"))
    table = pd.read_csv(out / "comparison.csv", index_col="configuration")
    returns = pd.read_csv(out / "comparison_returns.csv", index_col="date", parse_dates=["date"])
    scalars.update(
        run_dirs=tuple(scalars["run_dirs"]),
        variants=tuple(scalars["variants"]),
        notes=tuple(scalars["notes"]),
    )
    return ComparisonResult(
        returns=returns,
        table=table.astype({"beats_1N": bool, "best": bool}),
        forecast_tests=pd.read_csv(out / "forecast_tests.csv"),
        logits=pd.read_csv(out / "pbo_logits.csv", index_col="split"),
        **scalars,
    )
