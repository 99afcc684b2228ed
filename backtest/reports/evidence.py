"""The tests behind a verdict, gathered once from a run's forecasts and strategy returns.

:class:`Evidence` holds every test the verdict may cite (forecast skill per model, MCS, SPA and
StepM against each benchmark, Ledoit-Wolf, deflated Sharpe, PBO with its interval, economic
value); :mod:`backtest.reports.verdict` only words it. Any number of models and strategies.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine.panel import ForecastPanel
from backtest.evaluation.deflation import DeflatedBest, deflated_best
from backtest.evaluation.economic import EconomicValue, economic_value
from backtest.evaluation.models import holm, model_metrics
from backtest.evaluation.overfitting import PBOInterval, pbo_interval
from backtest.evaluation.sharpe_tests import SharpeDifferenceTest, sharpe_difference_test
from backtest.evaluation.snooping import (
    ConfidenceSet,
    SuperiorityTest,
    model_confidence_set,
    pooled_squared_errors,
    superiority_test,
)
from backtest.portfolio.rebalance import BASELINE, EQUAL_WEIGHT, StrategyBacktest

__all__ = [
    "LEVEL",
    "Evidence",
    "ForecastEvidence",
    "evidence_table",
    "holm",
    "model_evidence",
    "run_evidence",
    "strategy_evidence",
]

LEVEL = 0.05
"""The one significance level of every test a verdict cites (intervals are 1 - LEVEL)."""


@dataclass(frozen=True)
class ForecastEvidence:
    """One model's out-of-sample accuracy against the historical mean.

    ``r2_os`` is pooled; ``cw_p`` the pooled one-sided Clark-West p-value; ``holm_rejected``
    the tickers whose per-ticker Clark-West rejects after Holm's adjustment over
    ``n_tickers``.
    """

    model: str
    r2_os: float
    cw_p: float
    holm_rejected: tuple[str, ...]
    n_tickers: int


@dataclass(frozen=True)
class Evidence:
    """Everything a verdict is built from (None where a test could not run)."""

    level: float
    forecasts: tuple[ForecastEvidence, ...]
    mcs: ConfidenceSet | None
    superiority: tuple[SuperiorityTest, ...]
    best: str | None
    sharpe_vs_1n: SharpeDifferenceTest | None
    deflated: DeflatedBest | None
    pbo: PBOInterval | None
    economic: Mapping[str, EconomicValue]
    gamma: float
    n_strategies: int
    labels: Mapping[str, str]

    def label(self, column: str) -> str:
        """How the verdict names a benchmark column ("1/N", ...), the column itself otherwise."""
        return self.labels.get(column, column)


def model_evidence(
    realised: pd.DataFrame,
    forecasts: Mapping[str, pd.DataFrame],
    hist_mean: pd.DataFrame,
    level: float = LEVEL,
    random_state: int = 0,
) -> tuple[tuple[ForecastEvidence, ...], ConfidenceSet | None, dict[str, pd.DataFrame]]:
    """Per-model Clark-West (pooled, and per ticker with Holm) and the MCS of all models.

    Returns the evidence, the MCS over every model and the historical mean (None when too
    few months) and each model's metrics table with a ``cw_p_holm`` column.
    """
    out, tables = [], {}
    # The same table forecast_metrics.csv holds (Holm over each model's tickers).
    metrics = model_metrics(realised, forecasts, hist_mean)
    for model in forecasts:
        table = metrics[metrics["model"] == model].drop(columns="model").set_index("ticker")
        tickers = table.drop(index="pooled")
        tables[model] = table
        rejected = tuple(t for t in tickers.index if table.loc[t, "cw_p_holm"] < level)
        pooled = table.loc["pooled"]
        out.append(
            ForecastEvidence(
                model,
                float(pooled["r2_os_vs_mean"]),
                float(pooled["cw_p"]),
                rejected,
                len(tickers),
            )  # fmt: skip
        )
    losses = pooled_squared_errors(realised, {**forecasts, "hist_mean": hist_mean})
    try:
        mcs = model_confidence_set(losses, level=level, random_state=random_state)
    except ValueError:
        mcs = None
    return tuple(out), mcs, tables


def strategy_evidence(
    net: pd.DataFrame,
    gross: pd.DataFrame | None,
    turnover: pd.DataFrame | None,
    strategies: list[str],
    benchmarks: Mapping[str, str],
    gamma: float,
    n_trials: int | None = None,
    level: float = LEVEL,
    random_state: int = 0,
) -> dict:
    """SPA/StepM against each benchmark, Ledoit-Wolf, DSR, PBO and economic value of the best.

    Parameters
    ----------
    net, gross, turnover : DataFrame of shape (n_months, n_columns)
        Monthly net and gross returns and turnover of strategies and benchmarks (excess of the
        risk-free rate for net); without gross and turnover there is no break-even cost.
    strategies : list of str
        The configurations tried (benchmarks excluded).
    benchmarks : mapping of str to str
        Role to column: "1/N" -> the equal-weight column, "hist-mean MV" -> mean-variance on
        the historical mean (a strategy that is also a benchmark is excluded from the
        candidates tested against itself).
    gamma : float
        Risk aversion of the CER and the fee.
    n_trials : int, optional
        Configurations tried in total, when more than ``strategies``.

    Returns
    -------
    dict
        Keyword arguments of :class:`Evidence` other than the forecast ones.
    """
    net = net.dropna()
    superiority = []
    for column in benchmarks.values():
        candidates = [s for s in strategies if s != column]
        if column in net and candidates:
            with suppress(ValueError):  # too few months for a block bootstrap
                superiority.append(
                    superiority_test(
                        net, column, candidates, level=level, random_state=random_state
                    )
                )
    equal = benchmarks.get("1/N")
    trials = net[strategies]
    try:
        deflated = deflated_best(trials, net[equal] if equal in net else None, n_trials)
    except ValueError:
        deflated = None
    best = deflated.best if deflated is not None else None
    lw = pbo = None
    if best is not None and equal in net:
        with suppress(ValueError):
            lw = sharpe_difference_test(
                net[best], net[equal], alpha=level, random_state=random_state
            )
    with suppress(ValueError):
        pbo = pbo_interval(trials, alpha=level, random_state=random_state)
    economic = {}
    for column in benchmarks.values():
        if best is None or column not in net or column == best or len(net) < 12:
            continue
        costs = (
            (gross.loc[net.index, best], turnover.loc[net.index, best],
             gross.loc[net.index, column], turnover.loc[net.index, column])
            if gross is not None and turnover is not None else (None,) * 4
        )  # fmt: skip
        economic[column] = economic_value(
            net[best], net[column], gamma, *costs, alpha=level, random_state=random_state
        )
    return {
        "superiority": tuple(superiority),
        "best": best,
        "sharpe_vs_1n": lw,
        "deflated": deflated,
        "pbo": pbo if pbo is not None and len(strategies) > 1 else None,
        "economic": economic,
        "gamma": gamma,
        "n_strategies": len(strategies),
        "labels": {column: role for role, column in benchmarks.items()},
    }


def run_evidence(
    panel: ForecastPanel,
    backtest: StrategyBacktest,
    gamma: float,
    risk_free: float = 0.0,
    level: float = LEVEL,
    random_state: int = 0,
) -> Evidence:
    """Every test of one run: each model against the mean, each strategy against 1/N and MV.

    The trials are the run's strategies except mean-variance on the historical mean, which is
    a benchmark here (as are 1/N, minimum variance and the market).
    """
    forecasts, mcs, _ = model_evidence(
        panel.realised, panel.forecasts, panel.hist_mean, level, random_state
    )
    rf = (1.0 + risk_free) ** (1 / 12) - 1.0
    net = backtest.frame("net") - rf
    trials = [s for s in backtest.results if s not in backtest.benchmarks and s != BASELINE]
    benchmarks = {"1/N": EQUAL_WEIGHT, "mean-variance on the historical mean": BASELINE}
    found = {k: v for k, v in benchmarks.items() if v in net.columns}
    rest = strategy_evidence(
        net, backtest.frame("gross"), backtest.frame("turnover"), trials or [BASELINE],
        found, gamma, level=level, random_state=random_state,
    )  # fmt: skip
    return Evidence(level=level, forecasts=forecasts, mcs=mcs, **rest)


def evidence_table(ev: Evidence) -> pd.DataFrame:
    """inference.csv: one row per test (test, subject, versus, statistic, p_value, low, high)."""
    rows = []
    for f in ev.forecasts:
        rows.append(["clark_west_pooled", f.model, "hist_mean", f.r2_os, f.cw_p, np.nan, np.nan])
    if ev.mcs is not None:
        for name, p in ev.mcs.p_values.items():
            rows.append(["mcs", name, "best", ev.mcs.mean_loss[name], p, np.nan, np.nan])
    for t in ev.superiority:
        rows.append(["spa", t.best, t.benchmark, t.best_mean_difference, t.spa_p_value,
                     np.nan, np.nan])  # fmt: skip
        for name in t.superior:
            rows.append(["stepm_superior", name, t.benchmark, np.nan, np.nan, np.nan, np.nan])
    if ev.sharpe_vs_1n is not None:
        lw = ev.sharpe_vs_1n
        rows.append(["ledoit_wolf", ev.best, EQUAL_WEIGHT, lw.difference, lw.p_value,
                     lw.ci_low, lw.ci_high])  # fmt: skip
    if ev.deflated is not None:
        d = ev.deflated
        rows.append(["dsr_vs_zero", d.best, "zero", d.dsr_vs_zero, np.nan, np.nan, np.nan])
        rows.append(["dsr_vs_1N", d.best, EQUAL_WEIGHT, d.dsr_vs_benchmark, np.nan, np.nan,
                     np.nan])  # fmt: skip
        rows.append(["n_effective_trials", d.best, "", d.n_effective, np.nan, np.nan, np.nan])
    if ev.pbo is not None:
        rows.append(["pbo", "trials", "", ev.pbo.pbo, np.nan, ev.pbo.low, ev.pbo.high])
    for column, v in ev.economic.items():
        for test, x in (("cer_gain_pct_a_year", v.cer_gain), ("fee_bps_a_year", v.fee_bps),
                        ("break_even_bps", v.break_even_bps)):  # fmt: skip
            rows.append([test, ev.best, column, x.estimate, np.nan, x.low, x.high])
    columns = ["test", "subject", "versus", "statistic", "p_value", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)
