"""Random-search baselines: stacked problems, hyper-parameter assignment, scores through the
inner loop, edge detection and the on-disk cache."""

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
    ProblemBatch,
    SearchConfig,
    SearchResult,
    random_search,
    set_hyperparameters,
    tuning_problems,
)
from trainers.presets import get_preset
from trainers.unroll import unroll

CONFIG = dataclasses.replace(get_preset("dynamics_linear_regression_quick"), unroll_steps=20)
SEARCH = SearchConfig(num_samples=6, num_problems=3, jit_compile=False)


@pytest.mark.parametrize(
    "name, kwargs",
    [("linear_regression", {"dim": 5}), ("rosenbrock", {}), ("two_moons", {"hidden": [4]})],
)
def test_problem_batch_loss_and_gradients_are_per_sample(name, kwargs):
    samples = [problems.get(name, seed=s, **kwargs) for s in range(3)]
    batch = ProblemBatch(samples)
    params = batch.init_params(7)
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = batch.loss(params)
    grads = tape.gradient(loss, params)
    total = 0.0
    for i, sample in enumerate(samples):
        own = sample.init_params(fold_in(as_seed(7), i))
        for stacked, p in zip(params, own):
            np.testing.assert_array_equal(stacked[i].numpy(), p.numpy())
        with tf.GradientTape() as tape:
            tape.watch(own)
            sample_loss = sample.loss(own)
        total += float(sample_loss)
        for stacked, g in zip(grads, tape.gradient(sample_loss, own)):
            np.testing.assert_allclose(stacked[i].numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(total, rel=1e-5)


def test_problem_batch_refuses_mixed_families_and_gradient_transforms():
    with pytest.raises(ValueError, match="one signature"):
        ProblemBatch([problems.get("linear_regression", dim=5), problems.get("linear_regression")])
    sparse = problems.get("sparse_problem", problem=problems.Factory("quadratic", dim=3))
    with pytest.raises(ValueError, match="transforms its gradients"):
        ProblemBatch([sparse])


@pytest.mark.parametrize("optimizer", list(GRIDS))
def test_set_hyperparameters_assigns_the_rule_weights(optimizer):
    rule = rules.get(optimizer)
    values = {name: float(axis[3]) for name, axis in GRIDS[optimizer].items()}
    set_hyperparameters(rule, values)
    for name, value in values.items():
        if name == "learning_rate":
            assert math.exp(float(rule.log_learning_rate)) == pytest.approx(value, rel=1e-5)
        else:
            logit = float(getattr(rule, f"{name}_logit"))
            assert 1 / (1 + math.exp(-logit)) == pytest.approx(value, rel=1e-5)


def test_grids_are_wide_and_fine_enough():
    for grid in GRIDS.values():
        assert grid["learning_rate"][0] <= 1e-5 and grid["learning_rate"][-1] >= 1.0
        assert int(np.prod([len(a) for a in grid.values()])) >= 2500  # 2 500 distinct samples
        for name, axis in grid.items():
            assert np.all(np.diff(axis) > 0) and (name == "learning_rate" or axis[-1] < 1.0)


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


def test_search_is_cached_per_task_optimizer_and_config(tmp_path, monkeypatch):
    first = random_search(CONFIG, "adam", SEARCH, str(tmp_path))
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("linear_regression_adam_")

    def refuse(*args):
        raise AssertionError("the cached search was run again")

    monkeypatch.setattr(baselines, "_run_search", refuse)
    again = random_search(CONFIG, "adam", SEARCH, str(tmp_path))
    assert again.scores == first.scores and again.best == first.best
    with pytest.raises(AssertionError, match="run again"):
        random_search(CONFIG, "adam", dataclasses.replace(SEARCH, seed=1), str(tmp_path))
    with pytest.raises(AssertionError, match="run again"):
        random_search(dataclasses.replace(CONFIG, unroll_steps=21), "adam", SEARCH, str(tmp_path))


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


def test_diverging_combinations_score_inf(tmp_path, monkeypatch):
    monkeypatch.setitem(
        GRIDS, "momentum", {"learning_rate": np.array([1e-3, 1e3]), "momentum": np.array([0.5])}
    )
    result = random_search(CONFIG, "momentum", dataclasses.replace(SEARCH, num_samples=2))
    scores = dict(zip([i[0] for i in result.indices], result.scores))
    assert math.isfinite(scores[0]) and scores[1] == math.inf
