"""Recurrent rules with known dynamics, for checking the analysis toolkit."""

import numpy as np
import tensorflow as tf

from l2o_tf.rules import CoordinatewiseGRU


class LinearMomentumCell:
    """Heavy-ball momentum as a 1-unit linear recurrent rule: h ← βh + αg, Δx = −h.

    With h = α m this is m ← βm + g, x ← x − α m: one mode, timescale β, learning rate α.
    """

    state_size = 1

    def __init__(self, beta: float, alpha: float) -> None:
        self.beta, self.alpha = beta, alpha

    def initial_state(self, dtype=tf.float32):
        return tf.zeros([1], dtype)

    def cell(self, h, g):
        return self.beta * h + self.alpha * tf.cast(g, h.dtype)[..., None]

    def readout(self, h):
        return -h[..., 0]

    def hidden_states(self, state):
        return state["h"]


def random_gru(seed: int = 0, state_size: int = 8, gain: float = 2.0) -> CoordinatewiseGRU:
    """A GRU with random N(0, gain²/N) recurrent weights, random biases and readout."""
    rule = CoordinatewiseGRU(state_size=state_size)
    rng = np.random.default_rng(seed)
    for w in rule.weights:
        scale = gain / np.sqrt(state_size) if w.shape.rank == 2 else 0.5
        w.assign(rng.normal(scale=scale, size=w.shape))
    return rule


class NormalizedCell:
    """RMSProp as a 2-unit recurrent rule: v ← ρv + (1 − ρ)g², u = αg/√(v + ε), Δx = −u.

    At the fixed point of a constant gradient g, v* = g², and the slope of the update in g is
    α(ρg² + ε)/(g² + ε)^{3/2} ≈ αρ/|g|: a learning rate that adapts to the gradient's scale.
    """

    state_size = 2

    def __init__(self, rho: float, alpha: float, epsilon: float = 1e-12) -> None:
        self.rho, self.alpha, self.epsilon = rho, alpha, epsilon

    def initial_state(self, dtype=tf.float32):
        return tf.zeros([2], dtype)

    def cell(self, h, g):
        g = tf.cast(g, h.dtype)
        v = self.rho * h[..., 0] + (1.0 - self.rho) * g**2
        return tf.stack([v, self.alpha * g / tf.sqrt(v + self.epsilon)], axis=-1)

    def readout(self, h):
        return -h[..., 1]

    def hidden_states(self, state):
        return state["h"]


class WarmupCell:
    """A learning-rate warm-up: a counter c ← c + 1 and a step Δx = −α tanh(c/τ) g."""

    state_size = 2

    def __init__(self, alpha: float, tau: float) -> None:
        self.alpha, self.tau = alpha, tau

    def initial_state(self, dtype=tf.float32):
        return tf.zeros([2], dtype)

    def cell(self, h, g):
        c = h[..., 0] + 1.0
        return tf.stack([c, self.alpha * tf.tanh(c / self.tau) * tf.cast(g, h.dtype)], axis=-1)

    def readout(self, h):
        return -h[..., 1]

    def hidden_states(self, state):
        return state["h"]
