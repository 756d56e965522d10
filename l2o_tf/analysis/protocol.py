"""What a rule exposes to be analyzed: the recurrent-rule protocol (dynamics paper eqs. 1-2).

A component-wise recurrent optimizer applies, to every scalar parameter x in parallel,

    h(k+1) = F(h(k), g(k))          x(k+1) = x(k) + r(h(k+1))

with a state h of size N, the scalar gradient g and a readout r (linear, wᵀh, in the
dynamics paper). The toolkit (`l2o_tf.analysis`) needs exactly these pieces, as methods:

    state_size: int                          N
    initial_state(dtype) -> [N]              h(0)
    cell(h, g) -> [..., N]                   F on states [..., N] and raw gradients [...]
    readout(h) -> [...]                      r, the update of x, from states [..., N]
    hidden_states(state) -> [n_params, N]    the per-coordinate states inside a rule state

`cell` and `readout` must be pure, differentiable TensorFlow functions that compute in the
dtype of `h` (the analysis runs in float64 and casts the meta-parameters), and take the *raw*
gradient: any fixed input scaling belongs inside `cell`, so the linearization is taken at
g* = 0 of the gradient itself. `CoordinatewiseGRU` (`l2o_tf/rules/gru.py`) implements it.

Adopting it elsewhere. A rule whose per-parameter update also depends on other inputs
exposes `cell` with those inputs held fixed: `ParameterRNNView` (`hierarchical.py`) does so
for the hierarchical RNN, whose element state is the Parameter-RNN state with the element's
momenta, mean squares, decays and log learning rate, and whose Tensor- and Global-RNN states
and tensor-wide means are held at chosen values; the fixed points, linearization, eigenmodes
and update functions then apply unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import tensorflow as tf


@runtime_checkable
class RecurrentRule(Protocol):
    """A component-wise recurrent update rule, as the analysis sees it (module docstring)."""

    state_size: int

    def initial_state(self, dtype: tf.DType = tf.float32) -> tf.Tensor: ...

    def cell(self, h: tf.Tensor, g: tf.Tensor) -> tf.Tensor: ...

    def readout(self, h: tf.Tensor) -> tf.Tensor: ...

    def hidden_states(self, state: Any) -> tf.Tensor: ...


def check_recurrent(rule: Any) -> RecurrentRule:
    """`rule` itself if it implements the protocol; a TypeError naming what is missing."""
    missing = [
        name
        for name in ("state_size", "initial_state", "cell", "readout", "hidden_states")
        if not hasattr(rule, name)
    ]
    if missing:
        raise TypeError(
            f"{type(rule).__name__} is not a recurrent rule the analysis can use: it lacks "
            f"{', '.join(missing)} (see l2o_tf/analysis/protocol.py)."
        )
    return rule
