"""Tear-sheet numbers against quantstats (told the data are monthly) and naive references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.reports.tearsheet import (
    drawdown_table,
    monthly_returns,
    risk_table,
    rolling_sharpe,
    rolling_volatility,
    yearly_returns,
)

qs = pytest.importorskip("quantstats")


@pytest.fixture
def monthly(rng) -> pd.DataFrame:
    index = pd.date_range("2019-03-31", periods=79, freq="ME")
    frame = pd.DataFrame(
        {
            "best": rng.normal(0.012, 0.06, len(index)),
            "equal_weight": rng.normal(0.009, 0.05, len(index)),
            "SPY": rng.normal(0.008, 0.045, len(index)),
        },
        index=index,
    )
    frame["best"] += 0.5 * frame["SPY"]
    frame.iloc[0] = np.abs(frame.iloc[0])  # quantstats takes the first month as a peak
    return frame


def test_worst_drawdowns_match_quantstats(monthly):
    r = monthly["best"]
    ours = drawdown_table(r, top=5)
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    theirs = theirs.sort_values("max drawdown").head(5).reset_index(drop=True)
    assert len(ours) == 5
    np.testing.assert_allclose(ours["depth"], theirs["max drawdown"] / 100, rtol=1e-10)
    # quantstats' start is the first month under water: ours is the peak, a month before.
    first_under = pd.to_datetime(theirs["start"])
    assert (ours["start"] + pd.offsets.MonthEnd(1) == first_under).all()
    assert (ours["trough"] == pd.to_datetime(theirs["valley"])).all()
    # quantstats' end is the last month under water; ours is the recovery month after it.
    last_under = pd.to_datetime(theirs["end"])
    recovered = ours["recovery"].notna()
    assert (ours.loc[recovered, "recovery"] == last_under[recovered] + pd.offsets.MonthEnd(1)).all()
    spans = zip(first_under, last_under, strict=True)
    months_under = [len(pd.date_range(a, b, freq="ME")) for a, b in spans]
    assert list(ours["underwater"]) == months_under


def test_drawdown_still_under_water_and_from_the_first_month():
    index = pd.date_range("2020-01-31", periods=6, freq="ME")
    r = pd.Series([-0.10, 0.05, 0.06, 0.02, -0.2, 0.1], index=index)
    table = drawdown_table(r)
    # Wealth 0.9, 0.945, 1.0017 (recovered in March), 1.0217, 0.8174, 0.8991.
    assert table.loc[0, "depth"] == pytest.approx(-0.2)  # the open one, deepest
    assert table.loc[0, "trough"] == index[4]
    assert pd.isna(table.loc[0, "recovery"]) and table.loc[0, "start"] == index[3]
    assert table.loc[0, "months"] == 2 and table.loc[0, "underwater"] == 2
    assert table.loc[1, "depth"] == pytest.approx(-0.10)
    assert table.loc[1, "start"] == index[0] - pd.offsets.MonthEnd(1)  # the $1 before month 1
    assert table.loc[1, "recovery"] == index[2] and table.loc[1, "months"] == 3


def test_monthly_table_matches_quantstats(monthly):
    r = monthly["best"]
    ours = monthly_returns(r)
    theirs = qs.stats.monthly_returns(r, eoy=True, compounded=True)
    assert [str(y) for y in ours.index] == [str(y) for y in theirs.index]
    np.testing.assert_allclose(ours.iloc[:, :12].fillna(0), theirs.iloc[:, :12], atol=1e-12)
    np.testing.assert_allclose(ours["Year"], theirs["EOY"], rtol=1e-10)
    assert np.isnan(ours.loc[2019, "Jan"]) and ours.loc[2019, "Mar"] == r.iloc[0]
    np.testing.assert_allclose(yearly_returns(monthly)["best"], theirs["EOY"], rtol=1e-10)


def test_rolling_statistics_match_quantstats(monthly):
    r = monthly["best"]
    ours = rolling_sharpe(monthly, 12)["best"]
    theirs = qs.stats.rolling_sharpe(r, rolling_period=12, periods_per_year=12)
    assert ours.iloc[:11].isna().all()
    np.testing.assert_allclose(ours.iloc[11:], theirs.iloc[11:], rtol=1e-10)
    vol = qs.stats.rolling_volatility(r, rolling_period=12, periods_per_year=12)
    np.testing.assert_allclose(rolling_volatility(monthly, 12)["best"].iloc[11:], vol.iloc[11:])


def test_risk_table_against_quantstats_and_naive_references(monthly):
    table = risk_table(monthly)
    r, spy, ew = monthly["best"], monthly["SPY"], monthly["equal_weight"]
    row = table.loc["best"]
    greeks = qs.stats.greeks(r, spy, periods=12)
    assert row["beta"] == pytest.approx(greeks["beta"], rel=1e-9)
    assert row["alpha"] == pytest.approx(greeks["alpha"], rel=1e-9)
    # quantstats' information ratio is per period: ours is annualised by sqrt(12).
    info = qs.stats.information_ratio(r, ew)
    assert row["information_ratio"] == pytest.approx(info * np.sqrt(12), rel=1e-9)
    assert row["tracking_error"] == pytest.approx(np.std(r - ew, ddof=1) * np.sqrt(12))
    assert row["skew"] == pytest.approx(stats.skew(r, bias=False))
    assert row["kurtosis"] == pytest.approx(stats.kurtosis(r, bias=False))
    assert row["var"] == pytest.approx(np.percentile(r, 5))
    assert row["cvar"] == pytest.approx(np.sort(r)[: int(np.floor(0.05 * (len(r) - 1))) + 1].mean())
    assert row["ann_return"] == pytest.approx(np.prod(1 + r) ** (12 / len(r)) - 1)
    assert row["ann_vol"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(12))
    assert np.isnan(table.loc["equal_weight", "information_ratio"])  # not against itself
    assert table.loc["SPY", "beta"] == pytest.approx(1.0)


def test_risk_table_without_market_or_reference(monthly):
    table = risk_table(monthly[["best"]])
    assert "beta" not in table and "tracking_error" not in table
    with_rf = risk_table(monthly, risk_free=0.03).loc["best", "alpha"]
    assert with_rf != pytest.approx(risk_table(monthly).loc["best", "alpha"])
