"""The component-wise GRU optimizer of the dynamics paper (Maheswaranathan et al., App. C, D.2).

Every scalar parameter x_i is one row of a batch through the same GRU cell (Cho et al. 2014)
with a linear readout w, eqs. (1)-(2):

    h(k+1) = F(h(k), g(k))            the GRU state update, state size N (default 32)
    x(k+1) = x(k) + wᵀ h(k+1)

where, with u = s · g the (optionally scaled) scalar gradient,

    z  = σ(W_z u + U_z h + b_z)                 update gate
    r  = σ(W_r u + U_r h + b_r)                 reset gate
    h̃  = tanh(W_h u + U_h (r ⊙ h) + b_h)       candidate
    F  = z ⊙ h + (1 − z) ⊙ h̃

The meta-parameters are the GRU weights and w (App. D.2); h(0) = 0 is fixed. `input_scale`
s is a fixed constant (**choice**, spec "Optimizer"): 1 (default) feeds the raw gradient;
another value rescales it before the gate matrices. F and the readout stay functions of the
raw gradient g, so the analysis (`l2o_tf.analysis`) linearizes around g* = 0 either way.

`cell`, `readout`, `initial_state` and `hidden_states` are the recurrent-rule protocol of
`l2o_tf.analysis.protocol`.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.base import Params, State, UpdateRule


def flat_coordinates(tensors: Sequence[tf.Tensor], dtype: tf.DType) -> tf.Tensor:
    """Every scalar of `tensors`, in order, as one batch of coordinates, [n]."""
    return tf.concat([tf.reshape(tf.cast(t, dtype), [-1]) for t in tensors], axis=0)


def per_coordinate(params: Sequence[tf.Tensor], vector: tf.Tensor) -> tf.Tensor:
    """`vector` repeated for every scalar of `params`, [n, *vector.shape]."""
    num_params = sum(p.shape.num_elements() for p in params)
    return tf.tile(vector[None], [num_params] + [1] * vector.shape.rank)


def add_per_coordinate(params: Sequence[tf.Tensor], delta: tf.Tensor) -> Params:
    """x + Δx for `params` and a per-coordinate update `delta` ([n], `flat_coordinates` order)."""
    sizes = [p.shape.num_elements() for p in params]
    return [p + tf.reshape(d, tf.shape(p)) for p, d in zip(params, tf.split(delta, sizes))]


class CoordinatewiseGRU(UpdateRule):
    """A GRU applied to every scalar parameter, with a linear readout of its state.

    Args:
        state_size: N, the GRU state size. Default 32.
        input_scale: s, a fixed factor on the gradient before the GRU. Default 1 (raw).
        readout_stddev: standard deviation of the N(0, σ²) initial readout w. Default 0.01
            (**choice**: the paper does not give it; small, so the first updates are small).
        **kwargs: Keras layer arguments (`name`, `dtype`).

    Kernels start Glorot-uniform, the recurrent kernel orthogonal, biases at zero (Keras' GRU
    defaults).

    Usage:

    >>> rule = CoordinatewiseGRU()
    >>> state = rule.init(params)
    >>> params, state = rule.step(params, grads, state)
    """

    rule_name = "gru"

    def __init__(
        self,
        state_size: int = 32,
        input_scale: float = 1.0,
        readout_stddev: float = 0.01,
        **kwargs: Any,
    ) -> None:
        if state_size < 1:
            raise ValueError(f"state_size must be >= 1, got {state_size}.")
        if input_scale <= 0:
            raise ValueError(f"input_scale must be > 0, got {input_scale}.")
        self.state_size = int(state_size)
        self.input_scale = float(input_scale)
        self.readout_stddev = float(readout_stddev)
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:
        n = self.state_size
        # Gate order along the last axis: z, r, h̃.
        self.kernel = self.add_weight(shape=(1, 3 * n), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(n, 3 * n), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(3 * n,), initializer="zeros", name="bias")
        self.readout_weights = self.add_weight(
            shape=(n,),
            initializer=keras.initializers.RandomNormal(stddev=self.readout_stddev),
            name="readout",
        )
        super().build(input_shape)

    def initial_state(self, dtype: tf.DType = tf.float32) -> tf.Tensor:
        """h(0) = 0, shape [N]."""
        return tf.zeros([self.state_size], dtype)

    def cell(self, h: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """F(h, g): states [..., N] and raw gradients [...] -> new states [..., N]."""
        dtype = h.dtype
        n = self.state_size
        u = self.input_scale * tf.cast(g, dtype)[..., None]  # [..., 1]
        kernel = tf.cast(self.kernel, dtype)[0]  # [3N]
        recurrent = tf.cast(self.recurrent_kernel, dtype)  # [N, 3N]
        bias = tf.cast(self.bias, dtype)
        from_input = u * kernel + bias  # [..., 3N]
        from_state = tf.tensordot(h, recurrent[:, : 2 * n], axes=1)  # [..., 2N]
        z = tf.sigmoid(from_input[..., :n] + from_state[..., :n])
        r = tf.sigmoid(from_input[..., n : 2 * n] + from_state[..., n:])
        reset_state = tf.tensordot(r * h, recurrent[:, 2 * n :], axes=1)  # [..., N]
        h_tilde = tf.tanh(from_input[..., 2 * n :] + reset_state)
        return z * h + (1.0 - z) * h_tilde

    def readout(self, h: tf.Tensor) -> tf.Tensor:
        """wᵀh: states [..., N] -> parameter updates [...]."""
        return tf.tensordot(h, tf.cast(self.readout_weights, h.dtype), axes=1)

    def hidden_states(self, state: State) -> tf.Tensor:
        """The per-coordinate states h held in a rule state, [n_params, N]."""
        return state["h"]

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        return {"h": per_coordinate(params, self.initial_state(params[0].dtype))}  # [n, N]

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        self._check_lists(params, grads)
        h = self.cell(state["h"], flat_coordinates(grads, params[0].dtype))  # [n, N]
        return add_per_coordinate(params, self.readout(h)), {"h": h}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "state_size": self.state_size,
                "input_scale": self.input_scale,
                "readout_stddev": self.readout_stddev,
            }
        )
        return config
