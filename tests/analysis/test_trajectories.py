"""Recorder: the wrapped rule's run unchanged, with its gradients and states recorded; the
update function, its linear range, gradient densities."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf.analysis import Recorder, gradient_density, update_function, update_linear_range
from problems.base import as_seed, fold_in
from tests.analysis.rules_for_tests import LinearMomentumCell, random_gru
from trainers.unroll import unroll_from_init


def test_recorder_runs_the_rule_and_records_what_it_saw():
    rule = random_gru(0, state_size=4)
    rule.readout_weights.assign(0.05 * rule.readout_weights)
    problem = problems.get("two_moons", seed=1, hidden=[3], num_examples=16)
    recorder = Recorder(rule, 6)

    @tf.function
    def run(tensors, seed):
        plain = unroll_from_init(rule, problem, tensors, seed, 6)
        recorded = unroll_from_init(recorder, problem, tensors, seed, 6)
        return plain, recorded, recorder.trajectory(recorded.state)

    plain, recorded, trajectory = run(problem.tensors, as_seed(2))
    np.testing.assert_allclose(recorded.losses.numpy(), plain.losses.numpy(), rtol=1e-6)
    n = problem.num_params
    assert trajectory.gradients.shape == (6, n) and trajectory.states.shape == (6, n, 4)
    np.testing.assert_allclose(
        trajectory.states[-1].numpy(), recorded.state["inner"]["h"].numpy(), rtol=1e-6
    )
    # The first recorded gradient is the gradient at the initial parameters.
    params = problem.init_params(fold_in(as_seed(2), 0))  # as unroll_from_init draws them
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = problem.loss(params)
    first = np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, params)])
    np.testing.assert_allclose(trajectory.gradients[0].numpy(), first, rtol=1e-5, atol=1e-7)


def test_update_function_of_momentum_is_linear_and_of_a_gru_saturates():
    g = np.linspace(-100, 100, 11)
    np.testing.assert_allclose(update_function(LinearMomentumCell(0.9, 0.1), g), -0.1 * g)
    rule = random_gru(1, state_size=5)
    delta = update_function(rule, g)
    w = rule.readout_weights.numpy().astype(np.float64)
    assert np.all(np.abs(delta) <= np.abs(w).sum() + 1e-12)  # |h| ≤ 1: bounded updates
    h = np.random.default_rng(0).uniform(-1, 1, size=5)
    at_h = update_function(rule, g, h)
    expected = rule.readout(rule.cell(tf.constant(np.tile(h, (11, 1))), tf.constant(g))).numpy()
    np.testing.assert_allclose(at_h, expected, rtol=1e-12)


class TanhClip:
    """Soft clipping as a 1-unit rule: h ← tanh(g), Δx = −h."""

    state_size = 1

    def initial_state(self, dtype=tf.float32):
        return tf.zeros([1], dtype)

    def cell(self, h, g):
        return tf.tanh(tf.cast(g, h.dtype))[..., None] + 0 * h

    def readout(self, h):
        return -h[..., 0]

    def hidden_states(self, state):
        return state["h"]


def test_linear_range_of_momentum_is_everything_and_of_tanh_where_it_bends_by_5_percent():
    for limit in (100.0, 1.9591229105834822):  # linspace misses 0 by 2e-16 for the second
        assert update_linear_range(LinearMomentumCell(0.9, 0.1), limit) == limit
    # tanh(g) / g = 0.95 at g0: bisection for the known answer.
    low, high = 0.1, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if np.tanh(mid) / mid > 0.95 else (low, mid)
    spacing = 2 * 2.0 / 1000
    assert update_linear_range(TanhClip(), 2.0) == pytest.approx(low, abs=spacing)
    assert update_linear_range(TanhClip(), 2.0, tolerance=0.2) > low + 0.3
    with pytest.raises(ValueError, match="odd"):
        update_linear_range(TanhClip(), 2.0, points=1000)


def test_gradient_density_is_a_normalized_histogram():
    gradients = np.random.default_rng(0).normal(size=(3, 50, 7))
    centers, density = gradient_density(gradients, bins=21)
    assert centers.shape == density.shape == (21,)
    assert np.isclose(np.sum(density) * (centers[1] - centers[0]), 1.0)
    assert np.isclose(centers[-1] + (centers[1] - centers[0]) / 2, np.abs(gradients).max())
