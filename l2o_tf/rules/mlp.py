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

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.rules.base import Params, State, UpdateRule
from l2o_tf.rules.layout import Layout, compiling_with_xla

MOMENTUM_DECAYS = (0.5, 0.9, 0.99, 0.999, 0.9999)
TIME_SCALES = tuple(float(x) for x in np.geomspace(3.0, 3.0e5, 9))
# `_mlp_outputs` under XLA: the written-out form from this many columns on (below it the
# matrix form is faster: the two-moons MLP's 1 185 parameters took 6.0 instead of 4.0 ms
# per 50-step unroll written out).
ELEMENTWISE_MIN_COLUMNS = 4096


def _mlp_outputs(
    x: tf.Tensor,
    kernel: tf.Tensor,
    bias: tf.Tensor,
    output_kernel: tf.Tensor,
    output_bias: tf.Tensor,
) -> tf.Tensor:
    """W2ᵀ ReLU(W1ᵀ x + b1) + b2 for every column of x ([F, n]; W1 [F, H], b1 [H, 1], W2
    [H, O], b2 [O, 1]): [O, n].

    Two matrix products without XLA. Under XLA (`compiling_with_xla`) the same sums written
    out per hidden unit (`_elementwise_mlp`), so that the whole network is one elementwise
    loop over n and the [H, n] hidden layer is never stored: with H = 32 for each of the
    seed-002 CNN's 19 722 parameters that array, written and read back, was most of the step
    (the Keras adapter's update 1.08 → 0.90 ms, 2026-11-25); written out without XLA it would
    be hundreds of small ops.
    """
    if compiling_with_xla() and x.shape[1] >= ELEMENTWISE_MIN_COLUMNS:
        return _elementwise_mlp(x, kernel, bias, output_kernel, output_bias)
    hidden = tf.nn.relu(tf.matmul(kernel, x, transpose_a=True) + bias)  # [H, n]
    return tf.matmul(output_kernel, hidden, transpose_a=True) + output_bias


@tf.custom_gradient
def _elementwise_mlp(
    x: tf.Tensor,
    kernel: tf.Tensor,
    bias: tf.Tensor,
    output_kernel: tf.Tensor,
    output_bias: tf.Tensor,
) -> tuple[tf.Tensor, Callable[[tf.Tensor], tuple[tf.Tensor, ...]]]:
    """`_mlp_outputs` as sums over the rows of x, one hidden unit at a time. Its gradient is
    the matrix form's (the hidden layer recomputed by one product): differentiating the
    written-out sums would take a reduction over n per weight."""
    rows = tf.unstack(x)
    outputs = tf.unstack(output_bias[:, 0])
    for j in range(kernel.shape[1]):
        pre = tf.add_n([row * kernel[f, j] for f, row in enumerate(rows)]) + bias[j, 0]
        hidden = tf.nn.relu(pre)
        outputs = [o + hidden * output_kernel[j, k] for k, o in enumerate(outputs)]

    def grad(d_out: tf.Tensor) -> tuple[tf.Tensor, ...]:  # d_out [O, n]
        pre = tf.matmul(kernel, x, transpose_a=True) + bias  # [H, n]
        hidden = tf.nn.relu(pre)
        d_pre = tf.where(pre > 0, tf.matmul(output_kernel, d_out), tf.zeros([], x.dtype))
        return (
            tf.matmul(kernel, d_pre),
            tf.matmul(x, d_pre, transpose_b=True),
            tf.reduce_sum(d_pre, 1, keepdims=True),
            tf.matmul(hidden, d_out, transpose_b=True),
            tf.reduce_sum(d_out, 1, keepdims=True),
        )

    return tf.stack(outputs), grad


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
        """One D.1 step, on groups of tensors (`Layout.groups`) in feature-major layout
        ([features, n]).

        The tensors of a group are concatenated along n, so a group costs one set of ops
        whatever the number of tensors in it: in an unrolled inner loop the backward pass
        costs per op, and with a set of ops per tensor the second-order meta-gradient of the
        two-moons MLP (6 tensors) took 4.35x its forward unroll instead of 3.05x. Two exact
        rewrites keep it cheap (no [N, 16] matrix is ever built): the time features are the
        same for every element, so their share of the hidden layer is folded into the hidden
        bias; and in a group of one tensor the per-tensor normalization scales the first-layer
        kernel (7 × 32 numbers) instead of the features (7 × n).
        """
        self._check_lists(params, grads)
        dtype = params[0].dtype
        t = state["t"]
        k = len(self.momentum_decays)
        kernel = tf.cast(self.hidden_kernel, dtype)  # [16, H]
        input_kernel, time_kernel = kernel[: 2 + k], kernel[2 + k :]  # [7, H], [9, H]
        time_scales = tf.constant(self.time_scales, dtype, shape=[len(self.time_scales)])
        time = tf.tanh(t / time_scales - 1.0)  # [9]
        hidden_bias = tf.cast(self.hidden_bias, dtype) + tf.linalg.matvec(
            time_kernel, time, transpose_a=True
        )  # [H]
        hidden_bias = hidden_bias[:, None]  # [H, 1]
        output_kernel = tf.cast(self.output_kernel, dtype)  # [H, 2]
        output_bias = tf.cast(self.output_bias, dtype)[:, None]  # [2, 1]
        decay = tf.constant(self.momentum_decays, dtype, shape=[k, 1])
        sizes = Layout.static_sizes(params)
        new_params: list[tf.Tensor] = list(params)
        new_momenta: list[tf.Tensor] = list(state["momenta"])
        for group in Layout.groups(sizes):
            layout = Layout([sizes[i] for i in group])

            def rows(tensors: Sequence[tf.Tensor], num_rows: int) -> tf.Tensor:
                return layout.join(
                    [tf.reshape(tf.cast(tensors[i], dtype), [num_rows, sizes[i]]) for i in group],
                    1,
                )  # [num_rows, n]

            g, p = rows(grads, 1), rows(params, 1)
            m = decay * rows(state["momenta"], k) + (1.0 - decay) * g  # [K, n]
            columns = tf.concat([g, p, m], 0)  # [7, n]
            scale = tf.math.rsqrt(layout.mean(tf.square(columns), 1) + self.epsilon)  # [7, T]
            if layout.num_tensors == 1:
                first_kernel = input_kernel * scale
            else:
                first_kernel, columns = input_kernel, columns * layout.broadcast(scale, 1)
            o_exp, o_lin = tf.unstack(
                _mlp_outputs(columns, first_kernel, hidden_bias, output_kernel, output_bias)
            )
            delta = tf.exp(self.exp_scale * o_exp) * (self.lin_scale * o_lin)  # [n]
            for i, p_i, m_i in zip(group, layout.split(p[0] - delta), layout.split(m, 1)):
                new_params[i] = tf.reshape(p_i, params[i].shape)
                new_momenta[i] = tf.reshape(m_i, state["momenta"][i].shape)
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
