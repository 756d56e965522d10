"""MLPRule: the step of Metz et al. 2019 App. D.1, checked against numpy."""

import numpy as np
import pytest
import tensorflow as tf

from l2o_tf.rules import MLPRule
from l2o_tf.rules.mlp import MOMENTUM_DECAYS, TIME_SCALES


def _numpy_step(rule, params, grads, momenta, t):
    """The D.1 step written independently in numpy."""
    w1, b1, w2, b2 = (w.numpy().astype(np.float64) for w in rule.weights)
    decays = np.array(MOMENTUM_DECAYS)
    rows, new_m = [], []
    for p, g, m in zip(params, grads, momenta):
        m = decays.reshape([-1] + [1] * g.ndim) * m + (1 - decays.reshape([-1] + [1] * g.ndim)) * g
        new_m.append(m)
        feats = np.concatenate([g.reshape(1, -1), p.reshape(1, -1), m.reshape(5, -1)])
        feats = feats / np.sqrt(np.mean(feats**2, axis=1, keepdims=True) + 1e-12)
        rows.append(feats.T)
    x = np.concatenate(rows)
    time = np.tanh(t / np.array(TIME_SCALES) - 1.0)
    x = np.concatenate([x, np.broadcast_to(time, (x.shape[0], 9))], axis=1)
    out = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    delta = np.exp(1e-3 * out[:, 0]) * 1e-3 * out[:, 1]
    sizes = np.cumsum([p.size for p in params])[:-1]
    return [p - d.reshape(p.shape) for p, d in zip(params, np.split(delta, sizes))], new_m


def test_defaults_follow_the_paper():
    rule = MLPRule()
    assert rule.num_features == 16
    assert len(TIME_SCALES) == 9 and np.isclose(TIME_SCALES[0], 3) and np.isclose(TIME_SCALES[-1], 3e5)
    assert [tuple(w.shape) for w in rule.weights] == [(16, 32), (32,), (32, 2), (2,)]
    assert sum(int(np.prod(w.shape)) for w in rule.weights) == 610


SHAPES = {
    "one_group": [(3, 2), (4,)],
    "mixed_groups": [(3, 2), (64, 70), (4,), (5,)],  # one alone (>= 4096 elements) among others
}


def _randomized_rule() -> MLPRule:
    rule = MLPRule(dtype="float64")
    for w in rule.weights:  # non-zero biases so every term matters
        w.assign(np.random.default_rng(1).normal(size=w.shape) * 3)
    return rule


@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_two_steps_match_numpy(shapes, jit_compile):
    """Without XLA the hidden layer is two matrix products; under XLA a group of 4096 or
    more elements has it written out per hidden unit (`_mlp_outputs`): both are the D.1
    step."""
    rule = _randomized_rule()
    step = tf.function(rule.step, jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    params = [rng.normal(size=shape) for shape in shapes]
    state = rule.init([tf.constant(p) for p in params])
    momenta = [np.zeros((5,) + p.shape) for p in params]
    for t in range(2):
        grads = [rng.normal(size=p.shape) for p in params]
        expected, momenta = _numpy_step(rule, params, grads, momenta, t)
        new, state = step([tf.constant(p) for p in params], [tf.constant(g) for g in grads], state)
        for e, n in zip(expected, new):
            np.testing.assert_allclose(n.numpy(), e, rtol=1e-10, atol=1e-12)
        for e, m in zip(momenta, state["momenta"]):
            np.testing.assert_allclose(m.numpy(), e, rtol=1e-10)
        assert float(state["t"]) == t + 1
        params = expected


@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_gradients_through_the_step_are_the_same_under_xla(shapes):
    """The elementwise hidden layer used under XLA has the matrix form's gradient
    (`_elementwise_mlp`): d(loss after two steps) / d(meta-parameters, parameters, gradients)
    agree with plain autodiff without XLA."""
    rule = _randomized_rule()
    rng = np.random.default_rng(2)
    params = [tf.constant(rng.normal(size=shape)) for shape in shapes]
    grads = [tf.constant(rng.normal(size=shape)) for shape in shapes]

    def gradients():
        with tf.GradientTape() as tape:
            tape.watch(params + grads)
            p, state = params, rule.init(params)
            for _ in range(2):
                p, state = rule.step(p, grads, state)
            loss = tf.add_n([tf.reduce_sum(tf.sin(3.0 * x)) for x in p])
        return tape.gradient(loss, rule.trainable_weights + params + grads)

    plain = tf.function(gradients)()
    compiled = tf.function(gradients, jit_compile=True)()
    assert all(g is not None for g in compiled)
    for a, b in zip(plain, compiled):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-9, atol=1e-12)


def test_step_is_pure_and_xla_compilable():
    rule = MLPRule()
    params = [tf.ones([3, 2]), tf.zeros([5])]
    grads = [tf.fill([3, 2], 0.5), tf.range(5, dtype=tf.float32)]
    state = rule.init(params)
    eager, _ = rule.step(params, grads, state)
    compiled, _ = tf.function(rule.step, jit_compile=True)(params, grads, state)
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(params[0].numpy(), np.ones([3, 2]))  # inputs untouched


def test_rejects_mismatched_gradients():
    rule = MLPRule()
    params = [tf.ones([3])]
    with pytest.raises(ValueError, match="1 parameter tensors but 2 gradients"):
        rule.step(params, [tf.ones([3]), tf.ones([3])], rule.init(params))
    with pytest.raises(ValueError, match="shape"):
        rule.step(params, [tf.ones([4])], rule.init(params))


def test_config_round_trip():
    rule = MLPRule(hidden_units=8, exp_scale=2e-3)
    clone = MLPRule.from_config(rule.get_config())
    assert clone.get_config() == rule.get_config()
    assert [tuple(w.shape) for w in clone.weights][0] == (16, 8)
