from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.portfolio.pnl import PortfolioResult, simulate_portfolio

TOL = 1e-12


def _month_ends(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="ME", name="date")


@pytest.fixture
def hand_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    weights = pd.DataFrame(
        [[0.6, 0.4], [0.5, 0.5]], index=_month_ends("2020-01-31", 2), columns=["A", "B"]
    )
    realised = pd.DataFrame(
        [[0.10, -0.05], [-0.02, 0.03]], index=_month_ends("2020-02-29", 2), columns=["A", "B"]
    )
    return weights, realised


def test_two_month_hand_example(hand_case):
    weights, realised = hand_case
    result = simulate_portfolio(weights, realised, cost_bps=10.0)

    # Month 1 (Feb): bought from cash, turnover = 0.6 + 0.4 = 1.
    gross_1 = 0.6 * 0.10 + 0.4 * -0.05  # 0.04
    cost_1 = 1.0 * 10 / 1e4  # 0.001
    net_1 = (1 - cost_1) * (1 + gross_1) - 1  # 0.03896
    # Drifted end-Feb weights: A = 0.6 * 1.10 / 1.04, B = 0.4 * 0.95 / 1.04.
    drift_a, drift_b = 0.66 / 1.04, 0.38 / 1.04
    # Month 2 (Mar): rebalance to (0.5, 0.5).
    turnover_2 = abs(0.5 - drift_a) + abs(0.5 - drift_b)  # 0.28 / 1.04
    cost_2 = turnover_2 * 10 / 1e4
    gross_2 = 0.5 * -0.02 + 0.5 * 0.03  # 0.005
    net_2 = (1 - cost_2) * (1 + gross_2) - 1

    assert isinstance(result, PortfolioResult)
    assert list(result.gross.index) == list(realised.index)
    np.testing.assert_allclose(result.gross, [0.04, 0.005], atol=TOL)
    np.testing.assert_allclose(result.gross, [gross_1, gross_2], atol=TOL)
    np.testing.assert_allclose(result.turnover, [1.0, 0.28 / 1.04], atol=TOL)
    np.testing.assert_allclose(result.costs, [0.001, cost_2], atol=TOL)
    np.testing.assert_allclose(result.net, [0.03896, net_2], atol=TOL)
    np.testing.assert_allclose(result.net, [net_1, net_2], atol=TOL)
    pd.testing.assert_frame_equal(result.weights, weights)


def test_zero_cost_net_equals_gross(rng):
    n, k = 24, 5
    raw = rng.uniform(0.0, 1.0, size=(n, k))
    weights = pd.DataFrame(
        raw / raw.sum(axis=1, keepdims=True),
        index=_month_ends("2018-01-31", n),
        columns=list("ABCDE"),
    )
    realised = pd.DataFrame(
        rng.normal(0.01, 0.05, size=(n, k)),
        index=_month_ends("2018-02-28", n),
        columns=list("ABCDE"),
    )
    result = simulate_portfolio(weights, realised, cost_bps=0.0)
    pd.testing.assert_series_equal(result.net, result.gross, check_names=False)
    assert (result.costs == 0).all()
    assert (result.turnover > 0).all()


def test_constant_equal_weights_drift_creates_turnover(rng):
    n, k = 12, 4
    weights = pd.DataFrame(
        np.full((n, k), 1 / k), index=_month_ends("2019-01-31", n), columns=list("WXYZ")
    )
    realised = pd.DataFrame(
        rng.normal(0.0, 0.06, size=(n, k)), index=_month_ends("2019-02-28", n), columns=list("WXYZ")
    )
    result = simulate_portfolio(weights, realised, cost_bps=25.0)
    assert result.turnover.iloc[0] == pytest.approx(1.0)
    assert (result.turnover.iloc[1:] > 1e-4).all()
    # Naive reference: trade back from the drifted 1/N book each month.
    prev = np.full(k, 1 / k)
    for t in range(1, n):
        r = realised.iloc[t - 1].to_numpy()
        drifted = prev * (1 + r) / (1 + prev @ r)
        assert result.turnover.iloc[t] == pytest.approx(np.abs(1 / k - drifted).sum())
    np.testing.assert_allclose(result.costs, result.turnover * 25 / 1e4)
    assert (result.net < result.gross).all()


def test_uses_next_month_and_ignores_extra_rows(hand_case):
    weights, realised = hand_case
    earlier = pd.DataFrame(
        [[0.9, 0.9]], index=pd.DatetimeIndex(["2020-01-31"], name="date"), columns=["A", "B"]
    )
    later = pd.DataFrame(
        [[-0.5, -0.5]], index=pd.DatetimeIndex(["2020-04-30"], name="date"), columns=["A", "B"]
    )
    padded = pd.concat([earlier, realised, later])[["B", "A"]]
    result = simulate_portfolio(weights, padded)
    np.testing.assert_allclose(result.gross, [0.04, 0.005], atol=TOL)


def test_mismatched_columns_raise(hand_case):
    weights, realised = hand_case
    with pytest.raises(ValueError, match=r"same \(unique\) columns.*only in weights: \['B'\]"):
        simulate_portfolio(weights, realised.rename(columns={"B": "C"}))


def test_missing_next_month_raises(hand_case):
    weights, realised = hand_case
    with pytest.raises(ValueError, match=r"lacks the month after the decision of 2020-02-29"):
        simulate_portfolio(weights, realised.iloc[:1])


def test_weights_not_summing_to_one_raise(hand_case):
    weights, realised = hand_case
    bad = weights.copy()
    bad.iloc[1] = [0.5, 0.6]
    with pytest.raises(ValueError, match=r"must sum to 1.*2020-02-29 sums to 1\.1"):
        simulate_portfolio(bad, realised)


def test_non_finite_weights_raise(hand_case):
    weights, realised = hand_case
    bad = weights.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"must be finite.*2020-01-31"):
        simulate_portfolio(bad, realised)


def test_non_finite_realised_raise(hand_case):
    weights, realised = hand_case
    bad = realised.copy()
    bad.iloc[1, 1] = np.inf
    with pytest.raises(ValueError, match=r"`realised_simple` must be finite.*2020-03-31"):
        simulate_portfolio(weights, bad)


def test_gap_in_decisions_raises(hand_case):
    _, realised = hand_case
    weights = pd.DataFrame(
        [[0.5, 0.5], [0.5, 0.5]],
        index=pd.DatetimeIndex(["2020-01-31", "2020-03-31"], name="date"),
        columns=["A", "B"],
    )
    with pytest.raises(
        ValueError, match=r"consecutive month.*2020-01-31 is followed by 2020-03-31"
    ):
        simulate_portfolio(weights, realised)


@pytest.mark.parametrize("cost_bps", [-1.0, float("nan")])
def test_bad_cost_raises(hand_case, cost_bps):
    weights, realised = hand_case
    with pytest.raises(ValueError, match=r"`cost_bps` must be a finite number >= 0"):
        simulate_portfolio(weights, realised, cost_bps=cost_bps)


def test_total_loss_raises(hand_case):
    weights, realised = hand_case
    bad = realised.copy()
    bad.iloc[0] = [-1.0, -1.0]
    with pytest.raises(ValueError, match=r"lost all its wealth in 2020-02"):
        simulate_portfolio(weights, bad)
