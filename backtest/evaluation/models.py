"""Every model against the historical mean, against zero, and against each other.

The per-model tables of a run: :func:`model_metrics` stacks
:func:`backtest.evaluation.forecasts.forecast_metrics` (RMSE, MAE, R2, directional accuracy,
R2_OS against the mean and against zero, Clark-West against the mean, Holm over the tickers)
per model, ticker and pooled; :func:`model_comparison` runs Diebold-Mariano (HLN) between
every pair of models; :func:`models_table` is the one "models compared" table (summary.md,
report.html), built from those two tables and the model confidence set;
:func:`member_metrics` and :func:`seed_spread` score each member of an ensemble the same way
and say how far its R2_OS moves with the seed.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from backtest.engine.panel import BENCHMARK
from backtest.evaluation.forecasts import diebold_mariano, forecast_metrics

POOLED = "pooled"
COMPARISON_COLUMNS = [
    "model", "versus", "ticker", "n_months", "dm_stat", "p_value", "p_value_better",
    "mean_differential",
]  # fmt: skip


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate), NaN left as NaN.

    statsmodels' ``multipletests`` computes them. Its Holm branch ends with a full
    ``gc.collect()``, which scans every object alive in the process: 0.13 s a call once
    scikit-learn, arch and matplotlib are imported (more with TensorFlow), and a run makes
    one call per model and family. The objects alive before the call are frozen out of the
    collector's view for its duration (``gc.freeze``, undone at once), so the collection
    scans only what the call itself made: 30 us.

    Notes
    -----
    With the m finite p-values sorted ascending, ``p~_(i) = max_{j<=i} min(1, (m - j + 1)
    p_(j))``. Rejecting where ``p~ < alpha`` controls the chance of any false rejection at
    alpha; its smallest value is the Bonferroni ``m p_(1)``.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2), 65-70.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        gc.freeze()
        try:
            out[finite] = multipletests(p[finite], method="holm")[1]
        finally:
            gc.unfreeze()
    return out


def holm(p_values: pd.Series) -> pd.Series:
    """:func:`holm_adjust` of a series, on its index."""
    return pd.Series(holm_adjust(p_values.to_numpy()), index=p_values.index)


def model_metrics(
    realised: pd.DataFrame, forecasts: Mapping[str, pd.DataFrame], benchmark: pd.DataFrame
) -> pd.DataFrame:
    """:func:`forecast_metrics` of each model against ``benchmark``, one block per model.

    ``cw_p_holm`` adjusts each model's per-ticker Clark-West p-values over its tickers
    (Holm); the pooled row is one test and keeps its own p-value. A model equal to the
    benchmark (``hist_mean`` itself) scores R2_OS = 0 against it and has no Clark-West test.

    Returns
    -------
    DataFrame
        Columns ``model``, ``ticker`` (each target, then ``"pooled"``), the metrics and
        ``cw_p_holm``.
    """
    blocks = []
    for model, frame in forecasts.items():
        table = forecast_metrics(realised, frame, benchmark)
        per_ticker = holm(table["cw_p"].drop(index=POOLED))
        table["cw_p_holm"] = per_ticker.reindex(table.index).fillna(table["cw_p"])
        table = table.rename_axis("ticker").reset_index()
        table.insert(0, "model", model)
        blocks.append(table)
    return pd.concat(blocks, ignore_index=True)


MEMBER = "member"
SPREAD_COLUMNS = ["n_members", "r2_os_member_min", "r2_os_member_median", "r2_os_member_max"]


def member_metrics(
    realised: pd.DataFrame,
    members: Mapping[str, Sequence[pd.DataFrame]],
    benchmark: pd.DataFrame,
) -> pd.DataFrame:
    """:func:`model_metrics` of each ensemble member, exactly as the ensemble is scored.

    Parameters
    ----------
    realised, benchmark : DataFrame of shape (n_periods, n_assets)
        The realised returns and the benchmark (the full-history historical mean) that the
        ensemble's own metrics use.
    members : mapping of str to sequence of DataFrame
        Per model, each member's ``(n_periods, n_assets)`` forecasts.

    Returns
    -------
    DataFrame
        Columns ``model``, ``member`` (0, 1, ...), ``ticker`` (each target, then
        ``"pooled"``) and the metrics; no rows when ``members`` is empty.
    """
    blocks = []
    for model, frames in members.items():
        table = model_metrics(realised, dict(enumerate(frames)), benchmark)
        table = table.rename(columns={"model": MEMBER})
        table.insert(0, "model", model)
        blocks.append(table)
    if not blocks:
        return pd.DataFrame(columns=["model", MEMBER, "ticker"])
    return pd.concat(blocks, ignore_index=True)


def seed_spread(metrics: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` with the spread of R2_OS (vs the mean) across each model's members.

    Adds :data:`SPREAD_COLUMNS` to every (model, ticker) row of :func:`model_metrics`:
    the number of members and the min / median / max of the members' ``r2_os_vs_mean``
    from :func:`member_metrics`; the row's own ``r2_os_vs_mean`` is the ensemble's. A
    model of one member has ``n_members`` 1 and no spread (NaN). A description of how
    much of a score is the seed, not a test.
    """
    r2 = members.groupby(["model", "ticker"], sort=False)["r2_os_vs_mean"]
    spread = pd.DataFrame(
        {
            "n_members": r2.size(),
            "r2_os_member_min": r2.min(),
            "r2_os_member_median": r2.median(),
            "r2_os_member_max": r2.max(),
        }
    )
    out = metrics.join(spread, on=["model", "ticker"])
    out["n_members"] = out["n_members"].fillna(1).astype(int)
    return out


def _dm(differential: np.ndarray) -> tuple[float, float, float, float]:
    """DM on a loss differential: errors whose squares differ by it give the same statistic."""
    d = differential[np.isfinite(differential)]
    if d.size < 3 or np.allclose(d, 0.0, rtol=0.0, atol=1e-18):
        return np.nan, np.nan, np.nan, float(np.mean(d)) if d.size else np.nan
    res = diebold_mariano(np.sqrt(np.maximum(d, 0.0)), np.sqrt(np.maximum(-d, 0.0)))
    return res.statistic, res.p_value, res.p_value_greater, res.mean


def model_comparison(realised: pd.DataFrame, forecasts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Diebold-Mariano (horizon 1, HLN correction) between every pair of models.

    For the pair (``model``, ``versus``) the differential is
    ``d_t = e_versus,t^2 - e_model,t^2``: positive when ``model`` has the smaller squared
    error. Per ticker on its months, and pooled on the cross-sectional mean of ``d`` per
    month (the months' errors are correlated across assets, so they are not independent
    evidence). ``p_value`` is two-sided; ``p_value_better`` one-sided for "``model`` is more
    accurate". A pair with identical forecasts has NaN statistics.

    Returns
    -------
    DataFrame
        Columns :data:`COMPARISON_COLUMNS`.
    """
    rows = []
    tickers = list(realised.columns)
    for a, b in combinations(list(forecasts), 2):
        diff = ((realised - forecasts[b]) ** 2 - (realised - forecasts[a]) ** 2).to_numpy(float)
        for j, ticker in enumerate(tickers):
            d = diff[:, j]
            rows.append([a, b, ticker, int(np.isfinite(d).sum()), *_dm(d)])
        ok = np.isfinite(diff).any(axis=1)
        pooled = np.nanmean(diff[ok], axis=1) if ok.any() else np.empty(0)
        rows.append([a, b, POOLED, int(pooled.size), *_dm(pooled)])
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return table.astype({"n_months": int})


def models_table(
    metrics: pd.DataFrame,
    comparison: pd.DataFrame,
    reference: str,
    mcs_p: pd.Series | None = None,
    level: float = 0.05,
) -> pd.DataFrame:
    """The "models compared" table: pooled R2_OS (vs mean, vs zero), CW p, DM, MCS.

    The one builder of the table in summary.md and report.html: both call it on the same
    tables (:func:`model_metrics`, :func:`model_comparison`, the MCS rows of inference.csv).

    Parameters
    ----------
    metrics, comparison : DataFrame
        :func:`model_metrics` and :func:`model_comparison` (or their CSVs read back).
    reference : str
        The model the DM columns compare against (the run's primary model).
    mcs_p : Series, optional
        MCS p-value per model (:func:`mcs_p_values`); adds ``mcs_p`` and ``in_mcs``.
    level : float, default 0.05
        Size of the MCS: a model is in the set when its p-value exceeds it (arch's rule).

    Returns
    -------
    DataFrame
        One row per model of ``metrics`` in its order (``hist_mean`` included when scored);
        ``dm_p_vs_<reference>`` is the two-sided DM p-value against the reference model
        and ``dm_stat_vs_<reference>`` its statistic (positive: more accurate than it); when
        ``metrics`` carries the seed spread (:func:`seed_spread`), its pooled
        :data:`SPREAD_COLUMNS` follow.
    """
    pooled = metrics[metrics["ticker"] == POOLED].set_index("model")
    out = pooled[["n_months", "rmse", "r2_os_vs_mean", "r2_os_vs_zero", "cw_p"]].copy()
    spread = [c for c in SPREAD_COLUMNS if c in pooled]
    stat, p = {}, {}
    for model in out.index:
        rows = comparison[comparison["ticker"] == POOLED]
        ab = rows[(rows["model"] == model) & (rows["versus"] == reference)]
        ba = rows[(rows["model"] == reference) & (rows["versus"] == model)]
        if len(ab):
            stat[model], p[model] = ab["dm_stat"].iloc[0], ab["p_value"].iloc[0]
        elif len(ba):
            stat[model], p[model] = -ba["dm_stat"].iloc[0], ba["p_value"].iloc[0]
    out[f"dm_stat_vs_{reference}"] = pd.Series(stat, dtype=float)
    out[f"dm_p_vs_{reference}"] = pd.Series(p, dtype=float)
    if mcs_p is not None and not mcs_p.empty:
        out["mcs_p"] = mcs_p.reindex(out.index).astype(float)
        out["in_mcs"] = (out["mcs_p"] > level).astype(bool)
    for column in spread:  # the seed spread, when a model has several members
        out[column] = pooled[column]
    return out.rename_axis("model")


def mcs_p_values(tests: pd.DataFrame) -> pd.Series:
    """MCS p-value per model from an inference table (``test == "mcs"`` rows; empty if none)."""
    rows = tests[tests["test"] == "mcs"]
    return pd.Series(rows["p_value"].to_numpy(float), index=rows["subject"].astype(str))


def _pct(value: float) -> str:
    return f"{value:+.2%}"


def comparator_sentence(table: pd.DataFrame, reference: str, level: float = 0.05) -> str:
    """One sentence: which model, if any, beats the mean, and each against ``reference``.

    E.g. "Neither lstm (R2_OS -0.40%, p = 0.31) nor ridge (-0.10%, p = 0.52) beats the
    historical mean; lstm and ridge forecast equally well within noise (DM p = 0.40)."
    """
    # The benchmark's own row (R2_OS = 0 against itself) is what the others are measured by.
    table = table.drop(index=BENCHMARK, errors="ignore")
    parts = [
        f"{m} (R2_OS {_pct(table.loc[m, 'r2_os_vs_mean'])}, p = {table.loc[m, 'cw_p']:.2f})"
        for m in table.index
    ]
    beat = [
        m for m in table.index if table.loc[m, "r2_os_vs_mean"] > 0 and table.loc[m, "cw_p"] < level
    ]
    if not beat:
        head = (
            f"{parts[0]} does not beat the historical mean"
            if len(parts) == 1
            else f"None of {', '.join(parts[:-1])} and {parts[-1]} beats the historical mean"
            if len(parts) > 2
            else f"Neither {parts[0]} nor {parts[1]} beats the historical mean"
        )
    else:
        head = (
            f"Beating the historical mean (Clark-West at {level:.0%}): {', '.join(beat)}; "
            f"models: {'; '.join(parts)}"
        )
    column = f"dm_p_vs_{reference}"
    versus = []
    for m in table.index:
        if m == reference or column not in table or not np.isfinite(table.loc[m, column]):
            continue
        p, stat = table.loc[m, column], table.loc[m, f"dm_stat_vs_{reference}"]
        if p < level:
            better, worse = (m, reference) if stat > 0 else (reference, m)
            versus.append(f"{better} beats {worse} (DM p = {p:.2f})")
        else:
            versus.append(
                f"{reference} and {m} forecast equally well within noise (DM p = {p:.2f})"
            )
    return head + ("; " + "; ".join(versus) if versus else "") + "."


def seed_sentence(table: pd.DataFrame) -> str:
    """How far each ensemble's pooled R2_OS moves with the seed; '' when no model has members.

    E.g. "Seed spread (a description, not a test): the pooled R2_OS of lstm's 5 members runs
    from -0.80% to +0.30% (median -0.20%); their average, the ensemble, scores -0.10%."
    """
    if "n_members" not in table:
        return ""
    parts = [
        f"the pooled R2_OS of {m}'s {table.loc[m, 'n_members']} members runs from "
        f"{_pct(table.loc[m, 'r2_os_member_min'])} to {_pct(table.loc[m, 'r2_os_member_max'])} "
        f"(median {_pct(table.loc[m, 'r2_os_member_median'])}); their average, the ensemble, "
        f"scores {_pct(table.loc[m, 'r2_os_vs_mean'])}"
        for m in table.index
        if table.loc[m, "n_members"] > 1
    ]
    return f"Seed spread (a description, not a test): {'; '.join(parts)}." if parts else ""
