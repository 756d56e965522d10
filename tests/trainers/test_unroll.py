"""The inner loop: a tf.while_loop that equals a Python loop of rule steps."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from problems.base import as_seed
from trainers.unroll import unroll, unroll_from_init


def test_matches_a_python_loop_of_steps():
    rule = rules.get("momentum", learning_rate=0.05, momentum=0.9)
    problem = problems.get("quadratic", seed=0, dim=4)
    params = problem.init_params(0)
    result = tf.function(
        lambda: unroll(rule, problem, problem.tensors, params, rule.init(params), as_seed(1), 7)
    )()
    x, state, losses = list(params), rule.init(params), []
    for _ in range(7):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = problem.loss(x)
        losses.append(float(loss))
        x, state = rule.step(x, tape.gradient(loss, x), state)
    np.testing.assert_allclose(result.losses.numpy(), losses, rtol=1e-5)
    np.testing.assert_allclose(result.params[0].numpy(), x[0].numpy(), rtol=1e-5)


def test_gradient_noise_is_seeded():
    rule = rules.get("sgd", learning_rate=0.01)
    noisy = problems.get("quadratic", seed=0, dim=4, gradient_noise=1.0)
    clean = problems.get("quadratic", seed=0, dim=4)

    def run(problem, seed):
        return unroll_from_init(rule, problem, problem.tensors, as_seed(seed), 5).losses.numpy()

    np.testing.assert_array_equal(run(noisy, 3), run(noisy, 3))
    assert not np.allclose(run(noisy, 3), run(noisy, 4))
    assert not np.allclose(run(noisy, 3), run(clean, 3))


def test_compile_does_not_grow_with_unroll_length():
    """The loop is one graph node: the traced graph has the same size for T = 5 and 500."""
    rule = rules.get("mlp")
    problem = problems.get("quadratic", dim=3)

    def graph_size(num_steps):
        fn = tf.function(
            lambda seed: unroll_from_init(rule, problem, problem.tensors, seed, num_steps).losses
        )
        return len(fn.get_concrete_function(tf.TensorSpec([2], tf.int64)).graph.as_graph_def().node)

    assert graph_size(5) == graph_size(500)


def test_full_batch_record_is_the_loss_at_the_true_parameters():
    rule = rules.get("sgd", learning_rate=0.1)
    problem = problems.get("two_moons", seed=0, num_examples=64, batch_size=16)
    params = problem.init_params(0)
    seed = as_seed(2)

    def run(record):
        return unroll(rule, problem, problem.tensors, params, rule.init(params), seed, 3, record=record)

    full, minibatch = run("full_batch_loss"), run("gradient_loss")
    np.testing.assert_allclose(full.losses.numpy()[0], float(problem.loss(params)), rtol=1e-6)
    np.testing.assert_allclose(full.params[0].numpy(), minibatch.params[0].numpy())  # same steps
    assert not np.allclose(full.losses.numpy(), minibatch.losses.numpy())


def test_validation_record_is_the_loss_on_the_validation_batches():
    rule = rules.get("sgd", learning_rate=0.1)
    problem = problems.get("two_moons", seed=0, num_examples=64, batch_size=16, validation_examples=48)
    params = problem.init_params(0)
    seed = as_seed(2)

    def run(record):
        return unroll(rule, problem, problem.tensors, params, rule.init(params), seed, 3, record=record)

    valid, train = run("validation_loss"), run("gradient_loss")
    first = problem.loss(params, problem.validation_batch_fn(problem.tensors, tf.constant(0), seed))
    np.testing.assert_allclose(valid.losses.numpy()[0], float(first), rtol=1e-6)
    np.testing.assert_allclose(valid.params[0].numpy(), train.params[0].numpy())  # same training
    assert not np.allclose(valid.losses.numpy(), train.losses.numpy())
    assert problem.tensors["x_valid"].shape == (48, 2)
    quadratic = problems.get("quadratic", dim=3)
    with pytest.raises(ValueError, match="no validation data"):
        unroll_from_init(rule, quadratic, quadratic.tensors, seed, 2, record="validation_loss")
