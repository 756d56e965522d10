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
    from l2o_tf import rules
    from trainers.distribute import make_strategy, mean_meta_gradient
    from trainers.estimators import FullUnroll
    import tensorflow as tf

    strategy = make_strategy("mirrored", cpu_replicas=2)
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        rule = rules.get("mlp")
    batch = [problems.get("quadratic", seed=s, dim=4) for s in range(4)]
    seeds = [10, 11, 12, 13]
    estimator = FullUnroll(rule, num_steps=6)
    losses, grads = mean_meta_gradient(strategy, estimator, batch, seeds)
    serial = [estimator(p, s) for p, s in zip(batch, seeds)]
    np.testing.assert_allclose(losses, [float(l) for l, _ in serial], rtol=1e-5)
    for i, g in enumerate(grads):
        expected = np.mean([s[1][i].numpy() for s in serial], axis=0)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-4, atol=1e-7)
    try:
        mean_meta_gradient(strategy, estimator, batch[:3], seeds[:3])
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
