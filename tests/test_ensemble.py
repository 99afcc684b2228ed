"""The stacked ensemble fit (models/_stacked.py) against K separate fits, member by member.

The reference is the single-member network of ``models/_network.py`` (itself checked
against ``model.fit`` in tests/test_lstm.py), trained once per member seed, one after
the other: an independent implementation (Keras layers and Keras' Adam) of the same fits.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Dropout on; epochs short enough that some members run out of epochs with their first
# learning rate while others stop early after ReduceLROnPlateau has cut theirs.
TINY = dict(
    units=(8, 4),
    dense_units=4,
    epochs=12,
    patience=3,
    lr_patience=2,
    batch_size=8,
    learning_rate=1e-2,
    dropout=0.2,
    n_seeds=4,
    random_state=1,
)
# float32 training: the stacked graph multiplies batched weights (and a transposed copy
# in the backward pass) where the reference multiplies one member's, so sums round in a
# different order; over these fits the weights differ by < 1e-6. 1e-5 leaves room for
# that, while a member given another's seed, dropout mask, learning rate or stopping
# epoch is off by more than 1e-3 (members differ from each other by more: asserted).
ATOL = 1e-5


def _data(n=40, lookback=4, n_features=3, n_outputs=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, lookback, n_features)).astype(np.float32)
    y = (0.3 * X[:, -1, :n_outputs] + rng.standard_normal((n, n_outputs))).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def fits():
    from models.lstm import LSTMForecaster, fit_members_sequentially

    class OneAfterAnother(LSTMForecaster):
        _fit_members = staticmethod(fit_members_sequentially)

    X, y = _data()
    stacked = LSTMForecaster(**TINY).fit(X[:32], y[:32])
    separate = OneAfterAnother(**TINY).fit(X[:32], y[:32])
    return stacked, separate, X


def test_the_case_covers_different_stops_and_schedules(fits):
    _, separate, _ = fits
    epochs = [o.epochs_run for o in separate.outcomes_]
    rates = [o.final_learning_rate for o in separate.outcomes_]
    assert len(set(epochs)) >= 3, epochs
    assert min(epochs) < TINY["epochs"] == max(epochs)  # early stops and a full run
    assert min(rates) < TINY["learning_rate"] == pytest.approx(max(rates))  # some cut only


def test_stacked_members_stop_where_separate_fits_stop(fits):
    stacked, separate, _ = fits
    for mine, ref in zip(stacked.outcomes_, separate.outcomes_, strict=True):
        assert mine.epochs_run == ref.epochs_run
        assert mine.best_epoch == ref.best_epoch
        assert mine.final_learning_rate == pytest.approx(ref.final_learning_rate, rel=1e-7)
        assert mine.best_val_loss == pytest.approx(ref.best_val_loss, rel=1e-5)
    for key, values in separate.diagnostics().items():
        np.testing.assert_allclose(stacked.diagnostics()[key], values, rtol=1e-5)


def test_stacked_members_forecast_what_separate_fits_forecast(fits):
    stacked, separate, X = fits
    mine, ref = stacked.member_predictions(X[32:]), separate.member_predictions(X[32:])
    np.testing.assert_allclose(mine, ref, rtol=0, atol=ATOL)
    assert np.min(np.ptp(ref, axis=0)) > 100 * ATOL  # a swap of members would show
    np.testing.assert_allclose(stacked.predict(X[32:]), ref.mean(axis=0), rtol=0, atol=ATOL)
    for w_mine, w_ref in zip(stacked.weights_, separate.weights_, strict=True):
        for a, b in zip(w_mine, w_ref, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)


def test_a_wrong_number_of_members_is_a_clear_error(fits):
    from models._stacked import get_stacked_network
    from models.lstm import _pad_batches, _pad_rows

    stacked, _, X = fits
    from models._network import get_network

    network = get_network(stacked.spec_)
    stack = get_stacked_network(stacked.spec_, 4, network)
    with pytest.raises(ValueError, match="expected 4 members' weights, got 1"):
        stack.set_weights(stacked.weights_[:1])
    batches, n_batches = _pad_batches(X[:8], X[:8, -1, :2], 8)
    with pytest.raises(ValueError, match="expected 4 seeds, got 2"):
        stack.fit(batches, n_batches, _pad_rows(X[8:], X[8:, -1, :2]), [1, 2])
