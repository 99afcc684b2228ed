"""The demo dataset: real daily prices that skfolio ships, so a fresh clone runs offline.

``--source demo`` reads three files of :mod:`skfolio.datasets` (BSD-3 licence) through the
package's own loaders; nothing is copied into this repository:

- ``load_sp500_dataset``: adjusted daily closes of 20 S&P 500 stocks, 1990-01-02 .. 2022-12-28;
- ``load_sp500_index``: the S&P 500 index (a price index: dividends are not reinvested);
- ``load_factors_dataset``: five iShares factor ETFs (MTUM QUAL SIZE USMV VLUE), 2014-01-02 ..
  2022-12-28.

The preset (:data:`DEMO_TARGETS`, :data:`DEMO_RELATIVES`, :data:`DEMO_START`, :data:`DEMO_END`)
serves every variant: seven stocks from seven sectors are the targets, the index and the factor
ETFs the relatives' inputs, over the months all of them share, 2014-01 .. 2022-11 (December 2022
is incomplete: the files stop before its last trading day). That is 106 monthly returns, as
many as the default Yahoo window; with the default lookback 12 and min_train 36 it gives 58
forecast months. ``base`` and ``indicators`` ignore the relatives, so ``--variant all`` compares
the three on the same months. The index is named ``SP500``, not ``SPY``: it is not the ETF, so the
demo has no market (SPY) benchmark. skfolio calls these files stale and meant for examples:
they are for trying the engine, not for investment conclusions.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "DEMO_END",
    "DEMO_RELATIVES",
    "DEMO_START",
    "DEMO_TARGETS",
    "demo_daily_prices",
    "demo_source",
]

DEMO_TARGETS = ("AAPL", "AMD", "JPM", "UNH", "XOM", "WMT", "HD")
"""Seven of skfolio's 20 S&P 500 stocks, one per sector (tech, chips, banks, health care,
energy, staples, retail)."""
DEMO_RELATIVES = ("SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE")
"""The S&P 500 index and the five factor ETFs: momentum, quality, size, min-volatility, value."""
DEMO_START = "2014-01-01"
"""The factor ETFs' first month in the files."""
DEMO_END = "2022-11-30"
"""The last complete month of the files."""


def demo_source() -> str:
    """The ``source`` a demo :class:`~backtest.data.prices.PriceData` records (config.json)."""
    from importlib.metadata import version

    return (
        f"demo: skfolio {version('skfolio')} datasets (S&P 500 stocks, S&P 500 index, factor "
        "ETFs; BSD-3), not your tickers"
    )


def demo_daily_prices() -> pd.DataFrame:
    """Daily prices of all 26 demo series, one column each, NaN before a series starts.

    Returns
    -------
    pandas.DataFrame
        Float64 closes indexed by trading day; columns: the 20 stocks, ``SP500``, then the
        five factor ETFs.
    """
    # skfolio's package import takes seconds (it loads its optimisers); only the demo pays it.
    from skfolio.datasets import load_factors_dataset, load_sp500_dataset, load_sp500_index

    frames = [load_sp500_dataset(), load_sp500_index(), load_factors_dataset()]
    prices = pd.concat(frames, axis=1).sort_index()
    prices.columns = [str(c) for c in prices.columns]
    return prices.astype("float64")
