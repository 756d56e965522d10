"""The conv task family of Metz et al. 2019 (§4.2, App. D.2): model, class draws, pools, data."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from problems import image_classes
from problems.base import as_seed
from trainers.unroll import unroll_from_init


def _task(seed=0, **kwargs):
    return problems.get("conv_task", seed=seed, **{"examples_per_class": 20, **kwargs})


def test_the_paper_architecture_has_about_20k_parameters():
    problem = _task()
    assert problem.param_shapes == [
        (3, 3, 3, 32), (32,), (3, 3, 32, 32), (32,), (3, 3, 32, 32), (32,), (32, 10), (10,)
    ]
    assert problem.num_params == 19722  # the paper's "20k parameters"
    assert problem.strides == [2, 2, 1] and problem.pooling == "mean"
    assert problem.batch_size == 128 and problem.init == "glorot"
    logits = problem.logits_fn(problem.init_params(0), problem.tensors["x"][:5])
    assert tuple(logits.shape) == (5, 10)


def test_glorot_init_and_zero_biases():
    params = _task().init_params(3)
    kernel = params[2].numpy()  # 3×3×32×32: fans 288 + 288
    limit = np.sqrt(6.0 / (9 * 32 + 9 * 32))
    assert np.abs(kernel).max() <= limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert not params[1].numpy().any() and not params[-1].numpy().any()


def test_a_task_is_ten_classes_of_32x32x3_images_drawn_from_the_seed():
    problem = _task(seed=4)
    x, y = problem.tensors["x"].numpy(), problem.tensors["y"].numpy()
    assert x.shape == (200, 32, 32, 3) and x.min() >= 0.0 and x.max() <= 1.0
    assert np.bincount(y.astype(int)).tolist() == [20] * 10
    assert len(set(problem.class_ids)) == 10
    np.testing.assert_array_equal(problem.class_ids, _task(seed=4).class_ids)
    draws = {tuple(sorted(_task(seed=s).class_ids)) for s in range(5)}
    assert len(draws) == 5
    assert _task(seed=1).signature == _task(seed=2).signature  # one trace for the family


def test_outer_train_and_outer_test_tasks_use_disjoint_classes():
    train = set().union(*(_task(seed=s, pool="train").class_ids for s in range(8)))
    test = set().union(*(_task(seed=s, pool="test").class_ids for s in range(8)))
    assert not train & test
    num_classes = image_classes.source().num_classes
    assert train <= set(image_classes.pool_classes(num_classes, "train"))
    assert test <= set(image_classes.pool_classes(num_classes, "test"))
    with pytest.raises(ValueError, match="pool"):
        _task(pool="validation")


def test_data_source_names_the_offline_stand_in_without_tfds_data(tmp_path):
    image_classes.source.cache_clear()
    try:
        problem = _task(data_dir=str(tmp_path))
    finally:
        image_classes.source.cache_clear()
    assert problem.data_source == "sklearn_sample_images"


def test_validation_split_holds_out_images_of_the_same_classes():
    problem = _task(validation_examples=50, batch_size=25)
    x, x_valid = problem.tensors["x"].numpy(), problem.tensors["x_valid"].numpy()
    assert x.shape == (150, 32, 32, 3) and x_valid.shape == (50, 32, 32, 3)
    assert not {i.tobytes() for i in x} & {i.tobytes() for i in x_valid}
    assert set(np.unique(problem.tensors["y_valid"].numpy())) <= set(range(10))
    np.testing.assert_array_equal(problem.class_ids, _task().class_ids)  # same task
    batch = problem.validation_batch_fn(problem.tensors, tf.constant(0), as_seed(1))
    assert tuple(batch[0].shape) == (25, 32, 32, 3)


def test_adam_lowers_the_loss_in_50_steps():
    problem = _task(seed=1, examples_per_class=64, batch_size=64)
    result = tf.function(unroll_from_init)(
        rules.get("adam", learning_rate=3e-3), problem, problem.tensors, as_seed(0), 50
    )
    losses = result.losses.numpy()
    assert np.all(np.isfinite(losses))
    assert losses[0] == pytest.approx(np.log(10), abs=0.1)
    assert losses[-10:].mean() < losses[:10].mean() - 0.1, losses
