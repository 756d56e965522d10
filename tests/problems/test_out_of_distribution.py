"""The out-of-distribution problems of Metz et al. 2019 App. F and their 14×14 MNIST."""

import numpy as np
import pytest

import problems
from problems import image_data


def test_the_problem_set_lists_the_five_app_f_problems():
    labels = [entry.factory.label for entry in problems.get_set("metz2019_ood")]
    assert labels == [
        "mnist14_mlp()",
        "mnist14_mlp(hidden=(128, 128, 128))",
        "mnist_conv(strides=(2, 1, 2, 1, 1, 1))",
        "mnist_conv()",
        "conv_task(channels=128, pool='test')",
    ]


@pytest.mark.parametrize("index", range(5))
def test_each_builds_with_a_finite_loss_near_log_10(index):
    factory = problems.get_set("metz2019_ood").entries[index].factory
    problem = factory(seed=0, **({"examples_per_class": 20} if index == 4 else {}))
    batch = next(problem.batches(seed=0))
    assert len(batch[0]) == 128
    loss = float(problem.loss(problem.init_params(0), batch))
    assert np.isfinite(loss) and loss == pytest.approx(np.log(10), abs=0.3)


def test_architectures():
    assert problems.get("mnist14_mlp").param_shapes == [
        (196, 32), (32,), (32, 32), (32,), (32, 10), (10,)
    ]
    wide = problems.get("mnist14_mlp", hidden=(128, 128, 128))
    assert wide.num_params == 196 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 10 + 10
    deep = problems.get("mnist_conv", strides=(2, 1, 2, 1, 1, 1))
    kernels = [s for s in deep.param_shapes if len(s) == 4]
    assert kernels == [(3, 3, 1, 32)] + [(3, 3, 32, 32)] * 5
    assert deep.param_shapes[-2:] == [(32, 10), (10,)]  # global average pooling
    x = deep.tensors["x"][:3]
    assert tuple(deep.logits_fn(deep.init_params(0), x).shape) == (3, 10)
    assert tuple(problems.get("mnist_conv").tensors["x"].shape[1:]) == (28, 28, 1)
    wide_conv = problems.get("conv_task", channels=128, pool="test", examples_per_class=2)
    assert wide_conv.param_shapes[0] == (3, 3, 3, 128)


def test_mnist14_is_mnist_averaged_over_2x2_blocks():
    mnist, small = image_data.load("mnist"), image_data.load("mnist14")
    assert small.x.shape == (len(mnist.x), 14, 14, 1) and small.source == mnist.source
    block = mnist.x[:, 6:8, 10:12, 0].mean(axis=(1, 2))
    np.testing.assert_allclose(small.x[:, 3, 5, 0], block, rtol=1e-6)
    np.testing.assert_array_equal(small.y, mnist.y)
    problem = problems.get("mnist14_mlp")
    assert tuple(problem.tensors["x"].shape) == (len(mnist.x), 196)
    assert problem.data_source in ("tfds:mnist", "sklearn_digits")
