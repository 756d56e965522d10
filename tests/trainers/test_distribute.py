"""Meta-batches over tf.distribute replicas (two logical CPUs, in a fresh process)."""

import os
import subprocess
import sys
import textwrap

import pytest

from trainers.distribute import make_strategy

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

MIRRORED_EQUALS_SERIAL = textwrap.dedent(
    """
    import numpy as np
    import problems
    import tensorflow as tf
    from l2o_tf import rules
    from trainers.batch_estimators import BPTTBatch
    from trainers.distribute import make_strategy
    from trainers.estimators import TruncatedBPTT, start_task

    strategy = make_strategy("mirrored", cpu_replicas=2)
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        rule = rules.get("mlp")
    batch = [problems.get("two_moons", seed=s, batch_size=16) for s in range(4)]
    runs = [(p, start_task(p, 10 + i)) for i, p in enumerate(batch)]
    truncated = TruncatedBPTT(rule)
    mirrored, serial = BPTTBatch(truncated, strategy), BPTTBatch(truncated, tf.distribute.get_strategy())
    for truncation in range(2):  # a fresh start, then a continued one
        a, b = mirrored(runs, [5] * 4, []), serial(runs, [5] * 4, [])
        np.testing.assert_allclose(a.meta_losses, b.meta_losses, rtol=1e-5)
        for x, y in zip(a.grads, b.grads):
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-4, atol=1e-7)
        for ta, tb in zip(a.tasks, b.tasks):
            assert int(ta.step) == 5 * (truncation + 1)
            np.testing.assert_allclose(ta.params[0].numpy(), tb.params[0].numpy(), rtol=1e-5)
        runs = [(p, t) for (p, _), t in zip(runs, a.tasks)]
    try:
        mirrored(runs[:3], [5] * 3, [])
        raise SystemExit("accepted a meta-batch of 3 on 2 replicas")
    except ValueError as e:
        assert "multiple of the 2 replicas" in str(e)
    print("OK")
    """
)


def _run(args, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


@pytest.mark.slow
def test_mirrored_meta_gradient_equals_the_serial_mean():
    result = _run(["-c", MIRRORED_EQUALS_SERIAL])
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-3000:]


@pytest.mark.slow
def test_meta_train_script_runs_mirrored(tmp_path):
    result = _run(
        [
            "-m", "trainers.meta_train", "--strategy=mirrored", "--cpu_replicas=2",
            "--meta_batch=2", "--steps=3", "--unroll_steps=5", "--num_eval_problems=1",
            f"--logdir={tmp_path}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "held-out meta-loss" in result.stdout
    assert os.path.exists(tmp_path / "rule_weights.npz")


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="default, mirrored"):
        make_strategy("parameter_servr")
