"""Linearization and eigenmodes: exact on momentum, finite differences on a random GRU."""

import numpy as np
import pytest
import tensorflow as tf

from l2o_tf.analysis import eigenmodes, find_fixed_points, linearize
from tests.analysis.rules_for_tests import LinearMomentumCell, random_gru


def _cell(rule, h, g):
    return rule.cell(tf.constant(h[None], tf.float64), tf.constant([g], tf.float64)).numpy()[0]


@pytest.mark.parametrize("beta, alpha", [(0.9, 0.1), (0.5, 2.0), (0.99, 1e-3)])
def test_momentum_cell_is_one_mode_with_its_timescale_and_learning_rate(beta, alpha):
    rule = LinearMomentumCell(beta=beta, alpha=alpha)
    h_star = find_fixed_points(rule, np.array([[3.0], [-1.0]])).states[0]
    modes = eigenmodes(linearize(rule, h_star))
    assert modes.eigenvalues.shape == (1,)
    np.testing.assert_allclose(modes.timescales, [beta], atol=1e-6)
    np.testing.assert_allclose(modes.learning_rates.real, [alpha], atol=1e-6)
    np.testing.assert_allclose(modes.learning_rates.imag, [0.0], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_gru_jacobians_match_finite_differences(seed):
    rule = random_gru(seed)
    rng = np.random.default_rng(seed)
    h, g = rng.uniform(-0.8, 0.8, size=rule.state_size), 0.3
    lin = linearize(rule, h, g)
    eps = 1e-6
    jacobian = np.stack(
        [
            (_cell(rule, h + eps * e, g) - _cell(rule, h - eps * e, g)) / (2 * eps)
            for e in np.eye(rule.state_size)
        ],
        axis=1,
    )
    input_vector = (_cell(rule, h, g + eps) - _cell(rule, h, g - eps)) / (2 * eps)
    np.testing.assert_allclose(lin.jacobian, jacobian, atol=1e-8)
    np.testing.assert_allclose(lin.input_vector, input_vector, atol=1e-8)
    np.testing.assert_allclose(lin.readout_vector, rule.readout_weights.numpy(), rtol=1e-12)
    # The linearized one-step map is first-order accurate: its error shrinks as the step².
    dh, dg = rng.normal(size=rule.state_size), 0.5
    errors = [
        np.linalg.norm(lin.step(h + s * dh, g + s * dg) - _cell(rule, h + s * dh, g + s * dg))
        for s in (1e-2, 1e-3)
    ]
    assert errors[1] < errors[0] / 50


def test_gru_modes_reconstruct_the_jacobian_and_are_scale_free():
    rule = random_gru(3)
    starts = np.random.default_rng(3).uniform(-1, 1, size=(32, rule.state_size))
    lin = linearize(rule, find_fixed_points(rule, starts).states[0])
    modes = eigenmodes(lin)
    np.testing.assert_allclose(modes.left.T @ modes.right, np.eye(rule.state_size), atol=1e-9)
    np.testing.assert_allclose(
        modes.left.T @ lin.jacobian, np.diag(modes.eigenvalues) @ modes.left.T, atol=1e-9
    )
    assert np.all(np.diff(modes.timescales) <= 1e-12)  # slowest first
    # lr_j does not depend on the scale of the eigenvectors, and real modes have real rates.
    real = np.abs(modes.eigenvalues.imag) < 1e-12
    assert np.all(np.abs(modes.learning_rates[real].imag) < 1e-12)
    picked = modes.select(3)
    conjugates = np.conj(modes.eigenvalues[picked])
    assert all(np.min(np.abs(modes.eigenvalues[picked] - c)) < 1e-9 for c in conjugates)
