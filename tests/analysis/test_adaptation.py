"""Effective learning rates: schedules over iterations and adaptation to the gradient scale."""

import numpy as np
import pytest

from l2o_tf.analysis import effective_learning_rates, learning_rate_adaptation
from tests.analysis.rules_for_tests import (
    LinearMomentumCell,
    NormalizedCell,
    WarmupCell,
    random_gru,
)


def test_momentum_has_its_learning_rate_at_every_state():
    rule = LinearMomentumCell(beta=0.9, alpha=0.05)
    states = np.random.default_rng(0).normal(size=(4, 3, 1))
    lr = effective_learning_rates(rule, states)
    assert lr.shape == (4, 3)
    np.testing.assert_allclose(lr, 0.05, rtol=1e-12)


def test_warmup_schedule_is_read_off_the_visited_states():
    rule = WarmupCell(alpha=0.1, tau=20.0)
    counters = np.arange(0.0, 100.0)
    states = np.stack([counters, np.zeros_like(counters)], axis=-1)  # h(k) after k steps
    lr = effective_learning_rates(rule, states)
    np.testing.assert_allclose(lr, 0.1 * np.tanh((counters + 1.0) / 20.0), rtol=1e-12)
    assert np.all(np.diff(lr) > 0)


def test_effective_learning_rate_matches_finite_differences_on_a_gru():
    rule = random_gru(1)
    h = np.random.default_rng(1).uniform(-0.8, 0.8, size=(5, rule.state_size))
    g, eps = 0.2, 1e-6
    lr = effective_learning_rates(rule, h, g)

    def update(gradient):
        from l2o_tf.analysis import update_function

        return np.array([update_function(rule, [gradient], state)[0] for state in h])

    np.testing.assert_allclose(lr, -(update(g + eps) - update(g - eps)) / (2 * eps), atol=1e-8)


def test_normalized_rule_adapts_its_learning_rate_to_the_gradient_scale():
    rho, alpha = 0.9, 0.01
    rule = NormalizedCell(rho=rho, alpha=alpha)
    gradients = np.geomspace(1e-2, 1e1, 7)
    starts = np.array([[1.0, 0.0], [1e-4, 0.0]])
    rates = learning_rate_adaptation(rule, gradients, starts, tolerance=1e-10)
    assert all(len(r) == 1 for r in rates)
    np.testing.assert_allclose([r[0] * g for r, g in zip(rates, gradients)], alpha * rho, rtol=1e-4)


def test_momentum_does_not_adapt():
    rule = LinearMomentumCell(beta=0.5, alpha=0.3)
    rates = learning_rate_adaptation(rule, [1e-2, 1.0, 1e2], np.zeros((1, 1)))
    np.testing.assert_allclose(np.concatenate(rates), 0.3, rtol=1e-9)


def test_states_of_the_wrong_size_are_rejected():
    with pytest.raises(ValueError, match="state has 1"):
        effective_learning_rates(LinearMomentumCell(0.9, 0.1), np.zeros((3, 2)))
