"""Bowl, isotropic quadratic, norm and the minibatch quadratics: minima and definitions."""

import math

import numpy as np
import pytest
import tensorflow as tf

import problems


def _hessian(problem, point):
    params = [tf.constant(point)]
    with tf.GradientTape() as outer:
        outer.watch(params)
        with tf.GradientTape() as inner:
            inner.watch(params)
            loss = problem.loss(params)
        grad = tf.reshape(inner.gradient(loss, params)[0], [-1])
    return outer.jacobian(grad, params)[0].numpy().reshape(grad.shape[0], -1)


@pytest.mark.parametrize("kappa, angle", [(0.1, 0.0), (5.0, 0.0), (5.0, math.pi / 4)])
def test_bowl_has_condition_number_kappa_and_minimum_zero_at_zero(kappa, angle):
    bowl = problems.get("bowl", condition_number=kappa, angle=angle, dtype="float64")
    assert float(bowl.loss([tf.zeros([2, 1], tf.float64)])) == 0.0 == bowl.optimum
    eigenvalues = np.linalg.eigvalsh(_hessian(bowl, np.ones([2, 1])))
    np.testing.assert_allclose(sorted(eigenvalues), sorted([kappa, 1.0]), rtol=1e-12)
    with pytest.raises(ValueError, match="condition_number"):
        problems.get("bowl", condition_number=0.0)


def test_isotropic_quadratic_sums_squares_of_every_tensor():
    problem = problems.get("isotropic_quadratic", shapes=[[3], [2, 2]])
    assert problem.param_shapes == [(3,), (2, 2)]
    params = [tf.constant([1.0, 2.0, 3.0]), tf.ones([2, 2])]
    assert float(problem.loss(params)) == 14.0 + 4.0
    assert float(problem.loss([tf.zeros([3]), tf.zeros([2, 2])])) == 0.0 == problem.optimum


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_norm_minimum_is_at_the_solution_of_the_linear_system(p):
    norm = problems.get("norm", seed=2, dim=8, p=p, dtype="float64")
    w, y = norm.tensors["w"].numpy(), norm.tensors["y"].numpy()
    x_star = tf.constant(np.linalg.solve(w, y))
    assert float(norm.loss([x_star])) == pytest.approx(norm.optimum, rel=1e-6)
    assert norm.optimum < 1e-5
    x = np.ones([8, 1])
    expected = np.sum((np.abs(w @ x - y) + 1e-6) ** p) ** (1 / p)
    assert float(norm.loss([tf.constant(x)])) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="p >= 1"):
        problems.get("norm", p=0.5)


@pytest.mark.parametrize("name", ["projection_quadratic", "sum_of_quadratics"])
def test_minibatch_quadratics_use_symmetric_data_and_minimum_at_zero(name):
    problem = problems.get(name, dim=4, num_examples=100, batch_size=10, dtype="float64")
    x = problem.tensors["x"].numpy()
    np.testing.assert_array_equal(x[50:], -x[:50])
    zero = [tf.zeros([1, 4], tf.float64)]
    assert float(problem.loss(zero)) == pytest.approx(problem.optimum, abs=1e-12)
    assert float(problem.loss([tf.ones([1, 4], tf.float64)])) > problem.optimum
    assert problem.data_source == "generated:random_symmetric"


def test_projection_quadratic_paper_and_release_variants():
    theta = np.array([[1.0, -2.0, 0.5]])
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    batch = (tf.constant(x), tf.zeros([2], tf.float64))
    paper = problems.get("projection_quadratic", dim=3, num_examples=4, dtype="float64")
    release = problems.get(
        "projection_quadratic", dim=3, num_examples=4, variant="release", dtype="float64"
    )
    assert float(paper.loss([tf.constant(theta)], batch)) == pytest.approx(
        np.sum((x @ theta.T) ** 2)
    )
    assert float(release.loss([tf.constant(theta)], batch)) == pytest.approx(
        np.sum((theta * x) ** 2)
    )
    assert paper.signature != release.signature
    with pytest.raises(ValueError, match="variant"):
        problems.get("projection_quadratic", variant="other")


def test_sum_of_quadratics_subtracts_the_value_at_zero():
    problem = problems.get("sum_of_quadratics", dim=2, num_examples=4, dtype="float64")
    theta, x = np.array([[0.5, -1.0]]), np.array([[1.0, 2.0], [3.0, -1.0]])
    batch = (tf.constant(x), tf.zeros([2], tf.float64))
    expected = np.sum((theta - x) ** 2) - np.sum(x**2) + 1e-12
    assert float(problem.loss([tf.constant(theta)], batch)) == pytest.approx(expected, rel=1e-12)
