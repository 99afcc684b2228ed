"""One variant of a run, start to finish: walk-forward forecasts -> strategies -> files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.data.prices import PriceData
from backtest.engine.panel import ForecastPanel
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import (
    Runner,
    assemble,
    fit_window,
    model_specs,
    plan_jobs,
    prepare,
    walk_forward,
)
from backtest.evaluation.models import (
    comparator_sentence,
    mcs_p_values,
    models_table,
    seed_sentence,
)
from backtest.features import log_returns
from backtest.portfolio.rebalance import MARKET, backtest_strategies, decide
from backtest.reports.charts.render import ChartPool
from backtest.reports.evidence import evidence_table, run_evidence
from backtest.reports.files import (
    write_config,
    write_csv,
    write_forecast_outputs,
    write_strategy_outputs,
    write_summary,
)
from backtest.reports.run_dir import RunResult, load_run
from backtest.reports.stability import write_stability_outputs
from backtest.reports.verdict import verdict_sentences
from strategies import RENAMED, StrategyName, renamed_error


def strategy_names(config: RunConfig) -> list[str]:
    """Configured strategies (all registered ones by default), validated."""
    valid = [s.value for s in StrategyName]
    names = list(config.portfolio.strategies or valid)
    for name in names:
        if name in RENAMED:
            raise renamed_error(name)
        if name not in valid:
            raise ValueError(f"unknown strategy {name!r}; choose from {valid}")
    return names


def check_strategies(config: RunConfig) -> list[str]:
    """Fail before any fitting when a strategy or the allocator cannot run on this config.

    Each strategy and the allocator run once on a seeded stand-in of the smallest
    training window (``min_train`` months of the configured targets), so a constraint
    such as Bayes-Stein's ``n_periods > n_assets + 2`` or an infeasible weight cap is
    reported now, not after hours of walk-forward fits.
    """
    from strategies import MarketView

    model_specs(config)  # an unknown model, estimator path or parameter fails here
    names = strategy_names(config)
    n_assets = len(config.data.targets)
    rng = np.random.default_rng(0)
    view = MarketView(
        returns=rng.normal(0.01, 0.05, (config.walk_forward.min_train, n_assets)),
        forecast=np.full(n_assets, 0.01),
        past_forecasts=np.empty((0, n_assets)),
        past_benchmarks=np.empty((0, n_assets)),
        past_realised=np.empty((0, n_assets)),
    )
    stand_in = pd.Timestamp("2000-01-31")
    try:
        decide(
            stand_in,
            view,
            config.data.targets,
            names,
            config.portfolio.risk_aversion,
            config.portfolio.max_weight,
        )
    except ValueError as exc:
        reason = str(exc).removeprefix(f"at {stand_in:%Y-%m-%d}: ")
        raise ValueError(
            f"the configuration cannot run its strategies ({reason}), with min_train="
            f"{config.walk_forward.min_train} months and {n_assets} targets; "
            + _strategy_hint(reason)
        ) from None
    return names


MIN_RELIABLE_MONTHS = 24
"""Out-of-sample months below which Sharpe ratios and their intervals mean little."""


def _small_sample_caution(n_months: int) -> str:
    if n_months >= MIN_RELIABLE_MONTHS:
        return ""
    return (
        f"Caution: only {n_months} out-of-sample month(s), fewer than {MIN_RELIABLE_MONTHS}: "
        "the statistics below are too noisy to rank anything (intervals may be undefined); "
        "lower --min-train or use a longer history. "
    )


def _strategy_hint(reason: str) -> str:
    """The fixes that fit the failure: more months, fewer strategies, another cap or assets."""
    text = reason.lower()
    fixes = []
    if "n_periods" in text or "months" in text or "observations" in text:
        fixes.append("raise --min-train")
    elif "assets" in text:  # e.g. James-Stein toward the grand mean needs N >= 4
        fixes.append("use more --tickers")
    if "weight" in text or "cap" in text or "infeasible" in text:
        fixes.append("change --max-weight")
    fixes.append("drop the strategy with --strategies")
    return ", or ".join(fixes)


def run_variant(
    config: RunConfig,
    data: PriceData,
    runner: Runner,
    out: Path,
    store: WindowStore,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> RunResult:
    """One variant, start to finish: every file written under ``out``, read back as a result.

    The returned :class:`RunResult` is what :func:`backtest.reports.run_dir.load_run` reads
    from ``out``, so a run in memory and a run read from disk are the same thing.
    """
    panel = walk_forward(config, data.prices, store, runner, progress)
    return write_variant(config, data, panel, out)


def fit_variants(
    configs: Sequence[RunConfig],
    prices: pd.DataFrame,
    stores: Sequence[WindowStore],
    runner: Runner,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> Iterator[tuple[int, ForecastPanel]]:
    """The walk-forwards of several configurations, their windows fitted as one pool of work.

    Yields ``(i, panel)`` of ``configs[i]`` as soon as its last window is in, in the order
    they complete; ``stores[i]`` caches the windows of ``configs[i]``. Every window goes to
    ``runner`` in one call, so its workers start once and never wait between
    configurations; while the caller writes one panel's results, the workers go on with
    the windows of the others (a runner's workers keep fitting what was submitted while its
    stream is not read). Each panel is the one :func:`walk_forward` returns for its config.
    """
    plans = []
    for config in configs:
        seq, notes = prepare(config, prices)
        plans.append((seq, notes, plan_jobs(config, seq)))
    outputs: list[dict[str, dict[str, np.ndarray]]] = [{} for _ in configs]
    n_cached, waiting, todo, owners = [], [], [], {}
    for i, ((_, _, jobs), store) in enumerate(zip(plans, stores, strict=True)):
        missing = []
        for job in jobs:
            cached = store.load(job.key, job.model)
            if cached is not None:
                outputs[i][job.key] = cached
                continue
            missing.append(job.key)
            if job.key not in owners:
                todo.append(job)
            owners.setdefault(job.key, []).append(i)
        n_cached.append(len(jobs) - len(missing))
        waiting.append(set(missing))

    def panel(i: int) -> tuple[int, ForecastPanel]:
        seq, notes, jobs = plans[i]
        arrays = [outputs[i][job.key] for job in jobs]
        corrupt = tuple(stores[i].corrupt)
        returns = log_returns(prices)
        return i, assemble(configs[i], seq, jobs, arrays, n_cached[i], corrupt, notes, returns)

    # Variants read whole from the cache wait for the first fitted window: the runner's
    # workers start when its stream is first read, and should not wait for their writing.
    ready = [i for i in range(len(configs)) if not waiting[i]]
    stream = runner(fit_window, todo) if todo else iter(())
    if progress is not None:
        stream = progress(stream, len(todo))
    models = {job.key: job.model for job in todo}
    remaining = len(todo)
    for key, arrays in stream:
        stores[owners[key][0]].save(key, arrays, models[key])
        remaining -= 1
        for i in owners[key]:
            outputs[i][key] = arrays
            waiting[i].discard(key)
            if not waiting[i]:
                ready.append(i)
        while ready and remaining:  # after the last window, the stream ends first (its timing)
            yield panel(ready.pop(0))
    yield from (panel(i) for i in ready)


def write_variant(config: RunConfig, data: PriceData, panel: ForecastPanel, out: Path) -> RunResult:
    """Allocation, inference, files and charts of a fitted walk-forward, written under ``out``.

    Returns what :func:`backtest.reports.run_dir.load_run` reads back from ``out``.
    """
    with ChartPool() as charts:  # charts draw in the background while the rest is computed
        metrics, comparison = write_forecast_outputs(panel, out, charts)
        returns = log_returns(data.prices)
        market = returns[MARKET] if MARKET in returns else None
        backtest = backtest_strategies(
            panel,
            returns[list(config.data.targets)],
            strategy_names(config),
            config.portfolio.risk_aversion,
            config.portfolio.max_weight,
            config.portfolio.cost_bps,
            market,
        )
        performance = write_strategy_outputs(
            backtest,
            out,
            config.portfolio.risk_free,
            max_weight=config.portfolio.max_weight,
            charts=charts,
        )
        write_stability_outputs(panel, backtest.frame("net"), out, charts)
        evidence = run_evidence(
            panel,
            backtest,
            config.portfolio.risk_aversion,
            config.portfolio.risk_free,
            random_state=config.random_state,
        )
    tests = evidence_table(evidence)
    write_csv(tests, out / "inference.csv")
    models = models_table(metrics, comparison, panel.primary, mcs_p_values(tests), evidence.level)
    # One sentence (a model's with its per-ticker line) per line: the report's bullets and the
    # terminal follow the lines, where splitting a paragraph at '. ' would glue a sentence that
    # starts with a lower-case model name ('ridge did not ...') to the one before it.
    sentences = verdict_sentences(evidence)
    if caution := _small_sample_caution(len(panel.dates)):
        sentences.insert(0, caution.strip())
    if len(panel.models) > 1:
        # The comparator: which model, if any, beats the mean, and each against the primary.
        sentences.append(comparator_sentence(models, panel.primary))
    if spread := seed_sentence(models):
        sentences.append(spread)
    text = "\n".join(sentences)
    write_summary(
        out,
        f"Walk-forward backtest, variant '{config.variant.value}'",
        metrics,
        performance,
        text,
        tests,
        models,
    )
    write_config(
        out,
        config.to_dict(),
        data.fingerprint,
        data.source,
        {
            "first_month": f"{data.prices.index[0]:%Y-%m}",
            "last_month": f"{data.prices.index[-1]:%Y-%m}",
            "forecast_months": [f"{panel.dates[0]:%Y-%m}", f"{panel.dates[-1]:%Y-%m}"],
            "notes": [*data.notes, *panel.notes],
            "windows": {
                "cached": panel.n_cached,
                "computed": panel.n_computed,
                "corrupt": len(panel.corrupt),
            },
        },
    )
    return load_run(out, check=False)
