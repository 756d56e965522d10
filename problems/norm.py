"""The p-norm of a random linear residual (Wichrowska et al. 2017 §4.1; seed 001 `Norm`).

`Norm(n, p)`: parameters x of shape (n, 1), loss (Σ_i (|Wx − y|_i + ε)^p)^{1/p} with W
(n × n) and y drawn N(0, 1) per sample, ε = 1e-6 (keeps the gradient finite at a zero
residual), init N(0, 1). The minimum, at x = W⁻¹y, is n^{1/p} ε. The release notes that
p < 1 gives NaN gradients early in training, so p ≥ 1 is required.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from problems.base import Batch, Problem

EPSILON = 1e-6


class Norm(Problem):
    """(Σ(|Wx − y| + ε)^p)^{1/p} with random W, y.

    Args:
        dim: n, the number of parameters. Default 10.
        p: the norm's power, >= 1. Default 2.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "norm"

    def __init__(self, dim: int = 10, p: float = 2.0, **kwargs: Any):
        super().__init__(**kwargs)
        if dim < 1 or p < 1:
            raise ValueError(f"norm: need dim >= 1 and p >= 1, got dim={dim}, p={p}.")
        self.dim, self.p = int(dim), float(p)
        self.tensors = {
            "w": self._constant(self.rng.standard_normal((dim, dim))),
            "y": self._constant(self.rng.standard_normal((dim, 1))),
        }

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim, 1)]

    @property
    def optimum(self) -> float:
        return self.dim ** (1.0 / self.p) * EPSILON

    def _static_config(self) -> tuple:
        return (self.p,)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        residual = tensors["w"] @ params[0] - tensors["y"]
        return tf.reduce_sum((tf.abs(residual) + EPSILON) ** self.p) ** (1.0 / self.p)
