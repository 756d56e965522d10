"""The Rosenbrock function (seed 001 problem table; seed 003 App. D.1).

f(x, y) = (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1). Parameters: one tensor of shape (2,).
Initialization is uniform in a box: seed 001 uses U(−5, 10) for both coordinates (default);
seed 003 samples around the valley, e.g. `low=(-2, -1), high=(2, 3)`.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from problems.base import Batch, Problem, fold_in, uniform


class Rosenbrock(Problem):
    """(1 − x)² + 100 (y − x²)².

    Args:
        low: lower corner of the uniform init box, a float or (x, y). Default −5.
        high: upper corner of the uniform init box, a float or (x, y). Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "rosenbrock"

    def __init__(
        self,
        low: float | Sequence[float] = -5.0,
        high: float | Sequence[float] = 10.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.low = tf.broadcast_to(tf.constant(low, self.dtype), [2])
        self.high = tf.broadcast_to(tf.constant(high, self.dtype), [2])
        if not bool(tf.reduce_all(self.low < self.high)):
            raise ValueError(f"rosenbrock: need low < high, got low={low}, high={high}.")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(2,)]

    @property
    def optimum(self) -> float:
        return 0.0

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        u = uniform([2], fold_in(seed, 0), self.dtype)
        return [self.low + (self.high - self.low) * u]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, y = params[0][0], params[0][1]
        return tf.square(1.0 - x) + 100.0 * tf.square(y - tf.square(x))
