"""A small ReLU MLP classifying the two-moons data set (seed 003 App. D.1).

Data: scikit-learn's `make_moons` (noise 0.1 by default) drawn from the problem's seed, so it
is generated locally and needs no download. Model: 2 → hidden… → 1 logit with ReLU hidden
layers, Glorot-uniform weights and zero biases; loss: mean sigmoid cross-entropy.
Spec **choices** (documented here): two hidden layers of 32 units, 128 examples, full batch.
The dynamics recipe (`trainers.presets`, `dynamics_two_moons`) uses two layers of 16 units:
the spec asks for a network small enough for 32 × 200-step unrolls on CPU, and 32-32 took
9.9 h for its 5 000 meta-steps on 2 cores.
With `validation_examples` > 0 that many extra examples are drawn and held out (the L_valid
outer objective of Metz et al. 2019, see `problems.base`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from sklearn.datasets import make_moons

from problems.base import Batch, DatasetProblem, fold_in
from problems.classifier import glorot_uniform


class TwoMoons(DatasetProblem):
    """MLP classifier on two moons.

    Args:
        hidden: widths of the ReLU hidden layers. Default (32, 32).
        num_examples: size of the generated training set. Default 128.
        noise: `make_moons` noise. Default 0.1.
        **kwargs: `batch_size` (default None: the full batch), `data_seed`,
            `validation_examples` (default 0: none) (see `DatasetProblem`), `seed`,
            `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "two_moons"

    def __init__(
        self,
        hidden: Sequence[int] = (32, 32),
        num_examples: int = 128,
        noise: float = 0.1,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.widths = [2, *[int(h) for h in hidden], 1]
        random_state = int(self.data_rng.integers(2**31))
        num_moons = self._with_validation(num_examples)
        x, y = make_moons(num_moons, noise=noise, random_state=random_state)
        self._set_data(x, y.astype(np.float64)[:, None], "generated:make_moons")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        shapes = []
        for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        return shapes

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        """Glorot-uniform kernels, zero biases."""
        return [
            glorot_uniform(shape, fold_in(seed, i), self.dtype)
            for i, shape in enumerate(self.param_shapes)
        ]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, y = batch
        for i in range(0, len(params), 2):
            x = x @ params[i] + params[i + 1]
            if i + 2 < len(params):
                x = tf.nn.relu(x)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x))
