"""Hand-designed rules reproduce their textbook updates and Keras' own optimizers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2o_tf import rules


def _run_rule(rule, grads_seq, x0):
    params = [tf.constant(x0)]
    state = rule.init(params)
    for g in grads_seq:
        params, state = rule.step(params, [tf.constant(g)], state)
    return params[0].numpy()


def _run_keras(optimizer, grads_seq, x0):
    var = keras.Variable(x0)
    for g in grads_seq:
        optimizer.apply([tf.constant(g)], [var])
    return var.numpy()


@pytest.mark.parametrize(
    "name, kwargs, keras_optimizer",
    [
        ("sgd", {"learning_rate": 0.1}, lambda: keras.optimizers.SGD(0.1)),
        ("adam", {"learning_rate": 0.01}, lambda: keras.optimizers.Adam(0.01, epsilon=1e-8)),
        (
            "rmsprop",
            {"learning_rate": 0.01, "rho": 0.9},
            None,  # Keras' RMSprop puts ε inside the root; checked by hand below
        ),
    ],
)
def test_matches_reference(name, kwargs, keras_optimizer):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(4,)).astype(np.float32)
    grads = [rng.normal(size=(4,)).astype(np.float32) for _ in range(5)]
    ours = _run_rule(rules.get(name, **kwargs), grads, x0)
    if keras_optimizer is not None:
        expected = _run_keras(keras_optimizer(), grads, x0)
    else:
        x, v = x0.astype(np.float64), np.zeros(4)
        for g in grads:
            v = 0.9 * v + 0.1 * g**2
            x = x - 0.01 * g / (np.sqrt(v) + 1e-8)
        expected = x
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_momentum_by_hand():
    x0 = np.array([1.0, -2.0])
    grads = [np.array([0.5, 1.0]), np.array([-1.0, 2.0])]
    ours = _run_rule(rules.get("momentum", learning_rate=0.1, momentum=0.5, dtype="float64"), grads, x0)
    m1 = grads[0]
    m2 = 0.5 * m1 + grads[1]
    np.testing.assert_allclose(ours, x0 - 0.1 * m1 - 0.1 * m2, rtol=1e-6)


def test_hyper_parameters_are_trainable_in_unconstrained_coordinates():
    rule = rules.get("adam", learning_rate=1e-3, beta_1=0.9, beta_2=0.999)
    names = sorted(w.name for w in rule.trainable_variables)
    assert names == ["beta_1_logit", "beta_2_logit", "log_learning_rate"]
    np.testing.assert_allclose(float(rule.log_learning_rate), np.log(1e-3), rtol=1e-6)
    np.testing.assert_allclose(float(tf.sigmoid(rule.beta_1_logit)), 0.9, rtol=1e-6)


def test_gradient_reaches_the_learning_rate():
    rule = rules.get("sgd", learning_rate=0.1)
    x = [tf.constant([1.0, 2.0])]
    with tf.GradientTape() as tape:
        new, _ = rule.step(x, [tf.constant([1.0, 1.0])], rule.init(x))
        loss = tf.reduce_sum(new[0])
    (g,) = tape.gradient(loss, rule.trainable_variables)
    # d/d(log α) Σ(x − α g) = −α Σ g = −0.2
    np.testing.assert_allclose(float(g), -0.2, rtol=1e-5)


def test_registry_errors():
    with pytest.raises(ValueError, match="Known rules: adam, .*mlp, momentum, rmsprop, sgd"):
        rules.get("adamw")
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        rules.get("sgd", learning_rate=0.0)


def test_learn_selects_the_trainable_hyper_parameters():
    rule = rules.get("adam", learn=["log_learning_rate"])
    assert [w.name for w in rule.trainable_variables] == ["log_learning_rate"]
    assert sorted(w.name for w in rule.non_trainable_variables) == ["beta_1_logit", "beta_2_logit"]
    clone = type(rule).from_config(rule.get_config())
    assert [w.name for w in clone.trainable_variables] == ["log_learning_rate"]
    with pytest.raises(ValueError, match="cannot learn"):
        rules.get("sgd", learn=["momentum_logit"])
