"""The reduced linear optimizer: momentum exactly, and the full linearization of a GRU."""

import numpy as np
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.analysis import ReducedLinearRule, eigenmodes, find_fixed_points, linearize
from problems.base import as_seed
from tests.analysis.rules_for_tests import LinearMomentumCell, random_gru
from trainers.unroll import unroll_from_init


def test_one_mode_of_a_momentum_cell_is_momentum():
    cell = LinearMomentumCell(beta=0.8, alpha=0.05)
    lin = linearize(cell, find_fixed_points(cell, np.ones((2, 1))).states[0])
    modes = eigenmodes(lin)
    reduced = ReducedLinearRule(lin, modes, modes.select(1), np.zeros(1), dtype="float64")
    momentum = rules.get("momentum", learning_rate=0.05, momentum=0.8, dtype="float64")
    problem = problems.get("linear_regression", seed=2, dim=5, dtype="float64")

    def losses(rule):
        return unroll_from_init(rule, problem, problem.tensors, as_seed(1), 30).losses.numpy()

    # α and β are stored as float32 weights of the momentum rule
    np.testing.assert_allclose(losses(reduced), losses(momentum), rtol=1e-7)


def test_all_modes_are_the_linearized_optimizer():
    rule = random_gru(4, state_size=6)
    starts = np.random.default_rng(4).uniform(-1, 1, size=(32, 6))
    lin = linearize(rule, find_fixed_points(rule, starts).states[0])
    modes = eigenmodes(lin)
    h0 = np.full(6, 0.1)
    reduced = ReducedLinearRule(lin, modes, np.arange(6), h0, dtype="float64")
    rng = np.random.default_rng(0)
    x = [tf.constant(rng.normal(size=(2, 2)))]
    state = reduced.init(x)
    x_lin, h = x[0].numpy(), np.tile(h0, (4, 1))
    for _ in range(5):
        g = rng.normal(size=(2, 2))
        x, state = reduced.step(x, [tf.constant(g)], state)
        h = lin.step(h, g.ravel())  # F(h*, 0) + J (h − h*) + b g
        x_lin = x_lin + (lin.drift + (h - lin.h_star) @ lin.readout_vector).reshape(2, 2)
        np.testing.assert_allclose(x[0].numpy(), x_lin, rtol=1e-6, atol=1e-8)  # h* to 1e-8
