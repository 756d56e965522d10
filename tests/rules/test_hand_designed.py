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


# Adam+Reg+Decay terms (Metz et al. 2019 App. E): schedule, l1/l2, searchable ε, Nesterov.

ALL_TERMS = {"exponential_decay": 0.05, "linear_decay": 0.1, "l1": 0.01, "l2": 0.2}


def _by_the_formula(name, hp, grads, x0):
    """The module docstring's equations in numpy, with every optional term."""
    x, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    for t, g in enumerate(grads, start=1):
        g = g + hp["l2"] * x + hp["l1"] * np.sign(x)
        alpha = (
            hp["learning_rate"]
            * np.exp(-hp["exponential_decay"] * (t - 1))
            * max(0.0, 1.0 - hp["linear_decay"] * (t - 1))
        )
        if name == "sgd":
            direction = g
        elif name == "momentum":
            m = hp["momentum"] * m + g
            direction = g + hp["momentum"] * m if hp["nesterov"] else m
        elif name == "rmsprop":
            v = hp["rho"] * v + (1 - hp["rho"]) * g**2
            direction = g / (np.sqrt(v) + hp["epsilon"])
        else:
            m = hp["beta_1"] * m + (1 - hp["beta_1"]) * g
            v = hp["beta_2"] * v + (1 - hp["beta_2"]) * g**2
            m_hat, v_hat = m / (1 - hp["beta_1"] ** t), v / (1 - hp["beta_2"] ** t)
            direction = m_hat / (np.sqrt(v_hat) + hp["epsilon"])
        x = x - alpha * direction
    return x


@pytest.mark.parametrize(
    "name, own",
    [
        ("sgd", {}),
        ("momentum", {"momentum": 0.8, "nesterov": False}),
        ("momentum", {"momentum": 0.8, "nesterov": True}),
        ("rmsprop", {"rho": 0.9, "epsilon": 0.05, "tune_epsilon": True}),
        ("adam", {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.05, "tune_epsilon": True}),
    ],
)
def test_schedule_regularization_and_epsilon_follow_the_formulas(name, own):
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(5,))
    grads = [rng.normal(size=(5,)) for _ in range(14)]  # the linear factor is 0 from t = 11
    rule = rules.get(name, learning_rate=0.1, dtype="float64", **ALL_TERMS, **own)
    hp = {"learning_rate": 0.1, **ALL_TERMS, **own}
    # Assigned in float64 (weights are initialized through a float32 constant).
    rule.set_hyper_parameters({k: v for k, v in hp.items() if k in rule.hyper_parameter_names})
    expected = _by_the_formula(name, hp, grads, x0)
    np.testing.assert_allclose(_run_rule(rule, grads, x0), expected, rtol=1e-9)
    assert not np.array_equal(_run_rule(rule, grads[:9], x0), expected)
    np.testing.assert_array_equal(_run_rule(rule, grads[:11], x0), _run_rule(rule, grads, x0))


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_terms_at_zero_leave_the_update_unchanged(name):
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=(3, 4)).astype(np.float32)
    grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(5)]
    zeros = {k: 0.0 for k in ALL_TERMS}
    plain = _run_rule(rules.get(name), grads, x0)
    np.testing.assert_array_equal(_run_rule(rules.get(name, **zeros), grads, x0), plain)
    # A coefficient at 0 is log 0 = -inf: off, and its meta-gradient is 0, not NaN.
    rule = rules.get(name, **zeros)
    assert float(rule.log_l1) == -np.inf
    params = [tf.constant(x0)]
    with tf.GradientTape() as tape:
        new, _ = rule.step(params, [tf.constant(grads[0])], rule.init(params))
        loss = tf.reduce_sum(new[0] ** 2)
    for g in tape.gradient(loss, [rule.log_l1, rule.log_l2, rule.log_exponential_decay]):
        assert float(g) == 0.0


def test_nesterov_matches_keras_sgd():
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(4,)).astype(np.float32)
    grads = [rng.normal(size=(4,)).astype(np.float32) for _ in range(6)]
    for nesterov in (False, True):
        rule = rules.get("momentum", learning_rate=0.05, momentum=0.7, nesterov=nesterov)
        ours = _run_rule(rule, grads, x0)
        keras_sgd = keras.optimizers.SGD(0.05, momentum=0.7, nesterov=nesterov)
        np.testing.assert_allclose(ours, _run_keras(keras_sgd, grads, x0), rtol=1e-5, atol=1e-6)


def test_optional_hyper_parameters_are_weights_in_log_coordinates():
    rule = rules.get("adam", tune_epsilon=True, epsilon=1e-3, **ALL_TERMS)
    assert sorted(w.name for w in rule.trainable_variables) == [
        "beta_1_logit",
        "beta_2_logit",
        "log_epsilon",
        "log_exponential_decay",
        "log_l1",
        "log_l2",
        "log_learning_rate",
        "log_linear_decay",
    ]
    np.testing.assert_allclose(float(rule.log_epsilon), np.log(1e-3), rtol=1e-6)
    np.testing.assert_allclose(float(rule.log_l2), np.log(0.2), rtol=1e-6)
    rule.set_hyper_parameters({"epsilon": 1e-5, "beta_1": 0.5, "linear_decay": 0.0})
    np.testing.assert_allclose(float(rule.log_epsilon), np.log(1e-5), rtol=1e-6)
    np.testing.assert_allclose(float(tf.sigmoid(rule.beta_1_logit)), 0.5, rtol=1e-6)
    assert float(rule.log_linear_decay) == -np.inf
    with pytest.raises(ValueError, match="not hyper-parameter weights"):
        rules.get("adam").set_hyper_parameters({"l1": 1e-3})


def test_gradient_reaches_epsilon_and_the_schedule():
    rule = rules.get(
        "adam", learning_rate=0.1, tune_epsilon=True, epsilon=0.1, exponential_decay=0.1
    )
    x = [tf.constant([1.0, -2.0])]
    with tf.GradientTape() as tape:
        state = rule.init(x)
        for g in ([0.5, 1.0], [0.2, -0.3]):
            x, state = rule.step(x, [tf.constant(g)], state)
        loss = tf.reduce_sum(x[0] ** 2)
    grads = tape.gradient(loss, [rule.log_epsilon, rule.log_exponential_decay])
    assert all(float(g) != 0.0 and np.isfinite(float(g)) for g in grads)


def test_config_round_trips_every_new_argument():
    rule = rules.get(
        "momentum",
        learning_rate=0.05,
        momentum=0.5,
        nesterov=True,
        exponential_decay=1e-3,
        l2=1e-4,
        learn=["log_learning_rate", "log_l2"],
    )
    config = rule.get_config()
    assert config["nesterov"] is True and config["exponential_decay"] == 1e-3
    assert config["linear_decay"] is None and config["l1"] is None and config["l2"] == 1e-4
    clone = type(rule).from_config(config)
    assert clone.get_config() == config
    assert [w.name for w in clone.weights] == [w.name for w in rule.weights]
    assert sorted(w.name for w in clone.trainable_variables) == ["log_l2", "log_learning_rate"]
    adam = rules.get("adam", tune_epsilon=True, epsilon=1e-4, linear_decay=0.0, l1=0.0)
    assert type(adam).from_config(adam.get_config()).get_config() == adam.get_config()


def test_defaults_add_no_weights_and_bad_terms_are_refused():
    names = [w.name for w in rules.get("momentum").weights]
    assert names == ["momentum_logit", "log_learning_rate"]
    assert rules.get("adam").get_config()["tune_epsilon"] is False
    with pytest.raises(ValueError, match="sgd has no ε"):
        rules.get("sgd", tune_epsilon=True)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        rules.get("adam", l1=-1e-3)
