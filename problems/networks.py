"""Neural-network classifiers (seed 001 problem spec; Wichrowska et al. 2017 §4.1, §5).

- `FullyConnected(d, c, hidden, activation)`: per layer W (fan_in, fan_out), b (fan_out);
  the activation after every layer but the last. Meta-training uses sigmoid MLPs on
  `random_mlp` data; the test problems use MLPs on `random` data and on MNIST.
- `ConvNet(image_shape, c, filters, activation)`: SAME convolutions (filters
  (h, w, out_channels)), each followed by the activation, then flatten and one dense layer.
  `image_shape` is (channels, height, width) as in the release; images are NHWC inside.
  The release's nets are stride 1, without conv biases, and flatten; the conv nets of Metz et
  al. 2019 (App. D.2, App. F) use `strides` (e.g. 2, 2, 1), `conv_biases=True` and
  `pooling="mean"` (global average pooling before the dense layer).

Loss, L2 term, inits and data are `problems.classifier.Classifier`'s. Defaults follow the
release: FullyConnected init N(0, 1)·1.2/√fan_in ("release"; the MLP test problems use
"he"), ConvNet init N(0, 0.01²) ("small").
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from problems.classifier import ACTIVATIONS, Classifier

POOLINGS = ("flatten", "mean")


def _check_activation(name: str, activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{name}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}."
        )
    return activation


class FullyConnected(Classifier):
    """An MLP classifier.

    Args:
        num_features: d. Default 10.
        num_classes: c. Default 2.
        hidden: hidden layer widths. Default (32, 64).
        activation: "sigmoid" (default), "relu", "tanh" or "identity".
        dataset: "random" (default), "random_mlp", "mnist", "cifar10".
        num_examples: size of a generated data set (default 1000), or of an image subset.
        dataset_kwargs: extra data set arguments. Default none.
        **kwargs: `init`, `batch_size`, `data_seed`, `validation_examples`, `seed`,
            `gradient_noise`, `dtype` (see `Classifier`).
    """

    name = "fully_connected"

    def __init__(
        self,
        num_features: int = 10,
        num_classes: int = 2,
        hidden: Sequence[int] = (32, 64),
        activation: str = "sigmoid",
        dataset: str = "random",
        num_examples: int | None = 1000,
        dataset_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_classes, dataset, num_examples, dataset_kwargs, **kwargs)
        self.activation = _check_activation(self.name, activation)
        self.widths = [int(num_features), *[int(h) for h in hidden], self.num_classes]
        self._set_data(*self._load_features(self.widths[0]))

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        shapes = []
        for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        return shapes

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.activation,)

    def logits_fn(self, params: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
        activation = ACTIVATIONS[self.activation]
        h = x
        for i in range(0, len(params), 2):
            if i > 0:
                h = activation(h)
            h = h @ params[i] + params[i + 1]
        return h


class ConvNet(Classifier):
    """SAME convolutions, then one dense layer.

    Args:
        image_shape: (channels, height, width). Default (1, 28, 28).
        num_classes: c. Default 10.
        filters: per conv layer (height, width, out_channels). Default ((3, 3, 8), (5, 5, 8)).
        activation: "relu" (default), "sigmoid", "tanh" or "identity".
        dataset: "mnist" (default), "cifar10", or a generated set ("random") of
            channels·height·width features reshaped to images.
        num_examples: size of a generated data set, or of an image subset (None: all).
        dataset_kwargs: extra data set arguments. Default none.
        init: default "small" (see `Classifier`).
        strides: per conv layer; None (default) for stride 1 everywhere.
        conv_biases: a bias after every convolution. Default False.
        pooling: "flatten" (default) or "mean" (global average pooling) before the dense
            layer.
        **kwargs: `batch_size`, `data_seed`, `validation_examples`, `seed`, `gradient_noise`,
            `dtype` (see `Classifier`).
    """

    name = "conv_net"

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        filters: Sequence[Sequence[int]] = ((3, 3, 8), (5, 5, 8)),
        activation: str = "relu",
        dataset: str = "mnist",
        num_examples: int | None = None,
        dataset_kwargs: Mapping[str, Any] | None = None,
        init: str = "small",
        strides: Sequence[int] | None = None,
        conv_biases: bool = False,
        pooling: str = "flatten",
        **kwargs: Any,
    ):
        super().__init__(num_classes, dataset, num_examples, dataset_kwargs, init=init, **kwargs)
        self.activation = _check_activation(self.name, activation)
        if pooling not in POOLINGS:
            raise ValueError(
                f"{self.name}: pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}."
            )
        channels, height, width = (int(v) for v in image_shape)
        self.image_shape = (channels, height, width)
        self.filters = [tuple(int(v) for v in f) for f in filters]
        self.strides = [1] * len(self.filters) if strides is None else [int(s) for s in strides]
        if len(self.strides) != len(self.filters) or min(self.strides, default=1) < 1:
            raise ValueError(
                f"{self.name}: need one stride >= 1 per conv layer, got {self.strides} for "
                f"{len(self.filters)} layers."
            )
        self.conv_biases = bool(conv_biases)
        self.pooling = pooling
        self._set_data(*self._load_images())

    def _load_images(self) -> tuple[np.ndarray, np.ndarray, str]:
        """Images [N, height, width, channels], labels [N] and the data source."""
        channels, height, width = self.image_shape
        x, y, source = self._load_features(channels * height * width)
        return x.reshape(len(x), height, width, channels), y, source

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        channels, height, width = self.image_shape
        shapes = []
        for (filter_height, filter_width, out_channels), stride in zip(self.filters, self.strides):
            shapes.append((filter_height, filter_width, channels, out_channels))
            if self.conv_biases:
                shapes.append((out_channels,))
            channels = out_channels
            height, width = -(-height // stride), -(-width // stride)  # SAME: ⌈size / stride⌉
        features = channels if self.pooling == "mean" else height * width * channels
        return shapes + [(features, self.num_classes), (self.num_classes,)]

    def _static_config(self) -> tuple:
        return super()._static_config() + (
            self.activation,
            tuple(self.strides),
            self.conv_biases,
            self.pooling,
        )

    def logits_fn(self, params: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
        activation = ACTIVATIONS[self.activation]
        per_layer = 2 if self.conv_biases else 1
        h = x  # [B, H, W, C]
        for layer, stride in enumerate(self.strides):
            kernel, *bias = params[per_layer * layer : per_layer * (layer + 1)]
            h = tf.nn.conv2d(h, kernel, strides=stride, padding="SAME")
            if bias:
                h = h + bias[0]
            h = activation(h)
        if self.pooling == "mean":
            h = tf.reduce_mean(h, axis=[1, 2])  # [B, C]
        else:
            h = tf.reshape(h, [-1, math.prod(h.shape[1:])])  # [B, H·W·C]
        w, b = params[-2:]
        return h @ w + b
