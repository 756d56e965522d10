"""Evaluation: learning-rate tuning through the baselines' grid search, the report, and the
recorded loss of the run's meta-objective."""

import dataclasses
import os

import numpy as np
import pytest

import problems
from l2o_tf import rules, save_rule_weights
from trainers.baselines import LEARNING_RATE_GRID, SearchConfig, random_search
from trainers.evaluate import (
    CurveRunner,
    TunedBaseline,
    contenders,
    evaluate,
    evaluation_config,
    tune_learning_rate,
    write_report,
)
from trainers.meta_train import MetaTrainConfig

CONFIG = MetaTrainConfig(
    problem="quadratic", problem_kwargs={"dim": 5}, rule="sgd", unroll_steps=10, meta_loss="log"
)


def test_tuning_is_the_grid_search_of_the_baselines():
    tuned = tune_learning_rate(CONFIG, "adam", num_problems=2)
    assert list(tuned.tuning_scores) == list(LEARNING_RATE_GRID)
    assert tuned.learning_rate == min(tuned.tuning_scores, key=tuned.tuning_scores.get)
    search = SearchConfig(num_problems=2, jit_compile=False, mode="grid")
    result = random_search(CONFIG, "adam", search)
    assert list(tuned.tuning_scores.values()) == result.scores
    assert tuned.learning_rate == result.best["learning_rate"]


def test_on_grid_edge_means_the_first_or_last_learning_rate():
    assert TunedBaseline("sgd", LEARNING_RATE_GRID[0], {}).on_grid_edge
    assert TunedBaseline("sgd", LEARNING_RATE_GRID[-1], {}).on_grid_edge
    assert not TunedBaseline("sgd", LEARNING_RATE_GRID[5], {}).on_grid_edge


def test_evaluate_reports_the_tuned_baselines(tmp_path):
    weights = save_rule_weights(rules.get("sgd", learning_rate=0.05), str(tmp_path / "sgd.npz"))
    results = evaluate(
        CONFIG,
        weights,
        num_steps=12,
        num_problems=2,
        num_tuning_problems=2,
        baselines=("sgd", "momentum"),
    )
    assert list(results)[:2] == ["learned sgd", "adam (lr=1e-3, default)"]
    task = dataclasses.replace(CONFIG, unroll_steps=12)  # tuned on the evaluated length
    for name in ("sgd", "momentum"):
        expected = tune_learning_rate(task, name, 2)
        entry = results[f"{name} (tuned lr={expected.learning_rate:.3g})"]
        assert entry["learning_rate"] == expected.learning_rate
        assert entry["on_grid_edge"] == expected.on_grid_edge
        assert entry["curves"].shape == (2, 12)
    write_report(results, CONFIG, 12, str(tmp_path / "eval"))
    for name in ("results.md", "results.json", "loss_curves.png"):
        assert os.path.getsize(tmp_path / "eval" / name) > 0


def test_contenders_are_keyed_by_optimizer_and_carry_their_tuning(tmp_path):
    weights = save_rule_weights(rules.get("sgd", learning_rate=0.05), str(tmp_path / "sgd.npz"))
    found = contenders(CONFIG, weights, 12, 2, ("sgd",), cache_dir=str(tmp_path / "cache"))
    assert list(found) == ["learned", "adam_default", "sgd"]
    assert found["learned"].tuning is None and found["adam_default"].tuning is None
    tuned = found["sgd"].tuning
    assert tuned == tune_learning_rate(dataclasses.replace(CONFIG, unroll_steps=12), "sgd", 2)
    assert found["sgd"].rule.learning_rate == tuned.learning_rate
    assert os.listdir(tmp_path / "cache")  # the grid search was cached
    problem = problems.get("quadratic", dim=5, seed=1)
    curves = CurveRunner(12).curves(found["learned"].rule, [problem, problem])
    assert curves.shape == (2, 12) and np.array_equal(curves[0], curves[1])


def test_curves_record_the_runs_loss_kind():
    problem = problems.get(
        "two_moons", hidden=[4], num_examples=32, batch_size=8, validation_examples=32
    )
    rule = rules.get("adam", learning_rate=0.01)
    train = CurveRunner(6)(rule, problem, seed=0)
    valid = CurveRunner(6, "validation_loss")(rule, problem, seed=0)
    assert train.shape == valid.shape == (6,)
    assert np.all(np.isfinite(valid)) and not np.allclose(train, valid)
    with pytest.raises(ValueError, match="no validation data"):
        CurveRunner(6, "validation_loss")(rule, problems.get("quadratic", dim=3), seed=0)


def test_evaluation_config_updates_problem_arguments_and_record():
    config = evaluation_config(CONFIG, {"dim": 3}, "full_batch_loss")
    assert config.problem_kwargs == {"dim": 3} and config.record == "full_batch_loss"
    assert evaluation_config(CONFIG, {}, None) == CONFIG
    with pytest.raises(ValueError, match="record"):
        evaluation_config(CONFIG, {}, "test_loss")


def test_library_code_keeps_the_callers_matplotlib_backend(tmp_path):
    """A notebook's backend must survive a report or a figure (the entry points alone choose
    Agg): `write_report` and `figures.base.pyplot` leave it as the caller set it."""
    import matplotlib

    from trainers.figures.base import pyplot

    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        pyplot()
        config = MetaTrainConfig(problem_set="bowl")
        curves = np.ones((2, 3))
        results = {
            "learned mlp": {"meta_loss": -1.0, "final_loss_median": 0.5, "curves": curves},
            "adam": {
                "meta_loss": 0.0, "final_loss_median": 1.0, "curves": curves, "learned_wins": 1.0
            },
        }
        write_report(results, config, 3, str(tmp_path))
        assert matplotlib.get_backend() == "svg"
        assert open(tmp_path / "results.md").readline().startswith("# bowl: 2 held-out problems")
    finally:
        matplotlib.use(previous)
