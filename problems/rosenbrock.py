"""The Rosenbrock function (seed 001 problem table; seed 003 App. D.1).

f(x, y) = (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1). Parameters: one tensor of shape (2,).
Initialization is uniform in a box: seed 001 uses U(−5, 10) for both coordinates (default);
seed 003 samples around the valley, e.g. `low=(-2, -1), high=(2, 3)`.
"""

from __future__ import annotations

import tensorflow as tf

from problems.test_functions import Function2D


class Rosenbrock(Function2D):
    """(1 − x)² + 100 (y − x²)².

    Args:
        low: lower corner of the uniform init box, a float or (x, y). Default −5.
        high: upper corner of the uniform init box, a float or (x, y). Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "rosenbrock"
    low, high = -5.0, 10.0
    minimizers = ((1.0, 1.0),)

    def f(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return tf.square(1.0 - x) + 100.0 * tf.square(y - tf.square(x))
