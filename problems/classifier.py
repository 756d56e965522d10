"""Classifier problems on data sets: shared loss, init and data (seed 001 problem spec).

A `Classifier` maps a minibatch of features to logits [B, c] (`logits_fn`, per subclass) and
minimizes, as the release's `SoftmaxClassifier`,

    mean cross-entropy + 1e-3 · mean over parameter tensors of Σθ²   (the L2 term).

With c = 2 the cross-entropy is the release's: sigmoid cross-entropy on logit column 0. The
release refuses c > 2; for the 10-class test problems (MNIST, `random(20, 10000, 10
classes)`) we use softmax cross-entropy over all c logits.

Data (`load_features`): a generated set of `problems.datasets.CLASSIFICATION` ("random",
"random_mlp"), drawn from the problem's data generator, or an image set of
`problems.image_data` ("mnist", "cifar10", local or offline stand-in), flattened; the
attribute `data_source` records which ("generated:random", "tfds:mnist",
"sklearn_digits", ...).

Initializations (`init`): "release" N(0, 1)·1.2/√shape[0] for every tensor (default);
"he" N(0, 2/fan_in) weights and N(0, 0.1²) biases (the release's MLP test problems);
"small" N(0, 0.01²) (the release's conv net); "glorot" Glorot-uniform weights
U(±√(6/(fan_in + fan_out))) and zero biases (Glorot & Bengio 2010; the conv nets of Metz et
al. 2019 App. D.2; the fans of a conv kernel include its receptive field).

Validation split (`validation_examples`, `DatasetProblem`): generated sets and image subsets
draw `num_examples + validation_examples` examples; with `num_examples=None` the validation
examples are held out of all the images.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from problems import datasets, image_data
from problems.base import Batch, DatasetProblem, fold_in, normal, uniform

L2_SCALE = 1e-3
ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "sigmoid": tf.sigmoid,
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "identity": tf.identity,
}


Initializer = Callable[[Sequence[int], tf.Tensor, tf.DType], tf.Tensor]  # (shape, seed, dtype)


def _scaled_normal(scale: Callable[[Sequence[int]], float]) -> Initializer:
    """N(0, 1)·scale(shape)."""

    def init(shape: Sequence[int], seed: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
        return scale(shape) * normal(shape, seed, dtype)

    return init


def _release_scale(shape: Sequence[int]) -> float:
    return 1.2 / math.sqrt(shape[0])


def _he_scale(shape: Sequence[int]) -> float:
    return math.sqrt(2.0 / math.prod(shape[:-1])) if len(shape) > 1 else 0.1


def glorot_uniform(shape: Sequence[int], seed: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """U(±√(6/(fan_in + fan_out))) for a kernel [..., fan_in, fan_out] (the leading
    dimensions, a conv kernel's receptive field, multiply both fans); zeros for a bias."""
    if len(shape) == 1:
        return tf.zeros(shape, dtype)
    receptive_field = math.prod(shape[:-2])
    limit = math.sqrt(6.0 / (receptive_field * (shape[-2] + shape[-1])))
    return limit * (2.0 * uniform(shape, seed, dtype) - 1.0)


INITS: dict[str, Initializer] = {
    "release": _scaled_normal(_release_scale),
    "he": _scaled_normal(_he_scale),
    "small": _scaled_normal(lambda shape: 0.01),
    "glorot": glorot_uniform,
}


def load_features(
    dataset: str,
    rng: np.random.Generator,
    num_examples: int | None,
    num_features: int,
    num_classes: int,
    dataset_kwargs: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Features [N, num_features], labels [N] and the data source of data set `dataset`.

    Generated sets draw `num_examples` examples from `rng`; image sets keep all their
    examples, or a random subset of `num_examples` drawn with `rng`.
    """
    kwargs = dict(dataset_kwargs or {})
    if dataset in datasets.CLASSIFICATION:
        if num_examples is None:
            raise ValueError(f"Generated data set {dataset!r} needs num_examples.")
        x, y = datasets.CLASSIFICATION[dataset](
            rng, num_examples, num_features, num_classes, **kwargs
        )
        return x, y, f"generated:{dataset}"
    if dataset not in image_data.SHAPES:
        known = ", ".join([*datasets.CLASSIFICATION, *image_data.SHAPES])
        raise ValueError(f"Unknown data set {dataset!r}; use one of {known}.")
    images = image_data.load(dataset, **kwargs)
    x = images.x.reshape(len(images.x), -1)
    if x.shape[1] != num_features:
        raise ValueError(
            f"{dataset} images have {x.shape[1]} features ({image_data.SHAPES[dataset]}), "
            f"the problem expects {num_features}."
        )
    if int(images.y.max()) >= num_classes:
        raise ValueError(
            f"{dataset} has {int(images.y.max()) + 1} classes, got num_classes={num_classes}."
        )
    if num_examples is not None and num_examples < len(x):
        keep = rng.permutation(len(x))[:num_examples]
        x, images = x[keep], images._replace(y=images.y[keep])
    return x, images.y, images.source


class Classifier(DatasetProblem):
    """Cross-entropy + L2 of a model on a data set; subclasses define shapes and logits.

    Args:
        num_classes: c, >= 2.
        dataset: data set name (see `load_features`).
        num_examples: size of a generated data set, or of a subset of an image set (None:
            all images).
        dataset_kwargs: extra arguments of the data set (e.g. {"sep": 2.0} for "random").
        init: "release", "he", "small" or "glorot" (see the module docstring).
        **kwargs: `batch_size`, `data_seed`, `validation_examples` (see `DatasetProblem`),
            `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    def __init__(
        self,
        num_classes: int,
        dataset: str,
        num_examples: int | None,
        dataset_kwargs: Mapping[str, Any] | None = None,
        init: str = "release",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if num_classes < 2:
            raise ValueError(f"{self.name}: num_classes must be >= 2, got {num_classes}.")
        if init not in INITS:
            raise ValueError(f"{self.name}: init must be one of {', '.join(INITS)}, got {init!r}.")
        self.num_classes = int(num_classes)
        self.dataset = dataset
        self.num_examples = num_examples
        self.dataset_kwargs = dict(dataset_kwargs or {})
        self.init = init

    def _load_features(self, num_features: int) -> tuple[np.ndarray, np.ndarray, str]:
        """`load_features` of this problem's data set, with room for the validation split."""
        return load_features(
            self.dataset,
            self.data_rng,
            self._with_validation(self.num_examples),
            num_features,
            self.num_classes,
            self.dataset_kwargs,
        )

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.init,)

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        init = INITS[self.init]
        return [
            init(shape, fold_in(seed, i), self.dtype) for i, shape in enumerate(self.param_shapes)
        ]

    @abc.abstractmethod
    def logits_fn(self, params: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
        """Logits [B, c] of the features `x` of a minibatch."""

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, y = batch
        logits = self.logits_fn(params, x)
        if self.num_classes == 2:
            cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits[:, 0])
        else:
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.cast(y, tf.int32), logits=logits
            )
        l2 = tf.reduce_mean(tf.stack([tf.reduce_sum(tf.square(p)) for p in params]))
        return tf.reduce_mean(cross_entropy) + L2_SCALE * l2
