"""Baseline tuning: per-sample scores through the inner loop, the search spaces (dynamics
paper grids, Metz et al. 2019 Reg+Decay spaces, learning-rate grid), hyper-parameter
assignment, edge detection, L_train / L_valid targets and the on-disk cache."""

import dataclasses
import logging
import math
import os

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from problems.base import as_seed, fold_in
from trainers import baselines
from trainers.baselines import (
    GRIDS,
    LEARNING_RATE_GRID,
    SPACES,
    Scorer,
    SearchConfig,
    SearchResult,
    Space,
    random_search,
    space,
    tuning_problems,
)
from trainers.meta_loss import meta_loss
from trainers.meta_train import MetaTrainConfig
from trainers.presets import get_preset
from trainers.unroll import unroll

CONFIG = dataclasses.replace(get_preset("dynamics_linear_regression_quick"), unroll_steps=20)
SEARCH = SearchConfig(num_samples=6, num_problems=3, jit_compile=False)
TINY = dataclasses.replace(CONFIG, unroll_steps=8)
MOONS = MetaTrainConfig(
    problem="two_moons",
    problem_kwargs={"hidden": [4], "num_examples": 32, "batch_size": 8, "validation_examples": 32},
    unroll_steps=10,
    meta_loss="mean",
)


def _alone(rule, problem, index, seed, config):
    """The meta-objective of sample `index`, unrolled on its own (the Scorer's seeds)."""
    params = problem.init_params(fold_in(fold_in(seed, 0), index))
    losses = unroll(
        rule,
        problem,
        problem.tensors,
        params,
        rule.init(params),
        fold_in(seed, 1),
        config.unroll_steps,
        record=config.record,
    ).losses
    return float(meta_loss(losses, config.meta_loss))


@pytest.mark.parametrize("kind", ["mean", "log"])
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("linear_regression", {"dim": 5}),
        ("rosenbrock", {}),
        ("two_moons", {"hidden": [4], "num_examples": 16}),
    ],
)
def test_scorer_is_the_mean_of_each_sample_unrolled_alone(name, kwargs, kind):
    config = MetaTrainConfig(problem=name, problem_kwargs=kwargs, unroll_steps=6, meta_loss=kind)
    samples = [problems.get(name, seed=s, **kwargs) for s in range(3)]
    rule = rules.get("adam", learning_rate=0.01)
    score = Scorer(rule, samples, config, seed=7, jit_compile=False)()
    alone = [_alone(rule, p, i, as_seed(7), config) for i, p in enumerate(samples)]
    assert score == pytest.approx(np.mean(alone), rel=1e-5)


def test_scorer_groups_samples_of_different_shapes_and_takes_gradient_transforms():
    config = MetaTrainConfig(problem="quadratic", unroll_steps=5, meta_loss="mean")
    sparse = problems.get("sparse_problem", problem=problems.Factory("quadratic", dim=3))
    samples = [problems.get("linear_regression", dim=3), sparse, problems.get("linear_regression")]
    rule = rules.get("sgd", learning_rate=0.05)
    scorer = Scorer(rule, samples, config, seed=0, jit_compile=False)
    assert len(scorer.groups) == 3
    alone = [_alone(rule, p, i, as_seed(0), config) for i, p in enumerate(samples)]
    assert scorer() == pytest.approx(np.mean(alone), rel=1e-5)


@pytest.mark.parametrize("name", list(SPACES))
def test_set_hyper_parameters_assigns_the_rule_weights(name):
    searched = SPACES[name]
    rule = searched.rule_for({n: axis[1].item() for n, axis in searched.axes.items()})
    values = {n: axis[3].item() for n, axis in searched.axes.items() if axis.dtype != bool}
    assert sorted(rule.hyper_parameter_names) == sorted(values)  # Nesterov is not a weight
    rule.set_hyper_parameters(values)
    for n, value in values.items():
        weight = float(getattr(rule, rule.weight_name(n, rule.coordinates[n])))
        read = math.exp(weight) if rule.coordinates[n] == "log" else 1 / (1 + math.exp(-weight))
        assert read == pytest.approx(value, rel=1e-5)


def test_grids_are_wide_and_fine_enough():
    for grid in GRIDS.values():
        assert grid["learning_rate"][0] <= 1e-5 and grid["learning_rate"][-1] >= 1.0
        assert int(np.prod([len(a) for a in grid.values()])) >= 2500  # 2 500 distinct samples
        for name, axis in grid.items():
            assert np.all(np.diff(axis) > 0) and (name == "learning_rate" or axis[-1] < 1.0)


def test_reg_decay_spaces_hold_the_hyper_parameters_of_app_e():
    schedule_and_regularization = {"learning_rate", "exponential_decay", "linear_decay", "l1", "l2"}
    expected = {
        "adam_reg_decay": ("adam", {"beta_1", "beta_2", "epsilon"}, 2000),
        "rmsprop_reg_decay": ("rmsprop", {"rho", "epsilon"}, 1000),
        "momentum_reg_decay": ("momentum", {"momentum", "nesterov"}, 1000),
    }
    for name, (rule, own, count) in expected.items():
        searched = SPACES[name]
        assert searched.rule == rule and searched.num_samples == count
        assert set(searched.axes) == schedule_and_regularization | own
        for n, axis in searched.axes.items():
            if n == "nesterov":
                assert axis.tolist() == [False, True]
                continue
            assert np.all(np.diff(axis) > 0)
            if n in ("exponential_decay", "linear_decay", "l1", "l2"):
                assert axis[0] == 0 and axis[1] <= 1e-6  # off, then down to tiny values
        if "epsilon" in searched.axes:
            assert searched.axes["epsilon"][0] <= 1e-8 <= searched.axes["epsilon"][-1]
    assert len(SPACES["adam_reg_decay"].axes) == 8  # lr, β1, β2, ε, two decays, l1, l2


def test_search_scores_are_the_mean_loss_meta_objective(tmp_path):
    result = random_search(CONFIG, "momentum", SEARCH, str(tmp_path))
    assert len(result.scores) == 6 and len({tuple(i) for i in result.indices}) == 6
    # Rescore the best combination sample by sample through the same inner loop.
    rule = rules.get("momentum", **result.best)
    family = tuning_problems(CONFIG, SEARCH.num_problems)
    seed = as_seed(SEARCH.seed)
    per_sample = []
    for i, problem in enumerate(family):
        params = problem.init_params(fold_in(fold_in(seed, 0), i))
        losses = unroll(
            rule, problem, problem.tensors, params, rule.init(params), fold_in(seed, 1), 20
        ).losses
        per_sample.append(float(tf.reduce_mean(losses)))
    assert result.best_score == pytest.approx(np.mean(per_sample), rel=1e-4)
    assert result.best_score == min(result.scores)


def test_a_verbose_search_shows_its_progress_and_the_best_score_so_far(capsys):
    result = random_search(CONFIG, "momentum", SEARCH, verbose=True)
    out = capsys.readouterr().out
    assert f"{len(result.scores)}/{len(result.scores)}" in out
    assert f"best: {result.best_score:.4f}" in out


@pytest.mark.parametrize("name", ["adam_reg_decay", "rmsprop_reg_decay", "momentum_reg_decay"])
def test_reg_decay_searches_return_finite_best_points_inside_their_ranges(name):
    search = SearchConfig(num_samples=6, num_problems=2, jit_compile=False)
    result = random_search(TINY, name, search)
    searched = SPACES[name]
    assert result.search["num_samples"] == 6 and len(result.scores) == 6
    assert math.isfinite(result.best_score)
    for n, value in result.best.items():
        assert searched.axes[n][0] <= value <= searched.axes[n][-1]
    # The best point rebuilt from the constructor scores what the search assigned.
    rule = searched.rule_for(result.best, TINY.dtype)
    rescored = Scorer(rule, tuning_problems(TINY, 2), TINY, search.seed, jit_compile=False)()
    assert rescored == pytest.approx(result.best_score, rel=1e-4)


def test_momentum_reg_decay_builds_one_rule_per_nesterov_value(monkeypatch):
    built = []
    original = Space.rule_for

    def record(self, values, dtype="float32"):
        rule = original(self, values, dtype)
        built.append(rule)
        return rule

    monkeypatch.setattr(Space, "rule_for", record)
    axes = {
        "learning_rate": np.array([1e-3, 1e-2]),
        "nesterov": np.array([False, True]),
        "l2": np.array([0.0, 1e-3]),
    }
    monkeypatch.setitem(SPACES, "momentum_reg_decay", Space("momentum", axes, 8))
    result = random_search(TINY, "momentum_reg_decay", SearchConfig(8, 2, jit_compile=False))
    assert len(result.scores) == 8 and all(math.isfinite(s) for s in result.scores)
    # a probe for the weight names, then one rule per Nesterov value
    assert len(built) == 3 and sorted(rule.nesterov for rule in built[1:]) == [False, True]


def test_grid_mode_tries_exactly_the_eleven_learning_rates(tmp_path, monkeypatch):
    search = SearchConfig(num_problems=2, jit_compile=False, mode="grid")
    result = random_search(TINY, "sgd", search, str(tmp_path))
    assert result.values()[:, 0].tolist() == list(LEARNING_RATE_GRID)
    assert len(LEARNING_RATE_GRID) == 11 and LEARNING_RATE_GRID[0] == pytest.approx(1e-4)
    assert LEARNING_RATE_GRID[-1] == pytest.approx(10.0)
    assert result.search["num_samples"] == 11
    lr = LEARNING_RATE_GRID[3]
    alone = Scorer(rules.get("sgd", learning_rate=lr), tuning_problems(TINY, 2), TINY, 0, False)
    assert result.scores[3] == pytest.approx(alone(), rel=1e-5)
    (name,) = os.listdir(tmp_path)
    assert name.startswith("linear_regression_sgd_grid_")
    monkeypatch.setattr(baselines, "_run_search", _refuse)
    assert random_search(TINY, "sgd", search, str(tmp_path)).scores == result.scores
    with pytest.raises(ValueError, match="tries every point"):
        random_search(TINY, "sgd", dataclasses.replace(search, num_samples=3))


def _refuse(*args):
    raise AssertionError("the cached search was run again")


def test_search_is_cached_per_task_space_mode_and_config(tmp_path, monkeypatch):
    first = random_search(CONFIG, "adam", SEARCH, str(tmp_path))
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("linear_regression_adam_random_")
    monkeypatch.setattr(baselines, "_run_search", _refuse)
    again = random_search(CONFIG, "adam", SEARCH, str(tmp_path))
    assert again.scores == first.scores and again.best == first.best
    changed = [
        (CONFIG, "adam", dataclasses.replace(SEARCH, seed=1)),
        (dataclasses.replace(CONFIG, unroll_steps=21), "adam", SEARCH),
        (dataclasses.replace(CONFIG, record="full_batch_loss"), "adam", SEARCH),
        (CONFIG, "adam_reg_decay", SEARCH),
        (CONFIG, "adam", SearchConfig(num_problems=3, jit_compile=False, mode="grid")),
    ]
    for config, name, search in changed:
        with pytest.raises(AssertionError, match="run again"):
            random_search(config, name, search, str(tmp_path))


def test_default_sample_counts_are_the_spaces():
    assert SearchConfig().resolved(SPACES["adam"]).num_samples == 2500
    assert SearchConfig().resolved(SPACES["adam_reg_decay"]).num_samples == 2000
    assert SearchConfig().resolved(SPACES["rmsprop_reg_decay"]).num_samples == 1000
    assert SearchConfig(7).resolved(SPACES["momentum_reg_decay"]).num_samples == 7
    assert SearchConfig(mode="grid").resolved(space("adam", "grid")).num_samples == 11


def test_best_on_the_grid_edge_is_detected_and_reported(tmp_path, monkeypatch, caplog):
    grid = {"learning_rate": [0.1, 0.2, 0.3], "momentum": [0.5, 0.9]}
    inner = SearchResult("momentum", {}, {}, grid, [[1, 0], [1, 1]], [2.0, 3.0])
    assert inner.best == {"learning_rate": 0.2, "momentum": 0.5} and inner.edge == ["momentum"]
    corner = SearchResult("momentum", {}, {}, grid, [[0, 1], [1, 0]], [1.0, math.inf])
    assert corner.edge == ["learning_rate", "momentum"]
    middle = {"learning_rate": [0.1, 0.2, 0.3], "momentum": [0.5, 0.7, 0.9]}
    assert SearchResult("momentum", {}, {}, middle, [[1, 1]], [1.0]).edge == []
    monkeypatch.setattr(baselines, "_run_search", lambda *args: corner)
    with caplog.at_level(logging.WARNING):
        random_search(CONFIG, "momentum", SEARCH, str(tmp_path))
    assert "grid's edge" in caplog.text


def test_a_term_switched_off_or_a_yes_no_choice_is_not_an_edge():
    grid = {"learning_rate": [0.1, 0.2, 0.3], "l2": [0.0, 1e-4, 1e-2], "nesterov": [False, True]}
    off = SearchResult("momentum_reg_decay", {}, {}, grid, [[1, 0, 1]], [1.0])
    assert off.edge == []
    widest = SearchResult("momentum_reg_decay", {}, {}, grid, [[1, 2, 0]], [1.0])
    assert widest.edge == ["l2"]


def test_diverging_combinations_score_inf(monkeypatch):
    axes = {"learning_rate": np.array([1e-3, 1e3]), "momentum": np.array([0.5])}
    monkeypatch.setitem(SPACES, "momentum", Space("momentum", axes, 2))
    result = random_search(CONFIG, "momentum", dataclasses.replace(SEARCH, num_samples=2))
    scores = dict(zip([i[0] for i in result.indices], result.scores))
    assert math.isfinite(scores[0]) and scores[1] == math.inf


def test_validation_target_differs_from_the_training_target():
    search = SearchConfig(num_samples=3, num_problems=2, jit_compile=False)
    train = random_search(MOONS, "adam", search)
    valid = random_search(dataclasses.replace(MOONS, record="validation_loss"), "adam", search)
    assert train.indices == valid.indices
    assert all(math.isfinite(s) for s in train.scores + valid.scores)
    assert not np.allclose(train.scores, valid.scores, rtol=1e-3)
    # The validation score is the validation loss of each sample's own unroll.
    config = dataclasses.replace(MOONS, record="validation_loss")
    rule = rules.get("adam", **valid.best)
    samples = tuning_problems(MOONS, 2)
    alone = [_alone(rule, p, i, as_seed(0), config) for i, p in enumerate(samples)]
    assert valid.best_score == pytest.approx(np.mean(alone), rel=1e-4)


def test_validation_target_without_validation_data_says_so():
    config = dataclasses.replace(TINY, record="validation_loss")
    with pytest.raises(ValueError, match="no validation data"):
        random_search(config, "adam", SearchConfig(1, 1, jit_compile=False))


def test_unknown_space_or_mode_names_the_choices():
    with pytest.raises(ValueError, match="Unknown search space 'adamw'.*adam_reg_decay"):
        random_search(CONFIG, "adamw", SEARCH)
    with pytest.raises(ValueError, match="mode 'grid'; use one of adam, rmsprop, momentum, sgd"):
        random_search(CONFIG, "adam_reg_decay", SearchConfig(mode="grid"))
    with pytest.raises(ValueError, match="Unknown search mode 'sobol'"):
        space("adam", "sobol")
