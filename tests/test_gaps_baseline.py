"""The historical-mean forecaster (models.base), checked against hand examples."""

from __future__ import annotations

import re

import numpy as np
import pytest

from models.base import Forecaster, HistoricalMean


def test_forecast_is_the_training_targets_mean_for_every_row():
    y = np.array([[0.01, -0.02], [0.03, 0.00], [0.05, 0.05]])
    X = np.zeros((3, 4, 2))
    model = HistoricalMean().fit(X, y)
    np.testing.assert_allclose(model.mean_, [0.03, 0.01])
    forecast = model.predict(np.ones((2, 4, 2)))
    np.testing.assert_allclose(forecast, [[0.03, 0.01], [0.03, 0.01]])
    assert isinstance(model, Forecaster)


def test_integer_targets_are_averaged_as_floats():
    model = HistoricalMean().fit(np.zeros((2, 1, 1)), np.array([[1], [2]]))
    np.testing.assert_allclose(model.predict(np.zeros((1, 1, 1))), [[1.5]])


@pytest.mark.parametrize("y", [np.zeros(3), np.zeros((0, 2))], ids=["1d", "empty"])
def test_bad_targets_are_rejected_with_their_shape(y):
    message = r"^`y` must be a non-empty \(n_samples, n_outputs\) array, got shape"
    with pytest.raises(ValueError, match=message):
        HistoricalMean().fit(np.zeros((len(y), 1, 1)), y)


def test_zero_forecaster_predicts_zeros_of_the_training_width():
    from models.base import Zero

    model = Zero().fit(np.ones((3, 2, 4)), np.ones((3, 5)))
    np.testing.assert_array_equal(model.predict(np.ones((2, 2, 4))), np.zeros((2, 5)))
    assert model.predict(np.ones((2, 2, 4))).dtype == np.float64


@pytest.mark.parametrize(
    ("X", "y"),
    [
        (np.zeros((3, 4)), np.zeros((3, 1))),  # X not 3-D
        (np.zeros((3, 2, 1)), np.zeros(3)),  # y not 2-D
        (np.zeros((3, 2, 1)), np.zeros((2, 1))),  # different n_samples
        (np.zeros((0, 2, 1)), np.zeros((0, 1))),  # empty
    ],
    ids=["X-2d", "y-1d", "mismatch", "empty"],
)
def test_training_arrays_are_checked_with_their_shapes(X, y):
    from models.base import Zero, check_training

    message = (
        r"^`X` must be \(n_samples, lookback, n_features\) and `y` \(n_samples, n_outputs\) "
        rf"with the same n_samples > 0, got {re.escape(str(X.shape))} and "
        rf"{re.escape(str(y.shape))}$"
    )
    with pytest.raises(ValueError, match=message):
        check_training(X, y)
    with pytest.raises(ValueError, match=message):
        Zero().fit(X, y)


def test_check_training_returns_float64_arrays():
    from models.base import check_training

    X, y = check_training(np.ones((2, 1, 1), dtype=np.float32), [[1], [2]])
    assert X.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_array_equal(y, [[1.0], [2.0]])
