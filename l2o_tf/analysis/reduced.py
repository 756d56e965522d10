"""The reduced linear optimizer: a few eigenmodes run on their own (dynamics paper App. B,
Fig. 7c; spec "Analysis" 4).

Keeping the modes j ∈ K of a linearization (`l2o_tf.analysis.eigenmodes`), every scalar
parameter is optimized by the decoupled linear system

    v_j(k+1) = β_j v_j(k) + α_j g(k),        j ∈ K
    x(k+1)   = x(k) + r(h*) + Re Σ_{j∈K} c_j v_j(k+1),       c_j = wᵀ r_j

(momentum with |K| timescales, "aggregated momentum"), started from the projection
v_j(0) = u_jᵀ (h(0) − h*) of the full rule's initial state, so that with every mode kept it
is exactly the linearized optimizer. It is an `UpdateRule` without meta-parameters, so its
loss curves come from the same inner loop (`trainers.unroll`) as the full rule's.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.analysis.eigenmodes import Eigenmodes
from l2o_tf.analysis.linearization import Linearization
from l2o_tf.rules.base import Params, State, UpdateRule
from l2o_tf.rules.gru import add_per_coordinate, flat_coordinates, per_coordinate


class ReducedLinearRule(UpdateRule):
    """The linear optimizer of the modes `indices` (module docstring).

    Args:
        linearization: the linearization the modes come from (h*, r(h*)).
        modes: its eigenmodes.
        indices: the kept modes; complex modes need their conjugate partner
            (`Eigenmodes.select` adds it).
        initial_state: h(0) of the full rule, [N].
        **kwargs: Keras layer arguments (`name`, `dtype`).
    """

    rule_name = "reduced_linear"

    def __init__(
        self,
        linearization: Linearization,
        modes: Eigenmodes,
        indices: Sequence[int],
        initial_state: np.ndarray,
        **kwargs: Any,
    ) -> None:
        indices = np.asarray(indices, dtype=int)
        if indices.size == 0:
            raise ValueError("Keep at least one mode.")
        self.indices = indices
        self.beta = modes.eigenvalues[indices]
        self.alpha = modes.alpha[indices]
        self.gains = modes.readout_gains[indices]
        self.v0 = modes.left[:, indices].T @ (np.asarray(initial_state) - linearization.h_star)
        self.drift = linearization.drift
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:  # no meta-parameters
        super().build(input_shape)

    def _complex(self, value: np.ndarray, dtype: tf.DType) -> tf.Tensor:
        return tf.constant(value, tf.complex128 if dtype == tf.float64 else tf.complex64)

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        return {"v": per_coordinate(params, self._complex(self.v0, params[0].dtype))}  # [n, |K|]

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        self._check_lists(params, grads)
        dtype = params[0].dtype
        g = flat_coordinates(grads, dtype)  # [n]
        beta, alpha = self._complex(self.beta, dtype), self._complex(self.alpha, dtype)
        v = beta * state["v"] + alpha * tf.cast(g, beta.dtype)[:, None]  # [n, |K|]
        readout = tf.linalg.matvec(v, self._complex(self.gains, dtype))  # [n]
        delta = tf.cast(self.drift, dtype) + tf.math.real(readout)
        return add_per_coordinate(params, delta), {"v": v}
