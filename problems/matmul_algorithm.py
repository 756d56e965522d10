"""Discovering a matrix multiplication algorithm (seed 001 `MatMulAlgorithm(n, k)`).

A k-multiplication algorithm for n × n matrices is a triple θ_a, θ_b [n², k], θ_c [k, n²]
with  ((vec a θ_a) ⊙ (vec b θ_b)) θ_c = vec(a b)  for all a, b; checking the n⁴ pairs of
one-hot matrices suffices. Only θ_a and θ_b are parameters: with P = (A θ_a) ⊙ (B θ_b)
[n⁴, k] (A, B the stacked one-hot vec a, vec b), θ_c is the least-squares solution
(PᵀP + λI)⁻¹PᵀC with λ one machine epsilon of PᵀP's mean diagonal (so a rank-deficient P
does not stop the solve), and the loss is Σ(P θ_c − C)². It is 0 iff (θ_a, θ_b) admits a valid algorithm:
always for k ≥ n³ (the schoolbook one), known for n = 2 at k = 7 (Strassen), unknown or
impossible for small k, which makes it a hard polynomial problem of degree six.
Initialization: N(0, 1) with every column of θ_a, θ_b scaled to unit L2 norm.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from problems.base import Batch, Problem, fold_in, normal


def one_hot_products(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """vec a, vec b, vec(a b) for every pair of one-hot n × n matrices: three [n⁴, n²]."""
    one_hots = np.eye(n * n).reshape(n * n, n, n)
    a = np.repeat(one_hots, n * n, axis=0)
    b = np.tile(one_hots, (n * n, 1, 1))
    c = a @ b
    return tuple(m.reshape(n**4, n * n) for m in (a, b, c))


class MatMulAlgorithm(Problem):
    """Σ(P θ_c − C)² with θ_c solved by least squares.

    Args:
        n: matrix size, >= 2. Default 2.
        k: number of multiplications, n² <= k <= n³. Default 7.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "matmul_algorithm"

    def __init__(self, n: int = 2, k: int = 7, **kwargs: Any):
        super().__init__(**kwargs)
        if n < 2 or not n * n <= k <= n**3:
            raise ValueError(f"matmul_algorithm: need n >= 2 and n² <= k <= n³, got n={n}, k={k}.")
        self.n, self.k = int(n), int(k)
        a, b, c = one_hot_products(self.n)
        self.tensors = {"a": self._constant(a), "b": self._constant(b), "c": self._constant(c)}

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.n * self.n, self.k)] * 2

    @property
    def optimum(self) -> float | None:
        return 0.0 if self.k >= self.n**3 or (self.n, self.k) == (2, 7) else None

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        """N(0, 1), each column normalized to unit L2 norm."""
        return [
            tf.math.l2_normalize(normal(shape, fold_in(seed, i), self.dtype), axis=0)
            for i, shape in enumerate(self.param_shapes)
        ]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        theta_a, theta_b = params
        p = (tensors["a"] @ theta_a) * (tensors["b"] @ theta_b)  # [n⁴, k]
        gram = tf.matmul(p, p, transpose_a=True)  # [k, k]
        # PᵀP is singular when P loses rank (e.g. a zero column): a Tikhonov term of one
        # machine epsilon of its mean diagonal keeps the solve defined and changes the loss
        # by O(ε²) (a meta-training run stopped on an exactly singular PᵀP, 2026-12-06).
        eps = float(np.finfo(self.dtype.as_numpy_dtype).eps)
        ridge = eps * tf.linalg.trace(gram) / self.k + float(np.finfo(self.dtype.as_numpy_dtype).tiny)
        theta_c = tf.linalg.solve(
            gram + ridge * tf.eye(self.k, dtype=self.dtype),
            tf.matmul(p, tensors["c"], transpose_a=True),
        )  # [k, n²]
        return tf.reduce_sum(tf.square(p @ theta_c - tensors["c"]))
