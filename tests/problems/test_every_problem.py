"""Every registered problem and transform: seeded, finite, trainable, meta-differentiable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from problems.base import as_seed
from tests.problems.cases import CASES
from trainers.estimators import FullUnroll

FIXED_TENSORS = {"bowl", "matmul_algorithm"}  # constants of the problem, not random draws


def _gradients(problem, params, step=0, seed=(1, 0)):
    """Full-batch loss and the gradients an optimizer sees (before gradient noise)."""
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = problem.loss(params)
    grads = tape.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return loss, problem.transform_gradients(
        problem.tensors, grads, tf.constant(step), as_seed(seed)
    )


def test_cases_cover_every_registered_problem():
    assert {f.name for f in CASES.values()} == set(problems.names())


@pytest.mark.parametrize("case", sorted(CASES))
def test_deterministic_given_a_seed_and_finite_at_init(case):
    factory = CASES[case]
    a, b, c = factory(seed=3), factory(seed=3), factory(seed=4)
    assert a.signature == b.signature == c.signature
    for key in a.tensors:
        np.testing.assert_array_equal(a.tensors[key].numpy(), b.tensors[key].numpy())
    pa, pb, pc = a.init_params(7), b.init_params(7), a.init_params(8)
    assert [tuple(p.shape) for p in pa] == [tuple(s) for s in a.param_shapes]
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(pa, pc))
    if case not in FIXED_TENSORS and a.tensors:
        assert any(
            not np.array_equal(a.tensors[k].numpy(), c.tensors[k].numpy()) for k in a.tensors
        ), "another seed draws another sample"
    loss, grads = _gradients(a, pa)
    assert float(loss) == float(b.loss(pb))
    assert np.isfinite(float(loss))
    assert all(isinstance(g, tf.Tensor) and np.all(np.isfinite(g.numpy())) for g in grads)
    first, again = (
        [
            x.numpy()
            for x in tf.nest.flatten(a.batch_fn(a.tensors, tf.constant(1), as_seed(5)))
            if x is not None
        ]
        for _ in range(2)
    )
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)


def _train_with_adam(problem, steps=100, learning_rate=0.05):
    params = [tf.Variable(p) for p in problem.init_params(3)]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(params)
    seed = as_seed(1)

    @tf.function
    def train():
        for step in tf.range(steps, dtype=tf.int64):
            batch = problem.batch_fn(problem.tensors, step, seed)
            with tf.GradientTape() as tape:
                loss = problem.loss_fn(problem.tensors, params, batch)
            grads = problem.transform_gradients(
                problem.tensors, tape.gradient(loss, params), step, seed
            )
            optimizer.apply_gradients(zip(grads, params))

    before = float(problem.loss([p.value() for p in params]))
    train()
    return before, float(problem.loss([p.value() for p in params]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_adam_lowers_the_loss_in_100_steps(case):
    before, after = _train_with_adam(CASES[case](seed=0))
    assert np.isfinite(after) and after < before, (before, after)


@pytest.fixture(scope="module")
def mlp_rule():
    return rules.get("mlp")


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_order_meta_gradients_are_defined(case, mlp_rule):
    meta_loss, grads = FullUnroll(mlp_rule, num_steps=3)(CASES[case](seed=0), 2)
    assert np.isfinite(float(meta_loss))
    assert len(grads) == len(mlp_rule.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    assert any(np.any(g.numpy() != 0) for g in grads)
