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
