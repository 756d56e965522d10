"""Wichrowska et al. 2017 Figs. 3–5 (trainers/figures/wichrowska2017.py): where the learned
optimizer comes from (a quick run trained once, a full-size run only read, the shipped weights,
or an error naming the meta-training command), the deployment runner, and each figure at
`--quick` size: its files, the fields its plot shows, the families, baselines and sweeps asked
for, and the data source of the MNIST networks."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from l2o_tf import rules
from l2o_tf.weights import save_rule_weights
from problems import image_data, problem_sets
from tests.trainers.quick_figures import assert_written, make_quick_figure
from trainers import figures
from trainers.baselines import LEARNING_RATE_GRID
from trainers.figures import wichrowska2017 as w17
from trainers.logs import read_scalars
from trainers.meta_train import BEST_WEIGHTS_FILE, CONFIG_FILE, initial_rule
from trainers.presets import get_preset

FIG3, FIG4, FIG5 = "wichrowska2017_fig3", "wichrowska2017_fig4", "wichrowska2017_fig5"
OPTIMIZERS = {"learned", *w17.BASELINES}
FULL, QUICK = "wichrowska2017_cpu", "wichrowska2017_quick"


def no_training(*args, **kwargs):
    raise AssertionError("a figure trained a run it should only read")


@pytest.fixture(scope="module")
def fig3(tmp_path_factory):
    return make_quick_figure(tmp_path_factory, FIG3)


@pytest.fixture(scope="module")
def fig4(tmp_path_factory):
    return make_quick_figure(tmp_path_factory, FIG4)


@pytest.fixture(scope="module")
def fig5(tmp_path_factory):
    return make_quick_figure(tmp_path_factory, FIG5)


@pytest.fixture(scope="module")
def hrnn_weights(tmp_path_factory):
    """Weights of an untrained hierarchical RNN of the full preset (a stand-in for a run)."""
    path = str(tmp_path_factory.mktemp("weights") / "hrnn.npz")
    return save_rule_weights(initial_rule(get_preset(FULL)), path)


def test_registered():
    for name in (FIG3, FIG4, FIG5):
        assert name in figures.names() and figures.get(name).description


def test_full_size_without_a_run_names_the_meta_training_command(tmp_path, monkeypatch):
    monkeypatch.setattr(w17, "PRETRAINED", str(tmp_path / "absent.npz"))
    runs = str(tmp_path / "runs")
    with pytest.raises(ValueError) as error:
        w17.learned_optimizer(runs, quick=False)
    message = str(error.value)
    command = f"python -m trainers.meta_train --preset={FULL} --logdir={os.path.join(runs, FULL)}"
    assert command in message and "\n" not in message
    assert not os.path.exists(runs)  # nothing was trained


@pytest.mark.slow
def test_full_size_falls_back_to_the_shipped_weights(tmp_path, monkeypatch, hrnn_weights):
    monkeypatch.setattr(w17, "PRETRAINED", hrnn_weights)
    learned = w17.learned_optimizer(str(tmp_path), quick=False)
    assert learned.weights == hrnn_weights and learned.config == get_preset(FULL)
    assert learned.provenance["meta_step"] is None
    assert "shipped" in learned.provenance["meta_step_note"]


@pytest.mark.slow
def test_full_size_reads_its_run_without_training_it(tmp_path, monkeypatch, hrnn_weights):
    logdir = tmp_path / FULL
    logdir.mkdir()
    config = dataclasses.replace(get_preset(FULL), steps=123)  # as saved by the run
    (logdir / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config)))
    shutil.copy(hrnn_weights, logdir / BEST_WEIGHTS_FILE)
    monkeypatch.setattr(w17.MetaTrainer, "train", no_training)
    learned = w17.learned_optimizer(str(tmp_path), quick=False)
    assert learned.config == config and learned.weights == str(logdir / BEST_WEIGHTS_FILE)
    assert learned.provenance["meta_step"] is None  # no TensorBoard scalars to read it from
    assert w17.BEST_TAG in learned.provenance["meta_step_note"]
    assert learned.rule(deployment_learning_rate=1e-3).deployment_learning_rate == 1e-3


@pytest.mark.slow
def test_deployment_runner_chunks_continue_one_run(monkeypatch):
    (factory,) = [
        f for f in w17.test_entries(w17.is_fig5_problem) if f.kwargs.get("num_classes") == 2
    ]
    problem = factory(seed=3)
    rule = rules.get("sgd", learning_rate=0.1)
    whole = w17.DeploymentRunner(12, 12, "gradient_loss")(rule, problem, 5)
    chunked = w17.DeploymentRunner(12, 4, "gradient_loss")(rule, problem, 5)
    assert chunked.eval_steps.tolist() == [0, 4, 8, 12] and whole.eval_steps.tolist() == [0, 12]
    np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-5)  # the same minibatches
    np.testing.assert_allclose(chunked.full_batch[[0, -1]], whole.full_batch, rtol=1e-5)
    assert whole.full_batch[-1] < whole.full_batch[0]
    # In passes of 3 000 examples the full-batch loss is that of one pass over all 10 000.
    params = problem.init_params(4)
    one_pass = float(problem.loss_fn(problem.tensors, params, problem.full_batch(problem.tensors)))
    monkeypatch.setattr(w17, "FULL_BATCH_CHUNK", 3000)
    chunks = float(w17.full_batch_loss(problem, problem.tensors, params))
    assert chunks == pytest.approx(one_pass, rel=1e-5)


@pytest.mark.slow
def test_fig3_compares_every_family_to_every_tuned_baseline(fig3):
    paths, data, arrays, _ = fig3
    assert_written(paths, FIG3, ("png", "json", "npz"))
    sizes = w17.FIG3_SIZES[True]
    assert list(data["families"]) == ["quadratic_noisy", "bowl", "norm"] == list(sizes.families)
    assert set(sizes.families) <= set(problem_sets.WICHROWSKA2017)
    assert set(w17.FIG3_SIZES[False].families) == set(problem_sets.WICHROWSKA2017)
    assert data["meta_objective"] == "log of full_batch_loss"
    for family, entry in data["families"].items():
        scores = entry["meta_loss_per_problem"]
        assert set(scores) == OPTIMIZERS | {"adam_default"}
        for key, values in scores.items():
            assert len(values) == sizes.test_problems and np.all(np.isfinite(values))
            assert arrays[f"{family}/{key}"].shape == (sizes.test_problems, sizes.num_steps)
        learned = np.array(scores["learned"])
        for b in w17.BASELINES:
            baseline = np.array(scores[b])
            assert entry["learned_minus_baseline"][b] == pytest.approx(np.mean(learned - baseline))
            assert entry["learned_wins"][b] == pytest.approx(np.mean(learned < baseline))
            assert entry["learned_better"][b] == (entry["learned_minus_baseline"][b] < 0)
            assert entry["tuned_learning_rate"][b] in LEARNING_RATE_GRID
    for b in w17.BASELINES:
        count = sum(entry["learned_better"][b] for entry in data["families"].values())
        assert data["families_learned_better"][b] == count


@pytest.mark.slow
def test_quick_run_is_trained_once_and_its_checkpoint_recorded(fig3, monkeypatch):
    _, data, _, runs = fig3
    logdir = os.path.join(runs, QUICK)
    learned = data["learned"]
    assert learned["weights"] == os.path.join(logdir, BEST_WEIGHTS_FILE)
    assert os.path.exists(learned["weights"])
    steps, best = read_scalars(logdir)[w17.BEST_TAG]
    assert learned["last_logged_meta_step"] == steps[-1] == get_preset(QUICK).steps
    at = steps.tolist().index(learned["meta_step"])
    assert best[at] == best[-1] and np.all(best[:at] > best[-1])
    monkeypatch.setattr(w17.MetaTrainer, "train", no_training)
    assert w17.learned_optimizer(runs, True).weights == learned["weights"]


@pytest.mark.slow
def test_fig4_names_its_data_and_answers_from_its_curves(fig4):
    paths, data, arrays, _ = fig4
    assert_written(paths, FIG4, ("png", "json", "npz"))
    sizes = w17.FIG4_SIZES[True]
    (problem,) = data["problems"]
    mlp = w17.test_entries(w17.is_mnist_network)[0]
    assert (mlp.name, mlp.kwargs["num_features"]) == ("fully_connected", 784)
    assert problem["problem"] == mlp.label
    assert problem["data_source"] in ("tfds:mnist", image_data.DIGITS_SOURCE)
    assert data["data_sources"] == [problem["data_source"]]
    assert data["learned"]["deployment_learning_rate"] == 1e-4
    assert problem["eval_steps"] == list(range(0, sizes.num_steps + 1, sizes.eval_every))
    horizon = problem["eval_steps"].index(sizes.tuning_steps)
    assert set(problem["answers"]) == OPTIMIZERS
    for key, answers in problem["answers"].items():
        losses, full = arrays[f"0/{key}/losses"], arrays[f"0/{key}/full_batch"]
        assert losses.shape == (sizes.num_steps,) and np.all(np.isfinite(losses))
        np.testing.assert_allclose(full, problem["full_batch_loss"][key])
        assert answers["full_batch_at_tuning_horizon"] == pytest.approx(full[horizon])
        assert answers["full_batch_final"] == pytest.approx(full[-1])
        assert answers["keeps_improving"] == bool(full[-1] < full[horizon])
        assert not answers["diverged"]
    assert len({problem["full_batch_loss"][k][0] for k in OPTIMIZERS}) == 1  # one start
    for b in w17.BASELINES:
        assert len(problem["tuning_scores"][b]) == len(LEARNING_RATE_GRID)
        assert problem["tuned_learning_rate"][b] in LEARNING_RATE_GRID
        answers = problem["answers"][b]
        assert answers["full_batch_final"] < answers["full_batch_initial"]


@pytest.mark.slow
def test_fig5_sweeps_two_orders_of_magnitude_per_optimizer(fig5):
    paths, data, _, _ = fig5
    assert_written(paths, FIG5, ("png", "json"))
    sizes = w17.FIG5_SIZES[True]
    expected = [f.label for f in w17.test_entries(w17.is_fig5_problem)]
    assert len(expected) == 3 and [p["problem"] for p in data["problems"]] == expected
    for panel in data["problems"]:
        assert set(panel["optimizers"]) == OPTIMIZERS
        for key, entry in panel["optimizers"].items():
            rates = np.array(entry["learning_rates"])
            assert rates.shape == (sizes.num_points,)
            np.testing.assert_allclose(rates[-1] / rates[0], 100.0)
            ratio = np.log(100.0) / (sizes.num_points - 1)
            np.testing.assert_allclose(np.diff(np.log(rates)), ratio)
            np.testing.assert_allclose(np.sqrt(rates[0] * rates[-1]), entry["center"])
            final = np.array(entry["final_loss"])
            assert final.shape == (sizes.num_points, sizes.seeds) and np.all(np.isfinite(final))
            assert np.array(entry["meta_objective"]).shape == final.shape
            median = np.median(final, axis=1)
            np.testing.assert_allclose(entry["final_loss_median"], median)
            spread = np.log10(median.max() / median.min())
            assert entry["log10_worst_over_best"] == pytest.approx(spread)
        learned = panel["optimizers"]["learned"]
        assert learned["center"] == 1e-4  # the deployment default
        assert len(set(np.ravel(learned["final_loss"]))) == sizes.num_points  # each rate used
        for b in w17.BASELINES:
            assert panel["optimizers"][b]["center"] in LEARNING_RATE_GRID  # tuned
