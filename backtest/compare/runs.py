"""Turn finished runs (:class:`~backtest.reports.run_dir.RunResult`) into the comparison's matrices.

The runs are read by the one reader, :func:`backtest.reports.run_dir.load_run`, which checks
each directory's manifest: a comparison never mixes files of different runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.portfolio.rebalance import EQUAL_WEIGHT, MARKET, MIN_VARIANCE
from backtest.reports.run_dir import BASELINE_MODEL, RunResult

__all__ = ["SHARED", "configuration_returns", "model_panels", "run_labels"]

BENCHMARKS = (EQUAL_WEIGHT, MIN_VARIANCE, MARKET)
SHARED = "all"
"""Variant label of a configuration that is the same in every run (benchmarks)."""
_ATOL = 1e-12


def _identical_groups(series: list[pd.Series]) -> list[list[int]]:
    """Indices of ``series`` grouped by identical values (NaN equal to NaN), in first-seen order."""
    groups: list[list[int]] = []
    for i, s in enumerate(series):
        for g in groups:
            if np.allclose(s, series[g[0]], rtol=0, atol=_ATOL, equal_nan=True):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _roles(run: RunResult, strategies) -> dict[str, str]:
    known = run.roles
    return {s: known.get(s, "benchmark" if s in BENCHMARKS else "strategy") for s in strategies}


def model_panels(runs: list[RunResult], labels: list[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """Every model of every run, keyed ``label/model``: its forecast, the run's mean, realised.

    Each value holds ``forecast``, ``hist_mean`` and ``realised`` (dates x tickers), the frames
    :func:`backtest.compare.stats.forecast_tests` takes; the primary model of each run comes
    first, then its others in the run's order.
    """
    panels = {}
    for label, run in zip(labels, runs, strict=True):
        primary = run.primary_model
        names = [primary, *(m for m in run.forecasts if m not in (primary, BASELINE_MODEL))]
        for model in names:
            panels[f"{label}/{model}"] = {
                "forecast": run.forecasts[model],
                "hist_mean": run.forecasts[BASELINE_MODEL],
                "realised": run.realised,
            }
    return panels


def run_labels(runs: list[RunResult]) -> list[str]:
    """The variant of each run, or ``variant@directory`` when two runs share a variant."""
    variants = [r.variant for r in runs]
    if len(set(variants)) == len(variants):
        return variants
    return [f"{r.variant}@{r.run_dir.name}" for r in runs]


def configuration_returns(
    runs: list[RunResult], labels: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The (n_months, n_configurations) matrix of net returns on the months all runs share.

    Parameters
    ----------
    runs : list of RunResult
    labels : list of str
        One label per run (see :func:`run_labels`).

    Returns
    -------
    returns : pandas.DataFrame
        Common months (where every column has a value) x configurations.
    meta : pandas.DataFrame
        Index = the configuration names of ``returns``; columns variant, strategy, role.
    notes : list of str
        What was merged or dropped, in plain words.

    Notes
    -----
    Benchmarks (equal weight, minimum variance, SPY) do not use the forecasts: each is one
    column, named by the strategy, with variant :data:`SHARED`, taken from the first run
    that has it. A forecast strategy is one column per run, named ``variant/strategy``,
    except that runs in which its returns are identical (e.g. the historical-mean baseline
    of variants that cover the same training months) share one column, named
    ``a+b/strategy``, or just ``strategy`` with variant :data:`SHARED` when every run agrees:
    repeating a column is not another trial.
    """
    nets = [r.net for r in runs]
    dates = nets[0].index
    for net in nets[1:]:
        dates = dates.intersection(net.index)
    if dates.empty:
        spans = "; ".join(
            f"{str(r.run_dir)!r}: {n.index.min():%Y-%m}..{n.index.max():%Y-%m}"
            for r, n in zip(runs, nets, strict=True)
        )
        raise ValueError(
            f"the runs share no month of portfolio returns ({spans}); compare runs over "
            "overlapping periods."
        )
    columns: dict[str, pd.Series] = {}
    meta: dict[str, tuple[str, str, str]] = {}
    notes: list[str] = []
    names = list(dict.fromkeys(s for n in nets for s in n.columns))
    roles = [_roles(r, n.columns) for r, n in zip(runs, nets, strict=True)]
    for strategy in names:
        having = [
            (lab, n, rl) for lab, n, rl in zip(labels, nets, roles, strict=True) if strategy in n
        ]
        series = [n[strategy].reindex(dates) for _, n, _ in having]
        role = having[0][2][strategy]
        if role == "benchmark":
            columns[strategy] = series[0]
            meta[strategy] = (SHARED, strategy, role)
            gap = max((float(np.nanmax(np.abs(s - series[0]))) for s in series[1:]), default=0)
            if gap > _ATOL:
                notes.append(
                    f"benchmark {strategy} differs across runs (max |diff| {gap:.2g}; e.g. each "
                    f"run pays its entry costs in its own first month); the first run's "
                    f"({having[0][0]}) is used."
                )
            continue
        for group in _identical_groups(series):
            members = [having[i][0] for i in group]
            variant = SHARED if len(group) == len(runs) > 1 else "+".join(members)
            name = strategy if variant == SHARED else f"{variant}/{strategy}"
            columns[name] = series[group[0]]
            meta[name] = (variant, strategy, role)
            if len(group) > 1:
                notes.append(
                    f"{strategy} has identical returns in {', '.join(members)}: one "
                    "configuration, not several."
                )
    returns = pd.DataFrame(columns)
    complete = returns.notna().all(axis=1)
    if not complete.all():
        notes.append(f"{int((~complete).sum())} common month(s) with a missing return dropped.")
    returns = returns[complete]
    returns.index.name = "date"
    frame = pd.DataFrame.from_dict(meta, orient="index", columns=["variant", "strategy", "role"])
    return returns, frame.rename_axis("configuration"), notes
