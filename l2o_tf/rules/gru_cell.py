"""The GRU cell with an external bias shared by every level of the hierarchical RNN.

Wichrowska et al. 2017 §3.1 use a GRU (Cho et al. 2014) at all three levels; the level above
feeds its state down as an extra bias e = [e_r, e_u, e_c] (seed 001 spec, "The GRU cell with
an external bias"):

    r  = σ(W_r [x, h] + b_r + e_r)
    u  = σ(W_u [x, h] + b_u + e_u)              # u is the *keep* gate
    c  = tanh(W_c [x, r ⊙ h] + b_c + e_c)
    h' = u ⊙ h + (1 − u) ⊙ c

Initialization (the release's): weights Normal(0, 0.5/√fan_in) with fan_in = inputs + units,
reset and keep gate biases 2.2 (gates ≈ 0.90), candidate bias 0. The weight matrix over
[x, h] is stored as its two blocks, `input_kernel` ([inputs, 3H]) and `recurrent_kernel`
([H, 3H]), columns ordered r, u, c.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

GATE_BIAS = 2.2
WEIGHT_SCALE = 0.5


def scaled_normal(fan_in: int) -> keras.initializers.Initializer:
    """Normal(0, 0.5/√fan_in), the release's initializer of every weight matrix."""
    return keras.initializers.RandomNormal(stddev=WEIGHT_SCALE / math.sqrt(fan_in))


class GRUCell(keras.layers.Layer):
    """One GRU step on a batch of rows, with an optional external bias.

    Args:
        units: H, the state size.
        input_size: the width of the input x.
        **kwargs: Keras layer arguments (`name`, `dtype`).

    Usage:

    >>> cell = GRUCell(units=10, input_size=9)
    >>> h = cell.next_state(x, h)                  # x: [rows, 9], h: [rows, 10]
    >>> h = cell.next_state(x, h, external_bias)   # external_bias: [rows or 1, 30]
    >>> h_t = cell.next_state(x_t, h_t, feature_axis=0)   # feature-major: [9, n], [10, n]
    """

    def __init__(self, units: int, input_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.input_size = int(input_size)
        self.build()

    def build(self, input_shape: Any = None) -> None:
        h = self.units
        initializer = scaled_normal(self.input_size + h)
        self.input_kernel = self.add_weight(
            shape=(self.input_size, 3 * h), initializer=initializer, name="input_kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(h, 3 * h), initializer=initializer, name="recurrent_kernel"
        )
        self.bias = self.add_weight(
            shape=(3 * h,),
            initializer=keras.initializers.Constant(
                np.concatenate([np.full(2 * h, GATE_BIAS), np.zeros(h)])
            ),
            name="bias",
        )
        super().build(input_shape)

    def next_state(
        self,
        x: tf.Tensor,
        h: tf.Tensor,
        external_bias: tf.Tensor | None = None,
        feature_axis: int = 1,
    ) -> tf.Tensor:
        """h' for inputs x ([rows, inputs]) and state h ([rows, H]), external_bias [rows or 1,
        3H]; pure. With `feature_axis=0` the same rows stored feature-major: xᵀ [inputs, n],
        hᵀ [H, n], bias [3H, n or 1], returning h'ᵀ [H, n]."""
        dtype = x.dtype
        units = self.units
        w_x = tf.cast(self.input_kernel, dtype)  # [inputs, 3H]
        w_h = tf.cast(self.recurrent_kernel, dtype)  # [H, 3H]
        bias = tf.cast(self.bias, dtype)  # [3H]

        def linear(a: tf.Tensor, w: tf.Tensor) -> tf.Tensor:  # a W along the feature axis
            return tf.matmul(a, w) if feature_axis == 1 else tf.matmul(w, a, transpose_a=True)

        def features(a: tf.Tensor, start: int, stop: int) -> tf.Tensor:
            return a[:, start:stop] if feature_axis == 1 else a[start:stop]

        if feature_axis == 0:
            bias = bias[:, None]  # [3H, 1]
        if external_bias is not None:
            bias = bias + external_bias
        pre = linear(x, w_x) + bias  # 3H features: r, u, c
        gates = tf.sigmoid(features(pre, 0, 2 * units) + linear(h, w_h[:, : 2 * units]))
        r, u = features(gates, 0, units), features(gates, units, 2 * units)
        c = tf.tanh(features(pre, 2 * units, 3 * units) + linear(r * h, w_h[:, 2 * units :]))
        return u * h + (1.0 - u) * c

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units, "input_size": self.input_size})
        return config
