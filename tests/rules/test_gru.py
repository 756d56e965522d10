"""CoordinatewiseGRU: the GRU step of the dynamics paper, checked against numpy; protocol,
input scaling, config, Keras adapter and meta-gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import LearnedOptimizer, rules
from l2o_tf.analysis import check_recurrent
from l2o_tf.rules import CoordinatewiseGRU
from trainers.estimators import FullUnroll
from tests.finite_differences import central_difference


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_gru_step(rule, params, grads, h):
    """x + wᵀF(h, g) with F the GRU of App. D.2 (Cho et al. 2014), written independently."""
    kernel, recurrent, bias, w = (v.numpy().astype(np.float64) for v in rule.weights)
    n = rule.state_size
    g = np.concatenate([x.ravel() for x in grads])[:, None] * rule.input_scale  # [n_params, 1]
    w_z, w_r, w_h = kernel[:, :n], kernel[:, n : 2 * n], kernel[:, 2 * n :]
    u_z, u_r, u_h = recurrent[:, :n], recurrent[:, n : 2 * n], recurrent[:, 2 * n :]
    b_z, b_r, b_h = bias[:n], bias[n : 2 * n], bias[2 * n :]
    z = _sigmoid(g @ w_z + h @ u_z + b_z)
    r = _sigmoid(g @ w_r + h @ u_r + b_r)
    candidate = np.tanh(g @ w_h + (r * h) @ u_h + b_h)
    h = z * h + (1 - z) * candidate
    delta = h @ w
    sizes = np.cumsum([p.size for p in params])[:-1]
    return [p + d.reshape(p.shape) for p, d in zip(params, np.split(delta, sizes))], h


def _randomize(rule, seed=1):
    rng = np.random.default_rng(seed)
    for w in rule.weights:  # non-zero biases so every term matters
        w.assign(rng.normal(scale=0.7, size=w.shape))


def test_defaults_and_registry():
    rule = rules.get("gru")
    assert isinstance(rule, CoordinatewiseGRU) and rule.state_size == 32
    assert [tuple(w.shape) for w in rule.weights] == [(1, 96), (32, 96), (96,), (32,)]
    assert check_recurrent(rule) is rule
    np.testing.assert_array_equal(rule.initial_state().numpy(), np.zeros(32))


@pytest.mark.parametrize("input_scale", [1.0, 0.1])
def test_two_steps_match_numpy(input_scale):
    rule = CoordinatewiseGRU(state_size=5, input_scale=input_scale, dtype="float64")
    _randomize(rule)
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(4,))]
    state = rule.init([tf.constant(p) for p in params])
    h = np.zeros((10, 5))
    for _ in range(2):
        grads = [rng.normal(size=p.shape) for p in params]
        expected, h = _numpy_gru_step(rule, params, grads, h)
        new, state = rule.step(
            [tf.constant(p) for p in params], [tf.constant(g) for g in grads], state
        )
        for a, b in zip(new, expected):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rule.hidden_states(state).numpy(), h, rtol=1e-10, atol=1e-12)
        params = expected


def test_input_scale_is_the_raw_cell_with_a_scaled_input_kernel():
    scaled = CoordinatewiseGRU(state_size=4, input_scale=0.01, dtype="float64")
    raw = CoordinatewiseGRU(state_size=4, dtype="float64")
    _randomize(scaled)
    for a, b in zip(raw.weights, scaled.weights):
        a.assign(b)
    raw.kernel.assign(0.01 * scaled.kernel)
    h = tf.constant(np.random.default_rng(2).uniform(-1, 1, size=(6, 4)))
    g = tf.constant(np.linspace(-50, 50, 6))
    np.testing.assert_allclose(scaled.cell(h, g).numpy(), raw.cell(h, g).numpy(), rtol=1e-12)


def test_cell_and_readout_take_any_leading_shape():
    rule = CoordinatewiseGRU(state_size=3)
    h = tf.random.normal([2, 5, 3])
    assert rule.cell(h, tf.zeros([2, 5])).shape == (2, 5, 3)
    assert rule.readout(h).shape == (2, 5)


def test_config_round_trip():
    rule = CoordinatewiseGRU(state_size=7, input_scale=0.5, readout_stddev=0.1)
    clone = CoordinatewiseGRU.from_config(rule.get_config())
    assert (clone.state_size, clone.input_scale, clone.readout_stddev) == (7, 0.5, 0.1)


@pytest.mark.parametrize("kwargs", [{"state_size": 0}, {"input_scale": 0.0}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        CoordinatewiseGRU(**kwargs)


def test_keras_adapter_applies_the_rule():
    rule = CoordinatewiseGRU(state_size=4)
    _randomize(rule)
    variable = keras.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
    gradient = tf.constant([[0.1, -0.2], [0.3, 0.0]])
    expected, _ = rule.step(
        [tf.constant(variable.numpy())], [gradient], rule.init([variable.value])
    )
    LearnedOptimizer(rule=rule, weights=None).apply([gradient], [variable])
    np.testing.assert_allclose(variable.numpy(), expected[0].numpy(), rtol=1e-6)


def test_meta_gradient_matches_central_differences():
    rule = CoordinatewiseGRU(state_size=4, dtype="float64")
    _randomize(rule, seed=3)
    rule.readout_weights.assign(0.05 * rule.readout_weights)
    problem = problems.get("linear_regression", seed=1, dim=5, dtype="float64")
    estimator = FullUnroll(rule, num_steps=8, meta_loss="mean")
    _, grads = estimator(problem, 3)
    eps = 1e-6
    for variable, grad in zip(rule.trainable_variables, grads):
        index = np.unravel_index(np.argmax(np.abs(grad.numpy())), grad.shape)
        fd = central_difference(estimator, problem, variable, index, seed=3, eps=eps)
        assert abs(grad.numpy()[index] - fd) <= 1e-5 * abs(fd), (variable.name, fd)
