"""`python -m trainers.figures`: the registry, the dynamics presets, and every dynamics figure
end to end at `--quick` size."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from trainers import figures
from trainers.baselines import QUICK_SEARCH
from trainers.figures.dynamics_runs import DynamicsRuns
from trainers.meta_train import MetaTrainer
from trainers.presets import DYNAMICS_TASKS, get_preset

DYNAMICS = [
    "dynamics_fig6",
    "dynamics_fig7",
    "dynamics_linearity",
    "dynamics_schedules",
    "dynamics_fig9",
] + [
    f"dynamics_fig{n}" for n in (10, 11, 12)
]


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "trainers.figures", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        **kwargs,
    )


def test_registry_names_every_dynamics_figure():
    assert set(DYNAMICS) <= set(figures.names())
    assert all(figures.get(name).description for name in DYNAMICS)
    with pytest.raises(ValueError, match="Unknown figure"):
        figures.get("dynamics_fig99")
    with pytest.raises(ValueError, match="registered twice"):
        figures.register("dynamics_fig6", "again")(lambda out, quick, runs: [])


def test_dynamics_presets_follow_the_recipe_of_app_d2():
    for task in DYNAMICS_TASKS:
        full = get_preset(f"dynamics_{task}")
        assert (full.rule, full.steps, full.unroll_steps, full.meta_batch) == ("gru", 5000, 200, 32)
        assert (full.meta_loss, full.meta_optimizer, full.meta_grad_clip) == ("mean", "adam", 5.0)
        assert (full.meta_lr_decay, full.meta_lr_decay_steps, full.meta_l2) == (0.8, 500, 1e-5)
        assert full.estimator == "bptt" and full.inner_length == full.unroll_steps  # untruncated
        quick = get_preset(f"dynamics_{task}_quick")
        assert quick.steps < 100 and quick.meta_batch < 32
        assert (quick.meta_loss, quick.meta_grad_clip, quick.meta_l2) == ("mean", 5.0, 1e-5)
        for config in (full, quick):
            config.validate()
    assert get_preset("dynamics_rosenbrock").problem_kwargs == {
        "low": [-2.0, -1.0],
        "high": [2.0, 3.0],
    }
    rosenbrock = get_preset("dynamics_rosenbrock")  # the spec's fixed input scaling
    assert (rosenbrock.rule_kwargs, rosenbrock.dtype) == ({"input_scale": 0.01}, "float64")
    assert rosenbrock.meta_learning_rate == 3e-4  # 1e-3 blew up (docs/dynamics_results.md)
    # The spec's choice "small enough for 32 x 200-step unrolls on CPU" (trainers/presets.py)
    two_moons = get_preset("dynamics_two_moons")
    assert two_moons.problem_kwargs == {"hidden": [16, 16], "noise": 0.1}
    assert (two_moons.rule_kwargs, two_moons.meta_learning_rate) == ({"input_scale": 10.0}, 3e-4)


@pytest.mark.slow
def test_cli_lists_figures_and_asks_for_names():
    listed = _cli("--list", check=True).stdout
    assert all(f"{name}:" in listed for name in figures.names())  # every paper's figures
    missing = _cli("--out", "unused")
    assert missing.returncode != 0 and "Give figure names" in missing.stderr


@pytest.fixture(scope="module")
def quick_figures(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("figures"))
    runs = os.path.join(out, "runs")
    paths = {name: figures.get(name).make(out, True, runs) for name in DYNAMICS}
    return out, runs, paths


def _data(out, name):
    with open(os.path.join(out, f"{name}.json")) as f:
        return json.load(f)


@pytest.mark.slow
def test_quick_figures_write_png_and_data(quick_figures):
    out, _, paths = quick_figures
    for name in DYNAMICS:
        assert os.path.join(out, f"{name}.png") in paths[name]
        for path in paths[name]:
            assert os.path.getsize(path) > 0
        with open(os.path.join(out, f"{name}.png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_figure_contents(quick_figures):
    out, _, _ = quick_figures
    fig6 = _data(out, "dynamics_fig6")
    for task in DYNAMICS_TASKS:
        assert len(fig6[task]["update"]) == 401 and np.all(np.isfinite(fig6[task]["update"]))
        assert fig6[task]["learned"]["preset"] == f"dynamics_{task}_quick"
    fig7 = _data(out, "dynamics_fig7")
    assert fig7["fixed_point_residual"] < 1e-8 and len(fig7["kept_modes"]) >= 1
    assert len(fig7["timescales"]) == 32
    assert len(fig7["full_curve"]) == get_preset("dynamics_linear_regression_quick").unroll_steps
    assert set(fig7["tuned_momentum"]) == {"learning_rate", "momentum"}
    linearity = _data(out, "dynamics_linearity")
    for task in DYNAMICS_TASKS:
        scores = linearity[task]["meta_objective"]
        assert list(scores) == ["learned", "linearized", "momentum", "adam"]
        assert scores["learned"]["diverged"] == 0 and np.isfinite(scores["learned"]["mean"])
        if scores["linearized"]["diverged"] == 0:
            gap = linearity[task]["linearized_minus_learned"]["mean"]
            expected = scores["linearized"]["mean"] - scores["learned"]["mean"]
            assert gap == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert 0 < linearity[task]["linear_range"]
        assert 0 <= linearity[task]["share_of_gradients_in_linear_range"] <= 1
    schedules = _data(out, "dynamics_schedules")
    for task in DYNAMICS_TASKS:
        steps = get_preset(f"dynamics_{task}_quick").unroll_steps
        median = np.array(schedules[task]["median"])
        assert median.shape == (steps,) and np.all(np.isfinite(median))
        assert np.all(np.array(schedules[task]["quartile_25"]) <= median + 1e-12)
        found = schedules[task]["adaptation_positive"] + schedules[task]["adaptation_negative"]
        assert len(found) == 2 * len(schedules[task]["magnitudes"])
        assert sum(map(len, found)) > 0 and np.all(np.isfinite(np.concatenate(found)))
    fig9 = _data(out, "dynamics_fig9")
    for task in DYNAMICS_TASKS:
        entries = fig9[task]["optimizers"]
        assert list(entries) == ["learned", "momentum", "rmsprop", "adam"]
        assert all(
            len(e["per_problem"]) == 4 and e["standard_error"] >= 0 for e in entries.values()
        )
        assert fig9[task]["learned_is_best"] == (fig9[task]["best"] == "learned")
        for o in ("momentum", "rmsprop", "adam"):
            gap = np.array(entries[o]["per_problem"]) - np.array(entries["learned"]["per_problem"])
            assert entries[o]["gap_to_learned"]["mean"] == pytest.approx(gap.mean())
            beat = entries[o]["time_to_beat"]
            assert np.isfinite(beat["baseline_held_out"])
            if beat["first_beaten"] is not None:
                assert beat["first_beaten"]["value"] < beat["baseline_held_out"]
                assert beat["first_beaten"]["train_seconds"] >= 0
    for number, task in zip((10, 11, 12), DYNAMICS_TASKS):
        data = _data(out, f"dynamics_fig{number}")
        assert data["task"] == task
        for search in data["searches"].values():
            assert search["num_samples"] == QUICK_SEARCH.num_samples
            assert search["search"] == dataclasses.asdict(QUICK_SEARCH)
            assert isinstance(search["on_grid_edge"], list)


def test_a_run_in_progress_is_compared_as_it_is_without_training(tmp_path):
    runs = str(tmp_path)
    as_is = DynamicsRuns(runs, quick=True, train=False)
    with pytest.raises(ValueError, match="no meta-training run.*--preset=dynamics_rosenbrock_quick"):
        as_is.trainer("rosenbrock")
    config = dataclasses.replace(get_preset("dynamics_rosenbrock_quick"), steps=2)
    MetaTrainer(config, as_is.logdir("rosenbrock")).train(verbose=False)
    trainer = DynamicsRuns(runs, quick=True, train=False).trainer("rosenbrock")
    assert int(trainer.step) == 2  # not trained on to the preset's 30 meta-steps
    provenance = DynamicsRuns(runs, quick=True, train=False).provenance("rosenbrock")
    assert provenance["meta_steps"] == 2 and provenance["config"]["steps"] == 30


@pytest.mark.slow
def test_cli_reuses_the_runs(quick_figures, tmp_path):
    _, runs, _ = quick_figures
    result = _cli("dynamics_fig11", "--out", str(tmp_path), "--quick", "--runs", runs, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.exists(tmp_path / "dynamics_fig11.png")
    assert os.path.exists(tmp_path / "dynamics_fig11.json")


@pytest.mark.slow
def test_report_compares_the_named_tasks_alone(quick_figures):
    _, runs, _ = quick_figures
    result = subprocess.run(
        [sys.executable, "-m", "trainers.dynamics_report", "--runs", runs, "--quick",
         "--tasks", "rosenbrock"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### rosenbrock" in result.stdout and "linear_regression" not in result.stdout
    assert "| adam |" in result.stdout and "best:" in result.stdout
    assert "(learned: 30 meta-steps of 30)" in result.stdout
    with open(os.path.join(runs, "comparison_rosenbrock.json")) as f:
        assert set(json.load(f)["optimizers"]) == {"learned", "momentum", "rmsprop", "adam"}
    assert os.path.getsize(os.path.join(runs, "fig9_rosenbrock.png")) > 0

