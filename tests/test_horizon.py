from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from backtest.features import Variant
from models.horizon import check_horizon, iterate_forecast

LOOKBACK = 4


class LinearInScaledSpace:
    """A stand-in for a fitted LSTMForecaster: a known linear map between scaled spaces.

    Like the real one, ``predict`` takes raw windows, standardises them with ``x_scaler_``,
    applies the network (here ``W``, ``b``) and returns raw returns via ``y_scaler_``.
    """

    def __init__(self, rng, n_features, n_targets):
        self.x_scaler_ = StandardScaler().fit(rng.normal(0.02, 0.08, size=(50, n_features)))
        self.y_scaler_ = StandardScaler().fit(rng.normal(-0.01, 0.12, size=(50, n_targets)))
        self.W = rng.normal(0, 0.3, size=(LOOKBACK, n_features, n_targets))
        self.b = rng.normal(0, 0.1, size=n_targets)

    def network(self, z):
        return np.einsum("nlf,lft->nt", z, self.W) + self.b

    def predict(self, X):
        n, lookback, n_features = X.shape
        z = self.x_scaler_.transform(X.reshape(-1, n_features)).reshape(X.shape)
        return self.y_scaler_.inverse_transform(self.network(z))


def _scaled_space_path(model, window, horizon, columns):
    """Reference: the whole recursion written in the network's scaled input space."""
    mx, sx = model.x_scaler_.mean_, model.x_scaler_.scale_
    my, sy = model.y_scaler_.mean_, model.y_scaler_.scale_
    z = (window - mx) / sx
    path = []
    for _ in range(horizon):
        y_scaled = model.network(z[np.newaxis])[0]
        y = y_scaled * sy + my
        path.append(y)
        z_next = (y[columns] - mx) / sx  # the prediction, in the input scaler's units
        z = np.vstack([z[1:], z_next])
    return np.array(path)


def _seed_notebook_path(model, window, horizon):
    """The seed's mistake: the network's scaled output appended to a raw window."""
    path = []
    for _ in range(horizon):
        y = model.predict(window[np.newaxis])[0]
        path.append(y)
        window = np.vstack([window[1:], model.y_scaler_.transform(y[np.newaxis])[0]])
    return np.array(path)


@pytest.mark.parametrize(
    ("features", "targets"),
    [(("A", "B", "C"), ("A", "B", "C")), (("C", "A", "B"), ("A", "B", "C"))],
    ids=["same-order", "permuted-inputs"],
)
def test_iteration_stays_in_one_space(rng, features, targets):
    model = LinearInScaledSpace(rng, 3, 3)
    window = rng.normal(0.01, 0.07, size=(LOOKBACK, 3))
    columns = [targets.index(f) for f in features]
    path = iterate_forecast(model, window, 5, features, targets)
    assert path.shape == (5, 3)
    np.testing.assert_allclose(path, _scaled_space_path(model, window, 5, columns), rtol=1e-12)
    # the test can tell the right recursion from the seed's mixed-space one
    assert not np.allclose(path[1:], _seed_notebook_path(model, window, 5)[1:], rtol=1e-3)


def test_first_step_is_the_one_step_forecast(rng):
    model = LinearInScaledSpace(rng, 2, 2)
    window = rng.normal(0.0, 0.05, size=(LOOKBACK, 2))
    path = iterate_forecast(model, window, 1, ("A", "B"), ("A", "B"))
    np.testing.assert_array_equal(path, model.predict(window[np.newaxis]))
    longer = iterate_forecast(model, window, 4, ("A", "B"), ("A", "B"))
    np.testing.assert_array_equal(longer[0], path[0])


def test_iteration_refuses_inputs_that_are_not_targets(rng):
    model = LinearInScaledSpace(rng, 2, 2)
    window = rng.normal(size=(LOOKBACK, 2))
    with pytest.raises(ValueError, match=r"inputs \['SPY'\] are not forecast targets"):
        iterate_forecast(model, window, 3, ("A", "SPY"), ("A", "B"))
    with pytest.raises(ValueError, match=r"`window` must have shape \(lookback, 2\)"):
        iterate_forecast(model, window[:, :1], 3, ("A", "B"), ("A", "B"))
    with pytest.raises(ValueError, match="`horizon` must be a positive integer, got 0"):
        iterate_forecast(model, window, 0, ("A", "B"), ("A", "B"))


@pytest.mark.parametrize("variant", list(Variant))
def test_one_step_is_always_possible(variant):
    assert check_horizon(variant, 1) == 1


def test_base_iterates_any_horizon():
    assert check_horizon("base", 6) == 6


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ("relatives", r"horizon=2 is not possible for variant 'relatives'.*other assets' "
         r"returns.*only a one-step.*use --horizon 1, or --variant base"),
        ("indicators", r"horizon=2 is not possible for variant 'indicators'.*future prices"
         r".*use --horizon 1, or --variant base"),
    ],
)  # fmt: skip
def test_longer_horizons_are_refused_with_the_reason(variant, reason):
    with pytest.raises(ValueError, match=reason):
        check_horizon(variant, 2)


@pytest.mark.parametrize("horizon", [0, -1, 1.5, True])
def test_horizon_must_be_a_positive_integer(horizon):
    with pytest.raises(ValueError, match=r"`horizon` must be a positive integer"):
        check_horizon("base", horizon)
