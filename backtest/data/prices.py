"""Monthly price panels: read a wide CSV or download from Yahoo Finance, validate, align.

Every stage downstream works on a :class:`PriceData`: month-end prices, one column per ticker in
the order the user asked for, no gaps, all positive. Anything that would make that untrue is a
:class:`DataError` that names the offending tickers, dates or values and says what to do.
Reading files, the yfinance download and its on-disk cache live in :mod:`backtest.data.yahoo`;
their public names are re-exported here.

Longer than ~300 lines because it is the one loader every source goes through (calendar,
resampling, coverage checks).
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.csvfile import (
    DATE_UNIT,
    DataError,
    check_gaps,
    check_index,
    check_values,
    dates_text,
    parse_tickers,
    parse_window,
    read_price_csv,
)
from backtest.data.demo import demo_daily_prices, demo_source
from backtest.data.yahoo import download_prices, fetch_prices

__all__ = [
    "DataError",
    "PriceData",
    "download_prices",
    "is_daily",
    "last_trading_day",
    "load_prices",
    "read_price_csv",
    "to_monthly",
]


_CALENDAR_START = pd.Timestamp("1990-01-02")
"""First session of exchange_calendars' XNYS calendar; earlier months count weekdays."""


@functools.lru_cache(maxsize=1)
def _nyse():
    import exchange_calendars

    with warnings.catch_warnings():
        # Its pandas-deprecation warnings are the package's to fix, not a user's.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        calendar = exchange_calendars.get_calendar("XNYS", start=_CALENDAR_START)
    return pd.DatetimeIndex(calendar.sessions).as_unit(DATE_UNIT)


def last_trading_day(month: pd.Period) -> pd.Timestamp:
    """Return the last NYSE trading day of ``month``, from the ``exchange_calendars`` package.

    Its XNYS calendar holds the regular holidays and the ad-hoc closures (national days of
    mourning, Hurricane Sandy). Months outside it (before 1990, or more than about a year
    ahead, where no prices exist yet) count weekdays instead.
    """
    first, last = month.start_time.normalize(), month.end_time.normalize()
    sessions = _nyse()
    if first < sessions[0] or last > sessions[-1]:
        return pd.bdate_range(first, last, unit=DATE_UNIT)[-1]
    return sessions[sessions.searchsorted(last, side="right") - 1]


def _month_end_index(months: pd.PeriodIndex) -> pd.DatetimeIndex:
    index = months.to_timestamp(how="end").normalize().as_unit(DATE_UNIT)
    return pd.DatetimeIndex(index, name="date")


def is_daily(index: pd.DatetimeIndex) -> bool:
    """Return True if some calendar month holds more than one date of ``index``."""
    return bool(len(index)) and bool(index.to_period("M").value_counts().max() > 1)


def to_monthly(prices: pd.DataFrame, daily: bool | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Convert daily or monthly prices to one row per calendar month, labelled by month end.

    Parameters
    ----------
    prices : pandas.DataFrame
        Prices indexed by unique, increasing dates; NaN means "no price".
    daily : bool, optional
        Whether ``prices`` are daily; default :func:`is_daily` of its index. Pass it when
        ``prices`` is a slice of a longer frame: a one-row slice of daily data is not monthly data.

    Returns
    -------
    monthly : pandas.DataFrame
        One row per month from the first to the last month of ``prices`` (months without any row
        are NaN), indexed by calendar month-end dates named ``"date"``; float64.
    notes : list of str
        What was done: resampling, relabelling, an incomplete last month dropped.

    Notes
    -----
    Daily data (some month has more than one row): the value of month m is the *last row* of m,
    NaN included, so a missing month-end price stays missing instead of being replaced by an
    earlier day's. A last month whose data end before its last NYSE trading day is incomplete and
    is dropped. Monthly data (at most one row per month) must be labelled either by the first day
    of the month (yfinance's ``interval="1mo"`` style, value = that month's last close) or by a day
    in the month's last week; both are relabelled to the calendar month end.
    """
    what = "prices"
    check_index(prices.index, what)
    if prices.empty:
        raise DataError(f"{what}: no rows to convert to monthly")
    try:
        frame = prices.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: values must be numbers ({exc})") from exc
    months = frame.index.to_period("M")
    days_in_month = frame.index.days_in_month.to_numpy()
    notes: list[str] = []
    if is_daily(frame.index) if daily is None else daily:
        is_last = np.append(months[1:] != months[:-1], True)
        last_rows = frame.iloc[np.flatnonzero(is_last)]
        early = last_rows.index.day.to_numpy()[:-1] < days_in_month[is_last][:-1] - 6
        if early.any():
            raise DataError(
                f"{what}: daily rows stop more than a week before month end in "
                f"{dates_text(last_rows.index[:-1][early])}; rows are missing, so the month-end "
                "price is unknown: complete the data"
            )
        notes.append("resampled daily prices to monthly: last close of each month")
        final_day, final_month = last_rows.index[-1], months[-1]
        if final_day < last_trading_day(final_month):
            last_rows = last_rows.iloc[:-1]
            notes.append(
                f"dropped the incomplete last month {final_month}: the data end on "
                f"{dates_text([final_day])}, before its last trading day "
                f"{dates_text([last_trading_day(final_month)])}"
            )
            if last_rows.empty:
                raise DataError(f"{what}: the only month, {final_month}, is incomplete")
        frame = last_rows
    else:
        if months.has_duplicates:
            raise DataError(
                f"{what}: several rows in month {months[months.duplicated()][0]}; not monthly"
            )
        first_style = frame.index.day == 1
        end_style = frame.index.day > days_in_month - 7
        odd = ~(first_style | end_style)
        if odd.any():
            raise DataError(
                f"{what}: monthly rows must be dated on the 1st or in the last week of the month, "
                f"got {dates_text(frame.index[odd])}; relabel them"
            )
        if first_style.any():
            notes.append("relabelled first-of-month (yfinance style) monthly rows to month end")
        moved = end_style & (frame.index.day != days_in_month)
        if moved.any():
            notes.append("relabelled last-trading-day monthly rows to calendar month end")
    months = frame.index.to_period("M")
    frame = frame.set_axis(_month_end_index(months), axis=0)
    full = _month_end_index(pd.period_range(months[0], months[-1], freq="M"))
    return frame.reindex(full), notes


@dataclass(frozen=True, eq=False)
class PriceData:
    """Validated month-end prices and where they came from.

    Compare two instances by :attr:`fingerprint` (``==`` is identity: frames have no truth value).

    Attributes
    ----------
    prices : pandas.DataFrame
        ``(n_months, n_assets)`` float64 prices, all > 0, no NaN, indexed by month-end dates
        named ``"date"``, one column per ticker in the order asked for.
    source : str
        Where the numbers came from, e.g. ``"csv:/abs/path.csv"`` or
        ``"yfinance (cache hit: /path)"``.
    notes : tuple of str
        What was done to the data that a user should know.
    """

    prices: pd.DataFrame
    source: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        prices = self.prices
        check_index(prices.index, "PriceData.prices")
        if prices.empty or prices.isna().to_numpy().any():
            raise DataError("PriceData.prices must be non-empty and have no NaN")
        month_ends = prices.index.to_period("M").to_timestamp(how="end").normalize()
        if not (prices.index == month_ends).all():
            raise DataError(f"PriceData.prices index must be month ends, got {prices.index[:3]}")
        if prices.index.name != "date" or not (prices.dtypes == np.float64).all():
            raise DataError("PriceData.prices must be float64 with an index named 'date'")
        check_values(prices, "PriceData.prices")

    @property
    def tickers(self) -> tuple[str, ...]:
        """Ticker names, in column order."""
        return tuple(str(c) for c in self.prices.columns)

    @property
    def fingerprint(self) -> str:
        """Sha256 hex digest of dates, tickers and float64 values: same data, same digest."""
        digest = hashlib.sha256()
        digest.update(json.dumps(list(self.tickers)).encode())
        digest.update(",".join(self.prices.index.strftime("%Y-%m-%d")).encode())
        digest.update(np.ascontiguousarray(self.prices.to_numpy(dtype="<f8")).tobytes())
        return digest.hexdigest()


def _coverage_problems(window: pd.DataFrame, start: pd.Period, end: pd.Period) -> list[str]:
    """One clause per kind of gap and month, naming every ticker it concerns."""
    groups: dict[tuple[str, object], list[str]] = {}
    for ticker in window.columns:
        present = window[ticker].dropna().index.to_period("M")
        if present.empty:
            groups.setdefault(("none", None), []).append(ticker)
        elif present[0] > start:
            groups.setdefault(("start", present[0]), []).append(ticker)
        elif present[-1] < end:
            groups.setdefault(("end", present[-1]), []).append(ticker)
    problems = []
    for (kind, month), tickers in groups.items():
        names = ", ".join(tickers)
        its, them = ("its", tickers[0]) if len(tickers) == 1 else ("their", "them")
        has = "has" if len(tickers) == 1 else "have"
        if kind == "none":
            problems.append(f"{names} {has} no price between {start} and {end}; drop {them}")
        elif kind == "start":
            problems.append(
                f"{names} {has} no price at the start month {start}: {its} first month is "
                f"{month}; move --start to {month} or later, or drop {them}"
            )
        else:
            problems.append(
                f"{names} {has} no price at the end month {end}: {its} last month is "
                f"{month}; move --end to {month} or earlier, or drop {them}"
            )
    return problems


def _raw_prices(
    names: list[str],
    start: str | None,
    end: str | None,
    prices_path: str | Path | None,
    cache_dir: str | Path | None,
    downloader: Callable | None,
    demo: bool,
) -> tuple[pd.DataFrame, str, list[str]]:
    """The raw (daily or monthly) prices of one source, its name, and what was done to them."""
    if demo and prices_path is not None:
        raise DataError("choose one source: the demo dataset or --prices FILE, not both")
    if demo:
        raw = demo_daily_prices()
        raw.index = pd.DatetimeIndex(raw.index.normalize().as_unit(DATE_UNIT), name="date")
        notes = [
            "demo dataset: prices shipped with skfolio (stale, ending 2022-12), not your "
            "tickers; use --tickers (Yahoo) or --prices FILE for your own assets"
        ]
        return raw, demo_source(), notes
    if prices_path is not None:
        return read_price_csv(prices_path), f"csv:{Path(prices_path).expanduser().resolve()}", []
    raw, source, fetch_notes = fetch_prices(names, start, end, cache_dir, downloader)
    return raw, source, list(fetch_notes)


def load_prices(
    tickers: Sequence[str],
    start: str | None,
    end: str | None,
    prices_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    downloader: Callable | None = None,
    demo: bool = False,
) -> PriceData:
    """Load validated month-end prices of ``tickers`` for the months ``start`` .. ``end``.

    Parameters
    ----------
    tickers : sequence of str
        Tickers, in the column order wanted.
    start, end : str or None
        Any date inside the first / last month wanted (both inclusive). None means the first /
        last month in which every ticker has a price.
    prices_path : str or Path, optional
        Wide CSV to read (see :func:`read_price_csv`); if None, download from Yahoo Finance.
    cache_dir : str or Path, optional
        Download cache directory (default ``$BACKTEST_CACHE_DIR`` or ``~/.cache/backtest``).
    downloader : callable, optional
        Replacement for ``yfinance.download`` (tests).
    demo : bool, default False
        Read the demo dataset (:mod:`backtest.data.demo`) instead of a file or Yahoo.

    Returns
    -------
    PriceData
        ``(n_months, n_assets)`` month-end prices, columns in the order of ``tickers``.

    Raises
    ------
    DataError
        Any problem with the request, the file or the download; see the message.
    """
    names = parse_tickers(tickers)
    start_month, end_month = parse_window(start, end)
    raw, source, notes = _raw_prices(names, start, end, prices_path, cache_dir, downloader, demo)
    missing = [t for t in names if t not in raw.columns]
    if missing:
        raise DataError(
            f"ticker(s) {missing} not in the data ({source}), which has {[*raw.columns]}; "
            "check the spelling or use a file that has them"
        )
    frame = raw[names]
    first_day = None if start_month is None else start_month.start_time
    last_day = None if end_month is None else end_month.end_time.normalize()
    frame = frame.loc[first_day:last_day]
    present = frame.notna().any(axis=1).to_numpy()
    if not present.any():
        raise DataError(
            f"no prices for {names} between {start_month or 'the start'} and "
            f"{end_month or 'the end'} in {source}; its dates run "
            f"{dates_text(raw.index[:1])} .. {dates_text(raw.index[-1:])}"
        )
    # Rows before any and after every ticker has a price carry nothing and would only move the
    # "incomplete last month" test away from the tickers' own last day.
    rows = np.flatnonzero(present)
    frame = frame.iloc[rows[0] : rows[-1] + 1]
    check_gaps(frame, source)
    monthly, monthly_notes = to_monthly(frame, daily=is_daily(raw.index))
    notes.extend(monthly_notes)
    spans = [span for t in names if len(span := monthly[t].dropna().index.to_period("M"))]
    if not spans:
        raise DataError(f"no complete month of prices for {names} in {source}")
    if start_month is None:
        start_month = max(span[0] for span in spans)
        notes.append(f"start not given: using {start_month}, the first month with all prices")
    if end_month is None:
        end_month = min(span[-1] for span in spans)
        notes.append(f"end not given: using {end_month}, the last month with all prices")
    if start_month > end_month:
        raise DataError(
            f"{names} have no month in common in {source} (first month with all prices "
            f"{start_month}, last {end_month}); drop a ticker or pass --start and --end"
        )
    months = monthly.index.to_period("M")
    window = monthly.loc[(months >= start_month) & (months <= end_month)]
    problems = _coverage_problems(window, start_month, end_month)
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    check_gaps(window, source)
    return PriceData(prices=window, source=source, notes=tuple(notes))
