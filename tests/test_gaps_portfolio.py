"""Portfolio P&L: defaults, result labels and every error message in full (issue 15).

The numbers are hand examples; each error test matches the whole message (what a user
reads), so a message that loses its dates, names or advice fails.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from backtest.portfolio.pnl import simulate_portfolio


def _months(start, n):
    return pd.date_range(start, periods=n, freq="ME", name="date")


def _frames(n=3):
    weights = pd.DataFrame({"A": [0.5] * n, "B": [0.5] * n}, index=_months("2020-01-31", n))
    realised = pd.DataFrame({"A": [0.02] * n, "B": [0.00] * n}, index=_months("2020-02-29", n))
    return weights, realised


def _raises(message, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        simulate_portfolio(*args, **kwargs)


def test_default_cost_is_10_bps_and_results_are_labelled():
    weights, realised = _frames()
    result = simulate_portfolio(weights, realised)
    # Bought from cash: turnover 1, cost 10 bps; then a drift of 0.5 * 1.02 / 1.01 to undo.
    assert result.costs.iloc[0] == pytest.approx(0.001, abs=1e-15)
    drifted = 0.51 / 1.01
    assert result.turnover.iloc[1] == pytest.approx(2 * (drifted - 0.5), abs=1e-15)
    assert result.net.iloc[0] == pytest.approx(0.999 * 1.01 - 1, abs=1e-15)
    for name in ("gross", "net", "turnover", "costs"):
        series = getattr(result, name)
        assert series.name == name and series.index.equals(realised.index)


def test_wealth_lost_names_the_first_month_it_happens():
    weights, realised = _frames()
    realised.iloc[:, :] = [[-0.5, -0.5], [-1.0, -1.0], [-1.0, -1.0]]  # -50%, then -100%
    _raises(
        "The portfolio lost all its wealth in 2020-03 (gross return <= -100%); drift and "
        "costs are undefined after that. Check `weights` and `realised_simple`.",
        weights,
        realised,
    )


@pytest.mark.parametrize(
    ("extra", "only_w", "only_r"),
    [("weights", "['Z']", "[]"), ("realised", "[]", "['Z']")],
)
def test_column_mismatch_names_the_assets_on_each_side(extra, only_w, only_r):
    weights, realised = _frames()
    if extra == "weights":
        weights = weights.assign(A=0.25, Z=0.25)
    else:
        realised = realised.assign(Z=0.01)
    _raises(
        "`weights` and `realised_simple` must have the same (unique) columns; only in "
        f"weights: {only_w}, only in realised_simple: {only_r}. "
        "Select the same assets in both frames.",
        weights,
        realised,
    )


@pytest.mark.parametrize("side", ["weights", "realised"])
def test_duplicated_columns_on_either_side_are_rejected(side):
    weights, realised = _frames()
    if side == "weights":
        weights = pd.concat([weights.assign(A=0.25, B=0.5), weights[["A"]] * 0.5], axis=1)
    else:
        realised = pd.concat([realised, realised[["A"]]], axis=1)
    with pytest.raises(ValueError, match=r"must have the same \(unique\) columns; only in "):
        simulate_portfolio(weights, realised)


def test_weights_must_be_a_non_empty_frame_on_dates():
    _, realised = _frames()
    _raises(
        "`weights` must be a non-empty DataFrame (dates x assets), got "
        "<class 'numpy.ndarray'> of shape (2, 2).",
        np.full((2, 2), 0.5),
        realised,
    )
    _raises(
        "`weights` must be a non-empty DataFrame (dates x assets), got "
        f"{pd.DataFrame!r} of shape (0, 2).",
        pd.DataFrame(columns=["A", "B"], index=pd.DatetimeIndex([])),
        realised,
    )
    _raises(
        "`weights` must be indexed by decision month-end Timestamps (DatetimeIndex), got "
        "RangeIndex.",
        pd.DataFrame({"A": [0.5], "B": [0.5]}),
        realised,
    )


def test_weight_rows_errors_name_the_row():
    weights, realised = _frames()
    weights.iloc[1, 0] = np.nan
    _raises(
        "`weights` must be finite; the row for 2020-02-29 holds NaN or inf. "
        "Fill or drop it before simulating.",
        weights,
        realised,
    )
    weights, _ = _frames()
    weights.iloc[2] = [0.5, 0.6]
    _raises(
        "Each row of `weights` must sum to 1 (within 1e-06); the row for 2020-03-31 sums to "
        "1.1. Normalise the weights.",
        weights,
        realised,
    )


def test_a_gap_in_the_decision_months_names_both_dates():
    weights = pd.DataFrame(
        {"A": [0.5] * 4, "B": [0.5] * 4},
        index=pd.DatetimeIndex(["2020-01-31", "2020-02-29", "2020-03-31", "2020-05-31"]),
    )
    realised = pd.DataFrame({"A": [0.0] * 6, "B": [0.0] * 6}, index=_months("2020-02-29", 6))
    _raises(
        "`weights` must hold one row per consecutive month in increasing order; 2020-03-31 "
        "is followed by 2020-05-31. Forward-fill target weights or resample to month-ends.",
        weights,
        realised,
    )


def test_realised_frame_errors():
    weights, realised = _frames()
    _raises(
        "`realised_simple` must be indexed by month-end Timestamps (DatetimeIndex), got "
        "RangeIndex.",
        weights,
        realised.reset_index(drop=True),
    )
    doubled = pd.concat([realised, realised.iloc[[0]]])
    _raises(
        "`realised_simple` must hold one row per month; duplicated months: ['2020-02'].",
        weights,
        doubled,
    )
    _raises(
        "`realised_simple` lacks the month after the decision of 2020-03-31 (needs 2020-04); "
        "its rows run from 2020-02 to 2020-03. Drop decisions with no following month or "
        "extend the realised returns.",
        weights,
        realised.iloc[:2],
    )
    realised.iloc[1, 1] = np.inf
    _raises(
        "`realised_simple` must be finite in the months the portfolio is held; the row for "
        "2020-03-31 holds NaN or inf.",
        weights,
        realised,
    )
    _raises("`cost_bps` must be a finite number >= 0, got -1.0.", weights, realised, -1.0)


def test_irregular_realised_rows_and_business_month_end_decisions_are_fine():
    # Unused realised rows may be irregular, and decisions on the last business day
    # (2020-02-28, 2020-05-29) still pair with the next calendar month's row.
    decisions = pd.DatetimeIndex(["2020-01-31", "2020-02-28", "2020-03-31", "2020-04-30"])
    weights = pd.DataFrame({"A": [1.0, 0.0, 1.0, 0.0], "B": [0.0, 1.0, 0.0, 1.0]}, decisions)
    earned = pd.DatetimeIndex(
        ["2019-06-30", "2019-09-30", "2020-02-29", "2020-03-31", "2020-04-30", "2020-05-31"]
    )
    realised = pd.DataFrame(
        {"A": [9.0, 9.0, 0.01, 0.02, 0.03, 0.04], "B": [9.0, 9.0, -0.01, -0.02, -0.03, -0.04]},
        index=earned,
    )
    result = simulate_portfolio(weights, realised, cost_bps=0.0)
    np.testing.assert_allclose(result.gross, [0.01, -0.02, 0.03, -0.04], atol=1e-15)
    assert list(result.gross.index) == list(earned[2:])


def test_a_single_decision_and_a_list_for_weights():
    _, realised = _frames(1)
    # One row on an index without a frequency: none can be inferred either.
    weights = pd.DataFrame({"A": [0.5], "B": [0.5]}, index=pd.DatetimeIndex(["2020-01-31"]))
    result = simulate_portfolio(weights, realised, cost_bps=0.0)
    np.testing.assert_allclose(result.gross, [0.01])
    _raises(
        "`weights` must be a non-empty DataFrame (dates x assets), got <class 'list'> "
        "of shape None.",
        [[0.5, 0.5]],
        realised,
    )
