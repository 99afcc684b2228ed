"""Causal feature builders of the three variants, and their sequences.

One definition of returns throughout: monthly **log** returns ``ln(P_t / P_{t-1})``,
for targets and inputs alike (the seed mixed log targets with ``pct_change`` inputs).
Every column is labelled by the price frame's own column names: no separate list is
ever zipped against positions, so the seed's alphabetical mislabelling cannot happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd


class Variant(str, Enum):
    """What the LSTM sees."""

    BASE = "base"
    """The targets' own log returns."""
    INDICATORS = "indicators"
    """Own log returns plus stationary technical indicators from ``ta``."""
    RELATIVES = "relatives"
    """Log returns of the relative (sector and market) ETFs."""


@dataclass(frozen=True)
class IndicatorWindows:
    """Look-back lengths (in months) of the technical indicators."""

    rsi: int = 12
    sma: int = 12
    bollinger: int = 12
    macd_fast: int = 6
    macd_slow: int = 12

    @property
    def warmup(self) -> int:
        """The longest indicator window, in months (what sizes :func:`leading_months`' probe)."""
        return max(self.rsi, self.sma, self.bollinger, self.macd_slow)


def leading_months(variant: Variant | str, windows: IndicatorWindows = IndicatorWindows()) -> int:
    """Price rows before a variant's first feature row.

    One for ``base`` and ``relatives`` (the first price has no return). For ``indicators``, the
    rows before every indicator has a value, counted on a dummy series by ``ta`` itself, so the
    count is the library's, not a re-derivation of each indicator's warm-up.
    """
    if Variant(variant) is not Variant.INDICATORS:
        return 1
    n = 4 * windows.warmup + 2
    steps = np.arange(n)
    dummy = pd.Series(
        np.exp(0.01 * steps + 0.05 * np.sin(steps)),
        index=pd.date_range("2000-01-31", periods=n, freq="ME"),
    )
    complete = indicator_features(dummy, windows).notna().all(axis=1).to_numpy()
    return max(1, int(np.argmax(complete)))


@dataclass(frozen=True)
class FeatureSet:
    """Features and targets on one monthly index.

    Attributes
    ----------
    features : DataFrame of shape (n_months, n_features)
        Row ``s`` holds what is known at the end of month ``s``.
    targets : DataFrame of shape (n_months, n_targets)
        Row ``s`` holds the targets' log returns *of* month ``s``; a sequence ending at
        ``s`` is paired with the row ``s + 1``.
    notes : tuple of str
        What a user should know (e.g. indicator warm-up rows dropped).
    """

    features: pd.DataFrame
    targets: pd.DataFrame
    notes: tuple[str, ...] = ()


def log_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Monthly log returns; the first month, which has no predecessor, is dropped."""
    return np.log(prices).diff().iloc[1:]


def indicator_features(
    prices: pd.Series, windows: IndicatorWindows = IndicatorWindows()
) -> pd.DataFrame:
    """Stationary transforms of ``ta`` indicators for one price series.

    ``rsi`` is RSI/100, ``sma_gap`` is price/SMA - 1, ``bb_pctb`` is Bollinger %B and
    ``macd`` is MACD/price: ratios and bounded oscillators, not price levels, so they
    do not leak the price's scale or trend (defect 4 of the seed). Every ``ta``
    indicator used is a trailing rolling or recursive EWM computation: the value at
    month ``s`` uses prices up to ``s`` only.
    """
    import ta

    name = prices.name
    sma = ta.trend.SMAIndicator(prices, window=windows.sma).sma_indicator()
    macd = ta.trend.MACD(
        prices, window_fast=windows.macd_fast, window_slow=windows.macd_slow
    ).macd()
    frame = pd.DataFrame(
        {
            f"{name}_rsi": ta.momentum.RSIIndicator(prices, window=windows.rsi).rsi() / 100.0,
            f"{name}_sma_gap": prices / sma - 1.0,
            f"{name}_bb_pctb": ta.volatility.BollingerBands(
                prices, window=windows.bollinger
            ).bollinger_pband(),
            f"{name}_macd": macd / prices,
        }
    )
    return frame


def build_features(
    variant: Variant | str,
    prices: pd.DataFrame,
    targets: Sequence[str],
    relatives: Sequence[str] = (),
    windows: IndicatorWindows = IndicatorWindows(),
) -> FeatureSet:
    """Build the features of ``variant`` and the targets' log returns from month-end prices.

    Parameters
    ----------
    variant : Variant or str
        ``base``, ``indicators`` or ``relatives``.
    prices : DataFrame of shape (n_months, n_tickers)
        Month-end prices holding every target (and, for ``relatives``, every relative).
    targets, relatives : sequence of str
        Column names of the assets forecast and of the relative ETFs.
    windows : IndicatorWindows
        Indicator look-backs of the ``indicators`` variant.
    """
    variant = Variant(variant)
    targets = list(targets)
    returns = log_returns(prices)
    target_returns = returns[targets]
    notes: list[str] = []
    match variant:
        case Variant.BASE:
            features = target_returns.copy()
        case Variant.RELATIVES:
            if not relatives:
                raise ValueError("variant 'relatives' needs at least one relative ticker")
            features = returns[list(relatives)].copy()
        case Variant.INDICATORS:
            blocks = []
            for ticker in targets:
                block = indicator_features(prices[ticker], windows).iloc[1:]
                blocks.append(pd.concat([target_returns[[ticker]], block], axis=1))
            features = pd.concat(blocks, axis=1)
            complete = features.notna().all(axis=1)
            if not complete.any():
                needed = leading_months(Variant.INDICATORS, windows) + 1
                raise ValueError(
                    f"indicator features need at least {needed} months of prices (the "
                    f"indicators' warm-up and one month with every value), got {len(prices)}"
                )
            first = complete.idxmax()
            if not complete.loc[first:].all():
                gap = complete.loc[first:].idxmin()
                raise ValueError(
                    f"indicator features are incomplete at {gap:%Y-%m}, after their warm-up: "
                    "a missing price inside a ticker's history; fill or drop it"
                )
            n_dropped = int((~complete).sum())
            notes.append(
                f"indicators: dropped the first {n_dropped} months ({features.index[0]:%Y-%m}"
                f" .. {features.index[n_dropped - 1]:%Y-%m}) as indicator warm-up"
            )
            features = features.loc[first:]
            target_returns = target_returns.loc[first:]
    return FeatureSet(features=features, targets=target_returns, notes=tuple(notes))


@dataclass(frozen=True)
class Sequences:
    """Sliding sequences over a feature set.

    Sample ``i`` holds ``features`` rows ``i .. i + lookback - 1`` (ending at month
    ``origins[i]``) and the targets of the *next* month, ``target_dates[i]``. The last
    sample, whose next month lies beyond the data, has NaN targets: it is the live
    forecast and is never used for training.
    """

    X: np.ndarray
    y: np.ndarray
    origins: pd.DatetimeIndex
    target_dates: pd.DatetimeIndex
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    @property
    def n_labelled(self) -> int:
        """Samples whose target month is inside the data."""
        return len(self.X) - 1


def make_sequences(feature_set: FeatureSet, lookback: int) -> Sequences:
    """Cut ``(n_samples, lookback, n_features)`` sequences paired with next-month targets.

    The target of a sequence ending in month ``t`` is the return of month ``t + 1``, not
    ``t + 2`` (defect 2 of the seed).
    """
    features, targets = feature_set.features, feature_set.targets
    if not features.index.equals(targets.index):
        raise ValueError("features and targets must share one monthly index")
    n_months = len(features)
    if n_months < lookback + 1:
        raise ValueError(
            f"lookback={lookback} needs at least {lookback + 1} months of features, got {n_months}"
        )
    values = features.to_numpy(dtype=np.float64)
    n_samples = n_months - lookback + 1
    X = np.lib.stride_tricks.sliding_window_view(values, lookback, axis=0)
    X = np.ascontiguousarray(X.transpose(0, 2, 1))
    y = np.full((n_samples, targets.shape[1]), np.nan)
    y[:-1] = targets.to_numpy(dtype=np.float64)[lookback:]
    origins = features.index[lookback - 1 :]
    next_month = origins[-1] + pd.offsets.MonthEnd(1)
    target_dates = pd.DatetimeIndex([*features.index[lookback:], next_month], name="date")
    return Sequences(
        X=X,
        y=y,
        origins=pd.DatetimeIndex(origins, name="date"),
        target_dates=target_dates,
        feature_names=tuple(features.columns),
        target_names=tuple(targets.columns),
    )
