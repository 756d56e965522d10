"""Dependency chain, min-max well, outward snake and the matmul-algorithm problem."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

import problems
from problems.matmul_algorithm import one_hot_products


def test_dependency_chain_value_and_minimum():
    chain = problems.get("dependency_chain", dim=3, dtype="float64")
    assert chain.param_shapes == [(4,)]
    theta = np.array([1.0, 2.0, 0.5, 3.0])
    expected = 1.0 + 4.0 / (1.0 + 1e-6) + 0.25 / (4.0 + 1e-6) + 9.0 / (0.25 + 1e-6)
    assert float(chain.loss([tf.constant(theta)])) == pytest.approx(expected, rel=1e-12)
    assert float(chain.loss([tf.zeros([4], tf.float64)])) == 0.0 == chain.optimum


def test_min_max_well_has_sparse_gradients_and_minimum_where_all_magnitudes_are_one():
    well = problems.get("min_max_well", dim=5, dtype="float64")
    at_minimum = tf.constant([1.0, -1.0, 1.0, 1.0, -1.0], tf.float64)
    assert float(well.loss([at_minimum])) == pytest.approx(well.optimum, abs=1e-15)
    params = [tf.constant([0.5, 2.0, -1.0, 1.5, 0.9], tf.float64)]
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = well.loss(params)
    grad = tape.gradient(loss, params)[0].numpy()
    assert np.count_nonzero(grad) == 2  # only the min and the max parameter
    assert float(loss) == pytest.approx(4.0 + 1 / 0.25 - 2.0 + 1e-12)


def test_outward_snake_decreases_outward_along_its_valley():
    snake = problems.get("outward_snake", dim=3, num_examples=50, dtype="float64")
    assert snake.data_source == "generated:random_binary"
    assert set(np.unique(snake.tensors["x"].numpy())) <= {0.0, 1.0}
    assert snake.optimum is None

    def valley_point(radius_scale):
        first = radius_scale
        second = math.pi * math.cos(first)
        return tf.constant([first, second, math.pi * math.cos(second)], tf.float64)

    losses = [float(snake.loss([valley_point(r)])) for r in (1.0, 10.0, 100.0)]
    assert losses[0] > losses[1] > losses[2] > 0


def test_one_hot_products_are_all_pairs_of_one_hot_matrices():
    a, b, c = one_hot_products(2)
    assert a.shape == b.shape == c.shape == (16, 4)
    for row in range(16):
        np.testing.assert_array_equal(
            c[row].reshape(2, 2), a[row].reshape(2, 2) @ b[row].reshape(2, 2)
        )


def test_matmul_naive_algorithm_has_zero_loss_and_init_has_unit_columns():
    n, k = 2, 8
    problem = problems.get("matmul_algorithm", n=n, k=k, dtype="float64")
    theta_a, theta_b = np.zeros((n * n, k)), np.zeros((n * n, k))
    for m, (i, j, l) in enumerate(itertools.product(range(n), repeat=3)):
        theta_a[i * n + j, m] = 1.0  # a_ij
        theta_b[j * n + l, m] = 1.0  # b_jl, summed into c_il by the least-squares θ_c
    assert float(problem.loss([tf.constant(theta_a), tf.constant(theta_b)])) < 1e-20
    assert problem.optimum == 0.0
    for p in problem.init_params(3):
        np.testing.assert_allclose(np.linalg.norm(p.numpy(), axis=0), np.ones(k), rtol=1e-12)
    assert float(problem.loss(problem.init_params(3))) > 0.1
    assert problems.get("matmul_algorithm", n=3, k=20).optimum is None
    # A rank-deficient P (a zero column) keeps the loss and its gradient defined.
    for dtype in ("float32", "float64"):
        singular = problems.get("matmul_algorithm", n=n, k=k, dtype=dtype)
        zeroed = [tf.constant(theta_a * (np.arange(k) > 0), dtype), tf.constant(theta_b, dtype)]
        with tf.GradientTape() as tape:
            tape.watch(zeroed)
            loss = singular.loss(zeroed)
        grads = tape.gradient(loss, zeroed)
        assert np.isfinite(float(loss)) and float(loss) > 0.5  # one product of c is missing
        assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    with pytest.raises(ValueError, match="n² <= k <= n³"):
        problems.get("matmul_algorithm", n=2, k=3)
