"""Every strategy's ``mu_`` against a hand example (issue 15).

The view is built so its sample covariance is exactly ``sigma2 I``: the returns are the
means plus ``s`` times columns of a Hadamard matrix (orthogonal, zero-sum, equal norm).
Then the papers' formulas reduce to fractions computed here by hand:
James-Stein ``beta = (N - 2) sigma2 / (T ||m - b||^2)`` ((N - 3) toward the grand mean),
Bayes-Stein ``w = (N + 2) / ((N + 2) + T ||m - y0||^2 / s_J)`` with ``y0`` the grand mean,
Black-Litterman's gain ``tau sigma2 / (tau sigma2 + omega_i)`` per asset.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard

from strategies import make_strategy
from strategies.bayesian import BayesStein, BlackLitterman
from strategies.inputs import MarketView
from strategies.shrinkage import (
    Blend,
    HistoricalMean,
    JamesStein,
    JamesSteinToForecast,
    LSTMOnly,
    SkillBlend,
    bates_granger_weight,
)

T, S = 8, 0.05
M = np.array([0.01, 0.02, 0.00, -0.01, 0.03])  # grand mean 0.01, ||M - 0.01||^2 = 1e-3
SIGMA2 = S**2 * T / (T - 1)  # ddof=1 sample variance of s * (+-1 column)
D = 0.02 * np.array([1, -1, 1, -1, 1])  # forecast - mean, ||D||^2 = 2e-3


def _view(past=None, forecast=None):
    returns = M + S * hadamard(T)[:, 1 : len(M) + 1]
    past = past or {}
    empty = np.zeros((0, len(M)))
    return MarketView(
        returns=returns,
        forecast=M + D if forecast is None else forecast,
        past_forecasts=past.get("f", empty),
        past_benchmarks=past.get("b", empty),
        past_realised=past.get("r", empty),
    )


def test_the_hand_view_has_the_covariance_the_formulas_assume():
    view = _view()
    np.testing.assert_allclose(view.historical_mean, M, atol=1e-15)
    np.testing.assert_allclose(view.sample_covariance, SIGMA2 * np.eye(5), atol=1e-15)


def test_historical_mean_lstm_and_fixed_blends():
    view = _view()
    np.testing.assert_allclose(HistoricalMean().fit(view).mu_, M, atol=1e-15)
    np.testing.assert_allclose(LSTMOnly().fit(view).mu_, M + D, atol=1e-15)
    np.testing.assert_allclose(Blend().fit(view).mu_, M + 0.5 * D, atol=1e-15)
    for name, weight in (("blend_25", 0.25), ("blend_50", 0.5), ("blend_75", 0.75)):
        np.testing.assert_allclose(make_strategy(name).fit(view).mu_, M + weight * D, atol=1e-15)


def test_james_stein_toward_the_grand_mean():
    # beta = (N - 3) sigma2 / (T * 1e-3) = 2 * (0.0025 * 8/7) / 0.008 = 5/7.
    fitted = JamesStein().fit(_view())
    assert fitted.intensity_ == pytest.approx(5 / 7, rel=1e-12)
    np.testing.assert_allclose(fitted.mu_, 0.01 + (2 / 7) * (M - 0.01), atol=1e-15)
    np.testing.assert_allclose(make_strategy("james_stein").fit(_view()).mu_, fitted.mu_)


def test_james_stein_toward_zero():
    # beta = (N - 2) sigma2 / (T ||M||^2) = 3 * (0.0025 * 8/7) / (8 * 1.5e-3) = 5/7.
    fitted = JamesStein(target="zero").fit(_view())
    np.testing.assert_allclose(fitted.mu_, (2 / 7) * M, atol=1e-15)


def test_james_stein_toward_the_forecast():
    # beta = 3 sigma2 / (T ||D||^2) = (0.06 / 7) / 0.016 = 15/28: mu = M + 15/28 D.
    for strategy in (JamesStein(target="forecast"), JamesSteinToForecast()):
        np.testing.assert_allclose(strategy.fit(_view()).mu_, M + 15 / 28 * D, atol=1e-15)
    # A forecast within noise of the mean: beta > 1 is clipped, mu is the forecast.
    near = JamesSteinToForecast().fit(_view(forecast=M + D / 10))
    assert near.intensity_ == 1.0
    np.testing.assert_allclose(near.mu_, M + D / 10, atol=1e-15)


def test_bayes_stein_hand_example():
    # Jorion's S = sample_cov (T - 1) / (T - N - 2) = 0.02 I; y0 = grand mean 0.01;
    # w = 7 / (7 + 8 * 1e-3 / 0.02) = 7 / 7.4.
    fitted = BayesStein().fit(_view())
    w = 7 / 7.4
    assert fitted.intensity_ == pytest.approx(w, rel=1e-12)
    np.testing.assert_allclose(fitted.mu_, (1 - w) * M + w * 0.01, atol=1e-15)
    np.testing.assert_allclose(fitted.target_, 0.01, atol=1e-15)


def _record(n=12):
    """Past forecasts off the realised value by c_i per asset; the benchmark exact."""
    c = np.array([0.0, 0.01, 0.02, 0.03, 0.05])
    realised = np.zeros((n, 5))
    return {"f": realised + c, "b": realised.copy(), "r": realised}, c


def test_black_litterman_weighs_the_forecast_by_its_excess_error():
    past, c = _record()
    tau_sigma2 = SIGMA2 / T  # tau = 1/T
    gain = tau_sigma2 / (tau_sigma2 + c**2 + tau_sigma2)  # omega = MSE_f - MSE_b + tau sigma2
    fitted = BlackLitterman().fit(_view(past))
    np.testing.assert_allclose(fitted.intensity_, gain, rtol=1e-12)
    np.testing.assert_allclose(fitted.mu_, M + gain * D, atol=1e-15)
    assert gain[0] == pytest.approx(0.5)  # as accurate as the mean: half way


def test_black_litterman_floor_and_no_view_before_the_record():
    past, _ = _record()
    past["b"], past["f"] = past["b"] + 0.05, past["r"].copy()  # benchmark off, forecast exact
    fitted = BlackLitterman().fit(_view(past))
    np.testing.assert_allclose(fitted.mu_, M + D / 1.1, atol=1e-15)  # omega = 0.1 tau sigma2
    short, _ = _record(n=11)
    np.testing.assert_allclose(BlackLitterman().fit(_view(short)).mu_, M, atol=1e-15)
    # Equal-weight equilibrium prior: pi = delta sigma2 / N per asset.
    prior = BlackLitterman(prior="equilibrium").fit(_view(short))
    np.testing.assert_allclose(prior.mu_, 2.5 * SIGMA2 / 5, atol=1e-15)


def test_skill_blend_hand_example():
    # Benchmark 0; asset 0 forecasts half of the realised move (c = 2, clipped to 1 after
    # the Stein factor), asset 1 the opposite sign (weight 0), asset 2 a noisy right sign.
    n = 12
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 0.05, (n, 5))
    noise = rng.standard_normal((n, 2))
    f = np.column_stack(
        [0.5 * r[:, 0], -0.5 * r[:, 1], 0.3 * r[:, 2] + 0.03 * noise[:, 0], 1e-3 * noise[:, 1],
         0.1 * r[:, 4]]
    )  # fmt: skip
    b = np.zeros((n, 5))
    # Clark-West adjusted differential: (r - b)^2 - [(r - f)^2 - (f - b)^2].
    cw = (r - b) ** 2 - ((r - f) ** 2 - (f - b) ** 2)
    t = cw.mean(0) / (cw.std(0, ddof=1) / np.sqrt(n))
    c = np.array([np.linalg.lstsq(f[:, [i]], r[:, i], rcond=None)[0][0] for i in range(5)])
    weight = np.where(t > 1, np.clip(c * (1 - 1 / t**2), 0, 1), 0.0)
    assert weight[0] == 1.0 and weight[1] == 0.0 and 0 < weight[2] < 1
    fitted = SkillBlend().fit(_view({"f": f, "b": b, "r": r}))
    np.testing.assert_allclose(fitted.intensity_, weight, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(fitted.mu_, M + weight * D, atol=1e-15)
    # Fewer than min_history months: the default weight (0).
    few = SkillBlend().fit(_view({"f": f[:11], "b": b[:11], "r": r[:11]}))
    np.testing.assert_allclose(few.mu_, M, atol=1e-15)
    windowed = SkillBlend(window=12).fit(_view({"f": f, "b": b, "r": r}))
    np.testing.assert_allclose(windowed.mu_, fitted.mu_, atol=1e-15)


def test_bates_granger_weight_hand_example():
    np.testing.assert_allclose(bates_granger_weight([1.0, 0.0, 2.0], [3.0, 0.0, 2.0]),
                               [0.25, 0.5, 0.5])  # fmt: skip
    np.testing.assert_allclose(bates_granger_weight([0.0], [0.0], default=0.3), [0.3])
