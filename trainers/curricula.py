"""Truncation-length schedules (Metz et al. 2019 §4.3, App. C; Wichrowska et al. 2017).

`LinearTruncationSchedule`: the length grows linearly from 50 to 10 000 inner steps over
5 000 outer updates and each draw is jittered by a uniform ±20 %; `FixedTruncation` gives
the constant lengths of the §4.5 ablations (10, 100, 1000). `PartialUnrolls` is seed 001's
schedule of partial unrolls per sampled problem (spec "Meta-training recipe").
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class LinearTruncationSchedule:
    """Length of the truncation drawn at outer step `outer_step`.

    Args:
        start: length at outer step 0. Default 50.
        end: length from `ramp_steps` on. Default 10 000.
        ramp_steps: outer updates over which the length grows. Default 5 000.
        jitter: relative half-width of the uniform jitter. Default 0.2.
    """

    start: int = 50
    end: int = 10_000
    ramp_steps: int = 5_000
    jitter: float = 0.2

    def mean_length(self, outer_step: int) -> float:
        fraction = min(max(outer_step, 0) / self.ramp_steps, 1.0)
        return self.start + fraction * (self.end - self.start)

    def __call__(self, outer_step: int, rng: np.random.Generator) -> int:
        scale = rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return max(1, int(round(self.mean_length(outer_step) * scale)))


@dataclasses.dataclass(frozen=True)
class FixedTruncation:
    """Always `length` steps (the fixed-truncation ablations)."""

    length: int

    def __call__(self, outer_step: int, rng: np.random.Generator) -> int:
        del outer_step, rng
        return self.length


TAILS = ("exponential", "pareto")


@dataclasses.dataclass(frozen=True)
class PartialUnrolls:
    """Seed 001's partial unrolls of one sampled problem (the release's `metarun.py`).

    The problem runs `meta_iterations` meta-iterations; each re-initializes its parameters
    and runs N_u = round(X_u) + 1 partial unrolls of T = round(X_T) + `min_length` steps,
    every X drawn independently with mean `mean_unrolls` resp. `mean_length`. One
    meta-update follows every partial unroll.

    Args:
        meta_iterations: meta-iterations per sampled problem. Default 5.
        mean_unrolls: mean of X_u. Default 40.
        mean_length: mean of X_T. Default 200 (so E[T] ≈ 250).
        min_length: the offset of T. Default 50.
        tail: "exponential" (default: the release's Exp(mean)) or "pareto": a Lomax
            (Pareto II) with shape `pareto_shape` and the same mean, whose tail is heavier
            (the paper calls its distribution heavy-tailed; P(X > x) falls as a power).
        pareto_shape: α of the Pareto tail, > 1 so the mean exists. Default 2.5.
        max_length: cap on T (0: none), for memory: a second-order truncation stores every
            step. Default 0.
    """

    meta_iterations: int = 5
    mean_unrolls: float = 40.0
    mean_length: float = 200.0
    min_length: int = 50
    tail: str = "exponential"
    pareto_shape: float = 2.5
    max_length: int = 0

    def __post_init__(self) -> None:
        if self.tail not in TAILS:
            raise ValueError(f"Unknown tail {self.tail!r}; use one of {', '.join(TAILS)}.")
        if self.meta_iterations < 1 or self.min_length < 1:
            raise ValueError("meta_iterations and min_length must be >= 1.")
        if self.mean_unrolls < 0 or self.mean_length < 0:
            raise ValueError("mean_unrolls and mean_length must be >= 0.")
        if self.pareto_shape <= 1:
            raise ValueError(f"pareto_shape must be > 1, got {self.pareto_shape}.")
        if self.max_length and self.max_length < self.min_length:
            raise ValueError(f"max_length {self.max_length} is below min_length {self.min_length}.")

    def _draw(self, mean: float, rng: np.random.Generator) -> int:
        if mean == 0:
            return 0
        if self.tail == "exponential":
            return int(round(rng.exponential(mean)))
        scale = mean * (self.pareto_shape - 1)  # Lomax mean = scale / (α − 1)
        return int(round(scale * rng.pareto(self.pareto_shape)))

    def num_unrolls(self, rng: np.random.Generator) -> int:
        """N_u of one meta-iteration."""
        return self._draw(self.mean_unrolls, rng) + 1

    def length(self, rng: np.random.Generator) -> int:
        """T of one partial unroll."""
        length = self._draw(self.mean_length, rng) + self.min_length
        return min(length, self.max_length) if self.max_length else length

    def meta_iteration(self, rng: np.random.Generator) -> list[int]:
        """The truncation lengths of one meta-iteration: N_u draws of T."""
        return [self.length(rng) for _ in range(self.num_unrolls(rng))]

    def expected_steps(self) -> float:
        """E[inner steps per meta-iteration] = E[N_u]·E[T] (without `max_length`), about
        10 000 at the release's values."""
        return (self.mean_unrolls + 1) * (self.mean_length + self.min_length)
