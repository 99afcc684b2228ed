"""Rolling-origin (walk-forward) splits over time-ordered samples: the one window rule.

In the style of sklearn's ``TimeSeriesSplit`` and skfolio's ``WalkForward``, but with
the one property a forecasting backtest needs stated in the type: every training
sample's target is known at the forecast origin.

:meth:`WalkForward.train_rows` is the only place that says which rows train a window
(all earlier ones, or the last ``train_size``). The engine applies it to the feature
sequences (the models' training samples) and to the monthly returns (the historical
mean and the strategies' sample moments, which use every return up to the origin,
not only the months that have a full feature sequence); ``live`` asks it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np


class WindowKind(str, Enum):
    """How the training window moves."""

    EXPANDING = "expanding"
    ROLLING = "rolling"


@dataclass(frozen=True)
class Split:
    """One refit: train on ``train`` samples, then forecast each sample in ``test``.

    Sample ``i`` ends at origin month ``s_i`` and targets month ``s_i + 1``; so the
    training samples ``< test[0]`` have targets up to ``s_{test[0]}``, all known at the
    first origin. With ``refit_every > 1`` the later test samples reuse this fit.
    """

    train: np.ndarray
    test: np.ndarray


class WalkForward:
    """Walk forward one month at a time, refitting every ``refit_every`` months.

    Parameters
    ----------
    min_train_size : int, default 36
        Training samples of the first fit. 36 monthly samples (three years) is the
        smallest window in which an LSTM fit, with 20% of it held out for early
        stopping, sees more than a handful of validation months.
    window : {"expanding", "rolling"}, default "expanding"
        Expanding windows keep all past samples; rolling windows keep the last
        ``train_size``.
    train_size : int or None
        Length of a rolling window (defaults to ``min_train_size``).
    refit_every : int, default 1
        Retrain at every month (1) or every ``k`` months, forecasting the months in
        between with the last fit.
    """

    def __init__(
        self,
        min_train_size: int = 36,
        window: WindowKind | str = WindowKind.EXPANDING,
        train_size: int | None = None,
        refit_every: int = 1,
    ) -> None:
        self.min_train_size = min_train_size
        self.window = window
        self.train_size = train_size
        self.refit_every = refit_every

    def _validate(self, n_samples: int) -> None:
        for name in ("min_train_size", "refit_every"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        WindowKind(self.window)
        if self.train_size is not None and self.train_size < self.min_train_size:
            raise ValueError(
                f"`train_size`={self.train_size} must be at least "
                f"`min_train_size`={self.min_train_size}"
            )
        if n_samples <= self.min_train_size:
            raise ValueError(
                f"Too few samples={n_samples} for min_train_size={self.min_train_size}: "
                f"need at least {self.min_train_size + 1} (one to forecast)"
            )

    def train_rows(self, end: int) -> np.ndarray:
        """Rows that train a fit made after row ``end - 1``.

        ``0 .. end - 1`` (expanding), or the last ``train_size`` of them (rolling; all of
        them while fewer exist).

        Parameters
        ----------
        end : int
            One past the last row known at the forecast origin: the first test sample, or
            the position of the origin month plus one in a monthly series.
        """
        if WindowKind(self.window) is WindowKind.ROLLING:
            return np.arange(max(0, end - (self.train_size or self.min_train_size)), end)
        return np.arange(0, end)

    def get_n_splits(self, n_samples: int) -> int:
        """Number of refits over ``n_samples`` samples."""
        self._validate(n_samples)
        return -(-(n_samples - self.min_train_size) // self.refit_every)

    def split(self, n_samples: int) -> Iterator[Split]:
        """Yield the refits over samples ``0 .. n_samples - 1``, in time order."""
        self._validate(n_samples)
        for first_test in range(self.min_train_size, n_samples, self.refit_every):
            test = np.arange(first_test, min(first_test + self.refit_every, n_samples))
            yield Split(train=self.train_rows(first_test), test=test)
