"""Yahoo Finance behind an on-disk cache: download, checksummed manifest, failure as one message.

yfinance returns an empty or partial frame instead of raising when it cannot reach Yahoo: that
is a failure here, never cached, and yfinance's own lines go to a log file in the cache.
"""

from __future__ import annotations

import contextlib
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
from backtest.data.csvfile import (
    DATE_UNIT,
    DataError,
    check_gaps,
    check_index,
    check_values,
    parse_tickers,
    parse_window,
    read_table,
)

__all__ = [
    "CACHE_ENV",
    "default_cache_dir",
    "download_prices",
    "fetch_prices",
    "request_key",
]

CACHE_ENV = "BACKTEST_CACHE_DIR"
OFFLINE_HELP = (
    "to run offline, use --source demo (the demo dataset shipped with skfolio) or "
    "--prices FILE (a wide CSV: date + one column per ticker)"
)
YAHOO_LOG = "yfinance.log"
"""File in the cache root that keeps yfinance's own messages of each download."""


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
        frame = read_table(data.decode("utf-8"), f"cache file {csv_path}")
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
