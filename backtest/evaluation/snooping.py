"""Data-snooping-robust tests from :mod:`arch.bootstrap`: SPA, StepM and the Model Confidence Set.

Thin, typed wrappers: the statistics are arch's; this module only turns returns into losses,
fixes the bootstrap (stationary, seeded) and returns frozen results the verdict can read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from arch.bootstrap import MCS, SPA, StepM

__all__ = [
    "BLOCK_SIZE",
    "REPS",
    "ConfidenceSet",
    "SuperiorityTest",
    "model_confidence_set",
    "pooled_squared_errors",
    "superiority_test",
]

BLOCK_SIZE = 6
"""Mean block length (months) of the stationary bootstrap of every test here."""
REPS = 1000
"""Bootstrap resamples of every test here."""


@dataclass(frozen=True)
class SuperiorityTest:
    """Whether any candidate beats the benchmark (SPA), and which ones do (StepM).

    Attributes
    ----------
    benchmark : str
        Column the candidates are compared with.
    candidates : tuple of str
        Columns tested (``n_candidates``).
    best : str
        Candidate with the highest mean return.
    best_mean_difference : float
        Its mean monthly return minus the benchmark's.
    spa_p_value : float
        Hansen's consistent SPA p-value of "no candidate beats the benchmark".
    spa_p_lower, spa_p_upper : float
        The lower and upper (White's Reality Check) SPA p-values.
    superior : tuple of str
        StepM's set: candidates that beat the benchmark with family-wise error <= ``level``.
    level : float
        Size of StepM.
    """

    benchmark: str
    candidates: tuple[str, ...]
    best: str
    best_mean_difference: float
    spa_p_value: float
    spa_p_lower: float
    spa_p_upper: float
    superior: tuple[str, ...]
    level: float

    def rejects(self, level: float | None = None) -> bool:
        """True when SPA rejects "nothing beats the benchmark" at ``level`` (default own)."""
        return self.spa_p_value < (self.level if level is None else level)


@dataclass(frozen=True)
class ConfidenceSet:
    """Hansen-Lunde-Nason Model Confidence Set of forecast losses.

    Attributes
    ----------
    included : tuple of str
        Models not distinguishable from the best at ``level`` (the set).
    excluded : tuple of str
        Models eliminated.
    p_values : pandas.Series
        MCS p-value of each model (a model is in the set when its p-value > ``level``,
        arch's rule).
    mean_loss : pandas.Series
        Mean loss of each model.
    level : float
        Size of the test.
    """

    included: tuple[str, ...]
    excluded: tuple[str, ...]
    p_values: pd.Series
    mean_loss: pd.Series
    level: float


def _check_frame(name: str, frame: pd.DataFrame, min_columns: int) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] < min_columns:
        raise ValueError(
            f"`{name}` must be a DataFrame with at least {min_columns} columns, got "
            f"{getattr(frame, 'shape', type(frame).__name__)}"
        )
    clean = frame.dropna()
    if clean.shape[0] < 2 * BLOCK_SIZE:
        raise ValueError(
            f"`{name}` has {clean.shape[0]} complete rows, too few for a block bootstrap with "
            f"blocks of {BLOCK_SIZE}; need at least {2 * BLOCK_SIZE}"
        )
    return clean


def superiority_test(
    returns: pd.DataFrame,
    benchmark: str,
    candidates: list[str] | tuple[str, ...] | None = None,
    level: float = 0.05,
    reps: int = REPS,
    block_size: int = BLOCK_SIZE,
    random_state: int = 0,
) -> SuperiorityTest:
    """Hansen's SPA and Romano-Wolf's StepM on monthly returns against one benchmark.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_columns)
        Net monthly returns; rows with a missing value are dropped.
    benchmark : str
        Column to beat (1/N, or mean-variance on the historical mean).
    candidates : sequence of str, optional
        Columns to test; default every column but the benchmark.
    level : float, default 0.05
        StepM's family-wise error rate.
    reps, block_size, random_state
        Stationary bootstrap: resamples, mean block length (months), seed.

    Returns
    -------
    SuperiorityTest

    Notes
    -----
    arch tests losses; the loss here is the negative return, so "lower loss" is "higher mean
    return" and the null is ``max_k E[r_k - r_benchmark] <= 0``. Both tests studentise the
    loss differentials and use the same seeded stationary bootstrap.

    References
    ----------
    Hansen, P. R. (2005). A test for superior predictive ability. Journal of Business &
    Economic Statistics 23(4), 365-380.
    Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized data snooping.
    Econometrica 73(4), 1237-1282.
    """
    names = [c for c in returns.columns if c != benchmark] if candidates is None else candidates
    names = [str(c) for c in names]
    if benchmark not in returns.columns:
        raise ValueError(
            f"`benchmark`={benchmark!r} is not a column of `returns` {list(returns.columns)}"
        )
    frame = _check_frame("returns", returns[[benchmark, *names]], 2)
    losses = -frame[names]
    base = -frame[benchmark]
    spa = SPA(base, losses, block_size=block_size, reps=reps, seed=random_state)
    spa.compute()
    stepm = StepM(base, losses, size=level, block_size=block_size, reps=reps, seed=random_state)
    try:
        stepm.compute()
        superior = tuple(str(s) for s in stepm.superior_models)
    except ValueError:
        # arch 8.0's StepM loops once more after a step rejects every remaining model and
        # fails on the empty subset: that only happens when every candidate is superior.
        superior = tuple(names)
    diff = frame[names].mean() - frame[benchmark].mean()
    return SuperiorityTest(
        benchmark=benchmark,
        candidates=tuple(names),
        best=str(diff.idxmax()),
        best_mean_difference=float(diff.max()),
        spa_p_value=float(spa.pvalues["consistent"]),
        spa_p_lower=float(spa.pvalues["lower"]),
        spa_p_upper=float(spa.pvalues["upper"]),
        superior=tuple(n for n in names if n in superior),
        level=level,
    )


def model_confidence_set(
    losses: pd.DataFrame,
    level: float = 0.1,
    reps: int = REPS,
    block_size: int = BLOCK_SIZE,
    random_state: int = 0,
) -> ConfidenceSet:
    """Model Confidence Set of forecast losses (e.g. pooled squared errors per month).

    Parameters
    ----------
    losses : pandas.DataFrame of shape (n_periods, n_models)
        One column per model (every forecaster and the historical mean); rows with a missing
        value are dropped.
    level : float, default 0.1
        Size: the set contains the best model with probability >= ``1 - level``
        (Hansen, Lunde and Nason use 10%).
    reps, block_size, random_state
        Stationary bootstrap settings.

    Returns
    -------
    ConfidenceSet

    References
    ----------
    Hansen, P. R., Lunde, A. and Nason, J. M. (2011). The model confidence set.
    Econometrica 79(2), 453-497.
    """
    frame = _check_frame("losses", losses, 2)
    frame.columns = [str(c) for c in frame.columns]
    # Models with identical losses cannot be told apart, and their zero-variance differences
    # break arch's statistic: test one representative of each group and give every member
    # its representative's p-value.
    representative: dict[str, str] = {}
    distinct: list[str] = []
    for column in frame.columns:
        twin = next((r for r in distinct if frame[r].equals(frame[column])), None)
        if twin is None:
            distinct.append(column)
        representative[column] = twin or column
    if len(distinct) == 1:
        p_distinct = pd.Series(1.0, index=distinct)
        kept = set(distinct)
    else:
        mcs = MCS(
            frame[distinct], size=level, reps=reps, block_size=block_size, method="R",
            seed=random_state,
        )  # fmt: skip
        mcs.compute()
        p_distinct = mcs.pvalues["Pvalue"]
        kept = set(mcs.included)
    p_values = pd.Series({c: p_distinct[representative[c]] for c in frame.columns})
    included = tuple(c for c in frame.columns if representative[c] in kept)
    return ConfidenceSet(
        included=included,
        excluded=tuple(c for c in frame.columns if c not in included),
        p_values=p_values.astype(float),
        mean_loss=frame.mean(),
        level=level,
    )


def pooled_squared_errors(
    realised: pd.DataFrame, forecasts: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Cross-sectional mean squared error per month of each model, for :func:`model_confidence_set`.

    Parameters
    ----------
    realised : pandas.DataFrame of shape (n_months, n_assets)
        Realised returns (NaN where unknown, e.g. the live month).
    forecasts : dict of str to pandas.DataFrame
        Each model's forecasts on the same grid (include the historical mean).

    Returns
    -------
    pandas.DataFrame of shape (n_common_months, n_models)
        ``mean_i (r_ti - f_ti)^2`` over the assets, on the months every model forecast.
    """
    frames = {
        name: ((realised - f.reindex_like(realised)) ** 2).mean(axis=1, skipna=False)
        for name, f in forecasts.items()
    }
    return pd.DataFrame(frames).replace([np.inf, -np.inf], np.nan).dropna()
