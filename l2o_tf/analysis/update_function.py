"""Update functions and gradient densities (dynamics paper App. A, Fig. 6; spec "Analysis" 5).

The update function at a state h is the one-step update of x as a function of the scalar
gradient, Δx(g) = r(F(h, g)); plain gradient descent makes it linear, gradient clipping makes
it saturate. It is read off the rule with `update_function`, at the initial state h(0) by
default. Below it the paper shows the empirical density of the gradients the optimizer meets
on a task (`gradient_density`, over the gradients of recorded trajectories,
`l2o_tf.analysis.trajectories`), to see whether they fall in the linear or the saturating
part.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from l2o_tf.analysis.protocol import RecurrentRule, check_recurrent


def update_function(
    rule: RecurrentRule, gradients: np.ndarray, h: np.ndarray | None = None
) -> np.ndarray:
    """Δx(g) = r(F(h, g)) for every g in `gradients` ([G]) at the state `h` ([N], default
    h(0)); float64."""
    rule = check_recurrent(rule)
    if h is None:
        h = rule.initial_state(tf.float64)
    g = tf.constant(np.asarray(gradients, dtype=np.float64))
    states = tf.broadcast_to(tf.cast(h, tf.float64), [g.shape[0], rule.state_size])
    return rule.readout(rule.cell(states, g)).numpy()


def update_linear_range(
    rule: RecurrentRule,
    limit: float,
    h: np.ndarray | None = None,
    tolerance: float = 0.05,
    points: int = 1001,
) -> float:
    """The largest |g| ≤ `limit` up to which Δx(g) − Δx(0) at the state `h` (default h(0))
    stays within `tolerance` (relative) of its tangent Δx'(0) g: the range of gradients in
    which the rule is a linear filter at h; `limit` if it never leaves it. Read off a grid
    of `points` gradients on [−limit, limit] (odd, so that g = 0 is on it)."""
    if points % 2 == 0:
        raise ValueError(f"points must be odd (g = 0 on the grid), got {points}.")
    g = np.linspace(-limit, limit, points)
    g[points // 2] = 0.0  # linspace leaves round-off there (2e-16 for some limits)
    delta = update_function(rule, g, h)
    eps = 1e-6 * limit
    slope = np.diff(update_function(rule, np.array([-eps, eps]), h))[0] / (2 * eps)
    change, tangent = delta - delta[points // 2], slope * g
    bent = np.abs(change - tangent) > tolerance * np.abs(tangent)
    return float(np.min(np.abs(g[bent]), initial=limit))


def gradient_density(
    gradients: np.ndarray, bins: int = 101, limit: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram density of `gradients` (any shape) on [−limit, limit] (default the largest
    |g|): returns the bin centers and the densities, [bins] each."""
    g = np.ravel(np.asarray(gradients, dtype=np.float64))
    g = g[np.isfinite(g)]
    if limit is None:
        limit = float(np.max(np.abs(g))) if g.size else 1.0
    density, edges = np.histogram(g, bins=bins, range=(-limit, limit), density=True)
    return 0.5 * (edges[:-1] + edges[1:]), density
