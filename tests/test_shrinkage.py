from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.base import clone

from backtest.evaluation.forecasts import clark_west
from strategies import (
    BayesStein,
    BlackLitterman,
    Blend,
    ExpectedReturnStrategy,
    ForecastOnly,
    HistoricalMean,
    JamesStein,
    JamesSteinToForecast,
    MarketView,
    SkillBlend,
    StrategyName,
    bates_granger_weight,
    bayes_stein,
    black_litterman,
    default_strategies,
    james_stein_beta,
    james_stein_intensity,
    make_strategy,
    shrink,
)

ATOL = 1e-12  # exact algebra
REF_ATOL = 5e-6  # REFERENCES.md worked numbers, printed to 5 significant digits


def exact_returns(rng, mean, cov, n_periods):
    """Returns whose sample mean and (ddof=1) sample covariance are exactly `mean` and `cov`."""
    mean = np.asarray(mean, dtype=float)
    n_assets = mean.shape[0]
    raw = rng.standard_normal((n_periods, n_assets))
    orthonormal, _ = np.linalg.qr(raw - raw.mean(axis=0))
    chol = np.linalg.cholesky(np.asarray(cov, dtype=float))
    return mean + np.sqrt(n_periods - 1) * orthonormal @ chol.T


def make_view(rng, n_periods=60, n_assets=5, n_past=24, returns=None, forecast=None, **past):
    returns = rng.normal(0.01, 0.08, (n_periods, n_assets)) if returns is None else returns
    n_assets = returns.shape[1]
    forecast = rng.normal(0.0, 0.02, n_assets) if forecast is None else forecast
    realised = past.get("past_realised", rng.normal(0.01, 0.08, (n_past, n_assets)))
    return MarketView(
        returns=returns,
        forecast=forecast,
        past_forecasts=past.get("past_forecasts", rng.normal(0.0, 0.02, (n_past, n_assets))),
        past_benchmarks=past.get("past_benchmarks", rng.normal(0.01, 0.005, (n_past, n_assets))),
        past_realised=realised,
    )


# --- MarketView ---------------------------------------------------------------------------


def test_market_view_copies_and_freezes(rng):
    returns = rng.normal(size=(10, 3))
    view = make_view(rng, returns=returns, n_past=0)
    returns[0, 0] = 99.0
    assert view.returns[0, 0] != 99.0
    with pytest.raises(ValueError, match="read-only"):
        view.forecast[0] = 1.0
    assert (view.n_periods, view.n_assets, view.n_past) == (10, 3, 0)
    assert view.past_forecasts.shape == (0, 3)


def test_market_view_accepts_empty_lists_for_no_history(rng):
    view = MarketView(rng.normal(size=(5, 2)), np.zeros(2), [], [], [])
    assert view.past_realised.shape == (0, 2)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"returns": np.zeros(5)}, r"`returns` must be a 2-D array, got shape \(5,\)"),
        ({"returns": np.zeros((1, 3))}, r"at least 2 periods .* got shape \(1, 3\)"),
        ({"forecast": np.zeros(4)}, r"`forecast` must have shape \(3,\) .* got \(4,\)"),
        ({"past_realised": np.zeros((2, 3))}, r"must all have shape \(n_past, 3\)"),
        ({"past_forecasts": np.zeros((4, 2))}, r"must all have shape \(n_past, 3\)"),
        ({"forecast": np.array([0.0, np.nan, 0.0])}, r"`forecast` contains 1 non-finite"),
    ],
)
def test_market_view_rejects_bad_shapes(changes, match):
    fields = {
        "returns": np.zeros((6, 3)),
        "forecast": np.zeros(3),
        "past_forecasts": np.zeros((4, 3)),
        "past_benchmarks": np.zeros((4, 3)),
        "past_realised": np.zeros((4, 3)),
    }
    with pytest.raises(ValueError, match=match):
        MarketView(**{**fields, **changes})


# --- common contract -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(StrategyName))
def test_every_strategy_sets_its_results_and_keeps_params(rng, name):
    strategy = make_strategy(name)
    params = strategy.get_params()
    view = make_view(rng)
    assert strategy.fit(view) is strategy
    assert strategy.get_params() == params
    assert strategy.mu_.shape == strategy.target_.shape == strategy.base_.shape == (5,)
    intensity = np.asarray(strategy.intensity_)
    assert np.all((intensity >= 0) & (intensity <= 1))
    fresh = clone(strategy)
    assert not hasattr(fresh, "mu_")
    np.testing.assert_allclose(fresh.fit(view).mu_, strategy.mu_, atol=ATOL)


def test_raw_estimate_is_the_historical_mean(rng):
    view = make_view(rng)
    for strategy in default_strategies().values():
        if isinstance(strategy, BlackLitterman):
            continue
        np.testing.assert_allclose(strategy.fit(view).base_, view.returns.mean(0), atol=ATOL)


def _limit_cases():
    """(strategy, view builder, expected intensity) with the intensity forced to 0 or 1."""
    s2 = 0.04

    def perfect(which):
        def build(rng):
            realised = rng.normal(0.01, 0.08, (24, 5))
            noisy = realised + rng.normal(0, 0.05, realised.shape)
            good = {"past_forecasts": realised, "past_benchmarks": noisy}
            bad = {"past_forecasts": noisy, "past_benchmarks": realised}
            return make_view(rng, past_realised=realised, **(good if which == "lstm" else bad))

        return build

    def noisy_close_means(rng):  # sampling noise dwarfs the spread of the means -> beta >= 1
        returns = exact_returns(rng, [0.011, 0.010, 0.009], s2 * np.eye(3), 24)
        return make_view(rng, returns=returns, forecast=np.array([0.012, 0.010, 0.008]))

    def one_factor(rng):  # one dominant eigenvalue -> sum(eig) < 2 max(eig) -> beta < 0
        cov = np.diag([s2, 1e-4, 1e-4])
        return make_view(rng, returns=exact_returns(rng, [0.03, 0.01, -0.01], cov, 24))

    def default(rng):
        return make_view(rng)

    def no_record(rng):
        return make_view(rng, n_past=11)

    return [
        pytest.param(HistoricalMean(), default, 0.0, id="hist_mean"),
        pytest.param(ForecastOnly(), default, 1.0, id="forecast"),
        pytest.param(Blend(weight=0.0), default, 0.0, id="blend_0"),
        pytest.param(Blend(weight=1.0), default, 1.0, id="blend_1"),
        pytest.param(SkillBlend(), perfect("benchmark"), 0.0, id="skill_perfect_benchmark"),
        pytest.param(SkillBlend(), no_record, 0.0, id="skill_no_record"),
        pytest.param(JamesStein(target="zero"), one_factor, 0.0, id="james_stein_negative_beta"),
        pytest.param(
            JamesStein(target="zero"), noisy_close_means, 1.0, id="james_stein_beta_above_1"
        ),
        pytest.param(JamesSteinToForecast(), one_factor, 0.0, id="js_lstm_negative_beta"),
        pytest.param(JamesSteinToForecast(), noisy_close_means, 1.0, id="js_lstm_beta_above_1"),
        pytest.param(BlackLitterman(), no_record, 0.0, id="black_litterman_no_record"),
    ]


@pytest.mark.parametrize(("strategy", "build", "intensity"), _limit_cases())
def test_limit_cases_give_raw_estimate_or_target(rng, strategy, build, intensity):
    strategy.fit(build(rng))
    np.testing.assert_allclose(strategy.intensity_, intensity, atol=ATOL)
    expected = strategy.target_ if intensity == 1.0 else strategy.base_
    np.testing.assert_allclose(strategy.mu_, expected, atol=1e-10)
    if not isinstance(strategy, HistoricalMean):  # its target is its raw estimate
        assert not np.allclose(strategy.base_, strategy.target_)


def test_shrink_limits():
    base, target = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    np.testing.assert_array_equal(shrink(base, target, 0.0), base)
    np.testing.assert_array_equal(shrink(base, target, 1.0), target)
    np.testing.assert_array_equal(shrink(base, target, np.array([0.0, 1.0])), [1.0, -1.0])


# --- fixed and skill blends ------------------------------------------------------------------


def test_blend_is_the_weighted_average(rng):
    view = make_view(rng)
    mu = Blend(weight=0.25).fit(view).mu_
    np.testing.assert_allclose(mu, 0.25 * view.forecast + 0.75 * view.returns.mean(0))


@pytest.mark.parametrize("weight", [-0.1, 1.5, "0.5", True])
def test_blend_rejects_weights_outside_unit_interval(rng, weight):
    with pytest.raises(ValueError, match=r"`weight` must be a number in \[0, 1\], got"):
        Blend(weight=weight).fit(make_view(rng))


def test_skill_blend_is_encompassing_weight_shrunk_by_clark_west(rng):
    realised = rng.normal(0.01, 0.08, (30, 5))
    signal = rng.normal(0, 0.03, (30, 5))
    realised = realised + signal * np.array([0.0, 0.5, 1.0, 2.0, 3.0])
    view = make_view(
        rng,
        past_realised=realised,
        past_forecasts=0.01 + signal * 0.8,
        past_benchmarks=np.full((30, 5), 0.01) + rng.normal(0, 1e-3, (30, 5)),
    )
    r, f, b = view.past_realised[-18:], view.past_forecasts[-18:], view.past_benchmarks[-18:]
    expected = []
    for j in range(5):
        # the forecast-encompassing regression r - b = c (f - b) + e, no constant
        c = sm.OLS(r[:, j] - b[:, j], f[:, j] - b[:, j]).fit().params[0]
        t = clark_west(r[:, j], f[:, j], b[:, j]).statistic
        expected.append(np.clip(c * max(0.0, 1 - 1 / t**2) if t > 1 else 0.0, 0, 1))
    fitted = SkillBlend(window=18).fit(view)
    np.testing.assert_allclose(fitted.intensity_, expected, atol=1e-10)
    assert fitted.intensity_[0] < 0.2 and fitted.intensity_[-1] > 0.5
    lam = fitted.intensity_
    np.testing.assert_allclose(fitted.mu_, lam * view.forecast + (1 - lam) * view.returns.mean(0))


def test_skill_blend_window_ignores_older_errors(rng):
    view = make_view(rng, n_past=30)
    changed = MarketView(
        view.returns,
        view.forecast,
        np.vstack([view.past_forecasts[:12] + 1.0, view.past_forecasts[12:]]),
        view.past_benchmarks,
        view.past_realised,
    )
    a, b = SkillBlend(window=18).fit(view), SkillBlend(window=18).fit(changed)
    np.testing.assert_array_equal(a.mu_, b.mu_)
    assert not np.allclose(SkillBlend().fit(view).mu_, SkillBlend().fit(changed).mu_)


def test_skill_blend_uses_default_weight_until_min_history(rng):
    fitted = SkillBlend(min_history=12, default_weight=0.3).fit(make_view(rng, n_past=11))
    np.testing.assert_array_equal(fitted.intensity_, np.full(5, 0.3))
    fitted = SkillBlend(min_history=12, default_weight=0.3).fit(make_view(rng, n_past=12))
    assert not np.allclose(fitted.intensity_, 0.3)


def test_bates_granger_weight_uses_default_when_both_errors_vanish():
    weights = bates_granger_weight(np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0, 1.0]), 0.2)
    np.testing.assert_allclose(weights, [0.2, 0.5, 0.75])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"window": 6}, r"window=6 is smaller than min_history=12"),
        ({"window": 0}, r"`window` must be a positive integer or None, got 0"),
        ({"min_history": 0}, r"`min_history` must be a positive integer, got 0"),
        ({"default_weight": 2}, r"`default_weight` must be a number in \[0, 1\], got 2"),
    ],
)
def test_skill_blend_rejects_bad_params(rng, params, match):
    with pytest.raises(ValueError, match=match):
        SkillBlend(**params).fit(make_view(rng))


# --- James-Stein -----------------------------------------------------------------------------


def test_james_stein_reference_example_is_clipped_to_grand_mean():
    cov, muhat, target = 0.04 * np.eye(3), np.array([0.03, 0.01, -0.01]), np.full(3, 0.01)
    beta = james_stein_beta(cov, muhat, target, 12)
    assert beta == pytest.approx(4.1667, abs=1e-4)
    np.testing.assert_allclose(shrink(muhat, target, beta), [-0.0533, 0.010, 0.0733], atol=1e-4)
    intensity = james_stein_intensity(cov, muhat, target, 12)
    assert intensity == 1.0
    np.testing.assert_allclose(shrink(muhat, target, intensity), [0.01, 0.01, 0.01], atol=ATOL)


def test_james_stein_grand_mean_reproduces_lindley_worked_example(rng):
    muhat, cov = np.array([0.03, 0.01, -0.01, 0.02]), 0.04 * np.eye(4)
    target = np.full(4, muhat.mean())
    assert james_stein_beta(cov, muhat, target, 120, centred=True) == pytest.approx(
        0.38095, abs=REF_ATOL
    )
    returns = exact_returns(rng, muhat, cov, 120)
    fitted = JamesStein().fit(make_view(rng, returns=returns))
    assert fitted.intensity_ == pytest.approx(0.38095, abs=REF_ATOL)
    np.testing.assert_allclose(fitted.mu_, [0.023333, 0.010952, -0.001429, 0.017143], atol=REF_ATOL)


def test_james_stein_centred_numerator_is_positive_under_one_factor():
    betas = np.array([1.2, 1.0, 0.8, 1.1])
    cov = 0.02 * np.outer(betas, betas) + np.diag([0.01, 0.008, 0.012, 0.009])
    muhat = np.array([0.03, 0.01, -0.01, 0.02])
    # beta * T * ||muhat - b||^2 recovers the numerator
    scale = 120 * np.sum((muhat - muhat.mean()) ** 2)
    fixed = james_stein_beta(cov, muhat, np.full(4, muhat.mean()), 120) * scale
    centred = james_stein_beta(cov, muhat, np.full(4, muhat.mean()), 120, centred=True) * scale
    assert fixed == pytest.approx(-0.0659, abs=5e-5)
    assert centred == pytest.approx(0.00505, abs=5e-6)


def test_james_stein_grand_mean_shrinks_on_a_one_factor_market(rng):
    betas = np.array([1.2, 1.0, 0.8, 1.1, 0.9, 1.3])
    cov = 0.02 * np.outer(betas, betas) + np.diag(np.full(6, 0.01))
    muhat = np.array([0.04, 0.01, -0.02, 0.03, 0.0, 0.05])
    returns = exact_returns(rng, muhat, cov, 120)
    assert james_stein_beta(cov, muhat, np.full(6, muhat.mean()), 120) < 0  # the old numerator
    assert 0.02 < JamesStein().fit(make_view(rng, returns=returns)).intensity_ < 0.5


def test_james_stein_grand_mean_needs_four_assets(rng):
    with pytest.raises(ValueError, match=r"grand mean needs at least 4 assets .* n_assets=3"):
        JamesStein().fit(make_view(rng, n_assets=3))


def test_james_stein_beta_matches_isotropic_formula(rng):
    s2, n_periods = 0.01, 60
    muhat, target = rng.normal(0, 0.05, 6), np.zeros(6)
    expected = (6 - 2) * s2 / (n_periods * muhat @ muhat)
    assert james_stein_beta(s2 * np.eye(6), muhat, target, n_periods) == pytest.approx(expected)


def test_james_stein_to_forecast_equals_js_with_forecast_target(rng):
    view = make_view(rng)
    a = JamesSteinToForecast().fit(view)
    b = JamesStein(target="forecast").fit(view)
    np.testing.assert_array_equal(a.mu_, b.mu_)
    np.testing.assert_array_equal(a.target_, view.forecast)


def test_james_stein_needs_three_assets(rng):
    with pytest.raises(ValueError, match=r"at least 3 assets, got n_assets=2"):
        JamesStein(target="zero").fit(make_view(rng, n_assets=2))


def test_james_stein_rejects_unknown_target(rng):
    with pytest.raises(ValueError, match=r"`target` must be one of 'grand_mean', .* got 'median'"):
        JamesStein(target="median").fit(make_view(rng))


# --- Bayes-Stein -----------------------------------------------------------------------------


def test_bayes_stein_reference_example():
    mu, y0, w = bayes_stein(np.array([0.02, 0.0]), np.diag([0.01, 0.04]), 10)
    assert y0 == pytest.approx(0.016, abs=REF_ATOL)
    assert w == pytest.approx(0.98039, abs=REF_ATOL)
    np.testing.assert_allclose(mu, [0.016078, 0.015686], atol=REF_ATOL)


def test_bayes_stein_strategy_matches_naive_jorion(rng):
    view = make_view(rng, n_periods=40)
    T, N = view.returns.shape
    S = np.cov(view.returns.T) * (T - 1) / (T - N - 2)
    S_inv, ones, muhat = np.linalg.inv(S), np.ones(N), view.returns.mean(0)
    y0 = ones @ S_inv @ muhat / (ones @ S_inv @ ones)
    w = (N + 2) / ((N + 2) + T * (muhat - y0) @ S_inv @ (muhat - y0))
    fitted = BayesStein().fit(view)
    assert fitted.intensity_ == pytest.approx(w)
    np.testing.assert_allclose(fitted.target_, np.full(N, y0))
    np.testing.assert_allclose(fitted.mu_, (1 - w) * muhat + w * y0)


def test_bayes_stein_needs_more_periods_than_assets_plus_two(rng):
    with pytest.raises(ValueError, match=r"n_periods > n_assets \+ 2, got n_periods=7 .*=5"):
        BayesStein().fit(make_view(rng, n_periods=7, n_assets=5))


# --- Black-Litterman -------------------------------------------------------------------------


def test_black_litterman_one_asset_reference():
    mu = black_litterman(pi=0.05, sigma=0.04, q=0.10, omega=0.05 * 0.04, tau=0.05)
    np.testing.assert_allclose(mu, [0.075], atol=ATOL)


def test_black_litterman_matches_textbook_formula(rng):
    a = rng.normal(size=(4, 4))
    sigma, tau = a @ a.T / 4 + 0.1 * np.eye(4), 0.05
    pi, q, omega = rng.normal(size=4), rng.normal(size=4), np.diag(rng.uniform(0.1, 1, 4))
    P = np.eye(4)
    expected = pi + tau * sigma @ P.T @ np.linalg.inv(P @ (tau * sigma) @ P.T + omega) @ (
        q - P @ pi
    )
    np.testing.assert_allclose(black_litterman(pi, sigma, q, omega, tau), expected, atol=ATOL)
    np.testing.assert_allclose(black_litterman(pi, sigma, q, np.diag(omega), tau), expected)
    np.testing.assert_allclose(black_litterman(pi, sigma, q, omega, 0.0), pi, atol=ATOL)


def test_black_litterman_omega_is_excess_mse_over_the_mean_plus_prior_variance(rng):
    view = make_view(rng, n_past=20)
    fitted = BlackLitterman().fit(view)
    tau = 1 / view.n_periods
    sigma = np.cov(view.returns.T)
    excess = ((view.past_forecasts - view.past_realised) ** 2).mean(0) - (
        (view.past_benchmarks - view.past_realised) ** 2
    ).mean(0)
    omega = np.maximum(excess + tau * np.diag(sigma), 0.1 * tau * np.diag(sigma))
    np.testing.assert_allclose(fitted.omega_, omega)
    expected = black_litterman(view.returns.mean(0), sigma, view.forecast, omega, tau)
    np.testing.assert_allclose(fitted.mu_, expected, atol=ATOL)
    np.testing.assert_allclose(fitted.intensity_, np.diag(fitted.gain_))


def test_black_litterman_view_as_good_as_the_mean_weighs_like_the_prior(rng):
    returns = exact_returns(rng, np.full(4, 0.01), np.diag([0.01, 0.02, 0.03, 0.04]), 30)
    same = rng.normal(0.01, 0.01, (20, 4))
    view = make_view(rng, returns=returns, n_past=20, past_forecasts=same, past_benchmarks=same)
    fitted = BlackLitterman().fit(view)
    np.testing.assert_allclose(fitted.intensity_, np.full(4, 0.5), atol=ATOL)


def test_black_litterman_floor_caps_a_perfect_record(rng):
    returns = exact_returns(rng, np.full(4, 0.01), np.diag([0.01, 0.02, 0.03, 0.04]), 30)
    realised = rng.normal(0.01, 0.08, (20, 4))
    view = make_view(
        rng, returns=returns, n_past=20, past_realised=realised, past_forecasts=realised
    )
    fitted = BlackLitterman(omega_floor=0.25).fit(view)
    np.testing.assert_allclose(fitted.intensity_, np.full(4, 1 / 1.25), atol=ATOL)


def test_black_litterman_gives_no_view_before_a_record(rng):
    view = make_view(rng, n_past=11)
    fitted = BlackLitterman().fit(view)
    np.testing.assert_array_equal(fitted.intensity_, np.zeros(5))
    np.testing.assert_allclose(fitted.mu_, view.returns.mean(0), atol=ATOL)
    assert fitted.tau_ == pytest.approx(1 / 60)


def test_black_litterman_equilibrium_prior(rng):
    view = make_view(rng)
    fitted = BlackLitterman(prior="equilibrium", risk_aversion=3.0).fit(view)
    np.testing.assert_allclose(fitted.base_, 3.0 * np.cov(view.returns.T) @ np.full(5, 0.2))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"prior": "capm"}, r"`prior` must be one of 'historical_mean', 'equilibrium', got 'capm'"),
        ({"tau": 0}, r"`tau` must be a positive number, got 0"),
        ({"risk_aversion": -1.0}, r"`risk_aversion` must be a positive number, got -1.0"),
        ({"omega_floor": 0.0}, r"`omega_floor` must be a positive number, got 0.0"),
    ],
)
def test_black_litterman_rejects_bad_params(rng, params, match):
    with pytest.raises(ValueError, match=match):
        BlackLitterman(**params).fit(make_view(rng))


# --- registry --------------------------------------------------------------------------------


def test_registry_builds_every_name_with_defaults():
    strategies = default_strategies()
    assert list(strategies) == list(StrategyName)
    assert all(isinstance(s, ExpectedReturnStrategy) for s in strategies.values())
    assert [make_strategy(f"blend_{w}").weight for w in (25, 50, 75)] == [0.25, 0.5, 0.75]
    assert isinstance(make_strategy(StrategyName.SKILL), SkillBlend)


def test_make_strategy_overrides_defaults():
    assert make_strategy("black_litterman", tau=0.1).tau == 0.1
    assert make_strategy("blend_25", weight=0.3).weight == 0.3


def test_make_strategy_rejects_unknown_name_listing_valid_ones():
    with pytest.raises(ValueError, match=r"unknown strategy name='ridge'; valid names are: hist"):
        make_strategy("ridge")


@pytest.mark.parametrize(
    ("old", "new"), [("lstm", "forecast"), ("james_stein_lstm", "james_stein_forecast")]
)
def test_former_strategy_names_are_refused_naming_the_new_one(old, new):
    from backtest.config import config_from_mapping
    from backtest.pipeline import strategy_names

    message = rf"strategy '{old}' was renamed '{new}': .*\({new} on the primary model, {new}@ridge"
    with pytest.raises(ValueError, match=message):
        make_strategy(old)
    with pytest.raises(ValueError, match=message):
        strategy_names(config_from_mapping({"strategies": ["hist_mean", old]}))
    assert strategy_names(config_from_mapping({"strategies": [new]})) == [new]


def test_make_strategy_rejects_unknown_param():
    with pytest.raises(
        ValueError, match=r"'forecast' \(ForecastOnly\) does not accept \['weight'\]"
    ):
        make_strategy("forecast", weight=0.5)
