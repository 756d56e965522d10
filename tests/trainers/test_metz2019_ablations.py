"""Metz et al. 2019 Fig. 8 (trainers/figures/metz2019_ablations.py): the variant table against
the full method, the inner-step budget against the meta-trainer, the feature switches of the
MLP rule, and the `--quick` figure with its runs."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.weights import load_rule_weights
from problems.base import as_seed
from tests.trainers.quick_figures import assert_written, make_quick_figure
from trainers.figures import metz2019_ablations as ablations
from trainers.meta_train import CONFIG_FILE, WEIGHTS_FILE, MetaTrainer
from trainers.unroll import unroll_from_init

NAME = "metz2019_fig8"
# Fields in which each variant differs from the full method (fixed K: schedule, length and the
# outer steps that keep the inner steps of the full method).
CHANGED = {
    "full": set(),
    "only g_rp": {"estimator"},
    "only ES": {"estimator"},
    "no momentum": {"rule_kwargs"},
    "no time": {"rule_kwargs"},
}
FIXED = {"truncation_schedule", "unroll_steps", "steps"}


def _variants(sizes):
    full = ablations.full_config(sizes)
    overrides = ablations.variant_overrides(full, sizes.fixed_truncations)
    return full, {name: dataclasses.replace(full, **o) for name, o in overrides.items()}


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "default"])
def test_variants_differ_from_the_full_method_in_exactly_their_fields(quick):
    sizes = ablations.ABLATION_SIZES[quick]
    full, configs = _variants(sizes)
    expected = dict(CHANGED)
    for k in sizes.fixed_truncations:  # the curriculum starts at the shortest fixed length
        expected[f"fixed {k}"] = FIXED - ({"unroll_steps"} if k == full.unroll_steps else set())
    assert list(configs) == [
        "full", "only g_rp", "only ES", *(f"fixed {k}" for k in sizes.fixed_truncations),
        "no momentum", "no time",
    ]
    reference = dataclasses.asdict(full)
    for name, config in configs.items():
        changed = {k for k, v in dataclasses.asdict(config).items() if v != reference[k]}
        assert changed == expected[name], name
        config.validate()
    assert (full.estimator, full.truncation_schedule, full.meta_beta_1) == ("merged", "linear", 0.5)
    assert full.truncation_end == full.inner_steps == sizes.run_length
    assert configs["only g_rp"].estimator == "rp" and configs["only ES"].estimator == "es"
    assert configs["no momentum"].rule_kwargs == {"momentum_decays": []}
    assert configs["no time"].rule_kwargs == {"time_scales": []}
    budget = ablations.inner_steps_per_run(full)
    for k in sizes.fixed_truncations:
        fixed = configs[f"fixed {k}"]
        assert fixed.unroll_steps == k and fixed.truncation_schedule == "fixed"
        assert (fixed.steps - 1) * k < budget <= fixed.steps * k  # the same inner steps
        assert ablations.inner_steps_per_run(fixed) == fixed.steps * k


def test_inner_steps_per_run_counts_what_the_meta_trainer_does(tmp_path):
    sizes = ablations.AblationSizes(9, 1, 20, 4, (4,), 1e-2, 1)
    config = dataclasses.replace(ablations.full_config(sizes), estimator="bptt")  # cheap
    trainer = MetaTrainer(config, str(tmp_path))
    done = 0
    for _ in range(config.steps):
        before = int(trainer.runs[0][1].step) if trainer.runs[0] else 0
        before %= config.inner_length
        trainer.meta_step()
        done += int(trainer.runs[0][1].step) - before
    assert done == ablations.inner_steps_per_run(config)
    assert done > config.inner_length  # the run restarted at least once


def test_initial_rule_is_the_meta_trainers_start(tmp_path):
    config = ablations.full_config(ablations.ABLATION_SIZES[True])
    trainer = MetaTrainer(config, str(tmp_path))
    for a, b in zip(ablations.initial_rule(config).weights, trainer.rule.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _zeroed_full_rule(rows):
    """The full MLP rule with random weights and the first-layer kernel rows `rows` zeroed."""
    full = rules.get("mlp", dtype="float64")
    rng = np.random.default_rng(0)
    for w in full.weights:
        w.assign(rng.normal(size=w.shape))
    kernel = full.hidden_kernel.numpy()
    kernel[rows] = 0.0
    full.hidden_kernel.assign(kernel)
    return full


# MLPRule's first-layer rows: 0 g, 1 w, 2–6 the momenta, 7–15 the time features.
@pytest.mark.parametrize(
    "kwargs, dropped, num_features",
    [({"momentum_decays": []}, slice(2, 7), 11), ({"time_scales": []}, slice(7, 16), 7)],
    ids=["no_momentum", "no_time"],
)
def test_dropping_features_is_zeroing_their_kernel_rows(kwargs, dropped, num_features):
    full = _zeroed_full_rule(dropped)
    ablated = rules.get("mlp", dtype="float64", **kwargs)
    assert ablated.num_features == num_features
    kept = np.delete(full.hidden_kernel.numpy(), np.arange(16)[dropped], axis=0)
    ablated.hidden_kernel.assign(kept)
    for name in ("hidden_bias", "output_kernel", "output_bias"):
        getattr(ablated, name).assign(getattr(full, name))
    clone = type(ablated).from_config(ablated.get_config())
    assert clone.num_features == num_features and clone.get_config() == ablated.get_config()

    problem = problems.get("two_moons", seed=1, dtype="float64", hidden=[8], batch_size=16)
    seed = as_seed(3)

    def losses(rule):
        return unroll_from_init(rule, problem, problem.tensors, seed, 5).losses.numpy()

    np.testing.assert_allclose(losses(ablated), losses(full), rtol=1e-10)
    full.hidden_kernel.assign(full.hidden_kernel.numpy() + 1.0)  # the dropped rows matter
    assert np.abs(losses(full) - losses(ablated)).max() > 1e-6
    with tf.GradientTape() as tape:  # the ablated rule meta-trains through a 5-step unroll
        unrolled = unroll_from_init(ablated, problem, problem.tensors, seed, 5)
        meta_loss = tf.reduce_mean(unrolled.losses)
    grads = tape.gradient(meta_loss, ablated.trainable_variables)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert any(np.abs(g.numpy()).max() > 0 for g in grads)


# --- the quick figure ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig8(tmp_path_factory):
    return make_quick_figure(tmp_path_factory, NAME)


@pytest.mark.slow
def test_fig8_writes_one_entry_per_variant(fig8):
    paths, data, arrays, _ = fig8
    assert_written(paths, NAME, ("json", "npz", "png"))
    sizes = ablations.ABLATION_SIZES[True]
    _, configs = _variants(sizes)
    assert list(data["variants"]) == list(configs)
    assert sorted(arrays) == sorted(["initial_theta", *map(ablations.slug, configs)])
    shape = (sizes.num_test_problems, sizes.run_length)
    assert all(a.shape == shape for a in arrays.values())
    for name, entry in data["variants"].items():
        assert len(entry["outer_loss"]) == sizes.num_test_problems
        assert np.all(np.isfinite(entry["outer_loss"])) and entry["num_diverged"] == 0, name
        assert entry["outer_steps"] == configs[name].steps
        np.testing.assert_allclose(entry["outer_loss"], arrays[ablations.slug(name)].mean(1), 1e-5)
    full = data["variants"]["full"]
    assert np.median(full["outer_loss"]) < data["initial_theta"]["outer_loss_median"]


@pytest.mark.slow
def test_fig8_runs_record_their_override_and_resume(fig8):
    _, data, _, runs = fig8
    _, configs = _variants(ablations.ABLATION_SIZES[True])
    for name, config in configs.items():
        logdir = ablations.variant_logdir(runs, True, name)
        with open(os.path.join(logdir, CONFIG_FILE)) as f:
            saved = json.load(f)
        for field, value in data["variants"][name]["override"].items():
            assert saved[field] == value, (name, field)
        assert saved == dataclasses.asdict(config)
    resumed = MetaTrainer(configs["only ES"], ablations.variant_logdir(runs, True, "only ES"))
    assert int(resumed.step) == configs["only ES"].steps  # a second figure run trains nothing


@pytest.mark.slow
def test_fig8_es_only_run_moved_its_meta_parameters(fig8):
    _, _, _, runs = fig8
    _, configs = _variants(ablations.ABLATION_SIZES[True])
    trained = ablations.initial_rule(configs["only ES"])
    start = [w.numpy().copy() for w in trained.weights]
    logdir = ablations.variant_logdir(runs, True, "only ES")
    load_rule_weights(trained, os.path.join(logdir, WEIGHTS_FILE))
    moved = [np.abs(w.numpy() - s).max() for w, s in zip(trained.weights, start)]
    assert max(moved) > 1e-3
