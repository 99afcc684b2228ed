"""LSTM forecasts that mutation testing showed were unchecked (issue 15).

One tiny network is trained once per module; every test reuses it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TINY = dict(units=(4, 2), dense_units=4, epochs=8, patience=3, lr_patience=2, batch_size=8)


def _data(seed=5, n=32, lookback=4, n_features=3, n_outputs=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, lookback, n_features)).astype(np.float32)
    y = (0.3 * X[:, -1, :n_outputs] + rng.standard_normal((n, n_outputs))).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    from models.lstm import LSTMForecaster

    X, y = _data()
    return LSTMForecaster(**TINY, random_state=1).fit(X[:24], y[:24]), X, y


def test_a_forecast_does_not_depend_on_the_other_samples_predicted_with_it(fitted):
    # A scaler refitted on the inputs being predicted (not the training window's)
    # makes a sample's forecast depend on its batch; forecast alone == within a batch.
    model, X, _ = fitted
    batch = model.predict(X[24:])
    for k in range(len(batch)):
        alone = model.predict(X[24 + k : 25 + k])
        np.testing.assert_allclose(alone[0], batch[k], rtol=1e-5, atol=1e-7)
    shifted = model.predict(np.concatenate([X[24:26], 10.0 + X[26:]]))
    np.testing.assert_allclose(shifted[:2], batch[:2], rtol=1e-5, atol=1e-7)


def test_forecasts_follow_an_affine_change_of_target_units(fitted):
    # Targets are standardised with the training window's scaler, so the network sees
    # the same standardised targets for y and a*y + b; the forecasts must come back in
    # the targets' own units: f(a*y + b) = a*f(y) + b (up to float32 training noise).
    from models.lstm import LSTMForecaster

    model, X, y = fitted
    a, b = 0.01, 0.05
    scaled = LSTMForecaster(**TINY, random_state=1).fit(X[:24], a * y[:24] + b)
    base = model.predict(X[24:])
    np.testing.assert_allclose(scaled.predict(X[24:]), a * base + b, rtol=0, atol=a * 1e-3)
    assert np.ptp(base) > 1e-3  # the check above is not satisfied by a constant forecast
