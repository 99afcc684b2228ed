"""Every strategy's ``mu_`` against a hand example (issue 15).

The view is built so its sample covariance is exactly ``sigma2 I``: the returns are the
means plus ``s`` times columns of a Hadamard matrix (orthogonal, zero-sum, equal norm).
Then the papers' formulas reduce to fractions computed here by hand:
James-Stein ``beta = (N - 2) sigma2 / (T ||m - b||^2)`` ((N - 3) toward the grand mean),
Bayes-Stein ``w = (N + 2) / ((N + 2) + T ||m - y0||^2 / s_J)`` with ``y0`` the grand mean,
Black-Litterman's gain ``tau sigma2 / (tau sigma2 + omega_i)`` per asset.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.linalg import hadamard

from strategies import make_strategy
from strategies.bayesian import (
    BayesStein,
    BlackLitterman,
    bayes_stein,
    black_litterman,
    black_litterman_gain,
)
from strategies.inputs import MarketView
from strategies.shrinkage import (
    Blend,
    ForecastOnly,
    HistoricalMean,
    JamesStein,
    JamesSteinToForecast,
    SkillBlend,
    bates_granger_weight,
    clark_west_weight,
    james_stein_beta,
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
    np.testing.assert_allclose(ForecastOnly().fit(view).mu_, M + D, atol=1e-15)
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


# --- Edge cases the mutation run of strategies/shrinkage.py found untested ------------------


def test_bates_granger_weight_on_monthly_sized_errors():
    # Monthly MSEs are ~1e-3, far below 1: the weight is still MSE_b / (MSE_b + MSE_f).
    np.testing.assert_allclose(bates_granger_weight([0.004, 0.001], [0.004, 0.003]),
                               [0.5, 0.25])  # fmt: skip


def test_bates_granger_default_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weight = bates_granger_weight([0.0, 0.002], [0.0, 0.002], default=0.3)
    np.testing.assert_allclose(weight, [0.3, 0.5])


def test_clark_west_weight_degenerate_records_quietly():
    # Four months, benchmark 0. Asset 0: forecast == benchmark, no evidence (c = 0/0): 0.
    # Asset 1: forecast 0.5 for a realised 0.25 every month: c = sum(0.125) / sum(0.25) = 1/2,
    # the differential is constant (sd 0, t = inf, Stein factor 1): weight 1/2.
    realised = np.tile([0.25, 0.25], (4, 1))
    forecast = np.tile([0.0, 0.5], (4, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weight = clark_west_weight(realised, forecast, np.zeros((4, 2)))
    np.testing.assert_array_equal(weight, [0.0, 0.5])


def test_clark_west_weight_needs_two_months_and_is_quiet_with_one():
    # One month has no standard deviation: no t statistic, no weight (and no warning).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weight = clark_west_weight([[0.02, 0.04]], [[0.02, 0.06]], [[0.0, 0.0]])
    np.testing.assert_array_equal(weight, [0.0, 0.0])


def test_clark_west_weight_two_month_hand_example():
    # r = (0.02, 0.04), f = (0.02, 0.06), b = 0: products (4e-4, 24e-4), mean 14e-4,
    # sd = 20e-4 / sqrt(2), t = 14e-4 / 10e-4 = 1.4; c = 28e-4 / 40e-4 = 0.7.
    weight = clark_west_weight([[0.02], [0.04]], [[0.02], [0.06]], [[0.0], [0.0]])
    np.testing.assert_allclose(weight, [0.7 * (1 - 1 / 1.4**2)], rtol=1e-12)


def test_james_stein_error_messages_name_the_fix():
    with pytest.raises(
        ValueError, match=r"use a fixed target \(target='zero'\), Blend or BayesStein"
    ):
        james_stein_beta(np.eye(3), np.zeros(3), np.zeros(3), 10, centred=True)
    with pytest.raises(ValueError, match=r"; use Blend or BayesStein for fewer assets"):
        james_stein_beta(np.eye(2), np.zeros(2), np.zeros(2), 10)


def test_james_stein_beta_is_inf_when_the_mean_is_on_the_target_quietly():
    # muhat == b: no distance to shrink, beta = +inf (intensity 1) whatever the numerator's
    # sign: isotropic (positive numerator) or one dominant factor (negative numerator).
    muhat = np.array([0.01, 0.02, 0.03])
    one_factor = 0.01 * np.ones((3, 3)) + 0.001 * np.eye(3)  # eig 0.031, 0.001, 0.001
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cov in (0.01 * np.eye(3), one_factor):
            assert james_stein_beta(cov, muhat, muhat, 60) == np.inf


# --- Edge cases the mutation run of strategies/bayesian.py found untested -------------------


def test_black_litterman_with_an_explicit_tau():
    past, c = _record()
    tau_sigma2 = 0.5 * SIGMA2  # tau = 0.5, not the default 1/T = 1/8
    gain = tau_sigma2 / (tau_sigma2 + c**2 + tau_sigma2)
    fitted = BlackLitterman(tau=0.5).fit(_view(past))
    assert fitted.tau_ == 0.5
    np.testing.assert_allclose(fitted.intensity_, gain, rtol=1e-12)
    np.testing.assert_allclose(fitted.mu_, M + gain * D, atol=1e-15)


def test_black_litterman_window_uses_only_the_last_months():
    # 12 old months with the forecast 0.05 and the benchmark 0.03 off everywhere, then the 12
    # months of _record: with window=12 Omega sees only the recent errors c_i (the hand gain
    # above, tau = 1/T); with all 24 the excess MSE is (0.05^2 + c^2) / 2 - 0.03^2 / 2.
    recent, c = _record()
    old = {"f": recent["r"] + 0.05, "b": recent["r"] + 0.03, "r": recent["r"]}
    past = {k: np.vstack([old[k], recent[k]]) for k in recent}
    tau_sigma2 = SIGMA2 / T
    windowed = BlackLitterman(window=12).fit(_view(past))
    gain = tau_sigma2 / (2 * tau_sigma2 + c**2)
    np.testing.assert_allclose(windowed.intensity_, gain, rtol=1e-12)
    np.testing.assert_allclose(windowed.omega_, c**2 + tau_sigma2, rtol=1e-12)
    everything = BlackLitterman().fit(_view(past))
    excess = (0.05**2 + c**2) / 2 - 0.03**2 / 2
    np.testing.assert_allclose(everything.intensity_, tau_sigma2 / (2 * tau_sigma2 + excess),
                               rtol=1e-12)  # fmt: skip


def test_black_litterman_before_a_record_has_no_omega_and_a_zero_gain():
    short, _ = _record(n=11)
    fitted = BlackLitterman().fit(_view(short))
    assert fitted.omega_.dtype == float and np.all(np.isnan(fitted.omega_))
    np.testing.assert_array_equal(fitted.gain_, np.zeros((5, 5)))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"tau": True}, r"^`tau` must be a positive number, got True$"),
        ({"risk_aversion": True}, r"^`risk_aversion` must be a positive number, got True$"),
        ({"tau": 0.1, "omega_floor": -1}, r"^`omega_floor` must be a positive number, got -1$"),
        ({"tau": 0.1, "risk_aversion": 0}, r"^`risk_aversion` must be a positive number, got 0$"),
        ({"window": 0}, r"^`window` must be a positive integer or None, got 0$"),
        ({"window": 6}, r"^window=6 is smaller than min_history=12, so the trailing errors"),
    ],
)
def test_black_litterman_parameter_messages(params, match):
    past, _ = _record()
    with pytest.raises(ValueError, match=match):
        BlackLitterman(**params).fit(_view(past))


def test_bayes_stein_message_says_how_many_months():
    returns = M + S * hadamard(T)[:6, 1 : len(M) + 1]  # 6 months for 5 assets: needs 8
    view = MarketView(returns, M, np.zeros((0, 5)), np.zeros((0, 5)), np.zeros((0, 5)))
    with pytest.raises(ValueError, match=r"lengthen the training window to at least 8 months$"):
        BayesStein().fit(view)


def _objects(x):
    return np.asarray(x, dtype=float).astype(object)


def test_pure_functions_convert_object_arrays_to_float():
    # What a pandas object column gives: the functions convert to float, as documented.
    np.testing.assert_allclose(
        bates_granger_weight(_objects([1.0, 0.0, 2.0]), _objects([3.0, 0.0, 2.0])).astype(float),
        [0.25, 0.5, 0.5],
    )
    assert bates_granger_weight(_objects([1.0]), _objects([3.0])).dtype == float
    weight = clark_west_weight(_objects([[0.02], [0.04]]), _objects([[0.02], [0.06]]),
                               _objects([[0.0], [0.0]]))  # fmt: skip
    np.testing.assert_allclose(weight, [0.7 * (1 - 1 / 1.4**2)], rtol=1e-12)
    # James-Stein toward zero on the hand moments: beta = 3 sigma2 / (T ||M||^2) = 5/7.
    for args in ((_objects(SIGMA2 * np.eye(5)), M, np.zeros(5)),
                 (SIGMA2 * np.eye(5), _objects(M), np.zeros(5)),
                 (SIGMA2 * np.eye(5), M, _objects(np.zeros(5)))):  # fmt: skip
        assert james_stein_beta(*args, T) == pytest.approx(5 / 7, rel=1e-12)
    # Bayes-Stein on S = 0.02 I (the hand example above): y0 = 0.01, w = 7 / 7.4.
    for muhat, cov in ((_objects(M), 0.02 * np.eye(5)), (M, _objects(0.02 * np.eye(5)))):
        mu, y0, w = bayes_stein(muhat, cov, T)
        assert (y0, w) == pytest.approx((0.01, 7 / 7.4), rel=1e-12)
        np.testing.assert_allclose(mu.astype(float), (1 - w) * M + w * 0.01, atol=1e-15)
        assert mu.dtype == float
    # One asset: pi 0.05, sigma 0.04, q 0.10, omega 0.002, tau 0.05: gain 1/2, mu 0.075.
    values = {"pi": 0.05, "sigma": 0.04, "q": 0.10, "omega": 0.05 * 0.04, "tau": 0.05}
    for name in ("pi", "sigma", "q", "omega"):
        args = {**values, name: _objects([values[name]])}
        mu = black_litterman(**args)
        assert mu.dtype == float
        np.testing.assert_allclose(mu, [0.075], atol=1e-15)
    gain = black_litterman_gain(_objects([[0.04]]), _objects([0.002]), 0.05)
    assert gain.dtype == float
    np.testing.assert_allclose(gain, [[0.5]], atol=1e-15)


# --- What the mutation run of strategies/inputs.py found unchecked --------------------------


def _fields(**changes):
    fields = {
        "returns": np.zeros((6, 3)),
        "forecast": np.zeros(3),
        "past_forecasts": np.zeros((4, 3)),
        "past_benchmarks": np.zeros((4, 3)),
        "past_realised": np.zeros((4, 3)),
    }
    return {**fields, **changes}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"returns": np.zeros(5)}, r"; pass \(n_periods, n_assets\)-shaped data$"),
        ({"forecast": np.zeros((1, 3))}, r"^`forecast` must be a 1-D .*; pass \(n_assets,\)-sh"),
        ({"past_forecasts": np.zeros(3)}, r"^`past_forecasts` must be a 2-D array, got shape \(3,"),
        ({"past_forecasts": np.zeros((0, 3)), "past_benchmarks": np.zeros((0, 3)),
          "past_realised": np.zeros((0, 2))}, r"must all have shape \(n_past, 3\)"),
        ({"returns": [[0.0, 1.0], [np.inf, 0.0]], "forecast": [0.0, 0.0]},
         r"non-finite values; drop or fill missing months before building the view$"),
        ({"returns": np.zeros((1, 3))}, r"; lengthen the training window$"),
    ],
)  # fmt: skip
def test_market_view_messages_name_the_fix(changes, match):
    with pytest.raises(ValueError, match=match):
        MarketView(**_fields(**changes))


def test_market_view_smallest_shapes_and_float_conversion():
    # Two periods and one asset are enough; integer data become float.
    view = MarketView(**_fields(returns=[[1], [3]], forecast=[2], past_forecasts=[[1]],
                                past_benchmarks=[[0]], past_realised=[[1]]))  # fmt: skip
    assert (view.n_periods, view.n_assets, view.n_past) == (2, 1, 1)
    for name in ("returns", "forecast", "past_forecasts", "past_benchmarks", "past_realised"):
        assert getattr(view, name).dtype == float
    np.testing.assert_array_equal(view.historical_mean, [2.0])


def test_view_moments_are_computed_once_and_cannot_be_changed_by_a_strategy(rng):
    returns = rng.normal(0.01, 0.05, (24, 3))
    empty = np.zeros((0, 3))
    view = MarketView(returns, np.zeros(3), empty, empty, empty)
    np.testing.assert_array_equal(view.historical_mean, returns.mean(axis=0))
    np.testing.assert_array_equal(view.sample_covariance, np.cov(returns.T, ddof=1))
    assert view.historical_mean is view.historical_mean  # one estimate shared by the strategies
    assert view.sample_covariance is view.sample_covariance
    for moment in (view.historical_mean, view.sample_covariance):
        with pytest.raises(ValueError, match="read-only"):
            moment[0] = 1.0


def test_make_strategy_still_rejects_a_parameter_its_strategy_lacks():
    with pytest.raises(ValueError, match=r"'blend_50' \(Blend\) does not accept \['tau'\]"):
        make_strategy("blend_50", tau=0.1)
    assert make_strategy("blend_50").weight == 0.5
