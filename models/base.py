"""The one interface every forecaster shares, and the historical-mean baseline."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Forecaster(Protocol):
    """A forecaster of next month's returns from sequences of past features.

    ``X`` is shaped ``(n_samples, lookback, n_features)`` and ``y`` is shaped
    ``(n_samples, n_outputs)``: sample ``i`` holds the features of the ``lookback``
    months ending at month ``s_i`` and the target returns of month ``s_i + 1``.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> Forecaster:
        """Fit on training samples only and return ``self``."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Forecast ``(n_samples, n_outputs)`` targets for the given sequences."""
        ...


class HistoricalMean:
    """Forecast every month with the mean of the training targets.

    The baseline of the return-predictability literature (Welch & Goyal 2008;
    Campbell & Thompson 2008): the forecast for month ``t + 1`` is the average of
    the target returns of the training window, all of which are known at ``t``.

    Attributes
    ----------
    mean_ : ndarray of shape (n_outputs,)
        The fitted mean of the training targets.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> HistoricalMean:
        """Store the column means of ``y`` (``X`` is accepted for interface parity)."""
        y = np.asarray(y, dtype=float)
        if y.ndim != 2 or y.shape[0] == 0:
            raise ValueError(
                f"`y` must be a non-empty (n_samples, n_outputs) array, got shape {y.shape}"
            )
        self.mean_ = y.mean(axis=0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Repeat the training mean once per row of ``X``."""
        return np.tile(self.mean_, (len(X), 1))
