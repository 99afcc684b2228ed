from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TINY = dict(units=(8, 4), dense_units=4, epochs=40, patience=4, lr_patience=2, batch_size=8)


def _data(rng, n=40, lookback=6, n_features=3, n_outputs=2):
    X = rng.standard_normal((n, lookback, n_features)).astype(np.float32)
    y = (0.3 * X[:, -1, :n_outputs] + rng.standard_normal((n, n_outputs))).astype(np.float32)
    return X, y


def test_compiled_loop_reproduces_keras_fit(rng):
    """Same initial weights, no dropout: the one-call fit equals model.fit with the callbacks."""
    import keras

    from models._network import NetworkSpec, get_network, initial_weights
    from models.lstm import _pad_batches, _pad_rows

    X, y = _data(rng)
    n_fit = 32
    spec = NetworkSpec(
        lookback=6,
        n_features=3,
        n_outputs=2,
        units=(8, 4),
        dense_units=4,
        dropout=0.0,
        batch_size=8,
        learning_rate=1e-2,
        epochs=40,
        patience=4,
        lr_patience=2,
        lr_factor=0.5,
        min_lr=1e-5,
        lr_min_delta=1e-4,
    )
    network = get_network(spec)
    init = initial_weights(network.weight_shapes, seed=7)
    network.set_weights(init)
    batches, n_batches = _pad_batches(X[:n_fit], y[:n_fit], 8)
    outcome = network.fit(batches, n_batches, _pad_rows(X[n_fit:], y[n_fit:]), seed=7)

    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            keras.layers.LSTM(8, return_sequences=True),
            keras.layers.Dropout(0.0),
            keras.layers.LSTM(4),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.set_weights(init)
    history = model.fit(
        X[:n_fit],
        y[:n_fit],
        validation_data=(X[n_fit:], y[n_fit:]),
        epochs=40,
        batch_size=8,
        shuffle=False,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.5, min_lr=1e-5),
        ],
    )
    val = history.history["val_loss"]
    assert outcome.epochs_run == len(val)
    assert outcome.best_epoch == int(np.argmin(val))
    assert outcome.best_val_loss == pytest.approx(min(val), rel=1e-4)
    assert outcome.final_learning_rate == pytest.approx(float(model.optimizer.learning_rate))
    assert outcome.final_learning_rate < 1e-2  # the schedule did act
    np.testing.assert_allclose(
        network.predict(X[n_fit:]), model.predict(X[n_fit:], verbose=0), rtol=1e-3, atol=1e-5
    )


def test_same_seed_same_forecast_and_different_seed_differs(rng):
    from models.lstm import LSTMForecaster

    X, y = _data(rng)
    a = LSTMForecaster(**TINY, random_state=1).fit(X, y).predict(X[-3:])
    b = LSTMForecaster(**TINY, random_state=1).fit(X, y).predict(X[-3:])
    c = LSTMForecaster(**TINY, random_state=2).fit(X, y).predict(X[-3:])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_ensemble_averages_its_members(rng):
    from models.lstm import LSTMForecaster

    X, y = _data(rng)
    ensemble = LSTMForecaster(**TINY, n_seeds=2, random_state=3).fit(X, y)
    members = []
    for weights in ensemble.weights_:
        single = LSTMForecaster(**TINY, random_state=3).fit(X, y)
        single.weights_ = [weights]
        members.append(single.predict(X[-2:]))
    np.testing.assert_allclose(ensemble.predict(X[-2:]), np.mean(members, axis=0), rtol=1e-6)
    # the members the engine stores for the seed spread are those same networks' forecasts
    np.testing.assert_allclose(ensemble.member_predictions(X[-2:]), members, rtol=1e-6)
    assert not np.allclose(members[0], members[1])
    assert len(ensemble.outcomes_) == 2


def test_scalers_see_training_rows_only(rng):
    from models.lstm import LSTMForecaster

    X, y = _data(rng)
    model = LSTMForecaster(**{**TINY, "epochs": 1}).fit(X[:30], y[:30])
    np.testing.assert_allclose(model.x_scaler_.mean_, X[:30].reshape(-1, 3).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(model.y_scaler_.mean_, y[:30].mean(axis=0), rtol=1e-5)


def test_too_few_samples_for_validation(rng):
    from models.lstm import LSTMForecaster

    X, y = _data(rng, n=1)
    with pytest.raises(ValueError, match=r"too few training samples=1 for validation_fraction=0.2"):
        LSTMForecaster(**TINY).fit(X, y)


def test_fit_and_predict_run_with_one_blas_thread(rng, monkeypatch):
    # A second OpenBLAS thread only spins after each window's small BLAS calls, taking a core
    # from the other fitting process; the fit and the forecasts keep BLAS to one thread.
    from threadpoolctl import threadpool_info

    from models import _network
    from models.lstm import LSTMForecaster

    seen = []

    def record(method):
        def run(self, *args, **kwargs):
            seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
            return method(self, *args, **kwargs)

        return run

    monkeypatch.setattr(_network.Network, "fit", record(_network.Network.fit))
    monkeypatch.setattr(_network.Network, "predict", record(_network.Network.predict))
    X, y = _data(rng)
    LSTMForecaster(**TINY, random_state=1).fit(X, y).predict(X[-3:])
    assert len(seen) == 2  # one fit, one forecast
    assert all(threads == {1} for threads in seen), seen


def test_one_trace_of_the_fit_for_short_and_long_histories(rng):
    # 32 and 160 samples to fit pad to 16 and 32 batches: without the input signature's
    # unknown capacities each would trace the whole compiled fit again (~3 s a trace).
    from models import _network
    from models.lstm import LSTMForecaster

    short, long = _data(rng, n=40), _data(rng, n=200)
    model = LSTMForecaster(**TINY, random_state=1).fit(*short)
    LSTMForecaster(**TINY, random_state=1).fit(*long)
    network = _network.get_network(model.spec_)
    assert network._fit_graph.experimental_get_tracing_count() == 1
