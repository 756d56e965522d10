"""The held-out validation split of data-set problems (`DatasetProblem`, L_valid of Metz 2019)."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from problems.base import as_seed, fold_in
from tests.problems.cases import CASES


def _rows(tensor):
    return {row.tobytes() for row in tensor.numpy().reshape(len(tensor), -1)}


def _split(name="softmax_regression", seed=0, **kwargs):
    kwargs = {"num_features": 4, "num_examples": 60, "validation_examples": 20, **kwargs}
    return problems.get(name, seed=seed, **kwargs)


def test_generated_data_draws_the_validation_examples_on_top_of_the_training_set():
    problem = _split(batch_size=10)
    x, y, x_valid, y_valid = (problem.tensors[k] for k in ("x", "y", "x_valid", "y_valid"))
    assert x.shape == (60, 4) and y.shape == (60,)
    assert x_valid.shape == (20, 4) and y_valid.shape == (20,)
    assert not _rows(x) & _rows(x_valid)  # disjoint examples
    assert set(np.unique(y_valid.numpy())) == {0, 1}  # both classes of the same data
    assert problem.signature != _split(batch_size=10, validation_examples=10).signature


def test_the_split_and_the_validation_batches_are_deterministic_per_seed():
    a, b, c = (_split(seed=s, batch_size=10) for s in (1, 1, 2))
    for key in ("x", "x_valid"):
        np.testing.assert_array_equal(a.tensors[key].numpy(), b.tensors[key].numpy())
        assert not np.array_equal(a.tensors[key].numpy(), c.tensors[key].numpy())

    def valid_batch(problem, step, seed):
        return problem.validation_batch_fn(problem.tensors, tf.constant(step), as_seed(seed))[0]

    first = valid_batch(a, 0, 5).numpy()
    assert first.shape == (10, 4)
    np.testing.assert_array_equal(first, valid_batch(b, 0, 5).numpy())
    assert _rows(valid_batch(a, 0, 5)) <= _rows(a.tensors["x_valid"])
    epoch = np.concatenate([first, valid_batch(a, 1, 5).numpy()])
    assert len(_rows(tf.constant(epoch))) == 20  # one validation epoch covers every example
    assert not np.array_equal(first, valid_batch(a, 0, 6).numpy())  # another unroll seed
    train_first = a.batch_fn(a.tensors, tf.constant(0), as_seed(5))[0]
    assert not _rows(train_first) & _rows(tf.constant(first))


def test_image_sets_give_up_validation_examples_from_their_images():
    full = problems.get("mnist14_mlp", seed=0)
    split = problems.get("mnist14_mlp", seed=0, validation_examples=300)
    total = len(full.tensors["x"])
    assert len(split.tensors["x"]) == total - 300 and len(split.tensors["x_valid"]) == 300
    both = np.concatenate([split.tensors["x"].numpy(), split.tensors["x_valid"].numpy()])
    np.testing.assert_array_equal(np.sort(both, axis=0), np.sort(full.tensors["x"].numpy(), axis=0))
    labels = np.concatenate([split.tensors["y"].numpy(), split.tensors["y_valid"].numpy()])
    np.testing.assert_array_equal(np.sort(labels), np.sort(full.tensors["y"].numpy()))


def test_other_data_set_problems_share_the_split():
    moons = problems.get("two_moons", num_examples=64, validation_examples=48)
    assert moons.tensors["x"].shape == (64, 2) and moons.tensors["x_valid"].shape == (48, 2)
    assert not _rows(moons.tensors["x"]) & _rows(moons.tensors["x_valid"])
    snake = problems.get("outward_snake", dim=3, num_examples=32, validation_examples=8)
    assert snake.tensors["x"].shape == (32, 3) and snake.tensors["x_valid"].shape == (8, 3)
    with pytest.raises(ValueError, match="symmetry"):
        problems.get("sum_of_quadratics", dim=3, num_examples=32, validation_examples=8)


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_has_no_validation_split(case):
    problem = CASES[case](seed=0)
    assert not {"x_valid", "y_valid"} & set(problem.tensors)
    with pytest.raises(ValueError, match="no validation data"):
        problem.validation_batch_fn(problem.tensors, tf.constant(0), as_seed(0))


def test_validation_size_errors():
    with pytest.raises(ValueError, match="validation_examples must be >= 0"):
        _split(validation_examples=-1)
    with pytest.raises(ValueError, match="leaves no training data"):
        problems.get("mnist_conv", num_examples=None, validation_examples=5000)
    small = _split(batch_size=30, validation_examples=20)
    with pytest.raises(ValueError, match="exceeds the 20 examples"):
        small.validation_batch_fn(small.tensors, tf.constant(0), as_seed(0))


def test_transforms_pass_their_parts_validation_batches_through():
    part = _split(batch_size=10)
    rescaled = problems.get("rescale", problem=part, scale=4.0)
    step, seed = tf.constant(3), as_seed(7)
    (batch,) = rescaled.validation_batch_fn(rescaled.tensors, step, seed)
    expected = part.validation_batch_fn(part.tensors, step, fold_in(seed, 0))
    for a, b in zip(batch, expected):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    params = rescaled.init_params(1)
    np.testing.assert_allclose(
        float(rescaled.loss_fn(rescaled.tensors, params, (batch,))),
        float(part.loss_fn(part.tensors, [p / 4.0 for p in params], batch)),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="no validation data"):
        summed = problems.get("sum_task", problems=[part, problems.get("quadratic", dim=3)])
        summed.validation_batch_fn(summed.tensors, step, seed)
