"""Property tests: on random panels load_prices either raises DataError or returns exactly the
month-end values of the asked tickers, in the asked order; never a silently shifted panel."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.data.prices import DataError, load_prices

# 2005-2009 has no NYSE holiday on a month's last weekday, so the naive reference below can call a
# month complete when the data reach its last weekday.
FIRST_MONTH = pd.Period("2005-01", "M")
NAMES = ["AA", "BB", "CC", "DD", "EE"]
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class Case:
    frame: pd.DataFrame  # as written to the file: file column order, NaN = empty cell
    daily: bool
    asked: list[str]
    start: pd.Period
    end: pd.Period


@st.composite
def cases(draw) -> Case:
    daily = draw(st.booleans())
    n_months = draw(st.integers(1, 18))
    first = FIRST_MONTH + draw(st.integers(0, 30))
    months = pd.period_range(first, periods=n_months, freq="M")
    if daily:
        days = pd.bdate_range(months[0].start_time, months[-1].end_time.normalize())
        if draw(st.booleans()):  # data may stop in the middle of the last month
            days = days[: len(days) - draw(st.integers(0, 12))]
    else:
        style = draw(st.sampled_from(["first", "end"]))
        stamps = months.to_timestamp(how="start" if style == "first" else "end")
        days = pd.DatetimeIndex(stamps).normalize()
        if draw(st.booleans()) and len(days) > 2:  # a month row missing from the file
            days = days.delete(draw(st.integers(1, len(days) - 2)))
    n_rows = len(days)
    n_tickers = draw(st.integers(1, 4))
    tickers = draw(st.permutations(NAMES))[:n_tickers]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.02, size=(n_rows, n_tickers)), axis=0))
    for j in range(n_tickers):
        listed = draw(st.integers(0, n_rows - 1)) if draw(st.booleans()) else 0
        delisted = draw(st.integers(listed, n_rows - 1)) if draw(st.booleans()) else n_rows - 1
        values[:listed, j] = np.nan
        values[delisted + 1 :, j] = np.nan
        for _ in range(draw(st.integers(0, 2)) if draw(st.booleans()) else 0):
            values[draw(st.integers(0, n_rows - 1)), j] = np.nan
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(days, name="date"), columns=tickers)
    asked = draw(st.permutations(tickers))[: draw(st.integers(1, n_tickers))]
    if draw(st.integers(0, 9)) == 0:
        asked = [*asked, "ZZ"]
    start = months[0] + draw(st.integers(-2, n_months))
    end = start + draw(st.integers(0, n_months))
    return Case(frame, daily, list(asked), start, end)


def reference(case: Case) -> pd.DataFrame | None:
    """Month-end prices load_prices must return, or None if it must raise."""
    if any(t not in case.frame.columns for t in case.asked):
        return None
    frame = case.frame[case.asked]
    months = frame.index.to_period("M")
    rows = frame.loc[(months >= case.start) & (months <= case.end)]
    present = rows.notna().any(axis=1).to_numpy()
    if not present.any():
        return None
    rows = rows.iloc[np.flatnonzero(present)[0] : np.flatnonzero(present)[-1] + 1]
    for ticker in case.asked:
        inside = rows[ticker].notna().to_numpy()
        if not inside.any():
            return None
        first, last = np.flatnonzero(inside)[[0, -1]]
        if not inside[first : last + 1].all():
            return None
    wanted = pd.period_range(case.start, case.end, freq="M")
    expected = pd.DataFrame(np.nan, index=wanted, columns=case.asked)
    by_month = rows.groupby(rows.index.to_period("M")).tail(1)
    for stamp, values in by_month.iterrows():
        expected.loc[stamp.to_period("M")] = values.to_numpy()
    last_day, last_month = rows.index[-1], rows.index[-1].to_period("M")
    if case.daily and last_day < pd.bdate_range(last_month.start_time, last_month.end_time)[-1]:
        expected.loc[last_month] = np.nan
    if expected.isna().to_numpy().any():
        return None
    return expected.set_axis(wanted.to_timestamp(how="end").normalize(), axis=0)


def check(result: pd.DataFrame | None, case: Case, load) -> None:
    expected = reference(case)
    try:
        data = load()
    except DataError:
        assert expected is None, f"unexpected DataError; expected\n{expected}"
        return
    assert expected is not None, f"expected a DataError, got\n{data.prices}"
    assert list(data.prices.columns) == case.asked
    assert list(data.prices.index) == list(expected.index)
    np.testing.assert_array_equal(data.prices.to_numpy(), expected.to_numpy())
    if result is not None:
        assert data.fingerprint == result


@SETTINGS
@given(cases())
def test_csv_panels_load_exactly_or_raise(case):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prices.csv"
        case.frame.to_csv(path, index_label="date", date_format="%Y-%m-%d")
        start, end = str(case.start), case.end.end_time.strftime("%Y-%m-%d")
        check(None, case, lambda: load_prices(case.asked, start, end, prices_path=path))


def yahoo(frame: pd.DataFrame):
    def download(tickers, start=None, end=None, **kwargs):
        rows = frame.loc[(frame.index >= pd.Timestamp(start)) & (frame.index < pd.Timestamp(end))]
        close = rows[sorted(t for t in tickers if t in rows.columns)]
        return pd.concat({"Close": close}, axis=1, names=["Price", "Ticker"])

    return download


def offline(*args, **kwargs):
    raise ConnectionError("offline")


@settings(SETTINGS, max_examples=60)
@given(cases().filter(lambda case: case.daily))
def test_downloaded_panels_load_exactly_or_raise_and_cache_hits_agree(case):
    with tempfile.TemporaryDirectory() as cache:
        args = (case.asked, str(case.start), str(case.end), None, cache)
        try:
            first = load_prices(*args, yahoo(case.frame)).fingerprint
        except DataError:
            first = None
        check(None, case, lambda: load_prices(*args, yahoo(case.frame)))
        if first is not None:  # the second call must come from the cache, unchanged
            check(first, case, lambda: load_prices(*args, offline))
