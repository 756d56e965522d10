"""The 1-D loss with two local minima of Metz et al. 2019 §2.3, Fig. 2a (and App. B, Fig. 9).

    l(w) = (w − 4)(w − 3) w² = w⁴ − 7w³ + 12w²,   l'(w) = w (4w² − 21w + 24)

One parameter of shape (1,), started at the fixed w(0) = −1.2 of the paper. The stationary
points are the roots of l': w = 0 (a local minimum, l = 0), w = (21 − √57)/8 ≈ 1.6813 (the
maximum between the basins, l ≈ 8.643) and w* = (21 + √57)/8 ≈ 3.5687 (the global minimum,
l(w*) ≈ −3.1238, `optimum`, computed in closed form from the root). Which minimum an
optimizer reaches from w(0) depends on its hyper-parameters: the toy study of exploding and
discontinuous outer-loss surfaces (trainers/figures/metz2019.py).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import tensorflow as tf

from problems.base import Batch, Problem, fold_in, normal

GLOBAL_MINIMIZER = (21.0 + math.sqrt(57.0)) / 8.0  # ≈ 3.5687, root of 4w² − 21w + 24
LOCAL_MINIMIZER = 0.0
BARRIER = (21.0 - math.sqrt(57.0)) / 8.0  # ≈ 1.6813, the maximum between the two basins


def two_minima_loss(w: Any) -> Any:
    """l(w) = (w − 4)(w − 3) w², elementwise (tensors or numpy arrays)."""
    return (w - 4.0) * (w - 3.0) * w * w


MINIMUM = two_minima_loss(GLOBAL_MINIMIZER)  # ≈ −3.1238


class TwoMinima(Problem):
    """l(w) = (w − 4)(w − 3) w² on one parameter of shape (1,).

    Args:
        init: w(0). Default −1.2 (the paper's).
        init_std: σ of Gaussian noise added to w(0), drawn from the init seed. Default 0:
            every seed starts at exactly `init`, as in the paper.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "two_minima"

    def __init__(self, init: float = -1.2, init_std: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        if init_std < 0:
            raise ValueError(f"two_minima: init_std must be >= 0, got {init_std}.")
        self.init, self.init_std = float(init), float(init_std)

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(1,)]

    @property
    def optimum(self) -> float:
        return MINIMUM

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        """w(0) = `init` (+ `init_std` · N(0, 1) when `init_std` > 0)."""
        w = tf.fill([1], tf.constant(self.init, self.dtype))
        if self.init_std > 0:
            w += self.init_std * normal([1], fold_in(seed, 0), self.dtype)
        return [w]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return tf.reduce_sum(two_minima_loss(params[0]))
