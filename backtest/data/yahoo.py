"""Where raw prices come from: wide CSV files, and Yahoo Finance behind an on-disk cache.

Also holds :class:`DataError` and the checks every raw price panel passes, so that
:mod:`backtest.data.prices` (monthly alignment, windows,
:class:`~backtest.data.prices.PriceData`) builds on this module without an import cycle.
The public names are re-exported by :mod:`backtest.data.prices`.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.atomic import atomic_write_bytes

__all__ = [
    "CACHE_ENV",
    "DataError",
    "default_cache_dir",
    "download_prices",
    "fetch_prices",
    "read_price_csv",
    "request_key",
]

CACHE_ENV = "BACKTEST_CACHE_DIR"
CSV_HELP = "pass --prices FILE with a wide CSV (date + one column per ticker)"
OFFLINE_HELP = (
    "to run offline, use --source demo (the demo dataset shipped with skfolio) or "
    "--prices FILE (a wide CSV: date + one column per ticker)"
)
YAHOO_LOG = "yfinance.log"
"""File in the cache root that keeps yfinance's own messages of each download."""
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


def _read_table(text: str, what: str) -> pd.DataFrame:
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
    return _read_table(text, what)


def default_cache_dir() -> Path:
    """Return the download cache root (``$BACKTEST_CACHE_DIR`` first).

    Same rule as :func:`backtest.config.default_cache_dir`.
    """
    if env := os.environ.get(CACHE_ENV):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "backtest"


def request_key(tickers: Sequence[str], start: pd.Period | None, end: pd.Period) -> str:
    """Return the cache key of a download request: sha256 of sorted tickers, start and end month."""
    payload = json.dumps([sorted(tickers), str(start), str(end)])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _manifest_fields(tickers: Sequence[str], start: pd.Period | None, end: pd.Period) -> dict:
    return {
        "tickers": sorted(tickers),
        "start": None if start is None else str(start),
        "end": str(end),
    }


def _write_cache(csv_path: Path, daily: pd.DataFrame, request: dict) -> None:
    frame = daily[request["tickers"]]
    data = frame.to_csv(index_label="date", date_format="%Y-%m-%d", lineterminator="\n").encode()
    manifest = {
        **request,
        "downloaded_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "n_rows": len(frame),
        "csv": csv_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    atomic_write_bytes(csv_path, data)
    atomic_write_bytes(csv_path.with_suffix(".json"), json.dumps(manifest, indent=1).encode())


def _read_cache(csv_path: Path, request: dict) -> tuple[pd.DataFrame | None, str | None]:
    """Return (prices, None) on a valid hit, (None, None) on a miss, (None, why) if corrupt."""
    manifest_path = csv_path.with_suffix(".json")
    if not csv_path.exists() and not manifest_path.exists():
        return None, None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        data = csv_path.read_bytes()
    except (OSError, ValueError) as exc:
        return None, f"unreadable: {exc}"
    if not isinstance(manifest, dict) or any(manifest.get(k) != v for k, v in request.items()):
        return None, "its manifest does not match the request"
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        return None, "checksum mismatch: the file was truncated or edited"
    try:
        frame = _read_table(data.decode("utf-8"), f"cache file {csv_path}")
    except (DataError, UnicodeDecodeError) as exc:
        return None, f"unparseable: {exc}"
    if len(frame) != manifest.get("n_rows") or list(frame.columns) != request["tickers"]:
        return None, "row count or columns differ from its manifest"
    return frame, None


def _extract_close(raw: object, names: list[str], fail: Callable[[str], DataError]) -> pd.DataFrame:
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        raise fail("Yahoo returned no rows")
    columns = raw.columns
    if isinstance(columns, pd.MultiIndex) and "Close" in columns.get_level_values(0):
        close = raw["Close"]
    elif isinstance(columns, pd.MultiIndex) and "Close" in columns.get_level_values(-1):
        close = raw.xs("Close", axis=1, level=-1)
    elif "Close" in columns and len(names) == 1:
        close = raw[["Close"]].set_axis(names, axis=1)
    else:
        raise DataError(
            f"unexpected download result with columns {list(columns)[:6]}; "
            "expected yfinance's ('Close', ticker) columns"
        )
    close = close.set_axis([str(c) for c in close.columns], axis=1)
    index = pd.DatetimeIndex(close.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = pd.DatetimeIndex(index.normalize().as_unit(DATE_UNIT), name="date")
    return close.set_axis(index, axis=0).apply(pd.to_numeric, errors="coerce").astype(np.float64)


@contextlib.contextmanager
def captured_library_output(log_path: Path, title: str) -> Iterator[list[str]]:
    """Keep yfinance's log records, warnings and prints out of the terminal, in ``log_path``.

    yfinance reports a failed request with several log lines per ticker (plus pandas
    warnings); the caller turns the failure into one :class:`DataError` instead. The lines
    are yielded (a list filled on exit) and appended to ``log_path`` under ``title``.
    """
    lines: list[str] = []
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("yfinance")
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [handler], False
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("always")
            yield lines
    finally:
        logger.handlers, logger.propagate = saved
        lines += handler.stream.getvalue().splitlines() + out.getvalue().splitlines()
        lines += err.getvalue().splitlines()
        lines += [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
        lines[:] = [line for line in lines if line.strip()]
        if lines:
            stamp = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
            with contextlib.suppress(OSError):
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with log_path.open("a", encoding="utf-8") as f:
                    f.write(f"--- {stamp} {title}\n" + "\n".join(lines) + "\n")


def _download(
    names: list[str],
    start: pd.Period | None,
    end: pd.Period,
    downloader: Callable,
    fail: Callable[[str], DataError],
    log_path: Path,
) -> pd.DataFrame:
    if downloader is None:
        import yfinance

        downloader = yfinance.download
    try:
        with captured_library_output(log_path, f"download {' '.join(names)}") as lines:
            raw = downloader(
                list(names),
                start=None if start is None else start.start_time.strftime("%Y-%m-%d"),
                end=(end + 1).start_time.strftime("%Y-%m-%d"),
                interval="1d",
                auto_adjust=True,
                progress=False,
                threads=False,
            )
    except Exception as exc:  # noqa: BLE001 - any downloader failure means "no data"
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    if lines:
        fail = _with_log(fail, len(lines), log_path)
    close = _extract_close(raw, names, fail)
    got = [t for t in names if t in close.columns and close[t].notna().any()]
    missing = [t for t in names if t not in got]
    if not got:
        raise fail("Yahoo returned no prices for any of them")
    if missing:
        raise fail(
            f"Yahoo returned no prices for {', '.join(missing)} (got only {', '.join(got)}): a "
            "misspelt or delisted ticker, or a network or rate-limit failure; the partial "
            "download was not cached. Check the tickers and retry"
        )
    daily = close[names]
    what = f"download of {', '.join(names)} from Yahoo Finance (not cached)"
    check_index(daily.index, what)
    check_values(daily, what)
    check_gaps(daily, what)
    return daily


def _with_log(fail: Callable[[str], DataError], n_lines: int, log_path: Path):
    def fail_with_log(why: str) -> DataError:
        return fail(f"{why} (yfinance's {n_lines} message line(s) are in {log_path})")

    return fail_with_log


def fetch_prices(
    tickers: Sequence[str],
    start: str | None,
    end: str | None,
    cache_dir: str | Path | None = None,
    downloader: Callable | None = None,
) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    """Return daily adjusted closes of the months ``start`` .. ``end``, cached on disk.

    Parameters
    ----------
    tickers : sequence of str
        Yahoo Finance tickers.
    start, end : str or None
        Dates in the first and last month wanted (inclusive). ``start=None`` downloads the full
        history; ``end=None`` means the last complete month before today.
    cache_dir : str or Path, optional
        Cache root (default :func:`default_cache_dir`); files go to ``cache_dir/prices/``.
    downloader : callable, optional
        Function with ``yfinance.download``'s signature (default ``yfinance.download``).

    Returns
    -------
    daily : pandas.DataFrame
        Daily closes, columns in the order of ``tickers``; NaN only before a ticker's first or
        after its last price.
    source : str
        ``"yfinance (cache hit: PATH)"`` or ``"yfinance (downloaded)"``.
    notes : tuple of str
        Cache problems found and repaired, or why the download was not cached.

    Notes
    -----
    One CSV per request key (:func:`request_key`) plus a JSON manifest (tickers, start, end,
    download time, row count, sha256 of the CSV). Both are written atomically. A cache file whose
    checksum does not match is reported and downloaded again. A download that misses tickers or
    has gaps raises and is never cached, and neither is a request whose last month is not over.
    """
    names = parse_tickers(tickers)
    start_month, end_month = parse_window(start, end)
    today = pd.Timestamp.now().normalize()
    notes: list[str] = []
    if end_month is None:
        end_month = today.to_period("M") - 1
        notes.append(f"end not given: downloading through {end_month}, the last complete month")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    csv_path = root / "prices" / f"{request_key(names, start_month, end_month)}.csv"
    request = _manifest_fields(names, start_month, end_month)
    cached, problem = _read_cache(csv_path, request)
    if cached is not None:
        return cached[names], f"yfinance (cache hit: {csv_path})", tuple(notes)

    def fail(why: str) -> DataError:
        cache_state = (
            f"the cached copy {csv_path} is corrupt ({problem}; delete it)"
            if problem
            else f"there is no cached copy in {csv_path.parent}"
        )
        return DataError(
            f"could not download {', '.join(names)} from Yahoo Finance (no network, a "
            f"firewall or Yahoo's rate limit?) and {cache_state}: {why}. Retry when online; "
            f"{OFFLINE_HELP}"
        )

    daily = _download(names, start_month, end_month, downloader, fail, root / YAHOO_LOG)
    if problem:
        notes.append(f"cached copy {csv_path} was corrupt ({problem}); downloaded it again")
    if today > end_month.end_time:
        _write_cache(csv_path, daily, request)
    else:
        notes.append(f"not cached: {end_month} is not over yet, so its prices will still change")
    return daily, "yfinance (downloaded)", tuple(notes)


def download_prices(
    tickers: Sequence[str],
    start: str | None,
    end: str | None,
    cache_dir: str | Path | None = None,
    downloader: Callable | None = None,
) -> tuple[pd.DataFrame, str]:
    """Download daily adjusted closes from Yahoo Finance, or read them from the on-disk cache.

    Same as :func:`fetch_prices` without the notes.

    Returns
    -------
    daily : pandas.DataFrame
        Daily adjusted closes of the months ``start`` .. ``end``, columns in the order asked for.
    source : str
        ``"yfinance (cache hit: PATH)"`` or ``"yfinance (downloaded)"``.
    """
    daily, source, _ = fetch_prices(tickers, start, end, cache_dir, downloader)
    return daily, source
