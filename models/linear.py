"""Linear comparators on the LSTM's own inputs: ridge, elastic net and OLS.

Each flattens the last ``lags`` months of the input sequence (default 1: last month's
features), standardises the inputs on the training window only, and fits one model for
all targets (elastic net: one per target). Gu, Kelly & Xiu (2020) compare exactly these
against networks on the same inputs; a network that does not beat them has not shown
that its non-linearity is worth anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNetCV, LinearRegression, Ridge, RidgeCV
from sklearn.preprocessing import StandardScaler

from models.base import Forecaster, check_training, single_threaded

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 36))
"""Ridge penalties searched, on standardised inputs and targets (1e-2 .. 1e5)."""


def lagged(X: np.ndarray, lags: int) -> np.ndarray:
    """The last ``lags`` months of each sequence, flattened: ``(n_samples, lags * n_features)``."""
    X = np.asarray(X, dtype=np.float64)
    if not isinstance(lags, int | np.integer) or not 1 <= lags <= X.shape[1]:
        raise ValueError(f"`lags` must be an integer in [1, lookback={X.shape[1]}], got {lags!r}")
    return X[:, -lags:, :].reshape(len(X), -1)


def time_ordered_tail(n_samples: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a time-ordered split: the first ``1 - fraction`` fit, the last ``fraction`` score."""
    n_fit = int(n_samples * (1 - fraction))
    if n_fit < 2 or n_samples - n_fit < 1:
        raise ValueError(
            f"too few training samples={n_samples} for validation_fraction={fraction}: "
            "need at least two to fit and one to validate"
        )
    return np.arange(n_fit), np.arange(n_fit, n_samples)


class _Linear(Forecaster):
    """Shared plumbing: lagged, standardised inputs; targets standardised for fitting."""

    def _prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, y = check_training(X, y)
        Z = lagged(X, self.lags)
        self.x_scaler_ = StandardScaler().fit(Z)
        self.y_scaler_ = StandardScaler().fit(y)
        return self.x_scaler_.transform(Z), self.y_scaler_.transform(y)

    @single_threaded
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Forecasts in the targets' units, from the training window's scalers."""
        Z = self.x_scaler_.transform(lagged(X, self.lags))
        return self.y_scaler_.inverse_transform(self._predict_scaled(Z))

    def _predict_scaled(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict(Z).reshape(len(Z), -1)


class RidgeForecaster(_Linear):
    """Ridge regression of next month's returns on the last ``lags`` months of features.

    Inputs and targets are standardised on the training window (so one penalty means the
    same shrinkage for every feature and every target counts equally in its choice), and
    one penalty is chosen for all targets inside the training window:

    - ``selection="loo"`` (default): sklearn's efficient leave-one-out ``RidgeCV`` (exact
      LOO errors from one SVD, Golub-Heath-Wahba). With ``lags=1`` the samples share no
      months, and monthly returns are nearly serially uncorrelated, so leaving one month
      out is close to an honest out-of-sample error, and it uses every training month:
      a 20% tail of a 36-month window is 7 months, too few to choose a penalty reliably.
    - ``selection="tail"``: fit on the first 80% of the window, score on its last 20% (the
      tail the LSTM's early stopping uses), then refit on the whole window. Prefer it with
      ``lags > 1``, where neighbouring samples overlap and LOO would be optimistic.

    Parameters
    ----------
    lags : int, default 1
        Months of features used.
    alphas : sequence of float
        Penalties searched (on standardised data).
    selection : {"loo", "tail"}, default "loo"
    validation_fraction : float, default 0.2
        Tail share for ``selection="tail"``.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    """

    def __init__(
        self,
        lags: int = 1,
        alphas: Sequence[float] = DEFAULT_ALPHAS,
        selection: str = "loo",
        validation_fraction: float = 0.2,
    ) -> None:
        self.lags = lags
        self.alphas = alphas
        self.selection = selection
        self.validation_fraction = validation_fraction

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> RidgeForecaster:
        """Standardise, choose the penalty inside the window, and fit on the whole window."""
        Z, ys = self._prepare(X, y)
        alphas = np.asarray(self.alphas, dtype=float)
        if self.selection == "loo":
            self.model_ = RidgeCV(alphas=alphas, alpha_per_target=False).fit(Z, ys)
            self.alpha_ = float(self.model_.alpha_)
        elif self.selection == "tail":
            fit, val = time_ordered_tail(len(Z), self.validation_fraction)
            errors = [_ridge_tail_error(Z, ys, fit, val, a) for a in alphas]
            self.alpha_ = float(alphas[int(np.argmin(errors))])
            self.model_ = Ridge(alpha=self.alpha_).fit(Z, ys)
        else:
            raise ValueError(f"`selection` must be 'loo' or 'tail', got {self.selection!r}")
        return self

    def diagnostics(self) -> dict[str, np.ndarray]:
        """The chosen penalty."""
        return {"alpha": np.array([self.alpha_])}


def _ridge_tail_error(
    Z: np.ndarray, y: np.ndarray, fit: np.ndarray, val: np.ndarray, alpha: float
) -> float:
    # The fit rows are re-standardised so the tail is scored as unseen data would be.
    scaler = StandardScaler().fit(Z[fit])
    model = Ridge(alpha=alpha).fit(scaler.transform(Z[fit]), y[fit])
    return float(np.mean((model.predict(scaler.transform(Z[val])) - y[val]) ** 2))


class ElasticNetForecaster(_Linear):
    """Elastic net per target, penalty and L1 share chosen on the window's time-ordered tail.

    sklearn's ``ElasticNetCV`` with one split: fit on the first ``1 - validation_fraction``
    of the window, score on the rest (never shuffled), then refit on the whole window
    with the best ``(alpha, l1_ratio)``.

    Attributes
    ----------
    alpha_, l1_ratio_ : ndarray of shape (n_outputs,)
        The chosen penalty and L1 share of each target.
    """

    def __init__(
        self,
        lags: int = 1,
        l1_ratio: Sequence[float] = (0.1, 0.5, 0.9, 1.0),
        n_alphas: int = 50,
        validation_fraction: float = 0.2,
    ) -> None:
        self.lags = lags
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.validation_fraction = validation_fraction

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> ElasticNetForecaster:
        """One ``ElasticNetCV`` per target on the standardised window."""
        Z, ys = self._prepare(X, y)
        split = [time_ordered_tail(len(Z), self.validation_fraction)]
        with warnings.catch_warnings():
            # Weak penalties on tiny windows converge slowly; the tail scores them anyway.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.models_ = [
                ElasticNetCV(
                    l1_ratio=list(self.l1_ratio), alphas=self.n_alphas, cv=split, max_iter=5000
                ).fit(Z, ys[:, k])
                for k in range(ys.shape[1])
            ]
        self.alpha_ = np.array([m.alpha_ for m in self.models_])
        self.l1_ratio_ = np.array([m.l1_ratio_ for m in self.models_])
        return self

    def _predict_scaled(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(Z) for m in self.models_])

    def diagnostics(self) -> dict[str, np.ndarray]:
        """Mean chosen penalty and L1 share over the targets."""
        return {"alpha": self.alpha_, "l1_ratio": self.l1_ratio_}


class OLSForecaster(_Linear):
    """Ordinary least squares on the last ``lags`` months of features (no penalty)."""

    def __init__(self, lags: int = 1) -> None:
        self.lags = lags

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> OLSForecaster:
        """Least squares with an intercept, one fit for all targets."""
        Z, ys = self._prepare(X, y)
        self.model_ = LinearRegression().fit(Z, ys)
        return self
