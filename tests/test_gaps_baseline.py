"""The historical-mean forecaster (models.base), checked against hand examples."""

from __future__ import annotations

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
