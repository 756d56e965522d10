"""Truncation-length schedules (Metz et al. 2019 §4.3, App. C).

`LinearTruncationSchedule`: the length grows linearly from 50 to 10 000 inner steps over
5 000 outer updates and each draw is jittered by a uniform ±20 %; `FixedTruncation` gives
the constant lengths of the §4.5 ablations (10, 100, 1000).
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
