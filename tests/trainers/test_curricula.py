"""Truncation schedules match seed 002 §4.3: 50 → 10 000 over 5 000 outer steps, ±20 %."""

import numpy as np

from trainers.curricula import FixedTruncation, LinearTruncationSchedule


def test_linear_schedule_lengths():
    schedule = LinearTruncationSchedule()
    assert schedule.mean_length(0) == 50
    assert schedule.mean_length(2500) == 5025
    assert schedule.mean_length(5000) == schedule.mean_length(9000) == 10_000
    rng = np.random.default_rng(0)
    draws = np.array([schedule(2500, rng) for _ in range(4000)])
    assert draws.min() >= 0.8 * 5025 - 1 and draws.max() <= 1.2 * 5025 + 1
    assert abs(draws.mean() - 5025) < 30  # uniform jitter is centred
    assert draws.max() - draws.min() > 0.35 * 5025  # and spans about ±20 %


def test_fixed_truncation():
    assert FixedTruncation(100)(123, np.random.default_rng(0)) == 100
