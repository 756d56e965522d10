"""Inner runs across truncations: carried state, meta-iteration resets, fresh samples."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from trainers.curricula import PartialUnrolls
from trainers.estimators import start_task
from trainers.inner_runs import InnerRuns

PARTIAL = PartialUnrolls(meta_iterations=2, mean_unrolls=2.0, mean_length=3.0, min_length=2)


def make_runs(partial=PARTIAL, reset="meta_iteration", inner_length=10, count=1):
    def sample(seed):
        return problems.get("quadratic", seed=seed, dim=3), "quadratic"

    return InnerRuns(
        count,
        sample,
        seed_of=lambda step, i: 1000 * step + 2 * i,
        truncation=lambda step: 4,
        inner_length=inner_length,
        partial=partial,
        reset_rule_state=reset,
        seed=7,
    )


def moved(task, length, rule_state="carried"):
    """`task` after `length` steps to other parameters, with a stand-in rule state."""
    params = [p + 1.0 for p in task.params]
    return task.advanced(params, {"s": tf.constant(float(length))} if rule_state else None, length)


def test_state_carries_across_partial_unrolls_and_resets_per_meta_iteration():
    runs = make_runs()
    (run,), (first,) = runs.next(0)
    lengths = list(run.lengths)
    assert first == lengths[0] and all(t >= 2 for t in lengths)
    problem, seed = run.problem, run.seed
    assert seed == 0 and run.task.rule_state is None and int(run.task.step) == 0
    initial_loss = float(run.task.initial_loss)
    done = 0
    for k, length in enumerate(lengths):
        task = moved(run.task, length)
        runs.advance([task], ["ok"])
        done += length
        (run,), (next_length,) = runs.next(k + 1)
        if k + 1 < len(lengths):  # carried: parameters, rule state, step, f_init
            assert run.task is task and next_length == lengths[k + 1]
            assert int(run.task.step) == done
            assert float(run.task.initial_loss) == initial_loss
    # The second meta-iteration: the same problem re-initialized from seed [seed, 1], the rule
    # state reset, the step counter and f_init restarted.
    assert run.problem is problem and run.meta_iteration == 1
    fresh = start_task(problem, [seed, 1])
    np.testing.assert_array_equal(run.task.params[0].numpy(), fresh.params[0].numpy())
    assert not np.array_equal(run.task.params[0].numpy(), start_task(problem, seed).params[0].numpy())
    assert run.task.rule_state is None and int(run.task.step) == 0
    assert float(run.task.initial_loss) == pytest.approx(float(fresh.initial_loss))
    # After its last meta-iteration the problem gives way to a fresh sample.
    for length in list(run.lengths):
        runs.advance([moved(run.task, length)], ["ok"])
    (run,), _ = runs.next(50)
    assert run.seed == 50_000 and run.meta_iteration == 0


def test_release_quirk_carries_the_rule_state_into_the_next_meta_iteration():
    runs = make_runs(PartialUnrolls(meta_iterations=2, mean_unrolls=0.0), reset="problem")
    (run,), _ = runs.next(0)
    assert len(run.lengths) == 1  # mean 0: N_u = 1
    task = moved(run.task, run.lengths[0])
    runs.advance([task], ["ok"])
    (run,), _ = runs.next(1)
    assert run.meta_iteration == 1 and run.task.rule_state is task.rule_state
    assert int(run.task.step) == 0  # the parameters are re-initialized all the same


def test_a_run_that_did_not_end_well_gives_way_to_a_fresh_problem():
    runs = make_runs(count=2)
    (a, b), _ = runs.next(0)
    runs.advance([moved(a.task, a.lengths[0]), moved(b.task, b.lengths[0])], ["diverged", "ok"])
    (a2, b2), _ = runs.next(1)
    assert a2.seed == 1000 and a2 is not a  # a fresh sample of meta-step 1, slot 0
    assert b2 is b


def test_truncation_schedule_runs_until_the_inner_length():
    runs = make_runs(partial=None, inner_length=10)
    lengths = []
    for step in range(4):
        (run,), (length,) = runs.next(step)
        lengths.append(length)
        runs.advance([moved(run.task, length)], ["ok"])
    assert lengths == [4, 4, 2, 4]  # 4 + 4 + 2 = 10 steps, then a fresh sample
    assert runs.runs[0].seed == 3000


def test_draws_are_seeded_and_reported_once():
    first, second = make_runs(), make_runs()
    assert first.next(0)[0][0].lengths == second.next(0)[0][0].lengths
    draws = first.take_draws()
    assert draws["num_partial_unrolls"] == [len(first.runs[0].lengths)]
    assert draws["partial_unroll_length"] == first.runs[0].lengths
    assert first.take_draws() == {}


def test_unknown_reset():
    with pytest.raises(ValueError, match="reset_rule_state"):
        make_runs(reset="never")
