"""Minibatch quadratics on symmetric random data (Wichrowska et al. 2017 §4.1.3).

Both take parameters θ of shape (1, n), init N(0, 1), and minibatches of
`random_symmetric(n, N)` (Gaussian rows x_b and their negations, so the data mean is exactly
0 and the full-batch minimum is at θ = 0):

- `ProjectionQuadratic(n)`: the paper's "square inner product of the parameters with random
  input vectors", Σ_b ⟨θ, x_b⟩² (default, `variant="paper"`). The release computes
  Σ_b Σ_i (θ_i x_bi)² instead, a diagonal quadratic; `variant="release"` keeps it (seed 001
  spec table). Both are 0 at θ = 0.
- `SumOfQuadratics(n)`: Σ_b ‖θ − x_b‖² − Σ_b ‖x_b‖² + 1e-12 (the value at θ = 0 subtracted,
  ε added against round-off); the full-batch minimum is ε at θ = 0.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from problems import datasets
from problems.base import Batch, DatasetProblem

EPSILON = 1e-12
VARIANTS = ("paper", "release")


class _SymmetricDataQuadratic(DatasetProblem):
    """Parameters (1, n) and `random_symmetric(n, num_examples)` data; no validation split
    (held-out rows would break the symmetry)."""

    def __init__(self, dim: int = 10, num_examples: int = 1000, **kwargs: Any):
        super().__init__(**kwargs)
        if dim < 1 or num_examples < 2:
            raise ValueError(
                f"{self.name}: need dim >= 1 and num_examples >= 2, got {dim}, {num_examples}."
            )
        if self.validation_examples:
            raise ValueError(
                f"{self.name}: no validation split; held-out rows would break the symmetry of "
                "the data that puts the minimum at θ = 0."
            )
        self.dim = int(dim)
        x, y = datasets.random_symmetric(self.data_rng, num_examples, self.dim)
        self._set_data(x, y, "generated:random_symmetric")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(1, self.dim)]


class ProjectionQuadratic(_SymmetricDataQuadratic):
    """Σ_b ⟨θ, x_b⟩² over the minibatch (paper) or Σ(θ ⊙ x)² (release).

    Args:
        dim: n. Default 10.
        num_examples: N, the size of the data set. Default 1000.
        variant: "paper" (default) or "release" (see the module docstring).
        batch_size: minibatch size, or None for the full batch (default).
        data_seed: fixed seed of the data set; None draws it from `seed` (default).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "projection_quadratic"

    def __init__(
        self, dim: int = 10, num_examples: int = 1000, variant: str = "paper", **kwargs: Any
    ):
        if variant not in VARIANTS:
            raise ValueError(
                f"projection_quadratic: variant must be one of {VARIANTS}, got {variant!r}."
            )
        super().__init__(dim, num_examples, **kwargs)
        self.variant = variant

    @property
    def optimum(self) -> float:
        return 0.0

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.variant,)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, _ = batch  # [B, n]
        if self.variant == "release":
            return tf.reduce_sum(tf.square(params[0] * x))
        return tf.reduce_sum(tf.square(x @ tf.transpose(params[0])))


class SumOfQuadratics(_SymmetricDataQuadratic):
    """Σ_b ‖θ − x_b‖² − Σ_b ‖x_b‖² + 1e-12 over the minibatch.

    Args:
        dim: n. Default 10.
        num_examples: N, the size of the data set. Default 1000.
        batch_size: minibatch size, or None for the full batch (default).
        data_seed: fixed seed of the data set; None draws it from `seed` (default).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "sum_of_quadratics"

    @property
    def optimum(self) -> float:
        return EPSILON

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, _ = batch  # [B, n]
        return tf.reduce_sum(tf.square(params[0] - x)) - tf.reduce_sum(tf.square(x)) + EPSILON
