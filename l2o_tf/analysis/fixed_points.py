"""Fixed points of a recurrent rule's state update (dynamics paper App. C; spec "Analysis" 1).

A fixed point for the input g is a state h* with F(h*, g) = h*. As in Sussillo & Barak
(2013) they are found by minimizing the speed q(h) = ½‖F(h, g) − h‖² from many initial
states (e.g. states visited along optimization trajectories). q is a sum of squares of the
residual ρ(h) = F(h, g) − h, so the minimizer here is Levenberg–Marquardt (damped
Gauss–Newton), run on every start at once in float64:

    A = ∂ρ/∂h = J − I,    Δ = −(AᵀA + μ I)⁻¹ Aᵀ ρ,
    h ← h + Δ and μ ← μ / 3 when q decreases, else μ ← 3 μ        (per start)

It converges quadratically to isolated fixed points and stays well defined where J − I is
singular (lines of fixed points). Minima with ‖ρ(h)‖ < `tolerance` are fixed points; the rest
(slow points, failed starts) are dropped, and points closer than `unique_tolerance` to a kept
one of lower speed are merged. For a family of inputs, `fixed_point_line` traces the fixed
points over a range of g, warm-starting each g from the points of the previous one.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.analysis.protocol import RecurrentRule, check_recurrent

_DAMPING_RANGE = (1e-12, 1e12)


@dataclasses.dataclass
class FixedPoints:
    """The distinct fixed points found for one input g.

    Attributes:
        g: the input.
        states: h*, one per row, ordered by residual. [K, N]
        residuals: ‖F(h*, g) − h*‖ of each. [K]
    """

    g: float
    states: np.ndarray
    residuals: np.ndarray

    def __len__(self) -> int:
        return len(self.states)

    def nearest(self, h: np.ndarray) -> int:
        """The index of the fixed point closest (Euclidean) to the state `h` ([N])."""
        if not len(self):
            raise ValueError(f"No fixed point was found for g = {self.g}.")
        return int(np.argmin(np.linalg.norm(self.states - h, axis=1)))


def residual_function(rule: RecurrentRule) -> Callable:
    """The compiled `(h [K, N], g [K]) -> (ρ [K, N], ∂ρ/∂h [K, N, N])` of `rule`."""
    rule = check_recurrent(rule)

    @tf.function
    def residual_and_jacobian(h, g):
        with tf.GradientTape() as tape:
            tape.watch(h)
            rho = rule.cell(h, g) - h
        return rho, tape.batch_jacobian(rho, h)

    return residual_and_jacobian


def find_fixed_points(
    rule: RecurrentRule,
    initial_states: np.ndarray,
    g: float = 0.0,
    tolerance: float = 1e-8,
    unique_tolerance: float = 1e-4,
    max_iterations: int = 200,
    residual_fn: Callable | None = None,
) -> FixedPoints:
    """Fixed points of F(·, g) reached from `initial_states` ([K, N]).

    Args:
        rule: a recurrent rule (`l2o_tf.analysis.protocol`).
        initial_states: where the minimizations start, one per row.
        g: the constant input. Default 0 (g* of the dynamics paper).
        tolerance: a minimum h is kept when ‖F(h, g) − h‖ < tolerance. Default 1e-8.
        unique_tolerance: fixed points closer than this are one. Default 1e-4.
        max_iterations: Levenberg–Marquardt iterations at most. Default 200.
        residual_fn: `residual_function(rule)`, to reuse one trace over many calls.
    """
    residual_fn = residual_fn or residual_function(rule)
    h = np.array(initial_states, dtype=np.float64, ndmin=2)
    inputs = tf.fill([h.shape[0]], tf.constant(g, tf.float64))

    def evaluate(h):
        rho, a = residual_fn(tf.constant(h), inputs)
        return rho.numpy(), a.numpy()

    rho, a = evaluate(h)
    speed = 0.5 * np.sum(rho**2, axis=1)
    damping = np.full(h.shape[0], 1e-3)
    eye = np.eye(h.shape[1])
    for _ in range(max_iterations):
        if np.all(np.sqrt(2.0 * speed) < tolerance):
            break
        a_t = np.swapaxes(a, 1, 2)
        normal = a_t @ a + damping[:, None, None] * eye
        delta = -np.linalg.solve(normal, (a_t @ rho[..., None]))[..., 0]
        rho_new, a_new = evaluate(h + delta)
        speed_new = 0.5 * np.sum(rho_new**2, axis=1)
        better = speed_new < speed
        h[better] += delta[better]
        rho[better], a[better], speed[better] = rho_new[better], a_new[better], speed_new[better]
        damping = np.clip(np.where(better, damping / 3.0, damping * 3.0), *_DAMPING_RANGE)
    return _distinct(g, h, np.sqrt(2.0 * speed), tolerance, unique_tolerance)


def _distinct(
    g: float, states: np.ndarray, residuals: np.ndarray, tolerance: float, unique_tolerance: float
) -> FixedPoints:
    """The states with residual < tolerance, merged within unique_tolerance (lowest kept)."""
    kept: list[int] = []
    for i in np.argsort(residuals):
        if residuals[i] >= tolerance:
            break
        if all(np.linalg.norm(states[i] - states[j]) > unique_tolerance for j in kept):
            kept.append(i)
    return FixedPoints(g, states[kept], residuals[kept])


def fixed_point_line(
    rule: RecurrentRule,
    inputs: Sequence[float],
    initial_states: np.ndarray,
    **kwargs,
) -> list[FixedPoints]:
    """Fixed points for each g in `inputs` (in order), each search starting from
    `initial_states` and from the fixed points of the previous g. Keyword arguments as
    `find_fixed_points`."""
    residual_fn = residual_function(rule)
    initial_states = np.array(initial_states, dtype=np.float64, ndmin=2)
    previous = initial_states[:0]
    line = []
    for g in inputs:
        starts = np.concatenate([initial_states, previous])
        points = find_fixed_points(rule, starts, float(g), residual_fn=residual_fn, **kwargs)
        line.append(points)
        previous = points.states
    return line
