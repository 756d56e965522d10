"""Truncation schedules match seed 002 §4.3 (50 → 10 000 over 5 000 outer steps, ±20 %) and
the seed 001 release's partial unrolls (N_u = round(Exp(40)) + 1, T = round(Exp(200)) + 50)."""

import math

import numpy as np
import pytest

from trainers.curricula import FixedTruncation, LinearTruncationSchedule, PartialUnrolls


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


def test_partial_unroll_lengths_follow_the_release_formula():
    schedule = PartialUnrolls()
    rng = np.random.default_rng(0)
    lengths = np.array([schedule.length(rng) for _ in range(40_000)])
    unrolls = np.array([schedule.num_unrolls(rng) for _ in range(40_000)])
    assert lengths.min() == 50 and unrolls.min() == 1
    # Means: E[round(Exp(μ))] = μ up to rounding (< 0.01 here); standard errors 1 and 0.2.
    assert abs(lengths.mean() - 250) < 5 and abs(unrolls.mean() - 41) < 1
    # Tail: P(T > 50 + x) = exp(−x / 200) (rounding shifts x by at most ½).
    for x in (200, 600, 1000):
        expected = math.exp(-(x + 0.5) / 200)
        assert abs(np.mean(lengths > 50 + x) - expected) < 4 * math.sqrt(expected / 40_000) + 1e-4
    assert schedule.expected_steps() == 41 * 250


def test_pareto_tail_is_heavier_with_the_same_mean():
    exponential, pareto = PartialUnrolls(), PartialUnrolls(tail="pareto")
    rng = np.random.default_rng(1)
    draws = {s.tail: np.array([s.length(rng) for _ in range(200_000)]) for s in (exponential, pareto)}
    assert abs(draws["pareto"].mean() - 250) < 10
    # Lomax(α = 2.5, scale 300): P(X > x) = (1 + x / 300)^−2.5; at x = 1 500: 0.0113, against
    # exp(−7.5) = 0.00055 for the exponential.
    tail = np.mean(draws["pareto"] > 50 + 1500)
    assert abs(tail - (1 + 1500.5 / 300) ** -2.5) < 0.002
    assert tail > 10 * np.mean(draws["exponential"] > 50 + 1500)


def test_partial_unroll_cap_and_meta_iteration():
    schedule = PartialUnrolls(mean_unrolls=3.0, mean_length=500.0, max_length=300)
    rng = np.random.default_rng(2)
    lengths = [t for _ in range(200) for t in schedule.meta_iteration(rng)]
    assert max(lengths) == 300 and min(lengths) >= 50
    assert abs(len(lengths) / 200 - 4) < 0.6  # N_u: mean 3 + 1


@pytest.mark.parametrize(
    "kwargs", [{"tail": "cauchy"}, {"pareto_shape": 1.0}, {"meta_iterations": 0}, {"max_length": 10}]
)
def test_bad_partial_unrolls(kwargs):
    with pytest.raises(ValueError):
        PartialUnrolls(**kwargs)
