"""Read finished run directories into the matrices the comparison needs.

Only the files a run wrote are read: ``config.json`` (its variant and risk-free rate),
``portfolio_returns.csv`` (monthly net returns per strategy), ``performance.csv`` (each
strategy's role) and ``forecasts.csv`` (LSTM and historical-mean forecasts, realised values).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.portfolio.rebalance import EQUAL_WEIGHT, MARKET, MIN_VARIANCE

__all__ = ["RUN_FILES", "SHARED", "RunData", "configuration_returns", "load_run"]

RUN_FILES = ("config.json", "portfolio_returns.csv", "performance.csv", "forecasts.csv")
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


@dataclass(frozen=True)
class RunData:
    """What one run directory holds, as frames.

    Attributes
    ----------
    path : Path
        The run directory.
    variant : str
        ``config.variant`` from config.json.
    risk_free : float
        ``config.portfolio.risk_free`` (annual).
    random_state : int
        ``config.random_state``.
    net : pandas.DataFrame of shape (n_months, n_strategies)
        Monthly net simple returns, month-end dates x strategies.
    roles : dict of str to str
        "strategy", "baseline" or "benchmark" per strategy (performance.csv).
    panel : dict of str to pandas.DataFrame
        "forecast" (the run's primary model), every model by name, "hist_mean" and
        "realised": dates (the month forecast) x tickers.
    """

    path: Path
    variant: str
    risk_free: float
    random_state: int
    net: pd.DataFrame
    roles: dict[str, str]
    panel: dict[str, pd.DataFrame]


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot parse {str(path)!r} ({exc}); rerun `backtest run`.") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{str(path)!r} lacks the columns {missing} (has {list(frame.columns)}); it was not "
            "written by this version of `backtest run`: rerun it."
        )
    if frame.empty:
        raise ValueError(f"{str(path)!r} has no rows; rerun `backtest run`.")
    return frame


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))["config"]
        config["variant"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a run's config.json (no config.variant: {exc!r}); pass "
            "directories written by `python -m backtest run`."
        ) from None
    return config


def load_run(path: str | Path) -> RunData:
    """Read one run directory written by ``python -m backtest run``.

    Raises
    ------
    ValueError
        When the directory does not exist, lacks one of :data:`RUN_FILES`, or a file cannot
        be parsed; the message names the path.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(
            f"run directory {str(path)!r} does not exist or is not a directory; pass the "
            "results/<run-name>/ directories of finished runs."
        )
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"run directory {str(path)!r} lacks {', '.join(missing)}: it is not a finished "
            "run; rerun `python -m backtest run` into it (an interrupted run resumes)."
        )
    config = _read_config(path / "config.json")
    returns = _read_csv(path / "portfolio_returns.csv", ["date", "strategy", "net"])
    returns["date"] = pd.to_datetime(returns["date"])
    net = returns.pivot(index="date", columns="strategy", values="net").sort_index()
    net.columns.name = None
    perf = _read_csv(path / "performance.csv", ["strategy", "role"])
    roles = {s: ("benchmark" if s in BENCHMARKS else "strategy") for s in net.columns}
    roles.update(dict(zip(perf["strategy"], perf["role"], strict=True)))
    fc = _read_csv(path / "forecasts.csv", ["date", "ticker", "model", "forecast", "realised"])
    fc["date"] = pd.to_datetime(fc["date"])
    panel = {
        model: rows.pivot(index="date", columns="ticker", values="forecast")
        for model, rows in fc.groupby("model", sort=False)
    }
    models = [m for m in panel if m != "hist_mean"]
    if not models or "hist_mean" not in panel:
        raise ValueError(
            f"{str(path / 'forecasts.csv')!r} needs rows of a model and of 'hist_mean'; rerun "
            "the run."
        )
    # Older runs record no model list: their one model is the primary.
    names = (config.get("models") or {}).get("names") or models
    primary = next((m for m in names if m in panel), models[0])
    panel["forecast"] = panel[primary]
    panel["realised"] = fc[fc["model"] == primary].pivot(
        index="date", columns="ticker", values="realised"
    )
    return RunData(
        path=path,
        variant=str(config["variant"]),
        risk_free=float((config.get("portfolio") or {}).get("risk_free") or 0.0),
        random_state=int(config.get("random_state") or 0),
        net=net,
        roles={s: roles[s] for s in net.columns},
        panel=panel,
    )


def run_labels(runs: list[RunData]) -> list[str]:
    """The variant of each run, or ``variant@directory`` when two runs share a variant."""
    variants = [r.variant for r in runs]
    if len(set(variants)) == len(variants):
        return variants
    return [f"{r.variant}@{r.path.name}" for r in runs]


def configuration_returns(
    runs: list[RunData], labels: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The (n_months, n_configurations) matrix of net returns on the months all runs share.

    Parameters
    ----------
    runs : list of RunData
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
    dates = runs[0].net.index
    for run in runs[1:]:
        dates = dates.intersection(run.net.index)
    if dates.empty:
        spans = "; ".join(
            f"{str(r.path)!r}: {r.net.index.min():%Y-%m}..{r.net.index.max():%Y-%m}" for r in runs
        )
        raise ValueError(
            f"the runs share no month of portfolio returns ({spans}); compare runs over "
            "overlapping periods."
        )
    columns: dict[str, pd.Series] = {}
    meta: dict[str, tuple[str, str, str]] = {}
    notes: list[str] = []
    names = list(dict.fromkeys(s for r in runs for s in r.net.columns))
    for strategy in names:
        having = [(lab, r) for lab, r in zip(labels, runs, strict=True) if strategy in r.net]
        series = [r.net[strategy].reindex(dates) for _, r in having]
        role = having[0][1].roles[strategy]
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
