"""Expected-return strategies that shrink the historical mean toward a target.

See :mod:`strategies.base` for the attributes every strategy sets in ``fit``.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from strategies.base import (
    ExpectedReturnStrategy,
    check_fraction,
    check_min_history,
    check_optional_window,
    parse_enum,
    trailing_mse,
)
from strategies.inputs import MarketView

__all__ = [
    "Blend",
    "HistoricalMean",
    "JamesStein",
    "JamesSteinTarget",
    "JamesSteinToForecast",
    "LSTMOnly",
    "SkillBlend",
    "bates_granger_weight",
    "james_stein_beta",
    "james_stein_intensity",
]


def bates_granger_weight(
    mse_benchmark: np.ndarray, mse_model: np.ndarray, default: float = 0.5
) -> np.ndarray:
    """Bates-Granger weight on the model: ``MSE_bench / (MSE_bench + MSE_model)``.

    Where both errors are zero the weight is ``default`` (neither forecast is distinguishable).

    References
    ----------
    Bates, J. M. and Granger, C. W. J. (1969). The combination of forecasts.
    Operational Research Quarterly, 20(4), 451-468.
    """
    mse_benchmark = np.asarray(mse_benchmark, dtype=float)
    total = mse_benchmark + np.asarray(mse_model, dtype=float)
    safe_total = np.where(total > 0, total, 1.0)
    return np.where(total > 0, mse_benchmark / safe_total, default)


def james_stein_beta(
    cov: np.ndarray, muhat: np.ndarray, target: np.ndarray, n_periods: int
) -> float:
    """Unclipped James-Stein shrinkage factor ``beta``.

    Parameters
    ----------
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of one period's returns.
    muhat : ndarray of shape (n_assets,)
        Sample mean.
    target : ndarray of shape (n_assets,)
        Shrinkage target ``b``.
    n_periods : int
        Number of periods ``T`` behind ``muhat``.

    Returns
    -------
    float
        ``(sum(eig) - 2 max(eig)) / (T ||muhat - b||^2)``; ``inf`` when ``muhat == b``.

    Raises
    ------
    ValueError
        If there are fewer than 3 assets (James-Stein dominates the sample mean only for N >= 3).

    Notes
    -----
    With ``cov = s^2 I`` this is ``(N - 2) s^2 / (T ||muhat - b||^2)``. ``beta`` can exceed 1 or
    be negative; use :func:`james_stein_intensity` for the positive-part (clipped) value.
    """
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    deviation = np.asarray(muhat, dtype=float) - np.asarray(target, dtype=float)
    n_assets = deviation.shape[0]
    if n_assets < 3:
        raise ValueError(
            f"James-Stein shrinkage needs at least 3 assets, got n_assets={n_assets}; "
            "use Blend or BayesStein for fewer assets"
        )
    eigenvalues = np.linalg.eigvalsh(cov)
    numerator = eigenvalues.sum() - 2.0 * eigenvalues.max()
    distance = n_periods * float(deviation @ deviation)
    if distance == 0.0:
        return float("inf")
    return float(numerator / distance)


def james_stein_intensity(
    cov: np.ndarray, muhat: np.ndarray, target: np.ndarray, n_periods: int
) -> float:
    """Positive-part James-Stein intensity: :func:`james_stein_beta` clipped to [0, 1].

    Notes
    -----
    ``mu_JS = b + (1 - beta)_+ (muhat - b)``, i.e. ``shrink(muhat, b, clip(beta, 0, 1))``.
    Without the clip, ``beta > 1`` pushes the estimate *past* the target and flips the ranking of
    the assets (skfolio and Riskfolio-Lib do not clip).

    References
    ----------
    James, W. and Stein, C. (1961). Estimation with quadratic loss. Proc. Fourth Berkeley Symp.
    Jorion, P. (1985). International portfolio diversification with estimation risk.
    Journal of Business, 58(3), 259-278.
    """
    return float(np.clip(james_stein_beta(cov, muhat, target, n_periods), 0.0, 1.0))


class HistoricalMean(ExpectedReturnStrategy):
    """Sample mean of the training window's log returns (intensity 0, target = itself)."""

    def fit(self, view: MarketView) -> HistoricalMean:
        """Set ``mu_`` to the historical mean of ``view.returns``."""
        mean = view.historical_mean
        return self._store(mean, mean, 0.0)


class LSTMOnly(ExpectedReturnStrategy):
    """The LSTM forecast taken as is (intensity 1, target = the forecast)."""

    def fit(self, view: MarketView) -> LSTMOnly:
        """Set ``mu_`` to ``view.forecast``."""
        return self._store(view.historical_mean, view.forecast, 1.0)


class Blend(ExpectedReturnStrategy):
    """Fixed blend ``weight * forecast + (1 - weight) * historical mean``.

    Parameters
    ----------
    weight : float, default 0.5
        Weight on the LSTM forecast, in [0, 1].
    """

    def __init__(self, weight: float = 0.5) -> None:
        self.weight = weight

    def fit(self, view: MarketView) -> Blend:
        """Blend the forecast and the historical mean with the fixed ``weight``."""
        weight = check_fraction("weight", self.weight)
        return self._store(view.historical_mean, view.forecast, weight)


class SkillBlend(ExpectedReturnStrategy):
    """Blend weighted by each forecast's trailing out-of-sample skill (Bates-Granger).

    Parameters
    ----------
    min_history : int, default 12
        Number of scored past months needed before skill weights are trusted.
    default_weight : float, default 0.5
        Weight on the forecast until ``min_history`` months are available, and for assets where
        both forecasts have zero error.
    window : int or None, default None
        Use only the last ``window`` scored months (all of them if None); must be
        ``>= min_history``.

    Notes
    -----
    Per asset, ``lambda = MSE_mean / (MSE_mean + MSE_lstm)`` where the mean squared errors of the
    historical-mean benchmark and of the LSTM are computed on ``view.past_*`` only, i.e. on
    months whose realised return is known at the rebalancing date (no look-ahead), and
    ``mu = lambda * forecast + (1 - lambda) * historical mean``. A forecaster that has been
    no better than the benchmark gets ``lambda <= 0.5``.

    References
    ----------
    Bates, J. M. and Granger, C. W. J. (1969). The combination of forecasts.
    Operational Research Quarterly, 20(4), 451-468.
    """

    def __init__(
        self, min_history: int = 12, default_weight: float = 0.5, window: int | None = None
    ) -> None:
        self.min_history = min_history
        self.default_weight = default_weight
        self.window = window

    def fit(self, view: MarketView) -> SkillBlend:
        """Weight the forecast by its trailing skill against the historical mean."""
        window = check_optional_window("window", self.window)
        min_history = check_min_history(self.min_history, window)
        default = check_fraction("default_weight", self.default_weight)
        if view.n_past < min_history:
            weight: np.ndarray = np.full(view.n_assets, default)
        else:
            mse_mean = trailing_mse(view.past_benchmarks, view.past_realised, window)
            mse_lstm = trailing_mse(view.past_forecasts, view.past_realised, window)
            weight = bates_granger_weight(mse_mean, mse_lstm, default)
        return self._store(view.historical_mean, view.forecast, weight)


class JamesSteinTarget(str, Enum):
    """What :class:`JamesStein` shrinks toward."""

    GRAND_MEAN = "grand_mean"
    ZERO = "zero"
    FORECAST = "forecast"


class JamesStein(ExpectedReturnStrategy):
    """Positive-part James-Stein shrinkage of the historical means.

    Parameters
    ----------
    target : {"grand_mean", "zero", "forecast"}, default "grand_mean"
        Target ``b``: the cross-sectional average of the historical means, zero, or the LSTM
        forecast (the latter is :class:`JamesSteinToForecast`).

    Notes
    -----
    ``mu = b + (1 - beta)_+ (muhat - b)`` with
    ``beta = (sum(eig) - 2 max(eig)) / (T ||muhat - b||^2)`` clipped to [0, 1], ``eig`` the
    eigenvalues of the sample covariance of ``view.returns`` and ``T`` its number of periods
    (see :func:`james_stein_intensity`). Needs at least 3 assets.
    """

    def __init__(self, target: str = "grand_mean") -> None:
        self.target = target

    def fit(self, view: MarketView) -> JamesStein:
        """Shrink the historical means toward the target with the James-Stein intensity."""
        muhat = view.historical_mean
        match parse_enum(JamesSteinTarget, "target", self.target):
            case JamesSteinTarget.GRAND_MEAN:
                target = np.full(view.n_assets, muhat.mean())
            case JamesSteinTarget.ZERO:
                target = np.zeros(view.n_assets)
            case JamesSteinTarget.FORECAST:
                target = view.forecast
        intensity = james_stein_intensity(view.sample_covariance, muhat, target, view.n_periods)
        return self._store(muhat, target, intensity)


class JamesSteinToForecast(ExpectedReturnStrategy):
    """Positive-part James-Stein shrinkage of the historical means toward the LSTM forecast.

    Same as ``JamesStein(target="forecast")``: the further the forecast is from the historical
    means relative to their sampling noise, the less the estimate moves toward it.
    """

    def fit(self, view: MarketView) -> JamesSteinToForecast:
        """Shrink the historical means toward ``view.forecast``."""
        fitted = JamesStein(target=JamesSteinTarget.FORECAST.value).fit(view)
        return self._store(fitted.base_, fitted.target_, fitted.intensity_)
