"""Gradient-boosted trees, and any scikit-learn regressor named in a config.

Both take the same inputs as :mod:`models.linear`: the last ``lags`` months of the
features, flattened, standardised on the training window.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.multioutput import MultiOutputRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from models.base import Forecaster, check_training, single_threaded
from models.linear import lagged, time_ordered_tail


class GBMForecaster(Forecaster):
    """``HistGradientBoostingRegressor`` per target, early-stopped on the window's tail.

    sklearn's own early stopping holds out a *random* share of the rows; here the held-out
    rows are the training window's last ``validation_fraction`` (the tail the LSTM's early
    stopping uses): boosting runs ``max_iter`` rounds on the first rows, the round with the
    smallest tail error is kept, and the model is refitted on the whole window with that
    many rounds.

    Attributes
    ----------
    n_iter_ : ndarray of shape (n_outputs,)
        Boosting rounds chosen per target.
    """

    def __init__(
        self,
        lags: int = 1,
        max_iter: int = 100,
        learning_rate: float = 0.05,
        max_depth: int = 2,
        min_samples_leaf: int = 5,
        l2_regularization: float = 1.0,
        validation_fraction: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.lags = lags
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _booster(self, n_iter: int) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            max_iter=n_iter,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> GBMForecaster:
        """Choose the rounds on the tail, then refit each target on the whole window."""
        X, y = check_training(X, y)
        Z = lagged(X, self.lags)
        self.scaler_ = StandardScaler().fit(Z)
        Z = self.scaler_.transform(Z)
        fit, val = time_ordered_tail(len(Z), self.validation_fraction)
        self.models_, rounds = [], []
        for k in range(y.shape[1]):
            staged = self._booster(self.max_iter).fit(Z[fit], y[fit, k]).staged_predict(Z[val])
            errors = [np.mean((p - y[val, k]) ** 2) for p in staged]
            rounds.append(int(np.argmin(errors)) + 1)
            self.models_.append(self._booster(rounds[-1]).fit(Z, y[:, k]))
        self.n_iter_ = np.array(rounds)
        return self

    @single_threaded
    def predict(self, X: np.ndarray) -> np.ndarray:
        """One column per target."""
        Z = self.scaler_.transform(lagged(X, self.lags))
        return np.column_stack([m.predict(Z) for m in self.models_])

    def diagnostics(self) -> dict[str, np.ndarray]:
        """Boosting rounds chosen (mean over targets)."""
        return {"n_iter": self.n_iter_}


def resolve_estimator(path: str, params: dict[str, Any]) -> Any:
    """An unfitted scikit-learn regressor from ``"module:Class"`` and its parameters.

    Raises
    ------
    ValueError
        If the path does not name an importable class, the class is not a regressor, or
        a parameter is not one of its own: before any window is fitted.
    """
    module_name, _, class_name = str(path).partition(":")
    if not module_name or not class_name:
        raise ValueError(
            f"estimator {path!r} must be 'module:Class', e.g. "
            "'sklearn.ensemble:RandomForestRegressor'"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"estimator {path!r} cannot be imported: {exc}") from None
    if not inspect.isclass(cls) or not is_regressor(cls()):
        raise ValueError(f"estimator {path!r} is not a scikit-learn regressor")
    valid = sorted(cls().get_params(deep=False))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"estimator {path!r} has no parameter(s) {unknown}; its parameters are {valid}"
        )
    return cls(**params)


class SklearnForecaster(Forecaster):
    """Any scikit-learn regressor on the lagged, standardised features.

    Multi-output regressors fit all targets at once; others are wrapped in
    ``MultiOutputRegressor`` (one per target). A ``random_state`` parameter of the
    estimator, when not set in ``params``, receives the window's seed.

    Parameters
    ----------
    estimator : str
        ``"module:Class"``, e.g. ``"sklearn.ensemble:RandomForestRegressor"``.
    params : dict
        The estimator's parameters.
    lags : int, default 1
        Months of features used.
    random_state : int, default 0
        Seed for estimators that take one.
    """

    def __init__(
        self,
        estimator: str = "sklearn.linear_model:LinearRegression",
        params: dict[str, Any] | None = None,
        lags: int = 1,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.params = params
        self.lags = lags
        self.random_state = random_state

    def _estimator(self) -> Any:
        params = dict(self.params or {})
        model = resolve_estimator(self.estimator, params)
        if "random_state" in model.get_params(deep=False) and "random_state" not in params:
            model.set_params(random_state=self.random_state)
        return model

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> SklearnForecaster:
        """Standardise the window's inputs and fit the estimator."""
        X, y = check_training(X, y)
        Z = lagged(X, self.lags)
        self.scaler_ = StandardScaler().fit(Z)
        model = self._estimator()
        if not get_tags(model).target_tags.multi_output:
            model = MultiOutputRegressor(clone(model))
        self.model_ = model.fit(self.scaler_.transform(Z), y)
        return self

    @single_threaded
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Forecasts of shape ``(n_samples, n_outputs)``."""
        Z = self.scaler_.transform(lagged(X, self.lags))
        return np.asarray(self.model_.predict(Z)).reshape(len(Z), -1)
