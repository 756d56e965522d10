"""Least-squares linear regression with a drawn condition number (seed 003 App. D.1).

f(x) = ½‖A x − b‖² / n, A of shape (n, d), b of length n; convex, full batch, x(0) ~ N(0, I).
Spec **choices** (documented here, all configurable):
- n = 25 rows, d = 10 dimensions (the spec allows 5 or 10: `dim=5`);
- the condition number κ of the Hessian H = AᵀA / n is drawn per problem, log-uniformly from
  `condition_range` = [10, 1000];
- A = √n · Q_n diag(s) Q_dᵀ with Q_n (n × d, orthonormal columns) and Q_d (d × d,
  orthogonal) Haar-random and s_i = κ^(−i / (2(d − 1))), i = 0..d−1, so the eigenvalues of H
  are log-spaced from 1 down to 1/κ: the largest curvature is 1 on every problem and only
  the spread varies, so one tuned learning rate is meaningful across the family;
- b ~ N(0, I_n); with n > d the minimum ½‖(I − A A⁺) b‖² / n is positive (`optimum`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from problems.base import Batch, Problem


def _haar_orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A Haar-random matrix with orthonormal columns (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


class LinearRegression(Problem):
    """½‖A x − b‖² / n with a random A of drawn condition number.

    Args:
        dim: d, the number of parameters. Default 10.
        num_examples: n, the number of rows of A. Default 25.
        condition_range: (κ_min, κ_max) of the log-uniform condition number of AᵀA / n.
            Default (10, 1000).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "linear_regression"

    def __init__(
        self,
        dim: int = 10,
        num_examples: int = 25,
        condition_range: Sequence[float] = (10.0, 1000.0),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        low, high = (float(c) for c in condition_range)
        if dim < 2 or num_examples < dim:
            raise ValueError(
                f"linear_regression: need 2 <= dim <= num_examples, got dim={dim}, "
                f"num_examples={num_examples}."
            )
        if not 1.0 <= low <= high:
            raise ValueError(
                "linear_regression: need 1 <= κ_min <= κ_max, got "
                f"condition_range={condition_range}."
            )
        self.dim = int(dim)
        self.num_examples = int(num_examples)
        self.condition_number = float(np.exp(self.rng.uniform(np.log(low), np.log(high))))
        s = self.condition_number ** (-np.arange(dim) / (2.0 * (dim - 1)))  # [d]
        q_n = _haar_orthonormal(self.rng, num_examples, dim)
        q_d = _haar_orthonormal(self.rng, dim, dim)
        a = np.sqrt(num_examples) * (q_n * s) @ q_d.T  # [n, d]
        b = self.rng.standard_normal(num_examples)  # [n]
        residual = b - a @ np.linalg.lstsq(a, b, rcond=None)[0]
        self._optimum = 0.5 * float(residual @ residual) / num_examples
        self.tensors = {"a": self._constant(a), "b": self._constant(b)}

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.dim,)]

    @property
    def optimum(self) -> float:
        return self._optimum

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        residual = tf.linalg.matvec(tensors["a"], params[0]) - tensors["b"]  # [n]
        return 0.5 * tf.reduce_sum(tf.square(residual)) / self.num_examples
