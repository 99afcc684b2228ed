"""Ridge, OLS, elastic net and boosting against naive references fitted in the test."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import ElasticNet

from models.linear import (
    DEFAULT_ALPHAS,
    ElasticNetForecaster,
    OLSForecaster,
    RidgeForecaster,
    lagged,
)
from models.trees import GBMForecaster


def _window(rng, n=48, lookback=3, n_features=4, n_outputs=2):
    X = rng.normal(0, 0.05, (n + 1, lookback, n_features))
    beta = rng.normal(0, 1, (n_features, n_outputs))
    y = 0.01 + X[:, -1, :] @ beta * 0.3 + rng.normal(0, 0.05, (n + 1, n_outputs))
    return X[:n], y[:n], X[n:]


def _standardise(train, other):
    mean, sd = train.mean(axis=0), train.std(axis=0)  # ddof=0, as StandardScaler
    return (train - mean) / sd, (other - mean) / sd, mean, sd


def _naive_ridge(Z, y, alpha):
    """Ridge with an unpenalised intercept: centre, solve the normal equations."""
    zm, ym = Z.mean(axis=0), y.mean(axis=0)
    Zc, yc = Z - zm, y - ym
    beta = np.linalg.solve(Zc.T @ Zc + alpha * np.eye(Z.shape[1]), Zc.T @ yc)
    return beta, ym - zm @ beta


def _naive_loo_alpha(Z, y, alphas):
    errors = []
    for alpha in alphas:
        sse = 0.0
        for i in range(len(Z)):
            keep = np.arange(len(Z)) != i
            beta, b0 = _naive_ridge(Z[keep], y[keep], alpha)
            sse += np.sum((y[i] - (b0 + Z[i] @ beta)) ** 2)
        errors.append(sse)
    return alphas[int(np.argmin(errors))]


def test_ridge_is_closed_form_ridge_on_the_standardised_window(rng):
    X, y, X_test = _window(rng)
    model = RidgeForecaster().fit(X, y)
    Z, Zt, _, _ = _standardise(lagged(X, 1), lagged(X_test, 1))
    ys, _, ym, ysd = _standardise(y, y)
    alphas = np.asarray(DEFAULT_ALPHAS)
    assert model.alpha_ == pytest.approx(_naive_loo_alpha(Z, ys, alphas))
    beta, b0 = _naive_ridge(Z, ys, model.alpha_)
    expected = (b0 + Zt @ beta) * ysd + ym
    np.testing.assert_allclose(model.predict(X_test), expected, rtol=1e-8, atol=1e-12)


def test_ridge_tail_selection_scores_the_last_fifth(rng):
    X, y, X_test = _window(rng, n=40)
    model = RidgeForecaster(selection="tail", lags=2).fit(X, y)
    Z = lagged(X, 2)
    errors = []
    for alpha in DEFAULT_ALPHAS:
        fit, val = slice(0, 32), slice(32, 40)
        Zf, Zv, _, _ = _standardise(Z[fit], Z[val])
        # targets standardised on the whole window, as the model does
        ys = (y - y.mean(axis=0)) / y.std(axis=0)
        beta, b0 = _naive_ridge(Zf, ys[fit], alpha)
        errors.append(np.mean((b0 + Zv @ beta - ys[val]) ** 2))
    assert model.alpha_ == pytest.approx(DEFAULT_ALPHAS[int(np.argmin(errors))])


def test_ols_is_least_squares_with_an_intercept(rng):
    X, y, X_test = _window(rng)
    Z = np.column_stack([np.ones(len(X)), lagged(X, 2)])
    coef, *_ = np.linalg.lstsq(Z, y, rcond=None)
    expected = np.column_stack([np.ones(1), lagged(X_test, 2)]) @ coef
    got = OLSForecaster(lags=2).fit(X, y).predict(X_test)
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_elastic_net_chooses_on_the_time_ordered_tail_only(rng):
    X, y, X_test = _window(rng, n=50)
    model = ElasticNetForecaster(l1_ratio=(0.5, 1.0), n_alphas=10).fit(X, y)
    Z, Zt, _, _ = _standardise(lagged(X, 1), lagged(X_test, 1))
    ys, _, ym, ysd = _standardise(y, y)
    for k in range(y.shape[1]):
        inner = model.models_[k]
        best, best_error = None, np.inf
        for j, l1 in enumerate((0.5, 1.0)):
            for alpha in inner.alphas_[j]:
                fit = ElasticNet(alpha=alpha, l1_ratio=l1, max_iter=5000).fit(Z[:40], ys[:40, k])
                error = np.mean((fit.predict(Z[40:]) - ys[40:, k]) ** 2)
                if error < best_error - 1e-15:
                    best, best_error = (alpha, l1), error
        assert (model.alpha_[k], model.l1_ratio_[k]) == pytest.approx(best, rel=1e-6)
        refit = ElasticNet(alpha=best[0], l1_ratio=best[1], max_iter=5000).fit(Z, ys[:, k])
        np.testing.assert_allclose(
            model.predict(X_test)[:, k], refit.predict(Zt) * ysd[k] + ym[k], rtol=1e-6
        )


@pytest.mark.parametrize(
    "make",
    [
        RidgeForecaster,
        lambda: RidgeForecaster(selection="tail"),
        ElasticNetForecaster,
        GBMForecaster,
    ],
    ids=["ridge-loo", "ridge-tail", "elastic_net", "gbm"],
)
def test_the_penalty_is_chosen_from_training_rows_only(rng, make):
    """Poisoning the forecast month (its inputs) changes no choice made in the window."""
    X, y, X_test = _window(rng)
    clean = make().fit(X, y)
    again = clone(make()).fit(X.copy(), y.copy())
    poisoned_test = X_test + 10.0
    for attr in ("alpha_", "n_iter_"):
        if hasattr(clean, attr):
            np.testing.assert_array_equal(getattr(clean, attr), getattr(again, attr))
    np.testing.assert_array_equal(clean.predict(X), again.predict(X))
    assert np.isfinite(clean.predict(poisoned_test)).all()


def test_gbm_keeps_the_round_with_the_smallest_tail_error(rng):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    X, y, _ = _window(rng, n=60)
    model = GBMForecaster(max_iter=30).fit(X, y)
    Z, _, _, _ = _standardise(lagged(X, 1), lagged(X, 1))
    for k in range(y.shape[1]):
        errors = []
        for rounds in range(1, 31):
            with threadpool_limits(1):  # tiny fits: threads only slow them down
                booster = HistGradientBoostingRegressor(
                    max_iter=rounds, learning_rate=0.05, max_depth=2, min_samples_leaf=5,
                    l2_regularization=1.0, early_stopping=False, random_state=0,
                ).fit(Z[:48], y[:48, k])  # fmt: skip
                errors.append(np.mean((booster.predict(Z[48:]) - y[48:, k]) ** 2))
        assert model.n_iter_[k] == int(np.argmin(errors)) + 1


def test_lags_outside_the_lookback_are_refused(rng):
    X, y, _ = _window(rng, lookback=3)
    with pytest.raises(ValueError, match=r"`lags` must be an integer in \[1, lookback=3\], got 4"):
        RidgeForecaster(lags=4).fit(X, y)
