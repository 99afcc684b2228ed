"""Price tables from files: reading a wide CSV, and the checks every raw price panel passes.

:class:`DataError` and the checks live here, below both sources (the Yahoo cache in
:mod:`backtest.data.yahoo` and user files), so every panel is checked by the same code.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CSV_HELP",
    "DATE_UNIT",
    "DataError",
    "check_gaps",
    "check_index",
    "check_values",
    "dates_text",
    "parse_tickers",
    "parse_window",
    "read_price_csv",
    "read_table",
]

CSV_HELP = "pass --prices FILE with a wide CSV (date + one column per ticker)"
# The datetime unit pandas itself picks for a DatetimeIndex, so that indexes built here compare
# equal (dtype included) with ones other modules build with ``pd.date_range``.
DATE_UNIT = pd.date_range("2000-01-31", periods=1, freq="D").unit
_MAX_LISTED = 3


class DataError(ValueError):
    """Bad price data or bad data request; the message names the problem and the fix."""


def dates_text(index: Sequence[object], n: int = _MAX_LISTED) -> str:
    """Format the first ``n`` dates of ``index`` as ``YYYY-MM-DD, ...`` for messages."""
    return ", ".join(pd.Timestamp(d).strftime("%Y-%m-%d") for d in list(index)[:n])


def check_index(index: pd.Index, what: str) -> None:
    """Raise DataError unless ``index`` is a DatetimeIndex of unique, increasing, known dates."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{what}: index must be dates, got {type(index).__name__}")
    if index.hasnans:
        raise DataError(f"{what}: {int(index.isna().sum())} missing (NaT) date(s) in the index")
    duplicated = index[index.duplicated(keep=False)]
    if len(duplicated):
        raise DataError(
            f"{what}: duplicate dates {dates_text(duplicated.unique())}; keep one row per date"
        )
    if not index.is_monotonic_increasing:
        i = int(np.flatnonzero(np.diff(index.asi8) < 0)[0])
        raise DataError(
            f"{what}: dates are not sorted: {dates_text(index[i : i + 1])} is followed by "
            f"{dates_text(index[i + 1 : i + 2])}; sort the rows by date"
        )


PRICE_MIN, PRICE_MAX = 1e-6, 1e9
"""Plausible prices in any currency unit; outside them a value is a typo or a unit error."""


def check_values(prices: pd.DataFrame, what: str) -> None:
    """Raise DataError if any present (non-NaN) price is not in [PRICE_MIN, PRICE_MAX].

    Zero, negative and infinite prices are impossible; prices like 1e300 or 1e-300 are
    typos or unit errors whose log returns overflow the model's scaler much later.
    """
    values = prices.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~(
            np.isfinite(values) & (values >= PRICE_MIN) & (values <= PRICE_MAX)
        )
    if bad.any():
        rows, cols = np.nonzero(bad)
        examples = "; ".join(
            f"{prices.columns[c]} on {dates_text(prices.index[r : r + 1])}: {float(values[r, c])!r}"
            for r, c in list(zip(rows, cols, strict=True))[:_MAX_LISTED]
        )
        raise DataError(
            f"{what}: {len(rows)} price(s) are not positive finite numbers ({examples}) in the "
            f"plausible range [{PRICE_MIN:g}, {PRICE_MAX:g}]; fix or remove these values"
        )


def check_gaps(prices: pd.DataFrame, what: str) -> None:
    """Raise DataError if a column has NaN between its first and its last price."""
    problems = []
    for ticker in prices.columns:
        column = prices[ticker]
        present = column.notna().to_numpy()
        if not present.any():
            continue
        first, last = np.flatnonzero(present)[[0, -1]]
        missing = column.index[first : last + 1][~present[first : last + 1]]
        if len(missing):
            problems.append(f"{ticker} ({len(missing)} missing, first: {dates_text(missing)})")
    if problems:
        raise DataError(
            f"{what}: missing prices inside a ticker's own date span: {'; '.join(problems)}; "
            "fill the gaps in the source, drop the ticker, or choose a window without them"
        )


_ISO_DATE = r"\d{4}-\d{1,2}-\d{1,2}([ T].*)?"


def _parse_dates(values: pd.Series, what: str) -> pd.DatetimeIndex:
    text = values.astype(str).str.strip()
    other = ~text.str.fullmatch(_ISO_DATE)
    if other.any() and text[other].str.fullmatch(r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}.*").any():
        example = text[other].iloc[0]
        raise DataError(
            f"{what}: dates like {example!r} are ambiguous (day/month or month/day?) and are "
            "not read; write them as YYYY-MM-DD, e.g. 2016-11-30"
        )
    if (other & text.str.fullmatch(r"-?\d+([.,]\d+)?")).all():
        raise DataError(
            f"{what}: its date column holds numbers (e.g. {text.iloc[0]!r}): the file has no "
            "date column; put the dates first, in a column named 'date'"
        )
    try:
        with warnings.catch_warnings():
            # Unparseable values are reported below with their row; pandas' "could not infer
            # format" warning would only repeat that.
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(values, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what}: dates could not be parsed ({exc}); use YYYY-MM-DD") from exc
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row, value = int(bad[0]), values.iloc[int(bad[0])]
        hint = ""
        if str(value).strip() in {"Ticker", "Date", "Price"}:
            hint = " (this looks like a multi-row yfinance header: save df['Close'] instead)"
        raise DataError(
            f"{what}: unparseable date {value!r} in data row {row + 1} (line {row + 2}){hint}; "
            "dates must be like 2016-11-30, all in one format"
        )
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_localize(None)
    return pd.DatetimeIndex(index.normalize().as_unit(DATE_UNIT), name="date")


def _parse_price_table(table: pd.DataFrame, header: list[str], what: str) -> pd.DataFrame:
    names = [name.strip() for name in header]
    seen = {name for name in names if names.count(name) > 1}
    if seen:
        raise DataError(f"{what}: duplicate column names {sorted(seen)}; give each column once")
    date_cols = [i for i, name in enumerate(names) if name.lower() == "date"]
    if len(date_cols) > 1:
        raise DataError(f"{what}: several date columns {[names[i] for i in date_cols]}; keep one")
    date_col = date_cols[0] if date_cols else 0
    tickers = [name for i, name in enumerate(names) if i != date_col]
    if not tickers:
        raise DataError(f"{what}: no ticker columns; expected a date column then one per ticker")
    if "" in tickers:
        raise DataError(f"{what}: column {names.index('') + 1} has no name; name every column")
    table = table.set_axis(names, axis=1)
    index = _parse_dates(table[names[date_col]], what)
    columns = {}
    for ticker in tickers:
        text = table[ticker]
        numbers = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero((text.notna() & numbers.isna()).to_numpy())
        if len(bad):
            raise DataError(
                f"{what}: column {ticker!r} holds text, e.g. {text.iloc[int(bad[0])]!r} in data "
                f"row {int(bad[0]) + 1}; prices must be plain numbers (empty cell = no price)"
            )
        columns[ticker] = numbers.to_numpy(dtype=np.float64)
    prices = pd.DataFrame(columns, index=index)
    check_index(prices.index, what)
    check_values(prices, what)
    return prices


def parse_tickers(tickers: Sequence[str]) -> list[str]:
    """Return ``tickers`` as a list of stripped, unique, non-empty strings."""
    if isinstance(tickers, str) or not all(isinstance(t, str) and t.strip() for t in tickers):
        raise DataError(f"tickers must be a list of non-empty ticker strings, got {tickers!r}")
    names = [t.strip() for t in tickers]
    if not names:
        raise DataError("tickers is empty; ask for at least one ticker")
    repeated = sorted({t for t in names if names.count(t) > 1})
    if repeated:
        raise DataError(f"tickers {repeated} are asked for more than once; list each once")
    return names


def _parse_month(value: object, name: str) -> pd.Period | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise DataError(
            f"{name}={value!r} is not a date; use YYYY-MM-DD or YYYY-MM, e.g. 2016-11-01"
        )
    return stamp.to_period("M")


def parse_window(start: object, end: object) -> tuple[pd.Period | None, pd.Period | None]:
    """Parse ``start`` and ``end`` (dates or None) to their months; start must not follow end."""
    start_month, end_month = _parse_month(start, "start"), _parse_month(end, "end")
    if start_month is not None and end_month is not None and start_month > end_month:
        raise DataError(
            f"start={start!r} is after end={end!r}; pass a start month on or before the end month"
        )
    return start_month, end_month


def read_table(text: str, what: str) -> pd.DataFrame:
    """Parse a wide price table (date column + one column per ticker) from CSV ``text``."""
    first = text.split("\n", 1)[0]
    if ";" in first and "," not in first.replace(";", ""):
        raise DataError(
            f"{what} is separated by ';' (a European-locale export, maybe with decimal commas); "
            "save it comma-separated with '.' as the decimal point"
        )
    if "\t" in first and "," not in first:
        raise DataError(f"{what} is tab-separated; save it comma-separated")
    lines = io.StringIO(text)
    try:
        header = next(csv.reader(lines), None)
        if header is None:
            raise DataError(f"{what} is empty; expected a header 'date,TICKER1,TICKER2,...'")
        table = pd.read_csv(lines, header=None, dtype=str, names=range(len(header)))
    except (pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"{what} is not a valid CSV ({exc}); expected date,T1,T2,... rows") from exc
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    if table.empty:
        raise DataError(f"{what} has a header but no data rows")
    return _parse_price_table(table, header, what)


def read_price_csv(path: str | Path) -> pd.DataFrame:
    """Read a wide price CSV: a date column plus one column of prices per ticker.

    Parameters
    ----------
    path : str or Path
        UTF-8 CSV file, or a gzipped one (``.csv.gz``). The date column is the one named
        ``date`` (any case), else the first column. Empty cells mean "no price" (before a
        listing, after a delisting).

    Returns
    -------
    pandas.DataFrame
        Daily or monthly prices as in the file (float64, NaN for empty cells), indexed by a
        DatetimeIndex named ``"date"``; columns in file order.

    Raises
    ------
    DataError
        Missing or empty file, not UTF-8, not a CSV, duplicate or unnamed columns, unparseable
        dates, text in a price column, duplicate or unsorted dates, non-positive prices.
    """
    path = Path(path).expanduser().resolve()
    what = f"price file {path}"
    if not path.is_file():
        raise DataError(
            f"{what} not found (or not a file); pass --prices with an existing wide CSV"
        )
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in {".parquet", ".pq", ".xlsx", ".xls", ".feather"}:
        raise DataError(
            f"{what}: {path.suffix} files are not read; export a wide CSV (date + one column "
            "per ticker), optionally gzipped as .csv.gz"
        )
    try:
        if suffixes.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                text = f.read().decode("utf-8-sig")
        else:
            text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} is not UTF-8 text ({exc}); save it as a UTF-8 CSV") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{what} is not a readable gzip file ({exc})") from exc
    return read_table(text, what)
