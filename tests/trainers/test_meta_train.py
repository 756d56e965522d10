"""Meta-training end to end on the quadratic family: learns, logs, checkpoints, resumes."""

import dataclasses
import glob
import json
import os
import time

import numpy as np
import pytest

from l2o_tf import load_rule_weights, rules
from trainers.evaluate import evaluate, write_report
from trainers.logs import read_scalars
from trainers.meta_train import (
    BEST_WEIGHTS_FILE,
    WEIGHTS_FILE,
    MetaTrainConfig,
    MetaTrainer,
    ResumedProgbar,
    clean_meta_gradients,
    problem_seed,
    training_lock,
)

CONFIG = MetaTrainConfig(
    problem="quadratic",
    problem_kwargs={"dim": 5},
    rule="mlp",
    steps=40,
    unroll_steps=20,
    meta_batch=2,
    eval_every=20,
    num_eval_problems=4,
    checkpoint_every=20,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("run"))
    result = MetaTrainer(CONFIG, logdir).train(verbose=False)
    return logdir, result


@pytest.mark.slow
def test_meta_training_lowers_the_held_out_meta_loss(trained):
    logdir, result = trained
    assert result["held_out_after"] < result["held_out_before"] - 0.1
    assert os.path.exists(os.path.join(logdir, "config.json"))
    assert glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    assert glob.glob(os.path.join(logdir, "checkpoints", "ckpt-40*"))
    rule = rules.get("mlp")
    load_rule_weights(rule, os.path.join(logdir, WEIGHTS_FILE))


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(trained):
    logdir, _ = trained
    longer = dataclasses.replace(CONFIG, steps=45)
    trainer = MetaTrainer(longer, logdir)
    assert int(trainer.step) == 40
    trained_weights = [w.numpy() for w in trainer.rule.weights]
    seconds = float(trainer.train_seconds)
    assert seconds > 0  # restored from the checkpoint, not restarted at 0
    result = trainer.train(verbose=False)
    assert result["resumed_from"] == 40 and int(trainer.step) == 45
    assert float(trainer.train_seconds) > seconds
    # Logged scalars read back: held-out every 20 steps (and at the end), seconds growing.
    scalars = read_scalars(logdir)
    assert list(scalars["meta_loss/held_out"][0]) == [0, 20, 40, 45]
    steps, spent = scalars["train_seconds"]
    assert list(steps) == list(range(1, 46)) and np.all(np.diff(spent) > 0)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(trained_weights, trainer.rule.weights))


@pytest.mark.slow
def test_opening_a_run_to_read_it_writes_nothing_into_it(trained):
    logdir, _ = trained
    with open(os.path.join(logdir, "config.json")) as f:
        steps = json.load(f)["steps"]  # 40, or 45 once the resume test ran
    files = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(logdir, "**"), recursive=True)}
    trainer = MetaTrainer(dataclasses.replace(CONFIG, steps=steps), logdir)
    assert int(trainer.step) == steps
    assert {p: os.path.getmtime(p) for p in glob.glob(os.path.join(logdir, "**"), recursive=True)} == files


@pytest.mark.slow
def test_a_run_being_trained_elsewhere_is_not_trained_twice(trained):
    logdir, _ = trained
    with open(os.path.join(logdir, "config.json")) as f:
        trainer = MetaTrainer(dataclasses.replace(CONFIG, steps=json.load(f)["steps"]), logdir)
    holder = f"meta-trained by another process \\(pid {os.getpid()}\\)"
    with training_lock(logdir):  # another process, as far as flock is concerned
        with pytest.raises(RuntimeError, match=holder):
            trainer.train(verbose=False)
    trainer.train(verbose=False)  # released: trains (here: nothing left to do)


def test_progress_bar_after_a_resume_times_the_steps_taken_since():
    bar = ResumedProgbar(5000, 1600, verbose=0)
    now = time.time()
    bar._estimate_step_duration(1601, now + 2.0)
    # Keras' own bar would divide by 1 610 steps here: about 0.014 s per step.
    assert bar._estimate_step_duration(1611, now + 22.0) == pytest.approx(2.0)


@pytest.mark.slow
def test_learned_rule_beats_default_adam_on_held_out_problems(trained, tmp_path):
    logdir, _ = trained
    results = evaluate(
        CONFIG, os.path.join(logdir, WEIGHTS_FILE), num_steps=20, num_problems=4,
        num_tuning_problems=2, baselines=("sgd",),
    )
    learned = results["learned mlp"]["meta_loss"]
    assert learned < results["adam (lr=1e-3, default)"]["meta_loss"]
    tuned = next(k for k in results if k.startswith("sgd (tuned"))
    assert 1e-4 <= results[tuned]["learning_rate"] <= 10
    write_report(results, CONFIG, 20, str(tmp_path))
    for name in ("results.md", "results.json", "loss_curves.png"):
        assert os.path.getsize(tmp_path / name) > 0


def test_the_best_held_out_weights_are_kept_and_survive_a_resume(trained):
    logdir, result = trained
    steps, values = read_scalars(logdir)["meta_loss/held_out"]
    best_steps, best = read_scalars(logdir)["meta_loss/held_out_best"]
    np.testing.assert_allclose(best, np.minimum.accumulate(values), rtol=1e-6)
    rule = rules.get(CONFIG.rule, **CONFIG.rule_kwargs)
    load_rule_weights(rule, os.path.join(logdir, BEST_WEIGHTS_FILE))
    trainer = MetaTrainer(CONFIG, logdir)  # resumed: finished, nothing to train
    assert float(trainer.best_held_out) == pytest.approx(float(best[-1]), rel=1e-6)
    assert trainer.held_out_meta_loss(rule) == pytest.approx(float(best[-1]), rel=1e-5)


def test_a_checkpoint_saved_before_best_held_out_existed_resumes(tmp_path):
    import tensorflow as tf

    config = dataclasses.replace(CONFIG, steps=1, num_eval_problems=1)
    trainer = MetaTrainer(config, str(tmp_path))
    trainer.step.assign(7)
    old = tf.train.Checkpoint(
        rule=trainer.rule,
        meta_optimizer=trainer.meta_optimizer,
        step=trainer.step,
        train_seconds=trainer.train_seconds,
    )
    tf.train.CheckpointManager(old, str(tmp_path / "checkpoints"), max_to_keep=1).save()
    resumed = MetaTrainer(config, str(tmp_path))
    assert int(resumed.step) == 7 and float(resumed.best_held_out) == np.inf


def test_another_config_in_the_same_logdir_is_refused(tmp_path):
    MetaTrainer(dataclasses.replace(CONFIG, steps=1, num_eval_problems=1), str(tmp_path))
    with pytest.raises(ValueError, match="another config.*unroll_steps"):
        MetaTrainer(dataclasses.replace(CONFIG, steps=1, num_eval_problems=1, unroll_steps=7), str(tmp_path))


def test_a_run_saved_before_a_config_field_existed_resumes_with_its_default(tmp_path):
    import json

    config = dataclasses.replace(CONFIG, steps=1, num_eval_problems=1)
    MetaTrainer(config, str(tmp_path))
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    del saved["meta_beta_1"]
    path.write_text(json.dumps(saved))
    MetaTrainer(config, str(tmp_path))  # no "another config" error
    with pytest.raises(ValueError, match="another config.*meta_beta_1"):
        MetaTrainer(dataclasses.replace(config, meta_beta_1=0.5), str(tmp_path))


def test_meta_beta_1_is_the_meta_adams_beta_1(tmp_path):
    config = dataclasses.replace(CONFIG, steps=1, num_eval_problems=1, meta_beta_1=0.5)
    assert MetaTrainer(config, str(tmp_path)).meta_optimizer.beta_1 == 0.5
    with pytest.raises(ValueError, match="meta_beta_1 is Adam's"):
        dataclasses.replace(config, meta_optimizer="rmsprop").validate()
    with pytest.raises(ValueError, match=r"meta_beta_1 must be in \[0, 1\)"):
        dataclasses.replace(config, meta_beta_1=1.0).validate()


def test_bad_config_names_the_problem():
    with pytest.raises(ValueError, match="Unknown problem"):
        MetaTrainConfig(problem="quadratik").validate()
    with pytest.raises(ValueError, match="Unknown rule"):
        MetaTrainConfig(rule="lstm").validate()
    with pytest.raises(ValueError, match="meta_batch must be >= 1"):
        MetaTrainConfig(meta_batch=0).validate()


def test_training_and_held_out_seeds_are_disjoint():
    train = {problem_seed(CONFIG, s, i, held_out=False) for s in range(50) for i in range(4)}
    held = {problem_seed(CONFIG, s, i, held_out=True) for s in range(3) for i in range(16)}
    assert not train & held and len(train) == 200


def test_nonfinite_meta_gradients_are_zeroed_and_clipped():
    import tensorflow as tf

    grads, count = clean_meta_gradients([tf.constant([np.nan, 5.0, -np.inf, -20.0])], clip=10.0)
    np.testing.assert_array_equal(grads[0].numpy(), [0.0, 5.0, 0.0, -10.0])
    assert count == 2


def test_meta_learning_rate_decays_in_steps(tmp_path):
    config = dataclasses.replace(
        CONFIG, steps=3, unroll_steps=3, num_eval_problems=1, meta_lr_decay=0.5, meta_lr_decay_steps=2
    )
    trainer = MetaTrainer(config, str(tmp_path))
    trainer.train(verbose=False)
    # 3 updates applied: the schedule is at iteration 3, i.e. one decay of 0.5
    np.testing.assert_allclose(float(trainer.meta_optimizer.learning_rate), 0.5 * CONFIG.meta_learning_rate)


def test_l2_penalty_pulls_meta_parameters_towards_zero(tmp_path):
    def run(l2, name):
        config = dataclasses.replace(
            CONFIG, steps=5, unroll_steps=3, num_eval_problems=1, meta_l2=l2, meta_optimizer="rmsprop"
        )
        trainer = MetaTrainer(config, str(tmp_path / name))
        trainer.train(verbose=False)
        return sum(float(np.sum(w.numpy() ** 2)) for w in trainer.rule.trainable_variables)

    assert run(10.0, "strong") < run(0.0, "none")


@pytest.mark.slow
def test_command_line_preset_with_overrides(tmp_path):
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable, "-m", "trainers.meta_train", "--preset=quickstart", "--steps=2",
            "--unroll_steps=4", '--problem_kwargs={"dim": 3}', "--num_eval_problems=1",
            "--meta_l2=0.001", f"--logdir={tmp_path}",
        ],
        cwd=os.path.join(os.path.dirname(__file__), "..", ".."),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "config.json") as f:
        saved = json.load(f)
    assert saved["problem_kwargs"] == {"dim": 3} and saved["steps"] == 2 and saved["meta_l2"] == 0.001
    assert saved["meta_batch"] == CONFIG.__class__().meta_batch  # from the preset


def test_unknown_preset_names_the_known_ones():
    from trainers.presets import get_preset

    with pytest.raises(ValueError, match="known presets: .*quickstart"):
        get_preset("quikstart")
    with pytest.raises(ValueError, match="meta_lr_decay"):
        MetaTrainConfig(meta_lr_decay=1.5).validate()


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["merged", "bptt"])
def test_truncated_runs_carry_over_meta_steps(tmp_path, estimator):
    config = dataclasses.replace(
        CONFIG, steps=6, unroll_steps=5, inner_steps=15, meta_batch=2, num_eval_problems=1,
        estimator=estimator,
    )
    trainer = MetaTrainer(config, str(tmp_path))
    before = [w.numpy().copy() for w in trainer.rule.trainable_variables]
    steps_seen, problems_seen = [], []
    for _ in range(4):
        scalars = trainer.meta_step()
        steps_seen.append(int(trainer.runs[0][1].step))
        problems_seen.append(trainer.runs[0][0].seed)
        assert np.isfinite(scalars["meta_loss/train"])
    assert steps_seen == [5, 10, 15, 5]  # three truncations of one run, then a fresh sample
    assert problems_seen[0] == problems_seen[2] != problems_seen[3]
    if estimator == "merged":
        assert np.isfinite(scalars["variance/log10_rp"]) and np.isfinite(scalars["variance/log10_es"])
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, trainer.rule.trainable_variables))


def test_linear_schedule_sets_the_truncation_lengths(tmp_path):
    config = dataclasses.replace(
        CONFIG, steps=2, unroll_steps=4, truncation_schedule="linear", truncation_end=40,
        truncation_ramp_steps=10, inner_steps=1000, meta_batch=1, num_eval_problems=1, eval_steps=3,
    )
    trainer = MetaTrainer(config, str(tmp_path))
    first = trainer.meta_step()["truncation_length"]
    assert 0.8 * 4 - 1 <= first <= 1.2 * 4 + 1
    trainer.step.assign(10)
    assert 0.8 * 40 - 1 <= trainer.meta_step()["truncation_length"] <= 1.2 * 40 + 1
    with pytest.raises(ValueError, match="Unknown estimator"):
        MetaTrainConfig(estimator="pes").validate()


@pytest.mark.slow
def test_meta_training_under_xla(tmp_path):
    config = dataclasses.replace(
        CONFIG, steps=3, unroll_steps=5, num_eval_problems=1, jit_compile=True
    )
    trainer = MetaTrainer(config, str(tmp_path))
    result = trainer.train(verbose=False)
    assert np.isfinite(result["held_out_after"]) and int(trainer.step) == 3
    assert trainer.estimator.estimator.jit_compile and trainer.evaluator.jit_compile
