"""Classifier problems: loss = cross-entropy + 1e-3 L2, sparse lookups, inits, data sources."""

import logging

import numpy as np
import pytest
import tensorflow as tf

import problems
from problems.base import as_seed


def _manual_binary_loss(x, y, w, b, params):
    logits = x @ w + b
    z = logits[:, 0]
    cross_entropy = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return cross_entropy.mean() + 1e-3 * np.mean([np.sum(p**2) for p in params])


def test_binary_softmax_regression_is_sigmoid_cross_entropy_on_logit_zero_plus_l2():
    problem = problems.get("softmax_regression", num_features=3, num_examples=20, dtype="float64")
    params = problem.init_params(1)
    x, y = (t.numpy() for t in problem.full_batch(problem.tensors))
    w, b = (p.numpy() for p in params)
    assert float(problem.loss(params)) == pytest.approx(
        _manual_binary_loss(x, y, w, b, [w, b]), rel=1e-12
    )
    assert problem.data_source == "generated:random"


def test_many_classes_use_softmax_cross_entropy():
    problem = problems.get(
        "softmax_regression", num_features=5, num_classes=4, num_examples=40, dtype="float64"
    )
    params = problem.init_params(1)
    x, y = (t.numpy() for t in problem.full_batch(problem.tensors))
    logits = x @ params[0].numpy() + params[1].numpy()
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -log_probs[np.arange(40), y.astype(int)].mean() + 1e-3 * np.mean(
        [np.sum(p.numpy() ** 2) for p in params]
    )
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert float(problem.loss(params)) == pytest.approx(expected, rel=1e-12)


def test_release_init_scales_by_1_2_over_sqrt_of_the_first_dimension():
    problem = problems.get("softmax_regression", num_features=400, num_examples=10)
    w = np.concatenate([problem.init_params(s)[0].numpy().ravel() for s in range(5)])
    assert w.std() == pytest.approx(1.2 / np.sqrt(400), rel=0.05)


def test_he_init_of_the_test_mlps():
    problem = problems.get(
        "fully_connected", num_features=200, hidden=(100,), num_examples=10, init="he"
    )
    stds = np.array(
        [
            np.concatenate([problem.init_params(s)[i].numpy().ravel() for s in range(10)]).std()
            for i in range(4)
        ]
    )
    np.testing.assert_allclose(stds, [np.sqrt(2 / 200), 0.1, np.sqrt(2 / 100), 0.1], rtol=0.25)
    with pytest.raises(ValueError, match="init"):
        problems.get("fully_connected", init="orthogonal")


def test_sparse_and_one_hot_lookups_agree_and_the_lookup_gradient_is_indexed_slices():
    kwargs = dict(num_features=3, num_classes=2, num_examples=12, dtype="float64")
    sparse = problems.get("sparse_softmax_regression", seed=1, **kwargs)
    one_hot = problems.get("one_hot_sparse_softmax_regression", seed=1, **kwargs)
    np.testing.assert_array_equal(sparse.tensors["x"].numpy(), one_hot.tensors["x"].numpy())
    ids, labels = sparse.tensors["x"].numpy(), sparse.tensors["y"].numpy()
    assert ids.shape == (12, 5) and set(np.unique(ids)) <= {0, 1}
    assert sparse.param_shapes == [(2, 3), (3, 2), (2,)]
    params = sparse.init_params(2)
    assert float(sparse.loss(params)) == pytest.approx(float(one_hot.loss(params)), rel=1e-12)

    table = tf.Variable(params[0])
    with tf.GradientTape(persistent=True) as tape:
        sparse_logits = tf.reduce_sum(sparse.logits_fn([table, *params[1:]], sparse.tensors["x"]))
        dense_logits = tf.reduce_sum(one_hot.logits_fn([table, *params[1:]], one_hot.tensors["x"]))
    indexed = tape.gradient(sparse_logits, table)
    assert isinstance(indexed, tf.IndexedSlices)
    dense = sparse.transform_gradients(sparse.tensors, [indexed], tf.constant(0), as_seed(0))[0]
    assert isinstance(dense, tf.Tensor)
    np.testing.assert_allclose(
        dense.numpy(), tape.gradient(dense_logits, table).numpy(), rtol=1e-12
    )
    assert labels.max() <= 1


def test_fully_connected_layers_and_activation_in_the_signature():
    sigmoid = problems.get("fully_connected", num_features=4, hidden=(3, 2), num_examples=10)
    relu = problems.get(
        "fully_connected", num_features=4, hidden=(3, 2), num_examples=10, activation="relu"
    )
    assert sigmoid.param_shapes == [(4, 3), (3,), (3, 2), (2,), (2, 2), (2,)]
    assert sigmoid.signature != relu.signature
    with pytest.raises(ValueError, match="activation"):
        problems.get("fully_connected", activation="swish")


def test_conv_net_shapes_logits_and_small_init():
    net = problems.get(
        "conv_net",
        image_shape=(1, 6, 6),
        num_classes=3,
        filters=((3, 3, 4), (5, 5, 2)),
        dataset="random",
        num_examples=30,
    )
    assert net.param_shapes == [(3, 3, 1, 4), (5, 5, 4, 2), (6 * 6 * 2, 3), (3,)]
    assert tuple(net.tensors["x"].shape) == (30, 6, 6, 1)
    assert tuple(net.logits_fn(net.init_params(0), net.tensors["x"]).shape) == (30, 3)
    weights = np.concatenate([p.numpy().ravel() for p in net.init_params(0)])
    assert weights.std() == pytest.approx(0.01, rel=0.1)


def test_conv_net_strides_biases_and_global_average_pooling():
    kwargs = dict(image_shape=(2, 7, 7), num_classes=3, dataset="random", num_examples=6)
    filters = ((3, 3, 4), (3, 3, 5))
    flat = problems.get("conv_net", filters=filters, strides=(2, 2), **kwargs)
    assert flat.param_shapes == [(3, 3, 2, 4), (3, 3, 4, 5), (2 * 2 * 5, 3), (3,)]  # 7→4→2
    net = problems.get(
        "conv_net", filters=filters, strides=(2, 1), conv_biases=True, pooling="mean", **kwargs
    )
    assert net.param_shapes == [(3, 3, 2, 4), (4,), (3, 3, 4, 5), (5,), (5, 3), (3,)]
    params = [tf.random.normal(shape, seed=i) for i, shape in enumerate(net.param_shapes)]
    x = net.tensors["x"]
    h = tf.nn.relu(tf.nn.conv2d(x, params[0], 2, "SAME") + params[1])
    h = tf.nn.relu(tf.nn.conv2d(h, params[2], 1, "SAME") + params[3])
    expected = tf.reduce_mean(h, axis=[1, 2]) @ params[4] + params[5]
    np.testing.assert_allclose(net.logits_fn(params, x).numpy(), expected.numpy(), rtol=1e-5)
    assert net.signature != flat.signature
    with pytest.raises(ValueError, match="one stride"):
        problems.get("conv_net", filters=filters, strides=(2,), **kwargs)
    with pytest.raises(ValueError, match="pooling"):
        problems.get("conv_net", filters=filters, pooling="max", **kwargs)


def test_image_problems_report_their_data_source():
    mlp = problems.get(
        "fully_connected",
        num_features=784,
        num_classes=10,
        hidden=(8,),
        dataset="mnist",
        num_examples=100,
        data_seed=0,
    )
    assert mlp.data_source in ("tfds:mnist", "sklearn_digits")
    assert tuple(mlp.tensors["x"].shape) == (100, 784)
    with pytest.raises(ValueError, match="expects 100"):
        problems.get("fully_connected", num_features=100, dataset="mnist", num_classes=10)
    with pytest.raises(ValueError, match="Unknown data set"):
        problems.get("softmax_regression", dataset="imagenet")


def test_the_data_source_is_logged_once_for_many_samples_of_a_problem(caplog):
    with caplog.at_level(logging.INFO, logger="problems.base"):
        for seed in range(3):
            problems.get("two_moons", seed=seed, num_examples=37, hidden=(4,))
        problems.get("two_moons", seed=0, num_examples=37, validation_examples=5, hidden=(4,))
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("two_moons: 37 examples from generated:make_moons.") == 1
    assert messages.count(
        "two_moons: 37 training and 5 validation examples from generated:make_moons."
    ) == 1


def test_fixed_data_seed_shares_the_data_across_samples():
    a = problems.get("softmax_regression", seed=1, num_examples=20, data_seed=123)
    b = problems.get("softmax_regression", seed=2, num_examples=20, data_seed=123)
    c = problems.get("softmax_regression", seed=2, num_examples=20)
    np.testing.assert_array_equal(a.tensors["x"].numpy(), b.tensors["x"].numpy())
    assert not np.array_equal(b.tensors["x"].numpy(), c.tensors["x"].numpy())
