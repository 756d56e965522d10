"""Linear regression of the dynamics paper (App. D.1): curvature, condition number, optimum."""

import numpy as np
import pytest
import tensorflow as tf

import problems


def _hessian(problem):
    a = problem.tensors["a"].numpy()
    return a.T @ a / problem.num_examples


@pytest.mark.parametrize("dim", [5, 10])
def test_hessian_spans_one_to_one_over_kappa(dim):
    for seed in range(5):
        p = problems.get("linear_regression", seed=seed, dim=dim, dtype="float64")
        assert p.param_shapes == [(dim,)] and p.tensors["a"].shape == (25, dim)
        eigenvalues = np.sort(np.linalg.eigvalsh(_hessian(p)))[::-1]
        expected = p.condition_number ** (-np.arange(dim) / (dim - 1))  # log-spaced 1 … 1/κ
        np.testing.assert_allclose(eigenvalues, expected, rtol=1e-9)
        assert 10.0 <= p.condition_number <= 1000.0


def test_condition_numbers_are_drawn_log_uniformly_from_the_range():
    kappas = [
        problems.get("linear_regression", seed=s, condition_range=(2.0, 8.0)).condition_number
        for s in range(400)
    ]
    logs = np.log2(kappas)  # uniform on [1, 3]
    assert 1.0 <= logs.min() and logs.max() <= 3.0
    assert abs(np.mean(logs) - 2.0) < 0.1 and abs(np.mean(logs < 2.0) - 0.5) < 0.1


def test_loss_gradient_and_optimum():
    p = problems.get("linear_regression", seed=3, dtype="float64")
    a, b = p.tensors["a"].numpy(), p.tensors["b"].numpy()
    x = np.random.default_rng(0).normal(size=10)
    assert float(p.loss([tf.constant(x)])) == pytest.approx(0.5 * np.sum((a @ x - b) ** 2) / 25)
    with tf.GradientTape() as tape:
        params = [tf.constant(x)]
        tape.watch(params)
        loss = p.loss(params)
    np.testing.assert_allclose(
        tape.gradient(loss, params)[0].numpy(), _hessian(p) @ x - a.T @ b / 25
    )
    x_star = np.linalg.lstsq(a, b, rcond=None)[0]
    assert float(p.loss([tf.constant(x_star)])) == pytest.approx(p.optimum, rel=1e-10)
    assert p.optimum > 0  # 25 rows, 10 unknowns: b is not in the range of A
    assert float(p.loss([tf.constant(x)])) > p.optimum


def test_seeded_samples_and_init():
    a, b, c = (problems.get("linear_regression", seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.tensors["a"].numpy(), b.tensors["a"].numpy())
    assert a.condition_number != c.condition_number
    assert a.signature == c.signature
    inits = np.stack([a.init_params(s)[0].numpy() for s in range(300)])  # x(0) ~ N(0, I)
    assert abs(inits.mean()) < 0.05 and abs(inits.std() - 1.0) < 0.05


@pytest.mark.parametrize(
    "kwargs",
    [{"dim": 1}, {"dim": 30}, {"condition_range": (0.5, 10.0)}, {"condition_range": (10.0, 5.0)}],
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match="linear_regression"):
        problems.get("linear_regression", **kwargs)
