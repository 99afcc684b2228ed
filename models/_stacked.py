"""K ensemble members of one network trained side by side in one compiled call.

Why this module exists: the compiled fit of :mod:`models._network` is bound by the
per-op overhead of microsecond matmuls, not by arithmetic, so training five members one
after the other costs five times one. Here every weight carries a leading member axis
of size K and each op (a batched matmul, an elementwise update) serves all members at
once: the op count of a step is that of one member, plus K small dropout draws.

Each member is the fit it would be alone (``tests/test_ensemble.py`` compares them
forecast by forecast): the members share no parameter and the loss is the sum of their
losses, so member k's gradient is its own loss's gradient; its dropout masks are drawn
from its own (seed, step); it has its own Adam moments, learning rate,
``ReduceLROnPlateau`` state and early stopping with best-weight restore. A member that
stops freezes (weights, moments and schedule) while the others go on; the loop ends
when every member has stopped or the epochs run out.
"""

from __future__ import annotations

import numpy as np

from models._network import FitOutcome, Network, NetworkSpec, configure_tensorflow

# Keras' Adam defaults (keras.optimizers.Adam), which the single-member path uses.
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


class StackedNetwork:
    """``n_members`` copies of :class:`models._network.Network`'s architecture in one graph.

    Weights are variables of shape ``(n_members, *shape)`` in the order of
    ``Network.weight_shapes``, so one member's slice is a weight list the single
    network (and so ``LSTMForecaster.predict``) takes as it is.
    """

    def __init__(self, spec: NetworkSpec, n_members: int, weight_shapes) -> None:
        configure_tensorflow()
        import tensorflow as tf

        self.spec = spec
        self.n_members = n_members
        self.weight_shapes = list(weight_shapes)
        self._tf = tf
        k = n_members
        self.variables = [tf.Variable(tf.zeros((k, *s))) for _, s in self.weight_shapes]
        self._best = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self._m = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self._v = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self._lr = tf.Variable(tf.zeros((k,)))
        # Each kernel's transpose, kept in step with it: the backward pass multiplies by
        # it (see _matmul). A transpose made inside the graph would be folded back into an
        # ``adjoint_b`` matmul by Grappler, about 2.5x slower on CPU at these sizes.
        self._transposed = [
            tf.Variable(tf.zeros((k, s[1], s[0]))) if len(s) == 2 else None
            for _, s in self.weight_shapes
        ]
        self._fit_graph = tf.function(self._fit_loop)

    def set_weights(self, members: list[list[np.ndarray]]) -> None:
        """Assign each member's weights (one list per member, ``Network`` order)."""
        if len(members) != self.n_members:
            raise ValueError(f"expected {self.n_members} members' weights, got {len(members)}")
        for i, v in enumerate(self.variables):
            v.assign(np.stack([w[i] for w in members]))
        self._sync_transposed()

    def _sync_transposed(self) -> None:
        for v, t in zip(self.variables, self._transposed, strict=True):
            if t is not None:
                t.assign(self._tf.transpose(v, (0, 2, 1)))

    def get_weights(self) -> list[list[np.ndarray]]:
        """Copy each member's weights out, one ``Network``-ordered list per member."""
        stacked = [v.numpy() for v in self.variables]
        return [[np.array(w[k]) for w in stacked] for k in range(self.n_members)]

    def _forward(self, x, training: bool, seeds):
        """Forecasts of shape (n_members, n_rows, n_outputs) for inputs shared by all members."""
        tf = self._tf
        spec = self.spec
        k = self.n_members
        n_lstm = len(spec.units)
        weights = [v.read_value() for v in self.variables]
        transposed = {i: t.read_value() for i, t in enumerate(self._transposed) if t is not None}

        def matmul(a, i):
            return _matmul(tf, a, weights[i], transposed[i])

        # Inputs (n_rows, lookback, n_features) are the same for every member.
        h = tf.broadcast_to(x[None], (k, *x.shape))
        for layer in range(n_lstm):
            kernel, bias = weights[3 * layer], weights[3 * layer + 2]
            units = spec.units[layer]
            # Keras' fused LSTM cell (implementation 2), gates i, f, c, o, zero start.
            state = tf.zeros((k, x.shape[0], units))
            carry = state
            outputs = []
            # The input projections of all time steps in one matmul: more rows per op,
            # and T fewer ops in the forward and backward pass.
            n_in = h.shape[-1]
            flat = tf.reshape(h, (k, -1, n_in))
            # The first layer's inputs are data: no gradient to pass back to them.
            if layer == 0:
                projected = tf.matmul(flat, kernel)
            else:
                projected = matmul(flat, 3 * layer)
            projected = tf.reshape(projected, (k, x.shape[0], spec.lookback, 4 * units))
            # Unstacked, not sliced: a slice's gradient is a full-size tensor per step.
            for projected_t in tf.unstack(projected, axis=2):
                z = projected_t + matmul(state, 3 * layer + 1)
                z = z + bias[:, None]
                z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
                carry = tf.sigmoid(z_f) * carry + tf.sigmoid(z_i) * tf.tanh(z_c)
                state = tf.sigmoid(z_o) * tf.tanh(carry)
                outputs.append(state)
            if layer == n_lstm - 1:
                h = state
                break
            h = tf.stack(outputs, axis=2)
            if training and spec.dropout > 0:
                # Member k's mask is the one its lone fit draws at this step: same
                # (seed, step) key, same shape.
                keep = tf.stack(
                    [
                        tf.random.stateless_uniform(tf.shape(h)[1:], seed=seeds[m]) >= spec.dropout
                        for m in range(k)
                    ]
                )
                h = tf.where(keep, h / (1.0 - spec.dropout), 0.0)
        i = 3 * n_lstm
        h = tf.nn.relu(matmul(h, i) + weights[i + 1][:, None])
        return matmul(h, i + 2) + weights[i + 3][:, None]

    def fit(
        self,
        batches: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_batches: int,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray],
        seeds: list[int],
    ) -> list[FitOutcome]:
        """Train every member from its current weights with fresh optimizer state.

        Arguments are :meth:`models._network.Network.fit`'s, with one dropout seed per
        member; returns one :class:`FitOutcome` per member and leaves each member's
        best weights in place.
        """
        tf = self._tf
        if len(seeds) != self.n_members:
            raise ValueError(f"expected {self.n_members} seeds, got {len(seeds)}")
        for slot in (*self._m, *self._v):
            slot.assign(tf.zeros_like(slot))
        self._lr.assign(tf.fill((self.n_members,), tf.constant(self.spec.learning_rate)))
        out = self._fit_graph(
            *(tf.constant(a, tf.float32) for a in batches),
            tf.constant(n_batches, tf.int32),
            *(tf.constant(a, tf.float32) for a in validation),
            tf.constant([s % (2**31 - 1) for s in seeds], tf.int64),
        )
        best_val, best_epoch, epochs_run = (o.numpy() for o in out)
        lr = self._lr.numpy()
        return [
            FitOutcome(
                best_val_loss=float(best_val[m]),
                best_epoch=int(best_epoch[m]),
                epochs_run=int(epochs_run[m]),
                final_learning_rate=float(lr[m]),
            )
            for m in range(self.n_members)
        ]

    def _adam(self, grads, active, step) -> None:
        """Keras' Adam update, op for op, with a learning rate per member.

        ``keras.optimizers.Adam`` holds one scalar learning rate for all its variables,
        and ReduceLROnPlateau here acts per member, so the update is written out with
        the member's rate broadcast over its slice of each weight: the same formula and
        float32 operation order as ``Adam.update_step`` (``alpha = lr * sqrt(1 - b2^t) /
        (1 - b1^t)``, ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``,
        ``w -= m alpha / (sqrt(v) + eps)``). Every member runs step t at the same time
        ``t`` as it would alone (members start together and a stopped one never
        resumes); a stopped member's weights and moments are left as they are.
        """
        tf = self._tf
        local_step = tf.cast(step + 1, tf.float32)
        beta_1_power = tf.pow(tf.constant(_BETA_1, tf.float32), local_step)
        beta_2_power = tf.pow(tf.constant(_BETA_2, tf.float32), local_step)
        alpha = self._lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        for var, g, m, v in zip(self.variables, grads, self._m, self._v, strict=True):
            shape = (self.n_members,) + (1,) * (len(var.shape) - 1)
            on = tf.reshape(active, shape)
            m_new = m + (g - m) * (1 - _BETA_1)
            v_new = v + (tf.square(g) - v) * (1 - _BETA_2)
            m.assign(tf.where(on, m_new, m))
            v.assign(tf.where(on, v_new, v))
            delta = m_new * tf.reshape(alpha, shape) / (tf.sqrt(v_new) + _EPSILON)
            var.assign(tf.where(on, var - delta, var))
        self._sync_transposed()

    def _fit_loop(self, xb, yb, mb, n_batches, xv, yv, mv, seeds):
        tf = self._tf
        spec = self.spec
        k = self.n_members
        inf = tf.fill((k,), tf.constant(np.inf, tf.float32))
        zeros = tf.zeros((k,), tf.int32)
        best_val, rlr_best = inf, inf
        es_wait, rlr_wait, best_epoch, epochs_run = zeros, zeros, zeros, zeros
        active = tf.ones((k,), tf.bool)
        step = tf.constant(0, tf.int64)
        for epoch in tf.range(spec.epochs):
            for b in tf.range(n_batches):
                with tf.GradientTape() as tape:
                    member_seeds = tf.stack([seeds, tf.fill((k,), step)], axis=1)
                    pred = self._forward(xb[b], training=True, seeds=tf.unstack(member_seeds))
                    per_sample = tf.reduce_mean(tf.square(pred - yb[b]), axis=-1)
                    losses = tf.reduce_sum(per_sample * mb[b], axis=-1) / tf.reduce_sum(mb[b])
                    # Member k's weights enter only losses[k]: d(sum)/dW_k = dL_k/dW_k.
                    loss = tf.reduce_sum(losses)
                grads = tape.gradient(loss, self.variables)
                self._adam(grads, active, step)
                step += 1
            val_err = tf.reduce_mean(tf.square(self._forward(xv, False, None) - yv), axis=-1)
            val = tf.reduce_sum(val_err * mv, axis=-1) / tf.reduce_sum(mv)
            epochs_run = tf.where(active, epoch + 1, epochs_run)
            # EarlyStopping(min_delta=0, restore_best_weights=True), per member, Keras'
            # order of updates (see Network._fit_loop).
            es_wait = tf.where(active, es_wait + 1, es_wait)
            improved = tf.logical_and(active, val < best_val)
            best_val = tf.where(improved, val, best_val)
            best_epoch = tf.where(improved, epoch, best_epoch)
            es_wait = tf.where(improved, 0, es_wait)
            for keep, v in zip(self._best, self.variables, strict=True):
                on = tf.reshape(improved, (k,) + (1,) * (len(v.shape) - 1))
                keep.assign(tf.where(on, v, keep))
            stop = tf.logical_and(
                tf.logical_and(active, tf.logical_not(improved)),
                tf.logical_and(es_wait >= spec.patience, epoch > 0),
            )
            # ReduceLROnPlateau(min_delta, cooldown=0) after EarlyStopping, per member.
            plateau_gone = val < rlr_best - spec.lr_min_delta
            rlr_best = tf.where(tf.logical_and(active, plateau_gone), val, rlr_best)
            waited = tf.where(plateau_gone, 0, rlr_wait + 1)
            rlr_wait = tf.where(active, waited, rlr_wait)
            lr = self._lr.read_value()
            cut = tf.logical_and(
                tf.logical_and(active, tf.logical_not(plateau_gone)),
                tf.logical_and(rlr_wait >= spec.lr_patience, lr > spec.min_lr),
            )
            self._lr.assign(tf.where(cut, tf.maximum(lr * spec.lr_factor, spec.min_lr), lr))
            rlr_wait = tf.where(cut, 0, rlr_wait)
            active = tf.logical_and(active, tf.logical_not(stop))
            if not tf.reduce_any(active):
                break
        for keep, v in zip(self._best, self.variables, strict=True):
            v.assign(keep)
        self._sync_transposed()
        return best_val, best_epoch, epochs_run


def _matmul(tf, a, w, w_t):
    """Batched ``a @ w`` whose input gradient is ``dy @ w_t``, ``w_t`` being ``w``'s transpose.

    TensorFlow's own gradient computes ``dy @ w^T`` as a batched matmul with
    ``adjoint_b=True``, which on CPU costs about 2.5x a plain one of the same size and,
    in the unrolled recurrence, runs at every time step. Same product, same values.
    """

    @tf.custom_gradient
    def product(a, w):
        def grad(dy):
            return tf.matmul(dy, w_t), tf.matmul(a, dy, adjoint_a=True)

        return tf.matmul(a, w), grad

    return product(a, w)


_STACKS: dict[tuple[NetworkSpec, int], StackedNetwork] = {}


def get_stacked_network(spec: NetworkSpec, n_members: int, single: Network) -> StackedNetwork:
    """Return this process's stack of ``n_members`` networks for ``spec``, built once."""
    key = (spec, n_members)
    if key not in _STACKS:
        _STACKS[key] = StackedNetwork(spec, n_members, single.weight_shapes)
    return _STACKS[key]
