"""Quadratic bowl with a random coupling matrix (Wichrowska et al. 2017 §4.1.2).

Seed 001 problem spec, `Quadratic(n)`: parameters x of shape (n, 1), loss ½‖Wx − y‖² with
W (n × n) and y drawn N(0, 1) per sample, init x ~ N(0, 1). W is square and almost surely
invertible, so the minimum is 0.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from problems.base import Batch, Problem


class Quadratic(Problem):
    """½‖Wx − y‖² with random W, y.

    Args:
        dim: n, the number of parameters. Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "quadratic"

    def __init__(self, dim: int = 10, **kwargs: Any):
        super().__init__(**kwargs)
        if dim < 1:
            raise ValueError(f"quadratic: dim must be >= 1, got {dim}.")
        self.dim = int(dim)
        self.tensors = {
            "w": self._constant(self.rng.standard_normal((dim, dim))),
            "y": self._constant(self.rng.standard_normal((dim, 1))),
        }

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim, 1)]

    @property
    def optimum(self) -> float:
        return 0.0

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        residual = tensors["w"] @ params[0] - tensors["y"]
        return 0.5 * tf.reduce_sum(tf.square(residual))
