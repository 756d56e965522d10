"""Learning-rate schedules and learning-rate adaptation read off a recurrent rule.

The dynamics paper's main text (spec "Analysis" 6) reads two more mechanisms off a trained
optimizer, both through the *effective learning rate* at a state h and input g*: the slope
of the one-step update with respect to the gradient,

    lr(h, g*) = −∂ r(F(h, g)) / ∂g  at g = g*,

(plain gradient descent with step α has lr = α everywhere; momentum h ← βh + αg, Δx = −h
also has lr = α: the *immediate* response to the current gradient).

- Schedules: lr(h(k), 0) along the states h(k) an optimizer visits over iterations k
  (`effective_learning_rates` on `Recorder` states): a rising curve is a warm-up, a falling
  one a decay.
- Adaptation: after a long run of constant gradient g the state sits at the fixed point
  h*(g) of F(·, g) (`fixed_point_line`); lr(h*(g), g) against |g| shows how the step
  responds to rescaled gradients. A constant curve is plain momentum; lr ∝ 1/|g| is the
  normalization of RMSProp/Adam (the step no longer depends on the gradient's scale).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.analysis.fixed_points import fixed_point_line
from l2o_tf.analysis.protocol import RecurrentRule, check_recurrent


def effective_learning_rates(
    rule: RecurrentRule, states: np.ndarray, g: float | np.ndarray = 0.0
) -> np.ndarray:
    """lr(h, g) = −∂ r(F(h, g))/∂g for every state in `states` ([..., N]); float64, shape
    [...]. `g` is a scalar or broadcasts to the states' leading shape."""
    rule = check_recurrent(rule)
    states = np.asarray(states, dtype=np.float64)
    if states.shape[-1] != rule.state_size:
        raise ValueError(
            f"states have {states.shape[-1]} units in their last axis; the rule's state has "
            f"{rule.state_size}."
        )
    leading = states.shape[:-1]
    h = tf.constant(states.reshape(-1, rule.state_size))
    inputs = tf.constant(np.broadcast_to(np.asarray(g, np.float64), leading).reshape(-1))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        update = rule.readout(rule.cell(h, inputs))
    slopes = tape.gradient(update, inputs)
    return -slopes.numpy().reshape(leading)


def learning_rate_adaptation(
    rule: RecurrentRule,
    gradients: Sequence[float],
    initial_states: np.ndarray,
    **kwargs,
) -> list[np.ndarray]:
    """Effective learning rates lr(h*(g), g) at the fixed points h*(g) of F(·, g), for each
    constant gradient g in `gradients` (one array per g, one entry per distinct fixed point;
    empty where none was found). Keyword arguments go to `find_fixed_points`."""
    line = fixed_point_line(check_recurrent(rule), gradients, initial_states, **kwargs)
    return [
        effective_learning_rates(rule, points.states, points.g)
        if len(points)
        else np.zeros([0])
        for points in line
    ]
