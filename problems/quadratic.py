"""Quadratic bowls, "well behaved problems" of Wichrowska et al. 2017 §4.1.2.

Seed 001 problem spec, init N(0, 1) for every tensor:
- `Quadratic(n)`: parameters x of shape (n, 1), loss ½‖Wx − y‖² with W (n × n) and y drawn
  N(0, 1) per sample. W is square and almost surely invertible, so the minimum is 0.
- `Bowl(κ, angle)`: x of shape (2, 1), loss ½‖Ax‖² with A = √diag(κ, 1)·R(angle), R the
  rotation by `angle`: condition number κ along a rotated axis; 0 at 0.
- `IsotropicQuadratic(shapes)`: Σθ² over tensors of any shapes; 0 at 0.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
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


class Bowl(Problem):
    """½‖Ax‖², A = √diag(κ, 1)·R(angle).

    Args:
        condition_number: κ > 0. Default 1.
        angle: rotation of the bowl's axes, radians. Default 0.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "bowl"

    def __init__(self, condition_number: float = 1.0, angle: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        if condition_number <= 0:
            raise ValueError(f"bowl: condition_number must be > 0, got {condition_number}.")
        self.condition_number = float(condition_number)
        self.angle = float(angle)
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = np.array([[cos, -sin], [sin, cos]])
        self.tensors = {"a": self._constant(np.sqrt(np.diag([condition_number, 1.0])) @ rotation)}

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(2, 1)]

    @property
    def optimum(self) -> float:
        return 0.0

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return 0.5 * tf.reduce_sum(tf.square(tensors["a"] @ params[0]))


class IsotropicQuadratic(Problem):
    """Σθ² over all parameter tensors.

    Args:
        shapes: the parameter shapes. Default ((10,),).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "isotropic_quadratic"

    def __init__(self, shapes: Sequence[Sequence[int]] = ((10,),), **kwargs: Any):
        super().__init__(**kwargs)
        self.shapes = [tuple(int(d) for d in shape) for shape in shapes]
        if not self.shapes:
            raise ValueError("isotropic_quadratic: needs at least one parameter shape.")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return self.shapes

    @property
    def optimum(self) -> float:
        return 0.0

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return tf.add_n([tf.reduce_sum(tf.square(p)) for p in params])
