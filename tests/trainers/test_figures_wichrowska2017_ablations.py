"""Wichrowska et al. 2017 Fig. 6 (trainers/figures/wichrowska2017_ablations.py): every variant's
config and rule without meta-training, the statistics and the weights scored, and the
`--quick` figure with its runs."""

import dataclasses
import json
import os

import numpy as np
import pytest

import problems
from l2o_tf import rules
from problems.base import as_seed
from tests.trainers.quick_figures import assert_written, make_quick_figure
from trainers.baselines import TEST_STREAM, held_out_problems
from trainers.figures import wichrowska2017_ablations as ablations
from trainers.meta_train import BEST_WEIGHTS_FILE, CONFIG_FILE, WEIGHTS_FILE, MetaTrainer
from trainers.presets import get_preset
from trainers.unroll import unroll_from_init

NAME = "wichrowska2017_fig6"
QUICK_VARIANTS = ("full", "no attention", "mean objective")
SECONDS_PER_META_STEP = 0.63  # seed 001's wichrowska2017_cpu run (module docstring)


def _num_meta_parameters(rule):
    return sum(int(np.prod(w.shape)) for w in rule.trainable_variables)


def _configs(quick):
    full = ablations.full_config(ablations.ABLATION_SIZES[quick])
    overrides = ablations.variant_overrides(full)
    return full, {name: dataclasses.replace(full, **o) for name, o in overrides.items()}


def test_sizes_follow_the_presets_and_the_cost_is_three_to_four_hours():
    full, quick = ablations.ABLATION_SIZES[False], ablations.ABLATION_SIZES[True]
    assert (full.preset, full.steps, full.eval_steps, full.num_test_problems) == (
        "wichrowska2017_cpu", 1500, 500, 16
    )
    assert full.variants == ablations.VARIANTS and len(full.variants) == 12
    assert (quick.preset, quick.eval_steps, quick.num_test_problems) == (
        "wichrowska2017_quick", 10, 2
    )
    assert quick.steps == get_preset("wichrowska2017_quick").steps == 6
    assert quick.variants == QUICK_VARIANTS
    for sizes in (full, quick):
        config = ablations.full_config(sizes)
        assert config == dataclasses.replace(get_preset(sizes.preset), steps=sizes.steps)
    hours = len(full.variants) * full.steps * SECONDS_PER_META_STEP / 3600
    assert 3.0 < hours < 4.0  # ≈ 3.2 h of meta-steps


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "default"])
def test_every_variant_differs_from_the_full_optimizer_in_exactly_its_switch(quick):
    full, configs = _configs(quick)
    assert tuple(configs) == ablations.VARIANTS
    assert full.rule_kwargs == {"preset": "paper"}
    assert (full.meta_loss, full.second_order) == ("log", True)
    reference = dataclasses.asdict(full)
    full_rule = rules.get(full.rule, **full.rule_kwargs)
    for name, config in configs.items():
        config.validate()
        changed = {k for k, v in dataclasses.asdict(config).items() if v != reference[k]}
        rule = rules.get(config.rule, **config.rule_kwargs)
        if name in ablations.RULE_SWITCHES:
            switches = ablations.RULE_SWITCHES[name]
            assert changed == {"rule_kwargs"}, name
            assert config.rule_kwargs == {"preset": "paper", **switches}
            assert all(getattr(rule, arg) == value for arg, value in switches.items()), name
            # every switch drops meta-parameters (readouts, features, levels, states)
            assert _num_meta_parameters(rule) < _num_meta_parameters(full_rule), name
        else:
            assert changed == set(ablations.CONFIG_SWITCHES.get(name, {})), name
            assert _num_meta_parameters(rule) == _num_meta_parameters(full_rule)
    assert configs["mean objective"].meta_loss == "mean"
    assert configs["first order"].second_order is False
    assert configs["no dynamic output scale"].rule_kwargs == {
        "preset": "paper",
        "dynamic_output_scale": False,
        "relative_lr_input": False,
    }
    assert [rules.get("hierarchical_rnn", **configs[n].rule_kwargs).num_levels for n in (
        "1 level", "2 levels", "full"
    )] == [1, 2, 3]


def test_every_ablated_rule_takes_finite_steps():
    _, configs = _configs(True)
    problem = problems.get("quadratic", seed=1, dim=5)
    for name, config in configs.items():
        rule = rules.get(config.rule, **config.rule_kwargs)
        losses = unroll_from_init(rule, problem, problem.tensors, as_seed(3), 3).losses.numpy()
        assert losses.shape == (3,) and np.all(np.isfinite(losses)), name


def test_mean_and_se_and_paired_differences_leave_out_nonfinite_values():
    stats = ablations.mean_and_se(np.array([1.0, 2.0, 3.0, np.inf]))
    assert stats["mean"] == 2.0 and stats["se"] == pytest.approx(1 / np.sqrt(3))
    assert (stats["num_finite"], stats["num_nonfinite"]) == (3, 1)
    paired = ablations.paired_difference(np.array([np.inf, 1.0, 2.0]), np.array([np.inf, 0, 4]))
    assert paired["mean"] == -0.5 and paired["se"] == pytest.approx(1.5)  # inf - inf left out
    assert paired["num_nonfinite"] == 1
    single = ablations.mean_and_se(np.array([0.5]))
    assert single["mean"] == 0.5 and np.isnan(single["se"])


def test_weights_used_are_the_best_ones_else_the_final_ones(tmp_path):
    logdir = str(tmp_path)
    curve = {"steps": np.array([0, 3, 6, 9]), "values": np.array([5.0, np.nan, 2.0, 2.0])}
    final = ablations.weights_used(logdir, curve)
    assert final == {"kind": "final", "path": os.path.join(logdir, WEIGHTS_FILE)}
    open(os.path.join(logdir, BEST_WEIGHTS_FILE), "w").close()
    best = ablations.weights_used(logdir, curve)
    assert best == {
        "kind": "best",
        "path": os.path.join(logdir, BEST_WEIGHTS_FILE),
        "meta_step": 6,
        "held_out": 2.0,
    }


def test_variant_logdirs_are_apart_for_quick_and_full():
    assert ablations.variant_logdir("R", False, "no attention") == os.path.join(
        "R", NAME, "no_attention"
    )
    assert ablations.variant_logdir("R", True, "1 level") == os.path.join(
        "R", NAME + "_quick", "1_level"
    )


# --- the quick figure ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig6(tmp_path_factory):
    return make_quick_figure(tmp_path_factory, NAME)


@pytest.mark.slow
def test_fig6_scores_every_variant_on_the_same_problems(fig6):
    paths, data, arrays, _ = fig6
    assert_written(paths, NAME, ("json", "npz", "png"))
    sizes = ablations.ABLATION_SIZES[True]
    assert list(data["variants"]) == list(QUICK_VARIANTS)
    assert sorted(arrays) == sorted(map(ablations.slug, QUICK_VARIANTS))
    assert data["scoring"] == {
        "meta_loss": "log", "record": "full_batch_loss", "eval_steps": 10, "stream": TEST_STREAM
    }
    full_config = ablations.full_config(sizes)
    test = held_out_problems(full_config, TEST_STREAM, sizes.num_test_problems)
    assert [p["seed"] for p in data["test_problems"]] == [p.seed for p in test]
    full = np.array(data["variants"]["full"]["per_problem"])
    for name, entry in data["variants"].items():
        per_problem = np.array(entry["per_problem"])
        np.testing.assert_array_equal(per_problem, arrays[ablations.slug(name)])
        assert per_problem.shape == (2,) and np.all(np.isfinite(per_problem)), name
        assert entry["score"]["mean"] == pytest.approx(per_problem.mean(), rel=1e-12)
        assert entry["score"]["se"] == pytest.approx(per_problem.std(ddof=1) / np.sqrt(2))
        diff = entry["difference_to_full"]
        assert diff["mean"] == pytest.approx((per_problem - full).mean(), rel=1e-12, abs=1e-15)
    assert data["variants"]["full"]["difference_to_full"]["mean"] == 0.0


@pytest.mark.slow
def test_fig6_scores_are_the_common_evaluator_on_the_best_weights(fig6):
    _, data, _, runs = fig6
    sizes = ablations.ABLATION_SIZES[True]
    _, configs = _configs(True)
    test = held_out_problems(configs["full"], TEST_STREAM, sizes.num_test_problems)
    for name in ("no attention", "mean objective"):
        entry = data["variants"][name]
        weights = entry["weights"]
        assert weights["kind"] == "best"
        assert weights["path"] == os.path.join(
            ablations.variant_logdir(runs, True, name), BEST_WEIGHTS_FILE
        )
        assert weights["meta_step"] in entry["held_out_curve"]["steps"]
        rule = ablations.trained_rule(configs[name], weights["path"])
        again = ablations.scores(rule, test, sizes.eval_steps, jit_compile=False)
        np.testing.assert_allclose(again, entry["per_problem"], rtol=1e-6)


@pytest.mark.slow
def test_fig6_runs_record_their_override_and_resume(fig6):
    _, data, _, runs = fig6
    _, configs = _configs(True)
    for name in QUICK_VARIANTS:
        entry = data["variants"][name]
        logdir = ablations.variant_logdir(runs, True, name)
        with open(os.path.join(logdir, CONFIG_FILE)) as f:
            saved = json.load(f)
        assert saved == dataclasses.asdict(configs[name])
        for field, value in entry["override"].items():
            assert saved[field] == value, (name, field)
        assert entry["meta_steps"] == 6 and entry["train_seconds"] > 0
        assert entry["meta_loss"] == configs[name].meta_loss
        assert entry["held_out_curve"]["steps"] == [0, 3, 6]  # eval_every 3 of the preset
    assert data["variants"]["mean objective"]["meta_loss"] == "mean"
    name = "no attention"
    resumed = MetaTrainer(configs[name], ablations.variant_logdir(runs, True, name))
    assert int(resumed.step) == configs[name].steps  # a second figure run trains nothing
