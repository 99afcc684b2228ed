"""Forecasting more than one month ahead: which variants can, and the iterated path.

An LSTM trained on ``(lookback, n_features)`` windows forecasts one month. To go ``h``
months ahead by iteration, each forecast must be fed back as the next month's input,
which is only possible when every input feature is one of the forecast targets:

- ``base``: the inputs are the targets' own log returns, so the path can be iterated;
- ``relatives``: the inputs are other assets' returns, which the model does not forecast;
- ``indicators``: RSI, SMA gap, Bollinger %B and MACD of month ``t + k`` need the closes
  up to ``t + k``. They could be recomputed from the *predicted* closes, but a path of
  expected returns has no noise: a monotone predicted path drives RSI to 0 or 1 and %B
  outside the bands, inputs unlike any the model was trained on. The path would be an
  extrapolation of the network, not a forecast, so it is refused.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from backtest.features import Variant
from models.registry import ModelSpec, build

__all__ = ["check_horizon", "fit_path", "iterate_forecast"]


class _Predictor(Protocol):
    def predict(self, X: np.ndarray) -> np.ndarray: ...


def check_horizon(variant: Variant | str, horizon: int) -> int:
    """Return ``horizon`` after checking that ``variant`` can forecast that far.

    Raises
    ------
    ValueError
        If ``horizon`` is not a positive integer, or is above 1 for a variant whose inputs
        the model does not forecast (``relatives``, ``indicators``).
    """
    variant = Variant(variant)
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"`horizon` must be a positive integer (months ahead), got {horizon!r}")
    if horizon == 1:
        return int(horizon)
    match variant:
        case Variant.RELATIVES:
            raise ValueError(
                f"horizon={horizon} is not possible for variant 'relatives': its inputs are "
                "other assets' returns (the relative ETFs), which the model does not forecast, "
                "so only a one-step (next-month) forecast is possible; use --horizon 1, or "
                "--variant base to iterate an h-month path"
            )
        case Variant.INDICATORS:
            raise ValueError(
                f"horizon={horizon} is not possible for variant 'indicators': its technical "
                "indicators of future months need future prices; computed from predicted, "
                "noiseless prices they fall outside anything the model was trained on, so "
                "only a one-step forecast is honest; use --horizon 1, or --variant base to "
                "iterate an h-month path"
            )
        case Variant.BASE:
            return int(horizon)


def iterate_forecast(
    model: _Predictor,
    window: np.ndarray,
    horizon: int,
    feature_names: tuple[str, ...] | list[str],
    target_names: tuple[str, ...] | list[str],
) -> np.ndarray:
    """Iterate a one-step forecaster ``horizon`` months ahead.

    Parameters
    ----------
    model : object with ``predict``
        A fitted forecaster (e.g. :class:`models.lstm.LSTMForecaster`) mapping
        ``(n_samples, lookback, n_features)`` raw inputs to ``(n_samples, n_targets)``
        raw next-month log returns.
    window : ndarray of shape (lookback, n_features)
        The last observed input window, in raw units (as in ``Sequences.X``).
    horizon : int
        Months ahead.
    feature_names, target_names : sequence of str
        Names of the input columns and of the forecast targets; every input must be a
        target, or its future value would be unknown.

    Returns
    -------
    ndarray of shape (horizon, n_targets)
        Row ``k`` is the forecast of month ``t + 1 + k`` given the data up to ``t``.

    Notes
    -----
    One space throughout: the window stays in raw log-return units, and the model's
    ``predict`` standardises *every* row with the same input scaler fitted on its
    training window (``x_scaler_``) and returns raw returns (``y_scaler_`` inverted). So
    a predicted return ``r`` appended as the next row enters the network as
    ``(r - mean_x) / scale_x``, exactly as an observed return would. The seed notebook
    appended the network's *scaled* output to a window of *unscaled* inputs, mixing two
    units in one sequence.
    """
    feature_names, target_names = list(feature_names), list(target_names)
    unknown = [f for f in feature_names if f not in target_names]
    if unknown:
        raise ValueError(
            f"cannot iterate: inputs {unknown} are not forecast targets {target_names}, so "
            "their future values are unknown; use horizon=1 or the 'base' variant"
        )
    window = np.asarray(window, dtype=np.float64)
    if window.ndim != 2 or window.shape[1] != len(feature_names):
        raise ValueError(
            f"`window` must have shape (lookback, {len(feature_names)}), got {window.shape}"
        )
    horizon = int(horizon)
    if horizon < 1:
        raise ValueError(f"`horizon` must be a positive integer, got {horizon!r}")
    columns = [target_names.index(f) for f in feature_names]
    path = np.empty((horizon, len(target_names)))
    for k in range(horizon):
        path[k] = np.asarray(model.predict(window[np.newaxis]), dtype=np.float64)[0]
        window = np.vstack([window[1:], path[k, columns]])
    return path


def fit_path(
    X_train: np.ndarray,
    y_train: np.ndarray,
    window: np.ndarray,
    spec: ModelSpec,
    seed: int,
    horizon: int,
    feature_names: tuple[str, ...],
    target_names: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Fit the forecaster of ``spec`` in this process and iterate its path.

    The fit uses the same model, parameters and seed as the cached one-step live window
    (the registry builds it, :func:`models.registry.build`), so the first month of the
    path is that window's forecast.

    Returns
    -------
    dict
        ``path`` of shape (horizon, n_targets) and the model's extras (for the LSTM,
        ``epochs_run`` and ``best_val_loss`` per ensemble member).
    """
    model = build(spec, random_state=seed).fit(X_train, y_train)
    return {
        "path": iterate_forecast(model, window, horizon, feature_names, target_names),
        **model.diagnostics(),
    }
