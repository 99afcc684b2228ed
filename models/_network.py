"""A stacked LSTM trained by one compiled TensorFlow call per fit.

Why this module exists: a walk-forward retrains the same tiny network thousands of
times. ``model.fit`` spends almost all of that time in Python, callbacks and
``tf.data`` around matmuls that take microseconds (see ``shared/PERFORMANCE.md``).
Here the network is built once per process and input shape, and a whole fit (epochs,
batches, validation, early stopping and the learning-rate schedule) is a single
``tf.function`` call over pre-batched tensors of static shape, with the LSTMs unrolled.

The training semantics are Keras' own: Adam, MSE averaged over the batch, batches in
time order (``shuffle=False``), ``EarlyStopping(patience, restore_best_weights=True)``
then ``ReduceLROnPlateau(patience, factor, min_lr, min_delta=1e-4)`` at every epoch end,
both on the validation loss. ``tests/test_lstm.py`` checks the loop against ``model.fit``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

_CONFIGURED = False


def configure_tensorflow(n_threads: int = 1) -> None:
    """Pin TensorFlow to ``n_threads`` intra- and inter-op threads and deterministic ops.

    Must run before TensorFlow executes its first op in the process: every joblib
    worker calls it, so two workers on two cores never oversubscribe them, and the
    single-threaded kernels give the same floating-point results in every process.
    """
    global _CONFIGURED
    if _CONFIGURED:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(n_threads)
    except RuntimeError:
        # TensorFlow was already initialised by the caller; its threads stay as set.
        pass
    tf.config.experimental.enable_op_determinism()
    _CONFIGURED = True


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that fixes a network's graph: one trace per distinct spec."""

    lookback: int
    n_features: int
    n_outputs: int
    units: tuple[int, ...]
    dense_units: int
    dropout: float
    batch_size: int
    learning_rate: float
    epochs: int
    patience: int
    lr_patience: int
    lr_factor: float
    min_lr: float
    lr_min_delta: float


@dataclass(frozen=True)
class FitOutcome:
    """Diagnostics of one fit: the best validation loss and where training stopped."""

    best_val_loss: float
    best_epoch: int
    epochs_run: int
    final_learning_rate: float


def initial_weights(shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> list[np.ndarray]:
    """Draw Keras' default initial weights for a seed, in numpy.

    Kernels are Glorot-uniform, recurrent kernels orthogonal, biases zero with the
    LSTM forget-gate bias at one (Keras' ``unit_forget_bias``). Drawing them here, not
    in Keras, makes them a pure function of the seed, whatever process draws them.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for name, shape in shapes:
        if name.endswith("recurrent_kernel"):
            n_rows, n_cols = shape
            a = rng.standard_normal((max(n_rows, n_cols), min(n_rows, n_cols)))
            q, r = np.linalg.qr(a)
            q *= np.sign(np.diag(r))
            weights.append((q.T if n_rows < n_cols else q).reshape(shape))
        elif name.endswith("kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            weights.append(rng.uniform(-limit, limit, size=shape))
        elif name.endswith("bias"):
            bias = np.zeros(shape)
            if "lstm" in name:
                units = shape[0] // 4
                bias[units : 2 * units] = 1.0
            weights.append(bias)
        else:  # pragma: no cover - the architecture has no other weights
            raise ValueError(f"unexpected weight {name!r} of shape {shape}")
    return [w.astype(np.float32) for w in weights]


class Network:
    """The seed's architecture, built once and retrained many times.

    ``LSTM(units[0], return_sequences) -> Dropout -> ... -> LSTM(units[-1]) ->
    Dense(dense_units, relu) -> Dense(n_outputs)``.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        configure_tensorflow()
        import keras
        import tensorflow as tf

        self.spec = spec
        self._tf = tf
        n_lstm = len(spec.units)
        self._lstms = [
            keras.layers.LSTM(u, return_sequences=i < n_lstm - 1, unroll=True)
            for i, u in enumerate(spec.units)
        ]
        self._hidden = keras.layers.Dense(spec.dense_units, activation="relu")
        self._head = keras.layers.Dense(spec.n_outputs)
        self._forward(tf.zeros((1, spec.lookback, spec.n_features)), training=False, seed=None)
        self.variables = [v for layer in self._layers for v in layer.trainable_weights]
        self.weight_shapes = [
            (f"{type(layer).__name__.lower()}_{i}/{v.path.split('/')[-1]}", tuple(v.shape))
            for i, layer in enumerate(self._layers)
            for v in layer.trainable_weights
        ]
        self._best = [tf.Variable(tf.zeros_like(v.value), trainable=False) for v in self.variables]
        self._optimizer = keras.optimizers.Adam(learning_rate=spec.learning_rate)
        self._optimizer.build(self.variables)
        # One trace for every training-set size: the padded capacities (batches, validation
        # rows) are left unknown, so a longer history does not retrace the fit (~3 s a trace).
        batch = (spec.batch_size, spec.lookback, spec.n_features)
        self._fit_graph = tf.function(
            self._fit_loop,
            input_signature=[
                tf.TensorSpec((None, *batch), tf.float32),
                tf.TensorSpec((None, spec.batch_size, spec.n_outputs), tf.float32),
                tf.TensorSpec((None, spec.batch_size), tf.float32),
                tf.TensorSpec((), tf.int32),
                tf.TensorSpec((None, spec.lookback, spec.n_features), tf.float32),
                tf.TensorSpec((None, spec.n_outputs), tf.float32),
                tf.TensorSpec((None,), tf.float32),
                tf.TensorSpec((), tf.int64),
            ],
        )
        self._predict_graph = tf.function(
            lambda x: self._forward(x, training=False, seed=None),
            input_signature=[tf.TensorSpec((None, spec.lookback, spec.n_features), tf.float32)],
        )

    @property
    def _layers(self) -> list:
        return [*self._lstms, self._hidden, self._head]

    def _forward(self, x, training: bool, seed):
        tf = self._tf
        h = x
        for i, lstm in enumerate(self._lstms):
            h = lstm(h)
            if training and self.spec.dropout > 0 and i < len(self._lstms) - 1:
                # Stateless masks keyed by (window seed, step): the same fit gives the
                # same masks in any process, unlike a layer's stateful seed generator.
                keep = tf.random.stateless_uniform(tf.shape(h), seed=seed) >= self.spec.dropout
                h = tf.where(keep, h / (1.0 - self.spec.dropout), 0.0)
        return self._head(self._hidden(h))

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Assign trained or initial weights (one array per trainable variable)."""
        for v, w in zip(self.variables, weights, strict=True):
            v.assign(w)

    def get_weights(self) -> list[np.ndarray]:
        """Copy the trainable weights out as numpy arrays."""
        return [np.array(v.numpy()) for v in self.variables]

    def fit(
        self,
        batches: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_batches: int,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray],
        seed: int,
    ) -> FitOutcome:
        """Train from the current weights with a fresh optimizer; keep the best weights.

        Parameters
        ----------
        batches : (x, y, mask)
            ``x`` of shape (capacity, batch_size, lookback, n_features), ``y`` of shape
            (capacity, batch_size, n_outputs), ``mask`` (capacity, batch_size) with 1 for
            real samples and 0 for padding. Only the first ``n_batches`` are used.
        n_batches : int
            Number of real batches.
        validation : (x, y, mask)
            Padded validation samples, shapes (capacity, lookback, n_features),
            (capacity, n_outputs) and (capacity,).
        seed : int
            Seeds the dropout masks.
        """
        tf = self._tf
        for v in self._optimizer.variables:
            v.assign(tf.zeros_like(v))
        self._optimizer.learning_rate.assign(self.spec.learning_rate)
        out = self._fit_graph(
            *(tf.constant(a, tf.float32) for a in batches),
            tf.constant(n_batches, tf.int32),
            *(tf.constant(a, tf.float32) for a in validation),
            tf.constant(seed % (2**31 - 1), tf.int64),
        )
        best_val, best_epoch, epochs_run = (float(o.numpy()) for o in out)
        return FitOutcome(
            best_val_loss=best_val,
            best_epoch=int(best_epoch),
            epochs_run=int(epochs_run),
            final_learning_rate=float(self._optimizer.learning_rate.numpy()),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forward pass without dropout."""
        return self._predict_graph(self._tf.constant(x, self._tf.float32)).numpy()

    def _fit_loop(self, xb, yb, mb, n_batches, xv, yv, mv, seed):
        tf = self._tf
        spec = self.spec
        lr = self._optimizer.learning_rate
        best_val = tf.constant(np.inf, tf.float32)
        rlr_best = tf.constant(np.inf, tf.float32)
        es_wait = tf.constant(0)
        rlr_wait = tf.constant(0)
        best_epoch = tf.constant(0)
        epochs_run = tf.constant(0)
        step = tf.constant(0, tf.int64)
        for epoch in tf.range(spec.epochs):
            for b in tf.range(n_batches):
                with tf.GradientTape() as tape:
                    pred = self._forward(xb[b], training=True, seed=tf.stack([seed, step]))
                    per_sample = tf.reduce_mean(tf.square(pred - yb[b]), axis=-1)
                    loss = tf.reduce_sum(per_sample * mb[b]) / tf.reduce_sum(mb[b])
                grads = tape.gradient(loss, self.variables)
                self._optimizer.apply_gradients(zip(grads, self.variables, strict=True))
                step += 1
            val_err = tf.reduce_mean(tf.square(self._forward(xv, False, None) - yv), axis=-1)
            val = tf.reduce_sum(val_err * mv) / tf.reduce_sum(mv)
            epochs_run = epoch + 1
            # EarlyStopping(min_delta=0, restore_best_weights=True), Keras' order of updates.
            es_wait += 1
            improved = val < best_val
            if improved:
                best_val = val
                best_epoch = epoch
                es_wait = tf.constant(0)
                for keep, v in zip(self._best, self.variables, strict=True):
                    keep.assign(v)
            stop = tf.logical_and(
                tf.logical_not(improved), tf.logical_and(es_wait >= spec.patience, epoch > 0)
            )
            # ReduceLROnPlateau(min_delta, cooldown=0), run after EarlyStopping each epoch.
            if val < rlr_best - spec.lr_min_delta:
                rlr_best = val
                rlr_wait = tf.constant(0)
            else:
                rlr_wait += 1
                if rlr_wait >= spec.lr_patience:
                    if lr > spec.min_lr:
                        lr.assign(tf.maximum(lr * spec.lr_factor, spec.min_lr))
                        rlr_wait = tf.constant(0)
            if stop:
                break
        for keep, v in zip(self._best, self.variables, strict=True):
            v.assign(keep)
        return best_val, best_epoch, epochs_run


_NETWORKS: dict[NetworkSpec, Network] = {}


def get_network(spec: NetworkSpec) -> Network:
    """Return this process's network for ``spec``, building (and tracing) it once."""
    if spec not in _NETWORKS:
        _NETWORKS[spec] = Network(spec)
    return _NETWORKS[spec]
