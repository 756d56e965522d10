"""Slow-convergence problems (Wichrowska et al. 2017 §4.1.4), init N(0, 1).

- `DependencyChain(n)`: θ of shape (n + 1,), loss θ₀² + Σ_{i≥1} θ_i² / (θ_{i−1}² + ε):
  "a very strong coupling between parameters in a sequence"; each θ_i can only go to 0
  after θ_{i−1} has. Minimum 0 at θ = 0. The release feeds it random binary data that the
  loss ignores; here it is data-free.
- `MinMaxWell(n)`: θ of shape (n,), loss max_i θ_i² + 1 / min_i θ_i² − 2 + 1e-12: the loss
  "only depends on the minimum and maximum valued parameter", so gradients are extremely
  sparse and discontinuous. Minimum 1e-12 where every |θ_i| = 1.
- `OutwardSnake(n)`: θ of shape (n,) on minibatches x of `random_binary(n, N)`, loss
  Σ_b x_b0 / (‖θ‖ + ε) + Σ_b Σ_{i≥1} ((θ_i − π cos θ_{i−1}) x_bi)²: "a many-dimensional
  oscillating valley whose global minimum lies at infinity".

ε = 1e-6 as in the release.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import tensorflow as tf

from problems import datasets
from problems.base import Batch, DatasetProblem, Problem

EPSILON = 1e-6
WELL_EPSILON = 1e-12


def _check_dim(name: str, dim: int) -> int:
    if dim < 1:
        raise ValueError(f"{name}: dim must be >= 1, got {dim}.")
    return int(dim)


class DependencyChain(Problem):
    """θ₀² + Σ θ_i² / (θ_{i−1}² + ε).

    Args:
        dim: n; the chain has n + 1 parameters. Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "dependency_chain"

    def __init__(self, dim: int = 10, **kwargs: Any):
        super().__init__(**kwargs)
        self.dim = _check_dim(self.name, dim)

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim + 1,)]

    @property
    def optimum(self) -> float:
        return 0.0

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        theta = params[0]
        return theta[0] ** 2 + tf.reduce_sum(theta[1:] ** 2 / (theta[:-1] ** 2 + EPSILON))


class MinMaxWell(Problem):
    """max θ² + 1 / min θ² − 2 + 1e-12.

    Args:
        dim: n. Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "min_max_well"

    def __init__(self, dim: int = 10, **kwargs: Any):
        super().__init__(**kwargs)
        self.dim = _check_dim(self.name, dim)

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim,)]

    @property
    def optimum(self) -> float:
        return WELL_EPSILON

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        squares = tf.square(params[0])
        return tf.reduce_max(squares) + 1.0 / tf.reduce_min(squares) - 2.0 + WELL_EPSILON


class OutwardSnake(DatasetProblem):
    """Σ x_0 / (‖θ‖ + ε) + Σ ((θ[1:] − π cos θ[:−1]) ⊙ x[:, 1:])² on binary data.

    Args:
        dim: n. Default 10.
        num_examples: N, the size of the binary data set. Default 1000.
        **kwargs: `batch_size`, `data_seed`, `validation_examples` (see `DatasetProblem`),
            `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "outward_snake"

    def __init__(self, dim: int = 10, num_examples: int = 1000, **kwargs: Any):
        super().__init__(**kwargs)
        self.dim = _check_dim(self.name, dim)
        num_binary = self._with_validation(num_examples)
        x, y = datasets.random_binary(self.data_rng, num_binary, self.dim)
        self._set_data(x, y, "generated:random_binary")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim,)]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        x, _ = batch  # [B, n]
        theta = params[0]
        radial = tf.reduce_sum(x[:, 0]) / (tf.norm(theta) + EPSILON)
        valley = (theta[1:] - math.pi * tf.cos(theta[:-1])) * x[:, 1:]
        return radial + tf.reduce_sum(tf.square(valley))
