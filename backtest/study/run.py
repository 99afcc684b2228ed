r"""Known-truth study: the whole engine on synthetic markets with a planted signal.

Real returns cannot say whether a losing LSTM means an efficient market or a broken engine.
Here the truth is known: :class:`backtest.data.synthetic.MarketModel` plants a predictable component
of chosen population R2 in next month's target returns (a linear function of this month's
relative-ETF returns, exactly what the ``relatives`` variant sees). For every signal strength and
every independent simulated history (a *path*), the study runs the real pipeline (walk-forward
LSTM fits, shrinkage strategies, mean-variance allocation) and scores it against the truth::

    for signal, path in product(signals, range(n_paths)):
        market = model.simulate(n_months, signal, seed(signal, path))
        panel = walk_forward(config, market.prices, ...)          # all paths' windows at once
        backtest = backtest_strategies(panel, ...)
        rows += evaluate_path(market, panel, backtest, config)   # vs the known truth

Seeds derive from (base seed, signal, path) with ``np.random.SeedSequence``, never from
scheduling order, so a study gives the same numbers whatever ``n_jobs`` is, and a path's
market and LSTM seeds do not depend on which other signals or paths are in the study.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.data.synthetic import MarketModel
from backtest.data.yahoo import default_cache_dir
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import Runner, assemble, plan_jobs, prepare, run_jobs
from backtest.features import Variant, log_returns
from backtest.portfolio.rebalance import backtest_strategies
from backtest.study.evaluate import evaluate_models, evaluate_path, summarise, summarise_models
from strategies import StrategyName

__all__ = ["StudyResult", "path_seeds", "run_study", "study_config"]

_SIGNAL_SCALE = 1_000_000  # signals enter the seed as integer millionths of R2


@dataclass(frozen=True)
class StudyResult:
    """What a study measured.

    Attributes
    ----------
    paths : DataFrame
        One row per (signal, path, strategy); columns as in
        :func:`backtest.study.evaluate.evaluate_path`.
    summary : DataFrame
        One row per (signal, strategy): means and spreads across paths
        (:func:`backtest.study.evaluate.summarise`).
    model : MarketModel
        The market model every path was simulated from.
    config : RunConfig
        The walk-forward and portfolio settings (targets and relatives are the model's).
    n_months : int
        Monthly returns per simulated history.
    random_state : int
        Base seed of the study.
    n_cached, n_computed : int
        Window fits read from the store and fitted by this call, over all paths.
    models, model_summary : DataFrame
        Per (signal, path, model) and per (signal, model): every model's R2_OS and
        Clark-West rejection beside the infeasible oracle
        (:func:`~backtest.study.evaluate.evaluate_models`, ``summarise_models``).
    """

    paths: pd.DataFrame
    summary: pd.DataFrame
    model: MarketModel
    config: RunConfig
    n_months: int
    random_state: int
    n_cached: int
    n_computed: int
    models: pd.DataFrame | None = None
    model_summary: pd.DataFrame | None = None


def path_seeds(random_state: int, signal: float, path: int) -> tuple[int, int]:
    """Seeds of one path's market simulation and of its model windows.

    Both are functions of (base seed, signal, path) only, through
    ``SeedSequence(random_state, spawn_key=(round(signal * 1e6), path))``.
    """
    sequence = np.random.SeedSequence(
        entropy=random_state, spawn_key=(round(signal * _SIGNAL_SCALE), path)
    )
    market, models = sequence.generate_state(2)
    return int(market), int(models)


def _check_study(model: MarketModel, signals: Sequence[float], n_paths: int) -> list[float]:
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise ValueError(f"`n_paths` must be a positive integer, got {n_paths!r}")
    if len(signals) == 0:
        raise ValueError("`signals` is empty; pass at least one population R2, e.g. 0 0.02")
    bound = model.max_signal_r2()
    out = []
    for s in signals:
        if not 0.0 <= float(s) <= bound:
            raise ValueError(
                f"signal R2={s!r} is outside [0, {bound:.4f}], the range this market model "
                f"allows; choose signals between 0 and {bound:.4f}"
            )
        out.append(float(s))
    if len(set(out)) != len(out):
        raise ValueError(f"`signals` has duplicates: {out}; list each strength once")
    return out


def study_config(model: MarketModel, config: RunConfig) -> RunConfig:
    """``config`` with the model's targets and relatives and the ``relatives`` variant."""
    data = dataclasses.replace(
        config.data, targets=model.target_names, relatives=model.relative_names
    )
    return dataclasses.replace(config, data=data, variant=Variant.RELATIVES)


def run_study(
    model: MarketModel,
    signals: Sequence[float],
    n_paths: int,
    n_months: int,
    config: RunConfig,
    random_state: int = 0,
    n_jobs: int | None = 1,
    cache_dir: str | Path | None = None,
    runner: Runner | None = None,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> StudyResult:
    """Run the full pipeline on ``n_paths`` simulated histories per signal strength.

    Parameters
    ----------
    model : MarketModel
        Means and covariances of the simulated market (targets and relatives).
    signals : sequence of float
        Population R2 values of the planted signal, each in ``[0, model.max_signal_r2()]``.
    n_paths : int
        Independent histories per signal.
    n_months : int
        Monthly returns per history (the real data have ~106).
    config : RunConfig
        Model, walk-forward and portfolio settings; targets, relatives and variant are
        replaced by the model's names and ``relatives``; ``random_state`` is not used (each
        path has its own seeds, see :func:`path_seeds`).
    random_state : int, default 0
        Base seed of the study.
    n_jobs : int or None, default 1
        Local workers for the window fits (-1 or None: all cores); ignored with ``runner``.
    cache_dir : str or Path, optional
        Window cache root (``<cache_dir>/windows``, shared with ``run``); reruns are cached.
    runner : callable, optional
        Window runner (see :mod:`backtest.engine.local`); default ``local_runner(n_jobs)``.
    progress : callable, optional
        Wraps the stream of finished windows, e.g. a progress bar.

    Returns
    -------
    StudyResult
    """
    signals = _check_study(model, signals, n_paths)
    config = study_config(model, config)
    names = [
        StrategyName(s).value
        for s in (config.portfolio.strategies or [s.value for s in StrategyName])
    ]
    if runner is None:
        from backtest.engine.local import local_runner, resolve_n_jobs

        runner = local_runner(resolve_n_jobs(n_jobs))
    store = WindowStore(Path(cache_dir or default_cache_dir()) / "windows")
    plans = []
    for signal in signals:
        for path in range(n_paths):
            market_seed, model_seed = path_seeds(random_state, signal, path)
            market = model.simulate(n_months, signal, market_seed)
            cfg = dataclasses.replace(config, random_state=model_seed)
            seq, notes = prepare(cfg, market.prices)
            plans.append((signal, path, market, cfg, seq, notes, plan_jobs(cfg, seq)))
    # One pass over every path's windows keeps all workers busy and starts them once.
    all_jobs = [job for plan in plans for job in plan[-1]]
    outputs, n_cached = run_jobs(all_jobs, store, runner, progress)
    frames, model_frames, start = [], [], 0
    for signal, path, market, cfg, seq, notes, jobs in plans:
        own = outputs[start : start + len(jobs)]
        start += len(jobs)
        returns = log_returns(market.prices)[list(cfg.data.targets)]
        panel = assemble(cfg, seq, jobs, own, 0, tuple(store.corrupt), notes, returns)
        backtest = backtest_strategies(
            panel,
            returns,
            names,
            cfg.portfolio.risk_aversion,
            cfg.portfolio.max_weight,
            cfg.portfolio.cost_bps,
        )
        rows = evaluate_path(market, panel, backtest, cfg, names)
        rows.insert(0, "path", path)
        rows.insert(0, "signal", signal)
        frames.append(rows)
        own_models = evaluate_models(market, panel)
        own_models.insert(0, "path", path)
        own_models.insert(0, "signal", signal)
        model_frames.append(own_models)
    paths = pd.concat(frames, ignore_index=True)
    models = pd.concat(model_frames, ignore_index=True)
    return StudyResult(
        paths=paths,
        summary=summarise(paths),
        model=model,
        config=config,
        n_months=n_months,
        random_state=random_state,
        n_cached=n_cached,
        n_computed=len(all_jobs) - n_cached,
        models=models,
        model_summary=summarise_models(models),
    )
