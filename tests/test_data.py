from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.data.prices import (
    DataError,
    PriceData,
    download_prices,
    last_trading_day,
    load_prices,
    read_price_csv,
    to_monthly,
)
from backtest.data.yahoo import OFFLINE_HELP, YAHOO_LOG, fetch_prices

SEED_TICKERS = "HWM NVDA MSI AMZN MA TSLA ALB SPY QQQ XLK XLY XLI XLF XLB SMH ITA LIT".split()
REL_TOL = 1e-9


# --- helpers ----------------------------------------------------------------------------------


def daily_panel(rng, tickers, start, end) -> pd.DataFrame:
    """Positive random-walk closes on business days, like a yfinance 'Close' frame."""
    index = pd.DatetimeIndex(pd.bdate_range(start, end), name="date")
    steps = rng.normal(0.0, 0.01, size=(len(index), len(tickers)))
    prices = 100.0 * np.exp(np.cumsum(steps, axis=0))
    return pd.DataFrame(prices, index=index, columns=list(tickers))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index_label="date", date_format="%Y-%m-%d")
    return path


def write_text(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def naive_month_end(daily: pd.DataFrame) -> pd.DataFrame:
    """Reference: value of the last row of each calendar month, labelled by month end."""
    last = daily.groupby(daily.index.to_period("M")).tail(1)
    return last.set_axis(last.index.to_period("M").to_timestamp(how="end").normalize(), axis=0)


class FakeYahoo:
    """Stands in for yfinance.download: (Price, Ticker) columns, alphabetical, end exclusive."""

    def __init__(self, daily: pd.DataFrame | None = None, error: Exception | None = None):
        self.daily, self.error, self.calls = daily, error, []

    def __call__(self, tickers, start=None, end=None, **kwargs):
        self.calls.append({"tickers": tickers, "start": start, "end": end, **kwargs})
        if self.error is not None:
            raise self.error
        daily = self.daily
        if start is not None:
            daily = daily.loc[daily.index >= pd.Timestamp(start, tz=daily.index.tz)]
        daily = daily.loc[daily.index < pd.Timestamp(end, tz=daily.index.tz)]
        close = daily[sorted(t for t in tickers if t in daily.columns)]
        return pd.concat({"Close": close, "Open": close * 0.99}, axis=1, names=["Price", "Ticker"])


def offline(tickers, **kwargs):
    raise AssertionError("the downloader must not be called on a cache hit")


@pytest.fixture
def daily(rng) -> pd.DataFrame:
    return daily_panel(rng, ["BBB", "AAA", "CCC"], "2019-12-02", "2020-06-30")


@pytest.fixture
def daily_csv(tmp_path, daily) -> Path:
    return write_csv(tmp_path / "daily.csv", daily)


# --- read_price_csv ---------------------------------------------------------------------------


def test_read_price_csv_returns_file_values_and_order(daily, daily_csv):
    frame = read_price_csv(daily_csv)
    assert list(frame.columns) == ["BBB", "AAA", "CCC"]
    assert frame.index.name == "date"
    assert (frame.dtypes == np.float64).all()
    np.testing.assert_array_equal(frame.to_numpy(), daily.to_numpy())
    assert (frame.index == daily.index).all()


def test_read_price_csv_finds_a_date_column_that_is_not_first(tmp_path):
    path = write_text(tmp_path, "A,Date,B\n1.5,2020-01-31,2\n1.6,2020-02-29,\n")
    frame = read_price_csv(path)
    assert list(frame.columns) == ["A", "B"]
    assert frame.loc["2020-02-29", "A"] == 1.6
    assert np.isnan(frame.loc["2020-02-29", "B"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "is empty"),
        ("date,A,B\n", "has a header but no data rows"),
        ("date,A\n2020-01-31,1\n2020-02-29,1,2,3\n", "is not a valid CSV"),
        ("date,A\n2020-01-31,1\nnotadate,2\n", r"unparseable date 'notadate' in data row 2"),
        ("date,A\n2020-01-31,1\n,2\n", r"unparseable date nan in data row 2"),
        ("Price,Close\nTicker,SPY\n2020-01-31,1\n", "multi-row yfinance header"),
        ("date,A,B\n2020-01-31,1,abc\n", r"column 'B' holds text, e.g. 'abc' in data row 1"),
        ("date,A,A\n2020-01-31,1,2\n", r"duplicate column names \['A'\]"),
        ("date,A,\n2020-01-31,1,2\n", "column 3 has no name"),
        ("date\n2020-01-31\n", "no ticker columns"),
        ("date,A\n2020-01-31,1\n2020-01-31,2\n", "duplicate dates 2020-01-31"),
        (
            "date,A\n2020-01-31,1\n2020-03-31,2\n2020-02-29,3\n",
            "not sorted: 2020-03-31 is followed by 2020-02-29",
        ),
        ("date,A,B\n2020-01-31,1,2\n2020-02-29,1,-3.5\n", r"B on 2020-02-29: -3.5"),
        ("date,A\n2020-01-31,0\n", r"A on 2020-01-31: 0.0"),
        ("date,A\n2020-01-31,inf\n", r"not positive finite numbers \(A on 2020-01-31: inf\)"),
    ],
)
def test_read_price_csv_rejects_bad_files(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        read_price_csv(write_text(tmp_path, text))


def test_read_price_csv_rejects_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv not found \(or not a file\); pass --prices"):
        read_price_csv(tmp_path / "nope.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,Café\n2020-01-31,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8 text"):
        read_price_csv(path)
    with pytest.raises(DataError, match="not found"):
        read_price_csv(tmp_path)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match="is not UTF-8 text"):
        read_price_csv(binary)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# --- to_monthly and the trading calendar -------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("2024-03", "2024-03-28"),  # Good Friday 2024-03-29
        ("2021-05", "2021-05-28"),  # Memorial Day 2021-05-31
        ("2021-12", "2021-12-31"),  # New Year 2022 on a Saturday is not observed on the Friday
        ("2025-08", "2025-08-29"),  # weekend
        ("2025-09", "2025-09-30"),
    ],
)
def test_last_trading_day(month, expected):
    assert last_trading_day(pd.Period(month, "M")) == pd.Timestamp(expected)


def test_last_trading_day_matches_the_exchanges_own_trading_days():
    # Reference: the days on which the S&P 500 index was actually quoted (skfolio's file),
    # 1990-01 .. 2022-11; their last day in each month is the month's last NYSE session.
    from skfolio.datasets import load_sp500_index

    days = load_sp500_index().loc[:"2022-11-30"].index
    last = pd.Series(days, index=days.to_period("M")).groupby(level=0).max()
    computed = [last_trading_day(month) for month in last.index]
    assert len(last) == 395
    assert [d.date() for d in computed] == [d.date() for d in last]


def test_to_monthly_daily_takes_last_close_of_each_month(daily):
    monthly, notes = to_monthly(daily)
    expected = naive_month_end(daily)
    np.testing.assert_array_equal(monthly.to_numpy(), expected.to_numpy())
    assert list(monthly.index.strftime("%Y-%m-%d")) == [
        "2019-12-31", "2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30", "2020-05-31",
        "2020-06-30",
    ]  # fmt: skip
    assert monthly.index.name == "date"
    assert notes == ["resampled daily prices to monthly: last close of each month"]


def test_to_monthly_keeps_a_missing_month_end_price_missing(daily):
    daily = daily.copy()
    daily.loc["2020-03-31", "AAA"] = np.nan
    monthly, _ = to_monthly(daily)
    assert np.isnan(monthly.loc["2020-03-31", "AAA"])  # not silently the 2020-03-30 close


@pytest.mark.parametrize(
    ("last_day", "dropped"),
    [("2020-06-15", True), ("2020-06-29", True), ("2020-06-30", False)],
)
def test_to_monthly_drops_an_incomplete_last_month_with_a_note(daily, last_day, dropped):
    monthly, notes = to_monthly(daily.loc[:last_day])
    assert (monthly.index[-1] == pd.Timestamp("2020-05-31")) == dropped
    assert any("dropped the incomplete last month 2020-06" in n for n in notes) == dropped


@pytest.mark.parametrize("last_day", ["2024-03-28", "2021-05-28"])
def test_to_monthly_keeps_a_last_month_ending_before_a_month_end_holiday(rng, last_day):
    daily = daily_panel(rng, ["A"], pd.Timestamp(last_day) - pd.Timedelta(days=60), last_day)
    monthly, notes = to_monthly(daily)
    assert monthly.index[-1] == pd.Timestamp(last_day) + pd.offsets.MonthEnd(0)
    assert not any("dropped" in n for n in notes)


def test_to_monthly_relabels_first_of_month_and_last_trading_day_rows():
    values = [[1.0], [2.0], [3.0]]
    first = pd.DataFrame(values, index=pd.to_datetime(["2025-06-01", "2025-07-01", "2025-08-01"]))
    last = pd.DataFrame(values, index=pd.to_datetime(["2025-06-30", "2025-07-31", "2025-08-29"]))
    (by_first, first_notes), (by_last, last_notes) = to_monthly(first), to_monthly(last)
    expected = pd.to_datetime(["2025-06-30", "2025-07-31", "2025-08-31"])
    assert (by_first.index == expected).all() and (by_last.index == expected).all()
    np.testing.assert_array_equal(by_first.to_numpy(), by_last.to_numpy())
    assert first_notes == ["relabelled first-of-month (yfinance style) monthly rows to month end"]
    assert last_notes == ["relabelled last-trading-day monthly rows to calendar month end"]


def test_to_monthly_leaves_a_missing_month_as_a_nan_row():
    frame = pd.DataFrame({"A": [1.0, 3.0]}, index=pd.to_datetime(["2025-06-30", "2025-08-31"]))
    monthly, _ = to_monthly(frame)
    assert len(monthly) == 3 and np.isnan(monthly.loc["2025-07-31", "A"])


def test_to_monthly_rejects_mid_month_labels_and_missing_month_end_rows(daily):
    mid = pd.DataFrame({"A": [1.0, 2.0]}, index=pd.to_datetime(["2025-06-15", "2025-07-15"]))
    with pytest.raises(DataError, match="dated on the 1st or in the last week.*2025-06-15"):
        to_monthly(mid)
    holey = daily.drop(daily.loc["2020-02-14":"2020-02-29"].index)
    with pytest.raises(DataError, match="more than a week before month end in 2020-02-13"):
        to_monthly(holey)
    with pytest.raises(DataError, match="not sorted"):
        to_monthly(daily.iloc[::-1])


# --- load_prices from a CSV -------------------------------------------------------------------


def test_load_prices_selects_months_inclusive_and_columns_in_asked_order(daily, daily_csv):
    data = load_prices(["CCC", "AAA"], "2020-02-15", "2020-04-01", prices_path=daily_csv)
    assert isinstance(data, PriceData)
    assert list(data.prices.columns) == ["CCC", "AAA"]
    expected = naive_month_end(daily).loc["2020-02-29":"2020-04-30", ["CCC", "AAA"]]
    assert list(data.prices.index) == list(expected.index)
    np.testing.assert_array_equal(data.prices.to_numpy(), expected.to_numpy())
    assert data.source == f"csv:{daily_csv.resolve()}"
    assert "resampled daily prices to monthly: last close of each month" in data.notes


def test_load_prices_without_start_and_end_uses_the_common_span(daily, tmp_path):
    daily = daily.copy()
    daily.loc[:"2020-01-15", "AAA"] = np.nan  # lists in January
    daily.loc["2020-05-10":, "CCC"] = np.nan  # delisted in May
    data = load_prices(["AAA", "CCC"], None, None, prices_path=write_csv(tmp_path / "p.csv", daily))
    assert data.prices.index[0] == pd.Timestamp("2020-01-31")
    assert data.prices.index[-1] == pd.Timestamp("2020-04-30")
    assert "start not given: using 2020-01, the first month with all prices" in data.notes


@pytest.mark.parametrize(
    ("tickers", "start", "end", "match"),
    [
        (["AAA", "ZZZ", "YYY"], "2020-01", "2020-03", r"\['ZZZ', 'YYY'\] not in the data"),
        (["AAA"], "notadate", "2020-03", r"start='notadate' is not a date; use YYYY-MM-DD"),
        (["AAA"], "2020-01", "2020-13-45", r"end='2020-13-45' is not a date"),
        (["AAA"], "2020-05-01", "2020-01-01", r"start='2020-05-01' is after end='2020-01-01'"),
        ("AAA", "2020-01", "2020-03", "tickers must be a list of non-empty ticker strings"),
        ([], "2020-01", "2020-03", "tickers is empty"),
        (["AAA", "AAA"], "2020-01", "2020-03", r"\['AAA'\] are asked for more than once"),
        (["AAA"], "2021-01", "2021-03", r"no prices for \['AAA'\] between 2021-01 and 2021-03"),
        (["AAA"], "2019-10", "2020-03", "AAA has no price at the start month 2019-10: its first"),
        (["AAA"], "2020-01", "2020-08", "AAA has no price at the end month 2020-08"),
    ],
)
def test_load_prices_rejects_bad_requests(daily_csv, tickers, start, end, match):
    with pytest.raises(DataError, match=match):
        load_prices(tickers, start, end, prices_path=daily_csv)


def test_load_prices_names_the_file_columns_when_a_ticker_is_missing(daily_csv):
    with pytest.raises(DataError, match=r"which has \['BBB', 'AAA', 'CCC'\]"):
        load_prices(["ZZZ"], "2020-01", "2020-03", prices_path=daily_csv)


def test_load_prices_reports_a_later_listing_with_its_first_month(daily, tmp_path):
    daily = daily.copy()
    daily.loc[:"2020-02-20", "BBB"] = np.nan
    path = write_csv(tmp_path / "p.csv", daily)
    match = (
        "BBB has no price at the start month 2020-01: its first month is 2020-02; "
        "move --start to 2020-02 or later, or drop BBB"
    )
    with pytest.raises(DataError, match=match):
        load_prices(["AAA", "BBB"], "2020-01-01", "2020-05-01", prices_path=path)
    ok = load_prices(["AAA", "BBB"], "2020-02-01", "2020-05-01", prices_path=path)
    assert ok.prices.index[0] == pd.Timestamp("2020-02-29")


def test_load_prices_reports_an_early_end_with_its_last_month(daily, tmp_path):
    daily = daily.copy()
    daily.loc["2020-04-10":, "CCC"] = np.nan
    path = write_csv(tmp_path / "p.csv", daily)
    with pytest.raises(
        DataError, match="CCC has no price at the end month 2020-05: its last month"
    ):
        load_prices(["CCC"], "2020-01-01", "2020-05-01", prices_path=path)


def test_load_prices_rejects_a_gap_inside_the_window_but_not_outside(daily, tmp_path):
    daily = daily.copy()
    daily.loc[["2020-02-12", "2020-02-13"], "BBB"] = np.nan
    path = write_csv(tmp_path / "p.csv", daily)
    with pytest.raises(DataError, match=r"BBB \(2 missing, first: 2020-02-12, 2020-02-13\)"):
        load_prices(["AAA", "BBB"], "2020-01", "2020-04", prices_path=path)
    ok = load_prices(["AAA", "BBB"], "2020-03", "2020-04", prices_path=path)
    assert len(ok.prices) == 2


def test_load_prices_rejects_a_missing_month_in_monthly_data(tmp_path):
    text = "date,A\n2020-01-01,1\n2020-02-01,2\n2020-04-01,4\n2020-05-01,5\n"
    with pytest.raises(DataError, match=r"A \(1 missing, first: 2020-03-31\)"):
        load_prices(["A"], "2020-01", "2020-05", prices_path=write_text(tmp_path, text))


def test_load_prices_on_an_incomplete_last_month_says_so(daily, tmp_path):
    path = write_csv(tmp_path / "p.csv", daily.loc[:"2020-06-15"])
    with pytest.raises(DataError, match="AAA has no price at the end month 2020-06"):
        load_prices(["AAA"], "2020-01", "2020-06", prices_path=path)
    data = load_prices(["AAA"], "2020-01", None, prices_path=path)
    assert data.prices.index[-1] == pd.Timestamp("2020-05-31")
    assert any("dropped the incomplete last month 2020-06" in n for n in data.notes)


def test_load_prices_matches_on_shared_monthly_and_daily_files(shared_data):
    kwargs = {"tickers": SEED_TICKERS, "start": "2016-11-01", "end": "2025-09-01"}
    monthly = load_prices(prices_path=shared_data / "prices_monthly.csv", **kwargs)
    daily = load_prices(prices_path=shared_data / "prices_daily.csv", **kwargs)
    for data in (monthly, daily):
        assert data.prices.shape == (107, 17)
        assert list(data.prices.columns) == SEED_TICKERS
        assert data.prices.index[0] == pd.Timestamp("2016-11-30")
        assert data.prices.index[-1] == pd.Timestamp("2025-09-30")
        assert (data.prices.index == data.prices.index + pd.offsets.MonthEnd(0)).all()
    assert (monthly.prices.index == daily.prices.index).all()
    np.testing.assert_allclose(monthly.prices.to_numpy(), daily.prices.to_numpy(), rtol=REL_TOL)


def test_demo_preset_loads_the_documented_months_and_matches_skfolio():
    from skfolio.datasets import load_factors_dataset, load_sp500_dataset, load_sp500_index

    from backtest.data.demo import DEMO_END, DEMO_RELATIVES, DEMO_START, DEMO_TARGETS

    tickers = [*DEMO_TARGETS, *DEMO_RELATIVES]
    data = load_prices(tickers, DEMO_START, DEMO_END, demo=True)
    assert data.source.startswith("demo: skfolio") and "not your tickers" in data.source
    assert any(n.startswith("demo dataset") for n in data.notes)
    assert list(data.prices.columns) == tickers
    assert data.prices.index[0] == pd.Timestamp("2014-01-31")
    assert data.prices.index[-1] == pd.Timestamp("2022-11-30")
    assert len(data.prices) == 107  # 106 monthly returns: > lookback 12 + min_train 36 + 1
    # Naive reference: the last daily close of each month, read straight from skfolio.
    raw = pd.concat([load_sp500_dataset(), load_sp500_index(), load_factors_dataset()], axis=1)
    raw = raw.loc["2014-01-01":"2022-11-30", tickers]
    expected = raw.groupby(raw.index.to_period("M")).last()
    np.testing.assert_allclose(data.prices.to_numpy(), expected.to_numpy(), rtol=REL_TOL)


def test_demo_and_a_price_file_together_are_refused(tmp_path):
    with pytest.raises(DataError, match="choose one source"):
        load_prices(["AAPL"], None, None, prices_path=tmp_path / "p.csv", demo=True)


def test_demo_drops_its_incomplete_last_month():
    data = load_prices(["AAPL"], "2022-01", None, demo=True)
    assert data.prices.index[-1] == pd.Timestamp("2022-11-30")
    assert any("dropped the incomplete last month 2022-12" in n for n in data.notes)


# --- PriceData --------------------------------------------------------------------------------


def month_end_frame(values, columns=("A", "B")) -> pd.DataFrame:
    index = pd.date_range("2020-01-31", periods=len(values), freq="ME", name="date")
    return pd.DataFrame(np.asarray(values, dtype=np.float64), index=index, columns=list(columns))


def test_fingerprint_is_equal_for_equal_data_and_differs_otherwise():
    frame = month_end_frame([[1.0, 2.0], [3.0, 4.0]])
    base = PriceData(frame, "test").fingerprint
    assert len(base) == 64 and base == PriceData(frame.copy(), "other", ("note",)).fingerprint
    nudged = frame.copy()
    nudged.iloc[1, 1] = np.nextafter(4.0, 5.0)
    reordered = frame[["B", "A"]]
    shifted = frame.set_axis(frame.index + pd.offsets.MonthEnd(1), axis=0).rename_axis("date")
    for other in (nudged, reordered, shifted):
        assert PriceData(other, "test").fingerprint != base


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (month_end_frame([[1.0, np.nan]]), "no NaN"),
        (month_end_frame([[1.0, -2.0]]), "not positive"),
        (month_end_frame([[1.0, 2.0]]).set_axis(pd.DatetimeIndex(["2020-01-15"], name="date")),
         "must be month ends"),
        (month_end_frame([[1.0, 2.0]]).rename_axis("when"), "index named 'date'"),
    ],
)  # fmt: skip
def test_price_data_enforces_its_invariants(frame, match):
    with pytest.raises(DataError, match=match):
        PriceData(frame, "test")


# --- yfinance download and cache --------------------------------------------------------------


def test_download_calls_yfinance_with_the_agreed_arguments_and_caches(daily, tmp_path):
    yahoo = FakeYahoo(daily)
    prices, source = download_prices(["CCC", "AAA"], "2020-01-20", "2020-03-05", tmp_path, yahoo)
    assert yahoo.calls == [
        {
            "tickers": ["CCC", "AAA"], "start": "2020-01-01", "end": "2020-04-01",
            "interval": "1d", "auto_adjust": True, "progress": False, "threads": False,
        }
    ]  # fmt: skip
    assert source == "yfinance (downloaded)"
    assert list(prices.columns) == ["CCC", "AAA"]
    expected = daily.loc["2020-01-01":"2020-03-31", ["CCC", "AAA"]]
    np.testing.assert_array_equal(prices.to_numpy(), expected.to_numpy())
    (manifest_path,) = (tmp_path / "prices").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["tickers"] == ["AAA", "CCC"]
    assert (manifest["start"], manifest["end"], manifest["n_rows"]) == ("2020-01", "2020-03", 65)
    assert manifest_path.with_suffix(".csv").exists() and len(manifest["sha256"]) == 64
    assert "downloaded_at" in manifest
    assert not list((tmp_path / "prices").glob(".*.tmp"))


def test_second_request_is_served_from_the_cache_without_the_downloader(daily, tmp_path):
    first = load_prices(["CCC", "AAA"], "2020-01", "2020-05", None, tmp_path, FakeYahoo(daily))
    again = load_prices(["AAA", "CCC"], "2020-01-03", "2020-05-20", None, tmp_path, offline)
    assert again.source.startswith("yfinance (cache hit: ") and str(tmp_path) in again.source
    assert list(again.prices.columns) == ["AAA", "CCC"]
    np.testing.assert_array_equal(again.prices[["CCC", "AAA"]].to_numpy(), first.prices.to_numpy())
    assert (
        first.fingerprint
        == load_prices(["CCC", "AAA"], "2020-01", "2020-05", None, tmp_path, offline).fingerprint
    )


def test_cache_dir_defaults_to_the_environment_variable(daily, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(tmp_path / "env-cache"))
    download_prices(["AAA"], "2020-01", "2020-02", None, FakeYahoo(daily))
    assert len(list((tmp_path / "env-cache" / "prices").glob("*.csv"))) == 1


def no_cache_files(cache: Path) -> bool:
    return not (cache / "prices").exists() or not any((cache / "prices").iterdir())


@pytest.mark.parametrize(
    "yahoo",
    [
        FakeYahoo(error=ConnectionError("Could not resolve host: query2.finance.yahoo.com")),
        FakeYahoo(pd.DataFrame(index=pd.DatetimeIndex([]), columns=["AAA", "BBB"], dtype=float)),
    ],
    ids=["raises", "empty"],
)
def test_no_network_and_no_cache_is_a_clear_error(tmp_path, yahoo):
    match = (
        r"could not download AAA, BBB from Yahoo Finance \(no network, a firewall or Yahoo's "
        rf"rate limit\?\) and there is no cached copy in .*prices: .*{re.escape(OFFLINE_HELP)}"
    )
    with pytest.raises(DataError, match=match):
        load_prices(["AAA", "BBB"], "2020-01", "2020-03", None, tmp_path, yahoo)
    assert no_cache_files(tmp_path)


class NoisyOfflineYahoo:
    """Like yfinance 1.7 without a network: log lines per ticker, a warning, an empty frame."""

    def __call__(self, tickers, **kwargs):
        import logging
        import warnings

        for ticker in tickers:
            logging.getLogger("yfinance").error("Cookie/crumb fetch failed (DNSError)")
            logging.getLogger("yfinance").error(f"Failed to get ticker '{ticker}' reason: curl")
        print("1 Failed download")
        warnings.warn(
            "The inplace keyword in DataFrame.rename is deprecated", FutureWarning, stacklevel=2
        )
        columns = pd.MultiIndex.from_product([["Close"], tickers], names=["Price", "Ticker"])
        return pd.DataFrame(index=pd.DatetimeIndex([]), columns=columns, dtype=float)


def test_yfinance_noise_becomes_one_message_and_a_log_file(tmp_path, capfd):
    with pytest.raises(DataError) as info:
        load_prices(["AAA", "BBB"], "2020-01", "2020-03", None, tmp_path, NoisyOfflineYahoo())
    message = str(info.value)
    assert "--source demo" in message and "--prices FILE" in message
    log = tmp_path / YAHOO_LOG
    assert f"yfinance's 6 message line(s) are in {log}" in message
    text = log.read_text()
    assert text.count("Cookie/crumb fetch failed") == 2 and "1 Failed download" in text
    assert "FutureWarning: The inplace keyword" in text
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert no_cache_files(tmp_path)


def test_downloader_exception_text_is_kept(tmp_path):
    yahoo = FakeYahoo(error=ConnectionError("Could not resolve host"))
    with pytest.raises(DataError, match="copy in .*: ConnectionError: Could not resolve host"):
        download_prices(["AAA"], "2020-01", "2020-03", tmp_path, yahoo)


@pytest.mark.parametrize("how", ["all-NaN", "absent"])
def test_a_partial_download_is_an_error_and_never_cached(daily, tmp_path, how):
    partial = daily.copy()
    if how == "all-NaN":
        partial["BBB"] = np.nan
    else:
        partial = partial.drop(columns="BBB")
    with pytest.raises(
        DataError, match=r"no prices for BBB \(got only AAA, CCC\).*not cached.*--source demo"
    ):
        download_prices(["AAA", "BBB", "CCC"], "2020-01", "2020-03", tmp_path, FakeYahoo(partial))
    assert no_cache_files(tmp_path)


def test_a_download_with_gaps_is_an_error_and_never_cached(daily, tmp_path):
    gappy = daily.copy()
    gappy.loc["2020-02-05", "CCC"] = np.nan
    gappy.loc["2020-03-02", ["AAA", "CCC"]] = np.nan
    match = (
        r"not cached\).*AAA \(1 missing, first: 2020-03-02\); CCC \(2 missing, first: 2020-02-05"
    )
    with pytest.raises(DataError, match=match):
        download_prices(["AAA", "CCC"], "2020-01", "2020-03", tmp_path, FakeYahoo(gappy))
    assert no_cache_files(tmp_path)


def test_a_download_with_non_positive_prices_is_an_error(daily, tmp_path):
    bad = daily.copy()
    bad.loc["2020-02-05", "AAA"] = 0.0
    with pytest.raises(DataError, match=r"AAA on 2020-02-05: 0\.0"):
        download_prices(["AAA"], "2020-01", "2020-03", tmp_path, FakeYahoo(bad))
    assert no_cache_files(tmp_path)


def test_a_download_with_a_timezone_aware_index_is_dated_by_its_local_day(daily, tmp_path):
    aware = daily.tz_localize("America/New_York")
    prices, _ = download_prices(["AAA"], "2020-01", "2020-02", tmp_path, FakeYahoo(aware))
    assert prices.index.tz is None
    assert (prices.index == daily.loc["2020-01-01":"2020-02-29"].index).all()


def test_a_month_not_over_yet_is_downloaded_but_not_cached(daily, tmp_path):
    end = (pd.Timestamp.now() + pd.DateOffset(months=1)).strftime("%Y-%m")
    _, source, notes = fetch_prices(["AAA"], "2020-01", end, tmp_path, FakeYahoo(daily))
    assert source == "yfinance (downloaded)"
    assert any("is not over yet" in n for n in notes)
    assert no_cache_files(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "edit", "delete-manifest", "garble-manifest"])
def test_a_corrupt_cache_is_detected_reported_and_downloaded_again(daily, tmp_path, damage):
    request = (["AAA", "CCC"], "2020-01", "2020-05", None, tmp_path)
    clean = load_prices(*request, FakeYahoo(daily))
    (csv_path,) = (tmp_path / "prices").glob("*.csv")
    manifest_path = csv_path.with_suffix(".json")
    text = csv_path.read_text()
    if damage == "truncate":
        csv_path.write_text(text[: len(text) // 2])
    elif damage == "edit":
        csv_path.write_text(text.replace(text.splitlines()[5].split(",")[1], "123.0", 1))
    elif damage == "delete-manifest":
        manifest_path.unlink()
    else:
        manifest_path.write_text("{not json")
    with pytest.raises(DataError, match=rf"the cached copy {csv_path} is corrupt .*; delete it"):
        load_prices(*request, offline)
    yahoo = FakeYahoo(daily)
    repaired = load_prices(*request, yahoo)
    assert len(yahoo.calls) == 1
    assert repaired.fingerprint == clean.fingerprint
    assert any(f"cached copy {csv_path} was corrupt" in n for n in repaired.notes)
    assert load_prices(*request, offline).fingerprint == clean.fingerprint


def test_cache_reports_checksum_mismatch_for_an_edited_file(daily, tmp_path):
    download_prices(["AAA"], "2020-01", "2020-02", tmp_path, FakeYahoo(daily))
    (csv_path,) = (tmp_path / "prices").glob("*.csv")
    csv_path.write_text(csv_path.read_text() + "2020-03-02,1.0\n")
    _, _, notes = fetch_prices(["AAA"], "2020-01", "2020-02", tmp_path, FakeYahoo(daily))
    assert any("checksum mismatch: the file was truncated or edited" in n for n in notes)
