"""Portfolio P&L: monthly returns, drift, turnover and proportional trading costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PortfolioResult", "simulate_portfolio"]

_BUDGET_TOL = 1e-6


@dataclass(frozen=True)
class PortfolioResult:
    """Month-by-month outcome of holding a sequence of target weights.

    Attributes
    ----------
    gross : pd.Series
        Simple portfolio return before costs, indexed by the month in which it is earned (t+1).
    net : pd.Series
        Simple portfolio return after proportional costs, same index as `gross`.
    turnover : pd.Series
        ``sum_i |w_new_i - w_drifted_i|`` traded at the rebalance that opens each month, same
        index as `gross`.
    costs : pd.Series
        Cost deducted, as a fraction of wealth before trading, same index as `gross`.
    weights : pd.DataFrame
        Target weights of shape ``(n_periods, n_assets)``, indexed by the decision month t.
    """

    gross: pd.Series
    net: pd.Series
    turnover: pd.Series
    costs: pd.Series
    weights: pd.DataFrame


def simulate_portfolio(
    weights: pd.DataFrame,
    realised_simple: pd.DataFrame,
    cost_bps: float = 10.0,
) -> PortfolioResult:
    r"""Simulate monthly rebalancing to target weights with drift and proportional costs.

    Parameters
    ----------
    weights : pd.DataFrame of shape (n_periods, n_assets)
        Target weights decided at each month-end t with information up to t. The index must be
        strictly increasing and hold one row per consecutive calendar month; every row must be
        finite and sum to 1 (within 1e-6).
    realised_simple : pd.DataFrame of shape (n_months, n_assets)
        Realised monthly SIMPLE returns indexed by the month in which they are earned. It must
        have the same columns as `weights` (order may differ) and contain, for every decision
        month t, a finite row for the calendar month after t. Extra rows are ignored.
    cost_bps : float, default=10.0
        Proportional cost per unit of turnover, in basis points (10 = 0.1% of the traded value).

    Returns
    -------
    PortfolioResult
        `gross`, `net`, `turnover` and `costs` indexed by the month earned (t+1), taking the
        timestamps of `realised_simple`; `weights` indexed by the decision month t.

    Raises
    ------
    ValueError
        If the columns differ, a weight row is not finite or does not sum to 1, the decision
        dates are not consecutive months, the realised frame lacks the month after a decision,
        or `cost_bps` is negative or not finite.

    Notes
    -----
    For decision month t with target weights :math:`w_t` and realised simple returns
    :math:`r_{t+1}` of the next month:

    .. math::

        R^{gross}_{t+1} = w_t^\top r_{t+1}, \qquad
        \tilde w_{t+1} = \frac{w_t \odot (1 + r_{t+1})}{1 + R^{gross}_{t+1}}

    :math:`\tilde w_{t+1}` is the drifted weight vector held at the end of month t+1, just
    before the next rebalance. The turnover of the rebalance that opens month t+1 is

    .. math::

        \tau_{t+1} = \sum_i |w_{t,i} - \tilde w_{t,i}|,

    with :math:`\tilde w` of the first decision taken as zero (the portfolio starts in cash), so
    the first rebalance counts :math:`\sum_i |w_i|` (1 for a long-only portfolio). Buying the
    initial portfolio is a real trade, and charging it keeps strategies that start at the same
    time comparable. The cost is :math:`c_{t+1} = \tau_{t+1} \cdot \text{cost\_bps} / 10^4`, paid
    out of wealth when trading, before the month's returns accrue, so

    .. math::

        R^{net}_{t+1} = (1 - c_{t+1})(1 + R^{gross}_{t+1}) - 1 .

    This compounds exactly (the traded wealth, not the post-return wealth, pays the cost) and
    equals :math:`R^{gross} - c` up to the second-order term :math:`c R^{gross}`.

    References
    ----------
    .. [1] DeMiguel, V., Garlappi, L. and Uppal, R. (2009). "Optimal Versus Naive
       Diversification: How Inefficient is the 1/N Portfolio Strategy?" Review of Financial
       Studies, 22(5), 1915-1953 (turnover and proportional costs, section 3).
    """
    if not np.isfinite(cost_bps) or cost_bps < 0:
        raise ValueError(f"`cost_bps` must be a finite number >= 0, got {cost_bps!r}.")
    w = _validate_weights(weights)
    only_w = sorted(map(str, set(w.columns) - set(realised_simple.columns)))
    only_r = sorted(map(str, set(realised_simple.columns) - set(w.columns)))
    if only_w or only_r or w.columns.has_duplicates or realised_simple.columns.has_duplicates:
        raise ValueError(
            "`weights` and `realised_simple` must have the same (unique) columns; only in "
            f"weights: {only_w}, only in realised_simple: {only_r}. "
            "Select the same assets in both frames."
        )
    realised = _next_month_rows(w.index, realised_simple[list(w.columns)])

    w_arr = w.to_numpy(dtype=float)
    r_arr = realised.to_numpy(dtype=float)
    gross = np.einsum("ij,ij->i", w_arr, r_arr)
    if np.any(1.0 + gross <= 0.0):
        bad = realised.index[int(np.argmax(1.0 + gross <= 0.0))]
        raise ValueError(
            f"The portfolio lost all its wealth in {bad:%Y-%m} (gross return <= -100%); "
            "drift and costs are undefined after that. Check `weights` and `realised_simple`."
        )
    drifted = w_arr * (1.0 + r_arr) / (1.0 + gross)[:, None]
    held_before = np.vstack([np.zeros((1, w_arr.shape[1])), drifted[:-1]])
    turnover = np.abs(w_arr - held_before).sum(axis=1)
    costs = turnover * cost_bps / 1e4
    net = (1.0 - costs) * (1.0 + gross) - 1.0

    index = realised.index
    return PortfolioResult(
        gross=pd.Series(gross, index=index, name="gross"),
        net=pd.Series(net, index=index, name="net"),
        turnover=pd.Series(turnover, index=index, name="turnover"),
        costs=pd.Series(costs, index=index, name="costs"),
        weights=w,
    )


def _validate_weights(weights: pd.DataFrame) -> pd.DataFrame:
    """Return a float copy of `weights` after checking index, finiteness and budget."""
    if not isinstance(weights, pd.DataFrame) or weights.empty:
        raise ValueError(
            f"`weights` must be a non-empty DataFrame (dates x assets), got {type(weights)!r} "
            f"of shape {getattr(weights, 'shape', None)}."
        )
    if not isinstance(weights.index, pd.DatetimeIndex):
        raise ValueError(
            "`weights` must be indexed by decision month-end Timestamps (DatetimeIndex), got "
            f"{type(weights.index).__name__}."
        )
    w = weights.astype(float)
    values = w.to_numpy()
    if not np.all(np.isfinite(values)):
        bad = w.index[~np.isfinite(values).all(axis=1)][0]
        raise ValueError(
            f"`weights` must be finite; the row for {bad:%Y-%m-%d} holds NaN or inf. "
            "Fill or drop it before simulating."
        )
    sums = values.sum(axis=1)
    off = np.abs(sums - 1.0) > _BUDGET_TOL
    if np.any(off):
        i = int(np.argmax(off))
        raise ValueError(
            f"Each row of `weights` must sum to 1 (within {_BUDGET_TOL:g}); the row for "
            f"{w.index[i]:%Y-%m-%d} sums to {sums[i]:.8g}. Normalise the weights."
        )
    months = w.index.to_period("M")
    steps = np.diff(months.asi8)
    if np.any(steps != 1):
        i = int(np.argmax(steps != 1))
        raise ValueError(
            "`weights` must hold one row per consecutive month in increasing order; "
            f"{w.index[i]:%Y-%m-%d} is followed by {w.index[i + 1]:%Y-%m-%d}. "
            "Forward-fill target weights or resample to month-ends."
        )
    return w


def _next_month_rows(decisions: pd.DatetimeIndex, realised: pd.DataFrame) -> pd.DataFrame:
    """Rows of `realised` for the calendar month after each decision date."""
    if not isinstance(realised.index, pd.DatetimeIndex):
        raise ValueError(
            "`realised_simple` must be indexed by month-end Timestamps (DatetimeIndex), got "
            f"{type(realised.index).__name__}."
        )
    realised_months = realised.index.to_period("M")
    if realised_months.has_duplicates:
        raise ValueError(
            "`realised_simple` must hold one row per month; duplicated months: "
            f"{sorted({str(m) for m in realised_months[realised_months.duplicated()]})}."
        )
    wanted = decisions.to_period("M") + 1
    position = realised_months.get_indexer(wanted)
    if np.any(position < 0):
        i = int(np.argmax(position < 0))
        raise ValueError(
            f"`realised_simple` lacks the month after the decision of {decisions[i]:%Y-%m-%d} "
            f"(needs {wanted[i]}); its rows run from {realised_months.min()} to "
            f"{realised_months.max()}. Drop decisions with no following month or extend the "
            "realised returns."
        )
    rows = realised.iloc[position].astype(float)
    if not np.all(np.isfinite(rows.to_numpy())):
        bad = rows.index[~np.isfinite(rows.to_numpy()).all(axis=1)][0]
        raise ValueError(
            f"`realised_simple` must be finite in the months the portfolio is held; the row for "
            f"{bad:%Y-%m-%d} holds NaN or inf."
        )
    return rows
