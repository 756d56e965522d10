"""Fixed points: found to tolerance, de-duplicated, exact for a linear momentum cell."""

import numpy as np
import pytest
import tensorflow as tf

from l2o_tf.analysis import find_fixed_points, fixed_point_line
from tests.analysis.rules_for_tests import LinearMomentumCell, random_gru


def _residual(rule, h, g):
    h = tf.constant(h, tf.float64)
    g = tf.fill([h.shape[0]], tf.constant(g, tf.float64))
    return np.linalg.norm(rule.cell(h, g).numpy() - h.numpy(), axis=1)


def test_momentum_cell_has_the_single_fixed_point_zero():
    rule = LinearMomentumCell(beta=0.9, alpha=0.1)
    starts = np.random.default_rng(0).normal(size=(16, 1))
    points = find_fixed_points(rule, starts)
    assert len(points) == 1
    np.testing.assert_allclose(points.states, [[0.0]], atol=1e-8)
    # For a constant input g the fixed point is αg / (1 − β).
    line = fixed_point_line(rule, [-1.0, 0.5], starts)
    np.testing.assert_allclose([p.states[0, 0] for p in line], [-1.0, 0.5], rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("g", [0.0, 0.7])
def test_gru_fixed_points_are_below_tolerance_and_distinct(seed, g):
    rule = random_gru(seed)
    starts = np.random.default_rng(seed).uniform(-1, 1, size=(64, rule.state_size))
    tolerance = 1e-9
    points = find_fixed_points(rule, starts, g=g, tolerance=tolerance, unique_tolerance=1e-5)
    assert len(points) >= 1
    residuals = _residual(rule, points.states, g)
    assert np.all(residuals < tolerance)
    np.testing.assert_allclose(points.residuals, residuals, atol=1e-12)
    distances = np.linalg.norm(points.states[:, None] - points.states[None], axis=-1)
    assert np.all(distances[~np.eye(len(points), dtype=bool)] > 1e-5)
    assert points.nearest(points.states[-1] + 1e-9) == len(points) - 1


def test_slow_points_are_rejected():
    rule = LinearMomentumCell(beta=1.0, alpha=1.0)  # h ← h + g: no fixed point for g ≠ 0
    assert len(find_fixed_points(rule, np.ones((4, 1)), g=0.5)) == 0
