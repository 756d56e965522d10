"""A small ReLU MLP classifying the two-moons data set (seed 003 App. D.1).

Data: scikit-learn's `make_moons` (noise 0.1 by default) drawn from the problem's seed, so it
is generated locally and needs no download. Model: 2 → hidden… → 1 logit with ReLU hidden
layers, Glorot-uniform weights and zero biases; loss: mean sigmoid cross-entropy.
Spec **choices** (documented here): two hidden layers of 32 units, 128 examples, full batch.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from sklearn.datasets import make_moons

from problems.base import Batch, DatasetProblem, fold_in, uniform


class TwoMoons(DatasetProblem):
    """MLP classifier on two moons.

    Args:
        hidden: widths of the ReLU hidden layers. Default (32, 32).
        num_examples: size of the generated data set. Default 128.
        noise: `make_moons` noise. Default 0.1.
        validation_examples: size of a separate validation set drawn from the same
            distribution (for the L_valid outer objective); 0 (default) for none.
        batch_size: minibatch size, or None for the full batch (default).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "two_moons"

    def __init__(
        self,
        hidden: Sequence[int] = (32, 32),
        num_examples: int = 128,
        noise: float = 0.1,
        validation_examples: int = 0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.widths = [2, *[int(h) for h in hidden], 1]
        random_state = int(self.data_rng.integers(2**31))
        x, y = make_moons(num_examples, noise=noise, random_state=random_state)
        self.data_source = "generated:make_moons"
        self.tensors = {
            "x": self._constant(x),
            "y": self._constant(y.astype(np.float64)[:, None]),
        }
        if validation_examples > 0:
            random_state = int(self.data_rng.integers(2**31))
            x, y = make_moons(validation_examples, noise=noise, random_state=random_state)
            self.tensors["x_valid"] = self._constant(x)
            self.tensors["y_valid"] = self._constant(y.astype(np.float64)[:, None])

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        shapes = []
        for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        return shapes

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        """Glorot-uniform kernels, zero biases."""
        params = []
        for i, shape in enumerate(self.param_shapes):
            if len(shape) == 1:
                params.append(tf.zeros(shape, self.dtype))
                continue
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            u = uniform(shape, fold_in(seed, i), self.dtype)
            params.append(limit * (2.0 * u - 1.0))
        return params

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, y = batch
        for i in range(0, len(params), 2):
            x = x @ params[i] + params[i + 1]
            if i + 2 < len(params):
                x = tf.nn.relu(x)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x))
