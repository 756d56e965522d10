"""Full-unroll meta-gradients: second order against finite differences (float64)."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from problems.base import as_seed
from trainers.estimators import FullUnroll
from trainers.unroll import unroll
from tests.finite_differences import central_difference


@pytest.mark.parametrize("kind", ["mean", "log"])
def test_mlp_meta_gradient_matches_central_differences(kind):
    rule = rules.get("mlp", dtype="float64")
    problem = problems.get("quadratic", seed=1, dim=5, dtype="float64")
    estimator = FullUnroll(rule, num_steps=10, meta_loss=kind)
    _, grads = estimator(problem, 3)
    first_order = FullUnroll(rule, num_steps=10, meta_loss=kind, second_order=False)
    _, grads_1 = first_order(problem, 3)
    checked = 0
    for v, (variable, grad, grad_1) in enumerate(zip(rule.trainable_variables, grads, grads_1)):
        flat = np.abs(grad.numpy()).ravel()
        for position in np.argsort(flat)[-2:]:  # the two largest entries of each weight
            index = np.unravel_index(position, grad.shape)
            fd = central_difference(estimator, problem, variable, index)
            analytic = grad.numpy()[index]
            assert abs(analytic - fd) <= 1e-4 * abs(fd), (variable.name, index, analytic, fd)
            checked += 1
        # dropping the second-order terms changes the meta-gradient measurably
        assert np.max(np.abs(grad.numpy() - grad_1.numpy())) > 1e-6 * np.max(np.abs(grad.numpy()))
    assert checked == 8


def test_hand_designed_meta_gradient_matches_central_differences():
    rule = rules.get("adam", learning_rate=0.05, dtype="float64")
    problem = problems.get("rosenbrock", seed=0, low=-1.0, high=1.0, dtype="float64")
    estimator = FullUnroll(rule, num_steps=10, meta_loss="mean")
    _, grads = estimator(problem, 2)
    for variable, grad in zip(rule.trainable_variables, grads):
        fd = central_difference(estimator, problem, variable, (), seed=2)
        assert abs(float(grad) - fd) <= 1e-4 * abs(fd), (variable.name, float(grad), fd)


def test_one_trace_serves_every_sample_of_a_family():
    rule = rules.get("mlp")
    estimator = FullUnroll(rule, num_steps=5)
    for seed in range(3):
        loss, grads = estimator(problems.get("two_moons", seed=seed, batch_size=16), seed)
        assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g.numpy())) for g in grads)
    (fn,) = estimator._compiled.values()
    assert fn.experimental_get_tracing_count() == 1


def test_meta_gradient_under_xla():
    """XLA draws other random numbers than the TF kernels (documented in FullUnroll), so
    the compiled meta-gradient is checked against finite differences of the compiled
    meta-loss, and the compiled loop against the plain one on fixed parameters."""
    rule = rules.get("mlp", dtype="float64")
    problem = problems.get("quadratic", seed=0, dim=4, dtype="float64")
    estimator = FullUnroll(rule, num_steps=8, jit_compile=True)
    _, grads = estimator(problem, 1)
    index = np.unravel_index(np.argmax(np.abs(grads[0].numpy())), grads[0].shape)
    fd = central_difference(estimator, problem, rule.hidden_kernel, index, seed=1)
    assert abs(grads[0].numpy()[index] - fd) <= 1e-4 * abs(fd)

    params = [tf.constant(np.linspace(-1, 1, 4).reshape(4, 1))]

    def losses():
        return unroll(rule, problem, problem.tensors, params, rule.init(params), as_seed(0), 8).losses

    np.testing.assert_allclose(
        tf.function(losses)().numpy(), tf.function(losses, jit_compile=True)().numpy(), rtol=1e-9
    )


def test_bad_arguments():
    rule = rules.get("sgd")
    with pytest.raises(ValueError, match="num_steps"):
        FullUnroll(rule, num_steps=0)
    with pytest.raises(ValueError, match="Unknown meta_loss"):
        FullUnroll(rule, num_steps=5, meta_loss="median")
    with pytest.raises(ValueError, match="Unknown record"):
        FullUnroll(rule, num_steps=5, record="validation")


def test_adam_meta_gradient_is_finite_under_xla_with_dead_units():
    """Dead ReLU units give exactly-zero gradients; √v must not turn them into NaN."""
    rule = rules.get("adam", learning_rate=1e-2)
    problem = problems.get("two_moons", seed=0)
    for jit in (False, True):
        loss, grads = FullUnroll(rule, num_steps=3, jit_compile=jit)(problem, 0)
        assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g.numpy())) for g in grads), jit
