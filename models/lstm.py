"""The LSTM forecaster: the seed notebook's network, retrained fast and fairly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from models._network import FitOutcome, Network, NetworkSpec, get_network, initial_weights
from models._stacked import get_stacked_network
from models.base import Forecaster, single_threaded

Batches = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Inputs, targets and a 0/1 mask of padded rows, as ``_pad_batches`` and ``_pad_rows`` give."""


def _capacity(n: int, minimum: int) -> int:
    """Round a size up to a power of two so the graph is traced for few shapes."""
    size = minimum
    while size < n:
        size *= 2
    return size


class LSTMForecaster(Forecaster):
    """Stacked LSTM forecasting next month's returns of several assets at once.

    Defaults are the seed notebook's: ``LSTM(64, return_sequences) -> Dropout(0.2) ->
    LSTM(32) -> Dense(16, relu) -> Dense(n_outputs)``, Adam(1e-3) on MSE, 200 epochs of
    batches of 8 in time order, early stopping (patience 10, best weights restored) and
    learning-rate halving (patience 5, floor 1e-5) on a validation set.

    Unlike the seed, every fit is self-contained: inputs and targets are standardised
    by scalers fitted on this fit's training samples only, and the validation set that
    drives early stopping and the learning-rate schedule is the *last*
    ``validation_fraction`` of those training samples, never the month forecast.

    Parameters
    ----------
    units : sequence of int, default (64, 32)
        Units of the stacked LSTM layers.
    dense_units : int, default 16
        Units of the ReLU layer before the linear head.
    dropout : float, default 0.2
        Dropout between LSTM layers during training.
    epochs, batch_size, learning_rate : int, int, float
        Adam training settings.
    patience, lr_patience, lr_factor, min_lr : int, int, float, float
        Early-stopping patience and the ``ReduceLROnPlateau`` schedule.
    validation_fraction : float, default 0.2
        Share of the (time-ordered) training samples held out at the end.
    n_seeds : int, default 1
        Ensemble size: that many differently seeded networks, forecasts averaged. More
        than one are trained side by side in one compiled call (:mod:`models._stacked`),
        each exactly as it would train alone up to float32 round-off.
    random_state : int, default 0
        Seeds the initial weights and dropout masks of every ensemble member.

    Attributes
    ----------
    weights_ : list of list of ndarray
        Trained weights of each ensemble member (numpy: picklable, no Keras objects).
    outcomes_ : list of FitOutcome
        Early-stopping diagnostics of each member.
    """

    slow_start = True
    """Each process pays TensorFlow's import and the compiled fit's trace before its first fit
    (~9 s of CPU): the engine starts as few processes for these windows as pays off
    (:func:`backtest.engine.local.slow_workers`)."""

    def __init__(
        self,
        units: Sequence[int] = (64, 32),
        dense_units: int = 16,
        dropout: float = 0.2,
        epochs: int = 200,
        batch_size: int = 8,
        learning_rate: float = 1e-3,
        patience: int = 10,
        lr_patience: int = 5,
        lr_factor: float = 0.5,
        min_lr: float = 1e-5,
        validation_fraction: float = 0.2,
        n_seeds: int = 1,
        random_state: int = 0,
    ) -> None:
        self.units = units
        self.dense_units = dense_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.min_lr = min_lr
        self.validation_fraction = validation_fraction
        self.n_seeds = n_seeds
        self.random_state = random_state

    def _spec(self, lookback: int, n_features: int, n_outputs: int) -> NetworkSpec:
        return NetworkSpec(
            lookback=lookback,
            n_features=n_features,
            n_outputs=n_outputs,
            units=tuple(int(u) for u in self.units),
            dense_units=int(self.dense_units),
            dropout=float(self.dropout),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            epochs=int(self.epochs),
            patience=int(self.patience),
            lr_patience=int(self.lr_patience),
            lr_factor=float(self.lr_factor),
            min_lr=float(self.min_lr),
            lr_min_delta=1e-4,
        )

    def member_seeds(self) -> list[int]:
        """One independent seed per ensemble member, derived from ``random_state``."""
        children = np.random.SeedSequence(self.random_state).spawn(self.n_seeds)
        return [int(c.generate_state(1)[0]) for c in children]

    @single_threaded
    def fit(self, X: np.ndarray, y: np.ndarray) -> LSTMForecaster:
        """Standardise, hold out the last samples for validation, and train the ensemble.

        With one BLAS thread (:func:`models.base.single_threaded`): OpenBLAS's second thread
        does nothing useful at these sizes (the initial weights' QR, the scalers) but spins
        after each call, ~0.1 s of a core per window taken from the other fitting process
        (measured over 20 windows: 0.28 s of CPU per window with it, 0.16 s without, the same
        wall time; 0.43-0.61 s against 0.24 s under load, and half the wall time).

        Parameters
        ----------
        X : ndarray of shape (n_samples, lookback, n_features)
            Training sequences in time order.
        y : ndarray of shape (n_samples, n_outputs)
            Next-month targets of each sequence.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 3 or y.ndim != 2 or len(X) != len(y):
            raise ValueError(
                f"`X` must be (n_samples, lookback, n_features) and `y` (n_samples, n_outputs) "
                f"with the same n_samples, got {X.shape} and {y.shape}"
            )
        n_samples, lookback, n_features = X.shape
        n_fit = int(n_samples * (1 - self.validation_fraction))
        if n_fit < 1 or n_samples - n_fit < 1:
            raise ValueError(
                f"too few training samples={n_samples} for validation_fraction="
                f"{self.validation_fraction}: need at least one to fit and one to validate"
            )
        self.x_scaler_ = StandardScaler().fit(X.reshape(-1, n_features))
        self.y_scaler_ = StandardScaler().fit(y)
        Xs = self.x_scaler_.transform(X.reshape(-1, n_features)).reshape(X.shape)
        ys = self.y_scaler_.transform(y)

        spec = self._spec(lookback, n_features, y.shape[1])
        network = get_network(spec)
        batches, n_batches = _pad_batches(Xs[:n_fit], ys[:n_fit], spec.batch_size)
        validation = _pad_rows(Xs[n_fit:], ys[n_fit:])
        self.spec_ = spec
        self.weights_, self.outcomes_ = self._fit_members(
            network, self.member_seeds(), batches, n_batches, validation
        )
        return self

    @staticmethod
    def _fit_members(
        network: Network, seeds: list[int], batches: Batches, n_batches: int, validation: Batches
    ) -> tuple[list[list[np.ndarray]], list[FitOutcome]]:
        # One member trains alone on the network `tests/test_lstm.py` checks against
        # `model.fit`; an ensemble trains side by side in one call (under 2x the cost of
        # one member instead of K times, `benchmarks/bench_ensemble.py`).
        train = fit_members_sequentially if len(seeds) == 1 else fit_members_stacked
        return train(network, seeds, batches, n_batches, validation)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Average the ensemble's forecasts, in the targets' original units."""
        return self.member_predictions(X).mean(axis=0)

    @single_threaded
    def member_predictions(self, X: np.ndarray) -> np.ndarray:
        """Each member's forecasts in the targets' units, ``(n_seeds, n_samples, n_outputs)``."""
        X = np.asarray(X, dtype=np.float64)
        n_features = X.shape[-1]
        Xs = self.x_scaler_.transform(X.reshape(-1, n_features)).reshape(X.shape)
        network = get_network(self.spec_)
        preds = []
        for weights in self.weights_:
            network.set_weights(weights)
            preds.append(self.y_scaler_.inverse_transform(network.predict(Xs)))
        # Kept in the network's float32, so the average is the one `predict` always returned.
        return np.asarray(preds)

    def diagnostics(self) -> dict[str, np.ndarray]:
        """Epochs run and best validation loss of each ensemble member."""
        return {
            "epochs_run": np.array([o.epochs_run for o in self.outcomes_]),
            "best_val_loss": np.array([o.best_val_loss for o in self.outcomes_]),
        }


def fit_members_sequentially(
    network: Network, seeds: list[int], batches: Batches, n_batches: int, validation: Batches
) -> tuple[list[list[np.ndarray]], list[FitOutcome]]:
    """Train one member per seed, one after the other, on the single network.

    Each member starts from ``initial_weights(network.weight_shapes, seed)`` and draws
    its dropout masks from ``seed``. Returns each member's trained weights and outcome.
    """
    weights, outcomes = [], []
    for seed in seeds:
        network.set_weights(initial_weights(network.weight_shapes, seed))
        outcomes.append(network.fit(batches, n_batches, validation, seed))
        weights.append(network.get_weights())
    return weights, outcomes


def fit_members_stacked(
    network: Network, seeds: list[int], batches: Batches, n_batches: int, validation: Batches
) -> tuple[list[list[np.ndarray]], list[FitOutcome]]:
    """Train the same members as :func:`fit_members_sequentially`, side by side in one call.

    One compiled graph trains every member at once (:mod:`models._stacked`): the same
    initial weights and dropout masks per seed, and per-member optimizer state,
    learning-rate schedule, early stopping and best-weight restore.
    """
    stack = get_stacked_network(network.spec, len(seeds), network)
    stack.set_weights([initial_weights(network.weight_shapes, seed) for seed in seeds])
    outcomes = stack.fit(batches, n_batches, validation, seeds)
    return stack.get_weights(), outcomes


def _pad_batches(
    X: np.ndarray, y: np.ndarray, batch_size: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]:
    n = len(X)
    n_batches = -(-n // batch_size)
    capacity = _capacity(n_batches, 16)
    xb = np.zeros((capacity * batch_size, *X.shape[1:]), np.float32)
    yb = np.zeros((capacity * batch_size, y.shape[1]), np.float32)
    mb = np.zeros(capacity * batch_size, np.float32)
    xb[:n], yb[:n], mb[:n] = X, y, 1.0
    return (
        (
            xb.reshape(capacity, batch_size, *X.shape[1:]),
            yb.reshape(capacity, batch_size, y.shape[1]),
            mb.reshape(capacity, batch_size),
        ),
        n_batches,
    )


def _pad_rows(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    capacity = _capacity(len(X), 32)
    xv = np.zeros((capacity, *X.shape[1:]), np.float32)
    yv = np.zeros((capacity, y.shape[1]), np.float32)
    mv = np.zeros(capacity, np.float32)
    xv[: len(X)], yv[: len(X)], mv[: len(X)] = X, y, 1.0
    return xv, yv, mv
