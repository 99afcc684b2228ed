"""Expected-return strategies that shrink the historical mean toward a target.

(About 350 lines: each estimator sits beside the pure function that defines its intensity.)

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
)
from strategies.inputs import MarketView

__all__ = [
    "Blend",
    "HistoricalMean",
    "JamesStein",
    "JamesSteinTarget",
    "JamesSteinToForecast",
    "ForecastOnly",
    "SkillBlend",
    "bates_granger_weight",
    "clark_west_weight",
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


def clark_west_weight(
    realised: np.ndarray, forecast: np.ndarray, benchmark: np.ndarray
) -> np.ndarray:
    """Weight on a forecast nested on a benchmark, shrunk toward the benchmark by its evidence.

    Parameters
    ----------
    realised, forecast, benchmark : ndarray of shape (n_past, n_assets)
        Past realised returns, the model's and the benchmark's forecasts of them (n_past >= 2).

    Returns
    -------
    ndarray of shape (n_assets,)
        ``clip(c (1 - 1/t^2)_+ 1[t > 1], 0, 1)`` per asset (0 where undefined).

    Notes
    -----
    ``c = sum (r - b)(f - b) / sum (f - b)^2`` is the coefficient of the forecast-encompassing
    regression ``r - b = c (f - b) + e``: the weight minimising the in-sample squared error of
    ``c f + (1 - c) b``. The Clark-West differential is exactly ``2 (r - b)(f - b)``, so its
    t statistic ``t = mean / (sd / sqrt(n))`` tests ``c > 0``. Multiplying ``c`` by the
    positive-part Stein factor ``(1 - 1/t^2)_+`` (James-Stein for one coefficient: the
    estimate's signal-to-noise ratio) gives 0 for ``t <= 1``, and ``c`` as evidence grows.
    Under no skill ``t`` is about standard normal, so the weight is 0 in about 84% of months
    and small otherwise.
    """
    r, f, b = (np.asarray(a, dtype=float) for a in (realised, forecast, benchmark))
    gap = f - b
    product = (r - b) * gap
    n_past = product.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        coefficient = product.sum(axis=0) / np.sum(gap**2, axis=0)
        sd = product.std(axis=0, ddof=1) if n_past > 1 else np.full(product.shape[1], np.nan)
        t = product.mean(axis=0) / (sd / np.sqrt(n_past))
        stein = np.where(t > 1.0, 1.0 - 1.0 / t**2, 0.0)
    weight = np.clip(coefficient * stein, 0.0, 1.0)
    return np.where(np.isfinite(weight), weight, 0.0)


def james_stein_beta(
    cov: np.ndarray,
    muhat: np.ndarray,
    target: np.ndarray,
    n_periods: int,
    centred: bool = False,
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
    centred : bool, default False
        True when ``b`` is the grand mean ``mean(muhat) 1`` estimated from the same data
        (Lindley's estimator): the numerator then uses the eigenvalues of the centred
        covariance ``Q cov Q``, ``Q = I - 11'/N``. False for a fixed target.

    Returns
    -------
    float
        ``(sum(eig) - 2 max(eig)) / (T ||muhat - b||^2)``; ``inf`` when ``muhat == b``.

    Raises
    ------
    ValueError
        If there are fewer than 3 assets for a fixed target, or fewer than 4 for the grand-mean
        target (James-Stein dominates the sample mean only for N >= 3, Lindley's for N >= 4).

    Notes
    -----
    With ``cov = s^2 I`` this is ``(N - 2) s^2 / (T ||muhat - b||^2)`` for a fixed target and
    ``(N - 3) s^2 / (T ||muhat - b||^2)`` for the grand mean (``Q s^2 I Q`` has eigenvalues
    ``s^2`` N - 1 times and 0). With one dominant market factor the fixed-target numerator is
    negative, so using it for the grand mean would never shrink: centring removes the factor's
    common component, which does not move ``muhat - mean(muhat)``. ``beta`` can exceed 1 or be
    negative; use :func:`james_stein_intensity` for the positive-part (clipped) value.

    References
    ----------
    Lindley, D. V. (1962). Discussion of Stein's "Confidence sets for the mean of a
    multivariate normal distribution". JRSS B 24(2), 265-296.
    Efron, B. and Morris, C. (1973). Stein's estimation rule and its competitors: an empirical
    Bayes approach. JASA 68(341), 117-130.
    """
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    deviation = np.asarray(muhat, dtype=float) - np.asarray(target, dtype=float)
    n_assets = deviation.shape[0]
    if centred and n_assets < 4:
        raise ValueError(
            f"James-Stein shrinkage toward the grand mean needs at least 4 assets (its "
            f"numerator is (N - 3) s^2), got n_assets={n_assets}; use a fixed target "
            "(target='zero'), Blend or BayesStein for fewer assets"
        )
    if n_assets < 3:
        raise ValueError(
            f"James-Stein shrinkage needs at least 3 assets, got n_assets={n_assets}; "
            "use Blend or BayesStein for fewer assets"
        )
    if centred:
        centring = np.eye(n_assets) - 1.0 / n_assets
        cov = centring @ cov @ centring
    eigenvalues = np.linalg.eigvalsh(cov)
    numerator = eigenvalues.sum() - 2.0 * eigenvalues.max()
    distance = n_periods * float(deviation @ deviation)
    if distance == 0.0:
        return float("inf")
    return float(numerator / distance)


def james_stein_intensity(
    cov: np.ndarray,
    muhat: np.ndarray,
    target: np.ndarray,
    n_periods: int,
    centred: bool = False,
) -> float:
    """Positive-part James-Stein intensity: :func:`james_stein_beta` clipped to [0, 1].

    Notes
    -----
    ``mu_JS = b + (1 - beta)_+ (muhat - b)``, i.e. ``shrink(muhat, b, clip(beta, 0, 1))``.
    Without the clip, ``beta > 1`` pushes the estimate *past* the target and flips the ranking of
    the assets (skfolio and Riskfolio-Lib do not clip). ``centred`` as in
    :func:`james_stein_beta`.

    References
    ----------
    James, W. and Stein, C. (1961). Estimation with quadratic loss. Proc. Fourth Berkeley Symp.
    Jorion, P. (1985). International portfolio diversification with estimation risk.
    Journal of Business, 58(3), 259-278.
    """
    beta = james_stein_beta(cov, muhat, target, n_periods, centred)
    return float(np.clip(beta, 0.0, 1.0))


class HistoricalMean(ExpectedReturnStrategy):
    """Sample mean of the training window's log returns (intensity 0, target = itself)."""

    def fit(self, view: MarketView) -> HistoricalMean:
        """Set ``mu_`` to the historical mean of ``view.returns``."""
        mean = view.historical_mean
        return self._store(mean, mean, 0.0)


class ForecastOnly(ExpectedReturnStrategy):
    """The model's forecast taken as is (intensity 1, target = the forecast)."""

    def fit(self, view: MarketView) -> ForecastOnly:
        """Set ``mu_`` to ``view.forecast``."""
        return self._store(view.historical_mean, view.forecast, 1.0)


class Blend(ExpectedReturnStrategy):
    """Fixed blend ``weight * forecast + (1 - weight) * historical mean``.

    Parameters
    ----------
    weight : float, default 0.5
        Weight on the model's forecast, in [0, 1].
    """

    def __init__(self, weight: float = 0.5) -> None:
        self.weight = weight

    def fit(self, view: MarketView) -> Blend:
        """Blend the forecast and the historical mean with the fixed ``weight``."""
        weight = check_fraction("weight", self.weight)
        return self._store(view.historical_mean, view.forecast, weight)


class SkillBlend(ExpectedReturnStrategy):
    """Blend weighted by the forecast's trailing, significance-shrunk encompassing weight.

    Parameters
    ----------
    min_history : int, default 12
        Number of scored past months needed before the forecast gets any weight.
    default_weight : float, default 0.0
        Weight on the forecast until ``min_history`` months are available: an untested model
        nested on the benchmark gets none.
    window : int or None, default None
        Use only the last ``window`` scored months (all of them if None); must be
        ``>= min_history``.

    Notes
    -----
    Per asset, from the past months only (``view.past_*``, realised at the rebalancing date)
    the weight is :func:`clark_west_weight`: the forecast-encompassing coefficient ``c`` (the
    MSE-optimal weight on the forecast in ``c f + (1 - c) b``) shrunk toward 0, i.e. toward
    the historical-mean benchmark, by the positive-part Stein factor ``(1 - 1/t^2)_+`` of its
    Clark-West t statistic, so a forecast whose trailing record is not distinguishable from
    the benchmark's (``t <= 1``) gets weight 0 and a clearly better one gets ``c``. Then
    ``mu = lambda * forecast + (1 - lambda) * historical mean``.

    Bates and Granger's ``MSE_b / (MSE_b + MSE_f)`` is not used: monthly errors are dominated
    by unpredictable noise, so both MSEs are about the return variance and the ratio stays
    near 1/2 whatever the skill (the strategy became ``blend_50``).

    References
    ----------
    Bates, J. M. and Granger, C. W. J. (1969). The combination of forecasts.
    Operational Research Quarterly, 20(4), 451-468.
    Clark, T. E. and West, K. D. (2007). Approximately normal tests for equal predictive
    accuracy in nested models. Journal of Econometrics, 138(1), 291-311.
    Harvey, D. I., Leybourne, S. J. and Newbold, P. (1998). Tests for forecast encompassing.
    Journal of Business & Economic Statistics, 16(2), 254-259.
    """

    def __init__(
        self, min_history: int = 12, default_weight: float = 0.0, window: int | None = None
    ) -> None:
        self.min_history = min_history
        self.default_weight = default_weight
        self.window = window

    def fit(self, view: MarketView) -> SkillBlend:
        """Weight the forecast by its shrunk trailing encompassing weight."""
        window = check_optional_window("window", self.window)
        min_history = check_min_history(self.min_history, window)
        default = check_fraction("default_weight", self.default_weight)
        if view.n_past < min_history:
            weight: np.ndarray = np.full(view.n_assets, default)
        else:
            rows = slice(-window, None) if window is not None else slice(None)
            weight = clark_west_weight(
                view.past_realised[rows], view.past_forecasts[rows], view.past_benchmarks[rows]
            )
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
    eigenvalues of the sample covariance of ``view.returns`` (of the centred covariance
    ``Q S Q`` for the grand mean, which is estimated from the same data: Lindley) and ``T`` its
    number of periods (see :func:`james_stein_beta`). Needs at least 3 assets, 4 for the grand
    mean. A forecast target is data-dependent: no dominance theorem covers it.
    """

    def __init__(self, target: str = "grand_mean") -> None:
        self.target = target

    def fit(self, view: MarketView) -> JamesStein:
        """Shrink the historical means toward the target with the James-Stein intensity."""
        muhat = view.historical_mean
        kind = parse_enum(JamesSteinTarget, "target", self.target)
        match kind:
            case JamesSteinTarget.GRAND_MEAN:
                target = np.full(view.n_assets, muhat.mean())
            case JamesSteinTarget.ZERO:
                target = np.zeros(view.n_assets)
            case JamesSteinTarget.FORECAST:
                target = view.forecast
        intensity = james_stein_intensity(
            view.sample_covariance,
            muhat,
            target,
            view.n_periods,
            centred=kind is JamesSteinTarget.GRAND_MEAN,
        )
        return self._store(muhat, target, intensity)


class JamesSteinToForecast(ExpectedReturnStrategy):
    """Positive-part James-Stein shrinkage of the historical means toward the model's forecast.

    Same as ``JamesStein(target="forecast")``: the further the forecast is from the historical
    means relative to their sampling noise, the less the estimate moves toward it.
    """

    def fit(self, view: MarketView) -> JamesSteinToForecast:
        """Shrink the historical means toward ``view.forecast``."""
        fitted = JamesStein(target=JamesSteinTarget.FORECAST.value).fit(view)
        return self._store(fitted.base_, fitted.target_, fitted.intensity_)
