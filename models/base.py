"""The one contract every forecaster shares, and the historical-mean baseline.

A forecaster is a scikit-learn regressor over sequences: parameters are set in
``__init__`` (and only stored there), ``fit(X, y)`` returns ``self``, ``predict(X)``
returns ``(n_samples, n_outputs)``, and ``get_params`` / ``set_params`` come from
:class:`sklearn.base.BaseEstimator`, so :func:`sklearn.base.clone` copies an unfitted
one. What a fit reports beyond its forecasts (epochs run, the chosen penalty) is an
optional extra, :meth:`Forecaster.diagnostics`; an ensemble shows its members' own
forecasts through :meth:`Forecaster.member_predictions`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from threadpoolctl import threadpool_limits


class Forecaster(RegressorMixin, BaseEstimator):
    """A forecaster of next month's returns from sequences of past features.

    ``X`` is shaped ``(n_samples, lookback, n_features)`` and ``y`` is shaped
    ``(n_samples, n_outputs)``: sample ``i`` holds the features of the ``lookback``
    months ending at month ``s_i`` and the target returns of month ``s_i + 1``.
    Subclasses implement :meth:`fit` and :meth:`predict`; a parameter named
    ``random_state`` receives the window's seed.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> Forecaster:  # pragma: no cover
        """Fit on training samples only and return ``self``."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Forecast ``(n_samples, n_outputs)`` targets for the given sequences."""
        raise NotImplementedError

    def diagnostics(self) -> dict[str, np.ndarray]:
        """Per-fit extras worth keeping (e.g. epochs run); none by default."""
        return {}

    def member_predictions(self, X: np.ndarray) -> np.ndarray:
        """Each ensemble member's forecasts, ``(n_members, n_samples, n_outputs)``.

        A forecaster that is not an ensemble is its own single member: ``predict(X)[None]``.
        An ensemble (e.g. the LSTM with ``n_seeds > 1``) overrides this so a report can show
        how much its forecasts, and their scores, depend on the seed; ``predict`` stays the
        ensemble's forecast.
        """
        return np.asarray(self.predict(X), dtype=np.float64)[np.newaxis]


def single_threaded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` with one BLAS/OpenMP thread.

    A window's fit is tiny (tens of rows): threads only add synchronisation, and on a
    loaded machine OpenMP's spinning workers make a boosted-tree fit ~80x slower (measured:
    72 s vs 0.9 s for 60 rows x 7 targets). One thread also gives the same floating-point
    results in every process, whatever ``n_jobs`` is.
    """

    @wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1):
            return method(*args, **kwargs)

    return run


def check_training(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as ``(n_samples, lookback, n_features)`` and ``y`` as ``(n_samples, n_outputs)``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 3 or y.ndim != 2 or len(X) != len(y) or len(y) == 0:
        raise ValueError(
            f"`X` must be (n_samples, lookback, n_features) and `y` (n_samples, n_outputs) "
            f"with the same n_samples > 0, got {X.shape} and {y.shape}"
        )
    return X, y


class HistoricalMean(Forecaster):
    """Forecast every month with the mean of the training targets.

    The baseline of the return-predictability literature (Welch & Goyal 2008;
    Campbell & Thompson 2008): the forecast for month ``t + 1`` is the average of
    the returns of the training window, all of which are known at ``t``. ``X`` is
    ignored, so the engine fits it on every return the window holds, not only on the
    months that have a full feature sequence.

    Attributes
    ----------
    mean_ : ndarray of shape (n_outputs,)
        The fitted mean of the training targets.
    """

    def fit(self, X: np.ndarray | None, y: np.ndarray) -> HistoricalMean:
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


class Zero(Forecaster):
    """Forecast a zero return for every asset and month.

    Gu, Kelly & Xiu (2020) score forecasts against zero rather than the historical
    mean because, for single stocks, the noisy historical mean often loses to zero.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> Zero:
        """Remember the number of outputs."""
        _, y = check_training(X, y)
        self.n_outputs_ = y.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Zeros of shape ``(n_samples, n_outputs)``."""
        return np.zeros((len(X), self.n_outputs_))
