"""Base class and shared helpers of the expected-return strategies.

Every strategy is an estimator: parameters are stored unchanged in ``__init__`` and all work
happens in ``fit(view)``, which sets

- ``mu_`` : ndarray of shape (n_assets,), the expected monthly log return;
- ``intensity_`` : float or ndarray of shape (n_assets,), the weight on ``target_``
  (0 = the raw estimate ``base_``, 1 = the target);
- ``target_`` : ndarray of shape (n_assets,), what the raw estimate is shrunk toward;
- ``base_`` : ndarray of shape (n_assets,), the raw estimate (the historical mean; the prior for
  Black-Litterman),

so that ``mu_ = base_ + intensity_ * (target_ - base_)`` (exactly, except for Black-Litterman with
a non-diagonal covariance, where ``intensity_`` is the diagonal of the posterior's gain matrix).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from strategies.inputs import MarketView

__all__ = ["ExpectedReturnStrategy", "shrink", "trailing_mse"]


def shrink(base: np.ndarray, target: np.ndarray, intensity: float | np.ndarray) -> np.ndarray:
    """Move ``base`` toward ``target`` by ``intensity``: ``base + intensity * (target - base)``."""
    base = np.asarray(base, dtype=float)
    return base + np.asarray(intensity, dtype=float) * (np.asarray(target, dtype=float) - base)


def trailing_mse(
    forecasts: np.ndarray, realised: np.ndarray, window: int | None = None
) -> np.ndarray:
    """Per-asset mean squared forecast error over the last ``window`` rows (all rows if None).

    Parameters
    ----------
    forecasts, realised : ndarray of shape (n_past, n_assets)
        Forecasts and the realised returns they targeted, oldest first.
    window : int or None, default None
        Number of most recent months to use.

    Returns
    -------
    ndarray of shape (n_assets,)
        ``mean((forecasts - realised)**2, axis=0)`` over the window; NaN when it is empty.
    """
    errors = np.asarray(forecasts, dtype=float) - np.asarray(realised, dtype=float)
    if window is not None:
        errors = errors[-window:]
    if errors.shape[0] == 0:
        return np.full(errors.shape[1], np.nan)
    return np.mean(errors**2, axis=0)


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it lies in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1], got {value!r}")
    return float(value)


def check_optional_window(name: str, value: object) -> int | None:
    """Return ``value`` after checking it is None or a positive integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer or None, got {value!r}")
    return int(value)


def check_min_history(min_history: object, window: int | None) -> int:
    """Return ``min_history`` after checking it is a positive integer not above ``window``."""
    if isinstance(min_history, bool) or not isinstance(min_history, Integral) or min_history < 1:
        raise ValueError(f"`min_history` must be a positive integer, got {min_history!r}")
    if window is not None and window < min_history:
        raise ValueError(
            f"window={window} is smaller than min_history={min_history}, so the trailing "
            "errors would never be used; set window >= min_history or window=None"
        )
    return int(min_history)


def parse_enum(enum: type[Enum], name: str, value: object) -> Enum:
    """Convert ``value`` to ``enum``; the error lists the valid values."""
    try:
        return enum(value)
    except ValueError:
        valid = ", ".join(repr(member.value) for member in enum)
        raise ValueError(f"`{name}` must be one of {valid}, got {value!r}") from None


class ExpectedReturnStrategy(BaseEstimator, ABC):
    """Base class of the expected-return strategies (see the module docstring for attributes)."""

    @abstractmethod
    def fit(self, view: MarketView) -> ExpectedReturnStrategy:
        """Estimate ``mu_`` from ``view`` and return ``self``."""

    def _store(
        self, base: np.ndarray, target: np.ndarray, intensity: float | np.ndarray
    ) -> ExpectedReturnStrategy:
        self.base_ = np.asarray(base, dtype=float)
        self.target_ = np.asarray(target, dtype=float)
        self.intensity_ = intensity if np.ndim(intensity) else float(intensity)
        self.mu_ = shrink(self.base_, self.target_, intensity)
        return self
