"""`benchmarks/keras_models.py`: `--quick` on the embedding (IndexedSlices gradients) and
BatchNorm models, in process through `main(argv)`; the result line, finite records, counts
that agree with the per-model comparisons, the JSON file and the tuning cache."""

import contextlib
import io
import json
import math
import os
import re
import statistics
import sys

import pytest

# benchmarks/ holds scripts, not a package; they import their neighbours (`revision`).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
import keras_models  # noqa: E402

MODELS = ("embedding", "deep_bn")
LAST_LINE = re.compile(
    r"beats default Adam on (\d+) of (\d+) models; beats tuned Adam on (\d+) of (\d+) "
    r"models; stable on (\d+) of (\d+) models"
)
NUMBERS = ("final_loss", "best_loss", "test_metric", "test_loss", "first_epoch_s", "steady_epoch_s")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """(summary, stdout, argv) of one quick run on MODELS."""
    tmp = tmp_path_factory.mktemp("keras_models")
    argv = ["--quick", "--models", ",".join(MODELS), "--cache", str(tmp / "cache")]
    argv += ["--json", str(tmp / "runs.json")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary = keras_models.main(argv)
    return summary, out.getvalue(), tmp


@pytest.mark.slow
def test_last_line_states_the_counts(quick):
    summary, stdout, _ = quick
    last = stdout.rstrip("\n").split("\n")[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, last
    a, n1, b, n2, s, n3 = map(int, match.groups())
    assert n1 == n2 == n3 == len(MODELS)
    assert last == summary["last_line"]
    models = summary["models"]
    assert [m["model"] for m in models] == list(MODELS)
    assert a == sum(m["beats_adam"] for m in models)
    assert b == sum(m["beats_tuned"] for m in models)
    assert s == sum(m["stable"] for m in models)
    for m in models:  # one table row per model
        assert re.search(rf"^{m['model']} .*\|", stdout, re.MULTILINE)


@pytest.mark.slow
def test_every_record_is_finite_and_within_the_quick_budget(quick):
    summary, _, _ = quick
    records = summary["records"]
    for name in MODELS:
        roles = [r["role"] for r in records if r["model"] == name]
        assert roles.count("tuning") == len(keras_models.QUICK["grid"])
        for role in ("learned", "adam", "tuned"):
            assert roles.count(role) == len(keras_models.QUICK["seeds"])
    for r in records:
        for key in NUMBERS:
            assert math.isfinite(r[key]), (r["model"], r["role"], key, r[key])
        assert all(math.isfinite(v) for v in r["epoch_losses"])
        assert len(r["epoch_losses"]) == keras_models.QUICK["epochs"]
        assert r["steps"] <= 60
        assert r["best_loss"] == min(r["epoch_losses"])
        assert r["stable"] == keras_models.stable(r["final_loss"], r["best_loss"])
        if r["role"] == "learned":
            assert r["optimizer"] == "LearnedOptimizer" and r["skipped_updates"] == 0
        if r["model"] == "embedding" and r["role"] != "tuning":  # the same test split
            assert 0.0 <= r["test_metric"] <= 1.0 and r["metric"] == "accuracy"


@pytest.mark.slow
def test_comparisons_follow_from_the_records(quick):
    summary, _, _ = quick
    for m in summary["models"]:
        task = keras_models.TASKS[m["model"]]
        runs = {
            role: [r for r in summary["records"] if r["model"] == m["model"] and r["role"] == role]
            for role in ("learned", "adam", "tuned")
        }
        median = {
            role: {k: statistics.median(r[k] for r in rs) for k in ("final_loss", "test_metric")}
            for role, rs in runs.items()
        }
        for role in runs:
            assert m[role]["test_metric"] == pytest.approx(median[role]["test_metric"])
            assert m[role]["final_loss"] == pytest.approx(median[role]["final_loss"])
        sign = 1.0 if task.classifier else -1.0
        for other, key in (("adam", "beats_adam"), ("tuned", "beats_tuned")):
            gain = sign * (median["learned"]["test_metric"] - median[other]["test_metric"])
            assert m[key] == (gain > 0)
        assert m["lower_loss_than_adam"] == (
            median["learned"]["final_loss"] < median["adam"]["final_loss"]
        )
        assert m["stable"] == all(r["stable"] for r in runs["learned"])
        assert m["tuned_lr"] in keras_models.QUICK["grid"]
        assert {r["learning_rate"] for r in runs["tuned"]} == {m["tuned_lr"]}


@pytest.mark.slow
def test_json_file_tuning_cache_and_drift(quick):
    summary, stdout, tmp = quick
    with open(tmp / "runs.json") as f:
        written = json.load(f)
    assert written["last_line"] == summary["last_line"]
    assert len(written["records"]) == len(summary["records"])
    assert not [p for p in os.listdir(tmp) if p.startswith(".tmp_")]
    # A rerun reads the tuned learning rate from the cache instead of training again.
    task = keras_models.TASKS["embedding"]
    x, y = task.load()
    raw = keras_models.partition(task, x, y, keras_models.TEST_FRACTION, keras_models.DATA_SEED)
    quick_budget = keras_models.QUICK
    tuning = keras_models.tune_adam(
        task,
        raw,
        quick_budget["grid"],
        quick_budget["epochs"],
        quick_budget["batches"] * task.batch_size,
        str(tmp / "cache"),
    )
    assert tuning["cached"]
    assert tuning["learning_rate"] == summary["models"][0]["tuned_lr"]
    # Zero gradients: Adam stays put; the drift of the learned optimizer is reported.
    drift = summary["drift"]
    assert drift["keras Adam"]["max"] == 0.0
    learned = drift[summary["learned"]]
    assert math.isfinite(learned["max"]) and learned["steps"] == quick_budget["drift_steps"]
    assert "zero gradient, variable of ones" in stdout
    assert re.search(rf"^{re.escape(summary['learned'])} +{learned['steps']} ", stdout, re.M)


def test_stable_accepts_within_20_percent_or_near_zero():
    assert keras_models.stable(1.2, 1.0)
    assert not keras_models.stable(1.21, 1.0)
    assert keras_models.stable(5e-4, 1e-5)  # both ~0: 1e-3 absolute
    assert not keras_models.stable(float("nan"), 1.0)


def test_tuning_seed_is_never_reported():
    with pytest.raises(SystemExit):
        keras_models.parse_args(["--seeds", f"0,{keras_models.TUNING_SEED}"])
    assert keras_models.parse_args([]).seeds == keras_models.SEEDS
    assert keras_models.parse_args(["--quick"]).seeds == keras_models.QUICK["seeds"]
