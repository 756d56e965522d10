"""The per-parameter MLP optimizer of Metz et al. 2019 (seed 002), §4.1 and App. D.1.

Every scalar of every tensor is fed, as one row of a batch, through the same small MLP:

    features  = [g, w, m_0.5, m_0.9, m_0.99, m_0.999, m_0.9999]   normalized per tensor
              ⊕ [tanh(t/η_j − 1) for 9 η_j log-spaced in (3, 300 000)]        # [n, 16]
    o1, o2    = Dense(2)(ReLU(Dense(32)(features)))
    Δw        = exp(λexp · o1) · λlin · o2,      λexp = λlin = 1e-3
    w        ← w − Δw

with m_β ← β m_β + (1 − β) g. Each non-time feature is divided by the root of its mean
square over the elements of its own tensor (plus ε = `epsilon`, a choice the paper leaves
open). This follows the paper (5 decays, 9 time scales, one hidden layer), not the public
`learned_optimization` defaults (6 decays incl. 0.1, 11 time scales, two hidden layers).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.rules.base import Params, State, UpdateRule

MOMENTUM_DECAYS = (0.5, 0.9, 0.99, 0.999, 0.9999)
TIME_SCALES = tuple(float(x) for x in np.geomspace(3.0, 3.0e5, 9))


class MLPRule(UpdateRule):
    """Per-parameter MLP update rule (Metz et al. 2019, App. D.1).

    Args:
        hidden_units: width of the single ReLU hidden layer. Default 32.
        momentum_decays: decays β of the momentum features. Default
            (0.5, 0.9, 0.99, 0.999, 0.9999).
        time_scales: η of the time features tanh(t/η − 1). Default 9 values
            log-spaced from 3 to 300 000.
        exp_scale: λexp, multiplies o1 inside the exponential. Default 1e-3.
        lin_scale: λlin, multiplies o2. Default 1e-3.
        epsilon: added to the mean square in the per-tensor normalization. Default 1e-12.
        **kwargs: Keras layer arguments (`name`, `dtype`).

    Usage:

    >>> rule = MLPRule()
    >>> state = rule.init(params)
    >>> params, state = rule.step(params, grads, state)
    """

    rule_name = "mlp"

    def __init__(
        self,
        hidden_units: int = 32,
        momentum_decays: Sequence[float] = MOMENTUM_DECAYS,
        time_scales: Sequence[float] = TIME_SCALES,
        exp_scale: float = 1e-3,
        lin_scale: float = 1e-3,
        epsilon: float = 1e-12,
        **kwargs: Any,
    ) -> None:
        self.hidden_units = int(hidden_units)
        self.momentum_decays = tuple(float(b) for b in momentum_decays)
        self.time_scales = tuple(float(e) for e in time_scales)
        self.exp_scale = float(exp_scale)
        self.lin_scale = float(lin_scale)
        self.epsilon = float(epsilon)
        super().__init__(**kwargs)

    @property
    def num_features(self) -> int:
        return 2 + len(self.momentum_decays) + len(self.time_scales)

    def build(self, input_shape: Any = None) -> None:
        self.hidden_kernel = self.add_weight(
            shape=(self.num_features, self.hidden_units),
            initializer="glorot_uniform",
            name="hidden_kernel",
        )
        self.hidden_bias = self.add_weight(
            shape=(self.hidden_units,), initializer="zeros", name="hidden_bias"
        )
        self.output_kernel = self.add_weight(
            shape=(self.hidden_units, 2), initializer="glorot_uniform", name="output_kernel"
        )
        self.output_bias = self.add_weight(
            shape=(2,), initializer="zeros", name="output_bias"
        )
        super().build(input_shape)

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        k = len(self.momentum_decays)
        return {
            "t": tf.zeros([], params[0].dtype),
            "momenta": [tf.zeros([k] + p.shape.as_list(), p.dtype) for p in params],
        }

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        """One D.1 step, per tensor in feature-major layout ([features, n]).

        Two exact rewrites keep it cheap (no [N, 16] matrix is ever built): the time
        features are the same for every row, so their share of the hidden layer is folded
        into the hidden bias; and the per-tensor normalization scales the first-layer
        kernel (7 × 32 numbers) instead of the features (7 × n).
        """
        self._check_lists(params, grads)
        dtype = params[0].dtype
        t = state["t"]
        k = len(self.momentum_decays)
        kernel = tf.cast(self.hidden_kernel, dtype)  # [16, H]
        input_kernel, time_kernel = kernel[: 2 + k], kernel[2 + k :]  # [7, H], [9, H]
        time = tf.tanh(t / tf.constant(self.time_scales, dtype) - 1.0)  # [9]
        hidden_bias = tf.cast(self.hidden_bias, dtype) + tf.linalg.matvec(
            time_kernel, time, transpose_a=True
        )  # [H]
        output_kernel = tf.cast(self.output_kernel, dtype)  # [H, 2]
        output_bias = tf.cast(self.output_bias, dtype)[:, None]  # [2, 1]
        decays = tf.constant(self.momentum_decays, dtype)
        new_params, new_momenta = [], []
        for p, g, m in zip(params, grads, state["momenta"]):
            g = tf.cast(g, dtype)
            decay = tf.reshape(decays, [-1] + [1] * g.shape.rank)
            m = decay * m + (1.0 - decay) * g[None]  # [K, *shape]
            new_momenta.append(m)
            columns = tf.concat(
                [tf.reshape(g, [1, -1]), tf.reshape(p, [1, -1]), tf.reshape(m, [k, -1])], axis=0
            )  # [7, n]
            scale = tf.math.rsqrt(tf.reduce_mean(tf.square(columns), axis=1) + self.epsilon)
            hidden = tf.nn.relu(
                tf.matmul(input_kernel * scale[:, None], columns, transpose_a=True)
                + hidden_bias[:, None]
            )  # [H, n]
            out = tf.matmul(output_kernel, hidden, transpose_a=True) + output_bias  # [2, n]
            delta = tf.exp(self.exp_scale * out[0]) * self.lin_scale * out[1]  # [n]
            new_params.append(p - tf.reshape(delta, tf.shape(p)))
        return new_params, {"t": t + 1.0, "momenta": new_momenta}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "hidden_units": self.hidden_units,
                "momentum_decays": list(self.momentum_decays),
                "time_scales": list(self.time_scales),
                "exp_scale": self.exp_scale,
                "lin_scale": self.lin_scale,
                "epsilon": self.epsilon,
            }
        )
        return config
