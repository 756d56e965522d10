"""Transformed problems (Wichrowska et al. 2017 §4.1.5; seed 001 spec "Transforms").

Each wraps one or more problems, given as `Problem` instances or as factories called
`factory(seed=..., dtype=...)` (e.g. `problems.Factory("quadratic", dim=20)`):

- `Rescale(p, scale)`: "a linear change of variables": init θ' = scale·θ₀, loss f(θ'/scale).
- `SparseProblem(p, zero_probability=0.99)`: "sets a large fraction of the gradient entries
  to 0 at each training step": each element independently, with a fresh mask every step
  (in `transform_gradients`; the wrapper's own gradient noise comes after, as in the
  release).
- `LogObjective(p)`: log(f + ε) − log(ε), ε = 1e-6, and `Power(p, k)`: f^k — the paper's
  "monotonic transformations (such as raising to a power) to the final loss"; both keep a
  minimum of 0 at 0 (Power needs f ≥ 0).
- `SumTask([p₁, …])`: the multitask transform, "summed the loss and concatenated the
  parameters"; parts draw their samples from seeds drawn from the task's seed.

A wrapper owns its parts' tensors (keys prefixed "i/"), minibatches (part i uses the seed
fold_in(seed, i)), initial parameters, gradient hooks and gradient noise: the part's
`transform_gradients` and then its `gradient_noise` are applied in the wrapper's
`transform_gradients`. (The release's noisy multitask sets set noise on the parts but never
applied it; here it is applied.) The wrapper's own `gradient_noise` is added by the inner
loop as for any problem.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import tensorflow as tf

from problems.base import Batch, Problem, fold_in, normal, uniform

ProblemSource = Problem | Callable[..., Problem]
LOG_EPSILON = 1e-6


class Transform(Problem):
    """A problem built from `parts`; subclasses combine the parts' losses in `loss_fn`."""

    def __init__(self, parts: Sequence[ProblemSource], **kwargs: Any):
        super().__init__(**kwargs)
        if not parts:
            raise ValueError(f"{self.name}: needs at least one problem.")
        seeds = [self.seed] if len(parts) == 1 else [int(self.rng.integers(2**31)) for _ in parts]
        self.parts = [self._build(part, seed) for part, seed in zip(parts, seeds)]
        self.tensors = {
            f"{i}/{key}": value
            for i, part in enumerate(self.parts)
            for key, value in part.tensors.items()
        }

    def _build(self, part: ProblemSource, seed: int) -> Problem:
        if not isinstance(part, Problem):
            part = part(seed=seed, dtype=self.dtype.name)
        if part.dtype != self.dtype:
            raise ValueError(
                f"{self.name}: part {part!r} is {part.dtype.name}, not {self.dtype.name}."
            )
        return part

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [shape for part in self.parts for shape in part.param_shapes]

    def _static_config(self) -> tuple:
        return tuple(part.signature for part in self.parts)

    def part_tensors(self, tensors: dict[str, tf.Tensor], i: int) -> dict[str, tf.Tensor]:
        return {key: tensors[f"{i}/{key}"] for key in self.parts[i].tensors}

    def split(self, values: Sequence[Any]) -> list[list[Any]]:
        """Per part, its slice of a list aligned with `param_shapes` (params, gradients)."""
        pieces, start = [], 0
        for part in self.parts:
            pieces.append(list(values[start : start + len(part.param_shapes)]))
            start += len(part.param_shapes)
        return pieces

    def part_losses(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> list[tf.Tensor]:
        return [
            part.loss_fn(self.part_tensors(tensors, i), part_params, part_batch)
            for i, (part, part_params, part_batch) in enumerate(
                zip(self.parts, self.split(params), batch)
            )
        ]

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        return [p for i, part in enumerate(self.parts) for p in part.init_params(fold_in(seed, i))]

    def full_batch(self, tensors: dict[str, tf.Tensor]) -> Batch:
        return tuple(
            part.full_batch(self.part_tensors(tensors, i)) for i, part in enumerate(self.parts)
        )

    def batch_fn(self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor) -> Batch:
        return self._part_batches("batch_fn", tensors, step, seed)

    def validation_batch_fn(
        self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor
    ) -> Batch:
        """Each part's validation minibatch (L_valid of Metz et al. 2019); a part without
        validation data raises its own error."""
        return self._part_batches("validation_batch_fn", tensors, step, seed)

    def _part_batches(
        self, method: str, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor
    ) -> Batch:
        return tuple(
            getattr(part, method)(self.part_tensors(tensors, i), step, fold_in(seed, i))
            for i, part in enumerate(self.parts)
        )

    def transform_gradients(
        self,
        tensors: dict[str, tf.Tensor],
        grads: Sequence[tf.Tensor | tf.IndexedSlices],
        step: tf.Tensor,
        seed: tf.Tensor,
    ) -> list[tf.Tensor]:
        """Each part's own gradient hook, then its gradient noise."""
        transformed = []
        for i, (part, part_grads) in enumerate(zip(self.parts, self.split(grads))):
            part_seed = fold_in(seed, i)
            part_grads = part.transform_gradients(
                self.part_tensors(tensors, i), part_grads, step, part_seed
            )
            if part.gradient_noise > 0:
                noise_seed = fold_in(fold_in(part_seed, -1), step)
                part_grads = [
                    g + part.gradient_noise * normal(tf.shape(g), fold_in(noise_seed, j), g.dtype)
                    for j, g in enumerate(part_grads)
                ]
            transformed += part_grads
        return transformed


class Rescale(Transform):
    """f(θ/scale), initialized at scale × the problem's init.

    Args:
        problem: the wrapped problem or factory.
        scale: the change of variables, > 0. Default 10.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "rescale"

    def __init__(self, problem: ProblemSource, scale: float = 10.0, **kwargs: Any):
        if scale <= 0:
            raise ValueError(f"rescale: scale must be > 0, got {scale}.")
        super().__init__([problem], **kwargs)
        self.scale = float(scale)

    @property
    def optimum(self) -> float | None:
        return self.parts[0].optimum

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.scale,)

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        return [self.scale * p for p in super().init_params(seed)]

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return self.part_losses(tensors, [p / self.scale for p in params], batch)[0]


class SparseProblem(Transform):
    """The problem with each gradient element zeroed with probability `zero_probability`.

    Args:
        problem: the wrapped problem or factory.
        zero_probability: chance that an element is zeroed, in [0, 1]. Default 0.99.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "sparse_problem"

    def __init__(self, problem: ProblemSource, zero_probability: float = 0.99, **kwargs: Any):
        if not 0.0 <= zero_probability <= 1.0:
            raise ValueError(
                f"sparse_problem: zero_probability must be in [0, 1], got {zero_probability}."
            )
        super().__init__([problem], **kwargs)
        self.zero_probability = float(zero_probability)

    @property
    def optimum(self) -> float | None:
        return self.parts[0].optimum

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.zero_probability,)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return self.part_losses(tensors, params, batch)[0]

    def transform_gradients(
        self,
        tensors: dict[str, tf.Tensor],
        grads: Sequence[tf.Tensor | tf.IndexedSlices],
        step: tf.Tensor,
        seed: tf.Tensor,
    ) -> list[tf.Tensor]:
        grads = super().transform_gradients(tensors, grads, step, seed)
        mask_seed = fold_in(fold_in(seed, -2), step)
        return [
            tf.where(
                uniform(tf.shape(g), fold_in(mask_seed, i), g.dtype) < self.zero_probability,
                tf.zeros_like(g),
                g,
            )
            for i, g in enumerate(grads)
        ]


class LogObjective(Transform):
    """log(f + 1e-6) − log(1e-6).

    Args:
        problem: the wrapped problem or factory (its loss must stay > −1e-6).
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "log_objective"

    def __init__(self, problem: ProblemSource, **kwargs: Any):
        super().__init__([problem], **kwargs)

    @property
    def optimum(self) -> float | None:
        inner = self.parts[0].optimum
        return None if inner is None else math.log(inner + LOG_EPSILON) - math.log(LOG_EPSILON)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        f = self.part_losses(tensors, params, batch)[0]
        return tf.math.log(f + LOG_EPSILON) - math.log(LOG_EPSILON)


class Power(Transform):
    """f^k.

    Args:
        problem: the wrapped problem or factory (its loss must be >= 0).
        k: the power, > 0. Default 2.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "power"

    def __init__(self, problem: ProblemSource, k: float = 2.0, **kwargs: Any):
        if k <= 0:
            raise ValueError(f"power: k must be > 0, got {k}.")
        super().__init__([problem], **kwargs)
        self.k = float(k)

    @property
    def optimum(self) -> float | None:
        inner = self.parts[0].optimum
        return None if inner is None else inner**self.k

    def _static_config(self) -> tuple:
        return super()._static_config() + (self.k,)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return self.part_losses(tensors, params, batch)[0] ** self.k


class SumTask(Transform):
    """Σ of the parts' losses over their concatenated parameters.

    Args:
        problems: the parts, problems or factories.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    name = "sum_task"

    def __init__(self, problems: Sequence[ProblemSource], **kwargs: Any):
        super().__init__(problems, **kwargs)

    @property
    def optimum(self) -> float | None:
        optima = [part.optimum for part in self.parts]
        return None if None in optima else sum(optima)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        return tf.add_n(self.part_losses(tensors, params, batch))
