"""Seed 001 meta-training on a problem set: sampling, traces, the log objective, TF1 RMSProp,
early ends, negative losses, and meta-gradients from carried state (finite differences)."""

import collections
import dataclasses
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import problems
from l2o_tf import rules
from trainers.estimators import TruncatedBPTT, start_task, truncation_status
from trainers.logs import read_scalars
from trainers.meta_loss import meta_loss
from trainers.meta_train import (
    MetaTrainConfig,
    MetaTrainer,
    TF1RMSprop,
    problem_seed,
    sample_family,
)
from trainers.presets import get_preset


def test_entries_are_drawn_uniformly_and_with_replacement():
    config = MetaTrainConfig(problem_set="wichrowska2017")
    entries = problems.get_set("wichrowska2017").entries
    index = {(e.group, e.factory.label): i for i, e in enumerate(entries)}
    assert len(index) == len(entries) == 101  # every entry is distinguishable
    draws = 20_200
    counts = collections.Counter(
        index[(family, factory.label)]
        for family, factory in (
            sample_family(config, problem_seed(config, step, 0, held_out=False))[::-1]
            for step in range(draws)
        )
    )
    observed = np.array([counts[i] for i in range(len(entries))])
    expected = draws / len(entries)
    chi_square = float(np.sum((observed - expected) ** 2 / expected))
    assert chi_square < 100 + 5 * math.sqrt(200)  # df 100: mean 100, sd √200
    # The held-out stream draws from the same entries with other seeds.
    held = sample_family(config, problem_seed(config, 0, 0, held_out=True))
    assert held[1] in {e.group for e in entries}


def test_log_objective_against_its_formula():
    losses = np.array([4.0, 2.0, 0.5, 1e-9])
    f_init = 8.0
    expected = np.mean(np.log(losses / (f_init + 1e-6) + 1e-6))
    value = float(meta_loss(tf.constant(losses, tf.float64), "log", tf.constant(f_init, tf.float64)))
    assert value == pytest.approx(expected, rel=1e-12)
    # f_init defaults to the first loss.
    first = np.mean(np.log(losses / (4.0 + 1e-6) + 1e-6))
    assert float(meta_loss(tf.constant(losses, tf.float64), "log")) == pytest.approx(first, rel=1e-12)


def test_tf1_rmsprop_starts_its_accumulator_at_one():
    variable = tf.Variable([1.0, -2.0], dtype=tf.float64)
    optimizer = TF1RMSprop(learning_rate=0.1, rho=0.9, epsilon=1e-10)
    grad = np.array([0.5, -3.0])
    optimizer.apply([tf.constant(grad)], [variable])
    v = 0.9 * 1.0 + 0.1 * grad**2
    np.testing.assert_allclose(variable.numpy(), [1.0, -2.0] - 0.1 * grad / np.sqrt(v + 1e-10))
    optimizer.apply([tf.constant(grad)], [variable])
    v2 = 0.9 * v + 0.1 * grad**2
    np.testing.assert_allclose(
        variable.numpy(), [1.0, -2.0] - 0.1 * grad / np.sqrt(v + 1e-10) - 0.1 * grad / np.sqrt(v2 + 1e-10)
    )


def test_one_trace_per_problem_signature_and_kind_of_state():
    rule = rules.get("mlp")
    estimator = TruncatedBPTT(rule, record="full_batch_loss")
    families = [lambda s: problems.get("quadratic", seed=s, dim=4), lambda s: problems.get("bowl", seed=s)]
    for make in families:
        for seed in range(3):
            problem = make(seed)
            truncation = estimator(problem, start_task(problem, seed), 3 + seed)  # fresh state
            for length in (2, 5):  # carried state, other lengths
                truncation = estimator(problem, truncation.task, length)
                assert truncation_status(float(truncation.meta_loss)) == "ok"
    assert estimator.trace_count() == 4  # 2 signatures x (fresh, carried)


def test_meta_gradient_of_a_partial_unroll_from_carried_state_matches_finite_differences():
    # Learning rates of 1e-2 to 1e-1 (not the meta-training range's 1e-6 to 1e-2), so that the
    # five steps move the loss and every meta-gradient entry is well above the differences'
    # rounding error (about 1e-10 here).
    rule = rules.get(
        "hierarchical_rnn", preset="paper", learning_rate_range=(1e-2, 1e-1), dtype="float64"
    )
    problem = problems.get("quadratic", seed=2, dim=3, dtype="float64")
    estimator = TruncatedBPTT(rule, meta_loss="log", record="full_batch_loss")
    carried = estimator(problem, start_task(problem, 4), 4).task
    assert carried.rule_state is not None and int(carried.step) == 4
    truncation = estimator(problem, carried, 5)
    forward = estimator.forward_fn(problem)
    length = tf.constant(5, tf.int32)

    def value() -> float:
        return float(forward(problem.tensors, *carried, length)[0])

    checked, unreached = 0, []
    for variable, grad in zip(rule.trainable_variables, truncation.grads):
        grad = grad.numpy()
        if not np.any(grad):
            unreached.append(variable.name)
            continue
        index = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        original = np.array(variable.numpy(), copy=True)
        values = []
        for sign in (1, -1):
            shifted = original.copy()
            shifted[index] += sign * 1e-6
            variable.assign(shifted)
            values.append(value())
        variable.assign(original)
        fd = (values[0] - values[1]) / 2e-6
        # Central differences of a loss of order 1 with ε = 1e-6 carry ~1e-10 of rounding.
        assert abs(grad[index] - fd) <= 1e-5 * abs(fd) + 1e-9, (variable.name, grad[index], fd)
        checked += abs(fd) > 1e-4  # entries where the relative tolerance is what is tested
    assert checked >= 8
    # Zero: the three trainable initial RNN states, which a carried state no longer reaches,
    # and ρ of the learning-rate average, while the learning-rate readout is at its zero init
    # (s = log_lr, so ρ log_lr + (1 − ρ) s does not depend on ρ).
    assert sorted(unreached) == ["initial_state"] * 3 + ["lr_momentum_logit"]


def test_an_unroll_that_diverges_ends_early_and_is_marked():
    rule = rules.get("sgd", learning_rate=1.5)  # diverges on this quadratic
    problem = problems.get("quadratic", seed=0, dim=5)
    estimator = TruncatedBPTT(rule, meta_loss="log", divergence_factor=100.0)
    task = start_task(problem, 0)
    truncation = estimator(problem, task, 200)
    assert truncation_status(float(truncation.meta_loss)) == "diverged"
    final = problem.loss(truncation.task.params)
    # It stopped at the first loss past 100 f_init, long before 200 steps would have taken it.
    assert 100 * float(task.initial_loss) < float(final) < 1e8 * float(task.initial_loss)
    assert truncation_status(float(TruncatedBPTT(rule)(problem, task, 3).meta_loss)) == "ok"


def tiny(**overrides) -> MetaTrainConfig:
    return dataclasses.replace(get_preset("wichrowska2017_quick"), **overrides)


def test_a_loss_that_goes_negative_is_an_error_naming_the_problem(tmp_path):
    config = tiny(problem_set="", problem="saddle", rule="sgd", rule_kwargs={}, steps=3)
    with pytest.raises(ValueError, match="saddle.*went negative"):
        MetaTrainer(config, str(tmp_path)).train(verbose=False)


def test_many_meta_steps_without_a_finite_meta_gradient_stop_the_run(tmp_path):
    config = tiny(
        problem_set="",
        problem="quadratic",
        problem_kwargs={"dim": 5},
        rule="sgd",
        rule_kwargs={"learning_rate": 1.5},
        divergence_factor=10.0,
        max_bad_meta_steps=3,
        steps=10,
    )
    trainer = MetaTrainer(config, str(tmp_path))
    weights = [w.numpy() for w in trainer.rule.weights]
    scalars = trainer.meta_step()
    assert scalars["meta_gradient/dropped_runs"] == 1 and math.isnan(scalars["meta_loss/train"])
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(weights, trainer.rule.weights))
    with pytest.raises(RuntimeError, match="3 meta-steps in a row"):
        trainer.train(verbose=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"problem_set": "no_such_set"}, "Unknown problem set"),
        ({"problem_kwargs": {"dim": 3}}, "problem_kwargs"),
        ({"truncation_schedule": "cubic"}, "truncation_schedule"),
        ({"reset_rule_state": "never"}, "reset_rule_state"),
        ({"partial_tail": "cauchy"}, "tail"),
        ({"divergence_factor": 0.5}, "divergence_factor"),
        ({"meta_grad_norm_clip": -1.0}, "meta_grad_norm_clip"),
        ({"meta_optimizer": "adam", "meta_rho": 0.999}, "meta_rho"),
    ],
)
def test_bad_problem_set_configs(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny(**overrides).validate()


@pytest.mark.slow
def test_quick_preset_meta_trains_on_the_mixture_logs_and_resumes(tmp_path):
    logdir = str(tmp_path)
    config = tiny(problem_set="bowl", steps=8)  # one signature: four entries of one shape
    trainer = MetaTrainer(config, logdir)
    trainer.train(verbose=False)
    assert trainer.truncated.trace_count() <= 2  # fresh and carried rule state
    scalars = read_scalars(logdir)
    assert list(scalars["meta_loss/family/bowl"][0])  # per-family meta-loss
    share = scalars["compile/share"][1]
    assert 0 < share[-1] < share[0] <= 1  # compiling is the first steps' time, then amortized
    (events,) = [f for f in os.listdir(logdir) if "tfevents" in f]
    histograms = EventAccumulator(os.path.join(logdir, events), size_guidance={"tensors": 0})
    histograms.Reload()
    assert {"schedule/partial_unroll_length", "schedule/num_partial_unrolls"} <= set(
        histograms.Tags()["tensors"]
    )
    resumed = MetaTrainer(dataclasses.replace(config, steps=10), logdir)
    assert int(resumed.step) == 8
    resumed.train(verbose=False)
    assert int(resumed.step) == 10


def test_a_numerical_error_in_a_truncation_drops_the_run_instead_of_stopping(tmp_path):
    config = tiny(problem_set="bowl", steps=3)
    trainer = MetaTrainer(config, str(tmp_path))

    def raising(runs, lengths, seeds):
        raise tf.errors.InvalidArgumentError(None, None, "Input matrix is not invertible.")

    trainer.estimator = raising
    weights = [w.numpy() for w in trainer.rule.weights]
    scalars = trainer.meta_step()
    assert scalars["meta_gradient/dropped_runs"] == 1 and trainer.bad_meta_steps == 1
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(weights, trainer.rule.weights))
    assert trainer.inner_runs.runs[0].ended  # a fresh sample replaces it at the next step


def test_meta_gradient_global_norm_clip(tmp_path):
    """With rmsprop_tf1 (accumulator from 1) a small meta-gradient g moves the weights by
    lr·g/√(0.9 + 0.1 g²) ≈ lr·g/√0.9, so the global-norm clip shows in the step taken."""
    changes = {}
    for clip in (0.0, 1e-5):
        config = tiny(  # float64: steps of 1e-8 are below float32's resolution of the weights
            problem_set="bowl", meta_grad_norm_clip=clip, meta_learning_rate=1e-3, dtype="float64"
        )
        trainer = MetaTrainer(config, str(tmp_path / str(clip)))
        before = [w.numpy() for w in trainer.rule.trainable_variables]
        scalars = trainer.meta_step()
        after = [w.numpy() for w in trainer.rule.trainable_variables]
        changes[clip] = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before)))
    assert scalars["meta_gradient/global_norm"] > 1e-4  # the unclipped norm is logged
    assert changes[1e-5] == pytest.approx(1e-3 * 1e-5 / math.sqrt(0.9), rel=1e-3)
    assert changes[0.0] > 10 * changes[1e-5]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--problem_set=no_such_set"], "Unknown problem set 'no_such_set'"),
        (["--preset=no_such_preset"], "Unknown preset 'no_such_preset'"),
    ],
)
def test_the_command_line_names_a_bad_flag_in_one_line(tmp_path, flags, message):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "trainers.meta_train", f"--logdir={tmp_path}", *flags],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"meta_train: {message}")
