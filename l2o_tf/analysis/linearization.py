"""Linearization of a recurrent rule around a state (dynamics paper App. C, eq. 3).

Near (h*, g*) the state update and the readout are, to first order,

    F(h, g) ≈ F(h*, g*) + J (h − h*) + b (g − g*),     J = ∂F/∂h,  b = ∂F/∂g
    r(h)    ≈ r(h*) + wᵀ (h − h*),                       w = ∂r/∂h

all taken by automatic differentiation in float64. At a fixed point F(h*, g*) = h*, which is
eq. (3) of the paper; r(h*) is the constant update the optimizer makes there (`drift`, zero
for an optimizer that stops at a minimum; eq. (5)'s additive constant). For the paper's
linear readout w is the readout vector itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from l2o_tf.analysis.protocol import RecurrentRule, check_recurrent


@dataclasses.dataclass
class Linearization:
    """First-order model of one rule around (h*, g*) (module docstring).

    Attributes:
        h_star: the expansion state h*. [N]
        g_star: the expansion input g*.
        f_star: F(h*, g*), equal to h* at a fixed point. [N]
        jacobian: J = ∂F/∂h. [N, N]
        input_vector: b = ∂F/∂g. [N]
        readout_vector: w = ∂r/∂h at h*. [N]
        drift: r(h*), the update of x at h*.
    """

    h_star: np.ndarray
    g_star: float
    f_star: np.ndarray
    jacobian: np.ndarray
    input_vector: np.ndarray
    readout_vector: np.ndarray
    drift: float

    def step(self, h: np.ndarray, g: np.ndarray | float) -> np.ndarray:
        """The linearized one-step map F(h*, g*) + J (h − h*) + b (g − g*) on states [..., N]."""
        g = np.asarray(g, dtype=np.float64)[..., None]
        return (
            self.f_star
            + (np.asarray(h) - self.h_star) @ self.jacobian.T
            + (g - self.g_star) * self.input_vector
        )


def linearize(rule: RecurrentRule, h_star: np.ndarray, g_star: float = 0.0) -> Linearization:
    """J, b, w and the constants of `rule` at (`h_star` [N], `g_star`)."""
    rule = check_recurrent(rule)
    h = tf.constant(np.asarray(h_star, dtype=np.float64)[None])  # [1, N]
    g = tf.constant([float(g_star)], tf.float64)  # [1]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([h, g])
        f = rule.cell(h, g)  # [1, N]
        update = rule.readout(h)  # [1]
    jacobian = tape.batch_jacobian(f, h)[0]
    input_vector = tape.jacobian(f, g)[0, :, 0]
    readout_vector = tape.gradient(update, h)[0]
    return Linearization(
        h_star=h.numpy()[0],
        g_star=float(g_star),
        f_star=f.numpy()[0],
        jacobian=jacobian.numpy(),
        input_vector=input_vector.numpy(),
        readout_vector=readout_vector.numpy(),
        drift=float(update[0]),
    )
