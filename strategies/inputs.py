"""What a strategy may know at a rebalancing date: the :class:`MarketView`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["MarketView"]


def _frozen_array(name: str, value: object, ndim: int) -> np.ndarray:
    """Return a read-only float copy of ``value`` after checking its rank and finiteness."""
    array = np.array(value, dtype=float, copy=True)
    if array.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array, got shape {array.shape}; "
            f"pass {'(n_periods, n_assets)' if ndim == 2 else '(n_assets,)'}-shaped data"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"`{name}` contains {int(np.sum(~np.isfinite(array)))} non-finite values; "
            "drop or fill missing months before building the view"
        )
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class MarketView:
    """Everything known at a rebalancing date ``t``, and nothing after it.

    The engine builds one view per rebalancing date; strategies read from it only, so a strategy
    cannot look ahead. Arrays are copied, converted to float and made read-only on construction.

    Parameters
    ----------
    returns : ndarray of shape (n_periods, n_assets)
        Monthly log returns of the training window, up to and including month ``t``.
        At least two periods are required (strategies estimate a covariance from them).
    forecast : ndarray of shape (n_assets,)
        The model's forecast of month ``t+1``'s log return.
    past_forecasts : ndarray of shape (n_past, n_assets)
        The model's forecasts for earlier months whose realised return is known at ``t``
        (target month ``<= t``), oldest first. ``n_past`` may be 0.
    past_benchmarks : ndarray of shape (n_past, n_assets)
        Historical-mean forecasts for those same months.
    past_realised : ndarray of shape (n_past, n_assets)
        Realised log returns of those months.

    Raises
    ------
    ValueError
        If an array has the wrong rank, a shape disagrees with ``returns``, a value is not finite
        or there are fewer than two periods of returns.
    """

    returns: np.ndarray
    forecast: np.ndarray
    past_forecasts: np.ndarray
    past_benchmarks: np.ndarray
    past_realised: np.ndarray

    def __post_init__(self) -> None:
        returns = _frozen_array("returns", self.returns, 2)
        n_periods, n_assets = returns.shape
        if n_periods < 2 or n_assets < 1:
            raise ValueError(
                f"`returns` must hold at least 2 periods and 1 asset, got shape {returns.shape}; "
                "lengthen the training window"
            )
        forecast = _frozen_array("forecast", self.forecast, 1)
        if forecast.shape != (n_assets,):
            raise ValueError(
                f"`forecast` must have shape ({n_assets},) to match returns' {n_assets} assets, "
                f"got {forecast.shape}"
            )
        past = {}
        for name in ("past_forecasts", "past_benchmarks", "past_realised"):
            value = getattr(self, name)
            if np.ndim(value) < 2 and np.size(value) == 0:
                value = np.empty((0, n_assets))
            past[name] = _frozen_array(name, value, 2)
        shapes = {name: array.shape for name, array in past.items()}
        n_past = shapes["past_forecasts"][0]
        if any(shape != (n_past, n_assets) for shape in shapes.values()):
            raise ValueError(
                f"past_forecasts, past_benchmarks and past_realised must all have shape "
                f"(n_past, {n_assets}), got {shapes}; align them on the same months and assets"
            )
        object.__setattr__(self, "returns", returns)
        object.__setattr__(self, "forecast", forecast)
        for name, array in past.items():
            object.__setattr__(self, name, array)

    @property
    def n_periods(self) -> int:
        """Number of months in the training window."""
        return self.returns.shape[0]

    @property
    def n_assets(self) -> int:
        """Number of assets."""
        return self.returns.shape[1]

    @property
    def n_past(self) -> int:
        """Number of past months with a scored forecast."""
        return self.past_forecasts.shape[0]

    @cached_property
    def historical_mean(self) -> np.ndarray:
        """Sample mean of :attr:`returns`, shape (n_assets,); read-only, computed once."""
        return _read_only(self.returns.mean(axis=0))

    @cached_property
    def sample_covariance(self) -> np.ndarray:
        """Unbiased sample covariance of :attr:`returns` (ddof=1), shape (n_assets, n_assets).

        Read-only, computed once (every strategy of a rebalancing date reads it).
        """
        return _read_only(np.atleast_2d(np.cov(self.returns, rowvar=False, ddof=1)))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
