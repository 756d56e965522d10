"""Named meta-training configs: `python -m trainers.meta_train --preset=NAME --logdir=...`.

A preset is a full `MetaTrainConfig`; flags given on the command line override its fields.

`wichrowska2017`, `wichrowska2017_cpu`, `wichrowska2017_quick`: seed 001's recipe for the
hierarchical RNN on the problem-set mixture (the release's settings, the same sized for 2
CPU cores, and a test size); their comments below list every deviation.

`dynamics_*`: the recipe of the dynamics paper (Maheswaranathan et al. App. D.2) for the
component-wise GRU on its three tasks (App. D.1): full (untruncated) backpropagation through
200 inner steps, 32 problems per meta-gradient, the mean training loss as meta-objective,
Adam, each meta-gradient coordinate clipped to ±5, the learning rate × 0.8 every 500
meta-steps, an ℓ2 penalty 1e-5 on the optimizer weights, 5 000 meta-steps. The paper tuned
the initial meta learning rate by random search; here it is a **choice**, 1e-3 (in
200-meta-step probes with meta-batch 8, 3e-3 and 1e-2 diverged on Rosenbrock while 1e-3
lowered the held-out meta-loss from 99.8 to 8.3; on linear regression 1e-3 and 3e-3 reached
0.34 and 0.32 from 1.17). Rosenbrock's full run is in float64 (`_TASK_OVERRIDES`).
The full presets compile the unrolls with XLA (`jit_compile`), measured 3.4x (linear
regression: 0.99 -> 0.29 s per meta-step) and 3.9x (Rosenbrock: 0.94 -> 0.24 s) faster on 2
CPU cores; XLA's random draws differ from TensorFlow's kernels, so problem samples differ
from an unjitted run's (same distribution).
`dynamics_*_quick` keep the recipe at test size without XLA (used by `python -m trainers.figures --quick`
and the tests).
"""

from __future__ import annotations

import dataclasses

from trainers.meta_train import MetaTrainConfig

# The three tasks of App. D.1 as problem settings (problem name, kwargs); the spec's choices
# are the problems' defaults except the Rosenbrock init box around the valley and the two-moons
# network. The spec asks for a network "small enough for 32 x 200-step unrolls on CPU" and
# floats 2 hidden layers of 32; measured on 2 cores with XLA (2026-11-24), one meta-step takes
# 7.1 s with 32-32 (1 185 parameters: 9.9 h for the 5 000-step recipe) and 2.3 s with 16-16
# (337 parameters: 3.2 h), so the recipe uses 16-16.
DYNAMICS_TASKS: dict[str, tuple[str, dict]] = {
    "linear_regression": ("linear_regression", {"dim": 10, "num_examples": 25}),
    "rosenbrock": ("rosenbrock", {"low": [-2.0, -1.0], "high": [2.0, 3.0]}),
    "two_moons": ("two_moons", {"hidden": [16, 16], "noise": 0.1}),
}

_DYNAMICS_RECIPE = dict(
    rule="gru",
    steps=5000,
    unroll_steps=200,
    meta_batch=32,
    meta_loss="mean",
    meta_optimizer="adam",
    meta_learning_rate=1e-3,
    meta_grad_clip=5.0,
    meta_lr_decay=0.8,
    meta_lr_decay_steps=500,
    meta_l2=1e-5,
    jit_compile=True,
)
# Test size: the same recipe with short unrolls, few problems and meta-steps.
_QUICK = dict(
    steps=30,
    unroll_steps=50,
    meta_batch=4,
    meta_lr_decay_steps=10,
    eval_every=30,
    num_eval_problems=2,
    checkpoint_every=30,
    jit_compile=False,
)


# Full-size runs only. Rosenbrock (measured on 2026-11-24, docs/dynamics_results.md): its
# gradients reach ~1e4 at the edge of the init box, and with the raw gradient fed to the GRU
# (input_scale 1) every full run failed: in float32 the meta-gradients overflowed from
# meta-step ~600 on and the weights froze; in float64 the held-out meta-loss jumped between 9
# and 2e8. The spec's fixed input scaling (0.01) makes it train (held-out 3.1e5 -> 2.7 in 400
# meta-steps; 0.1 was still chaotic); float64 is kept from the runs that isolated the cause.
# Meta learning rate (the spec tunes it by random search; two values tried in full runs):
# 1e-3 blew up for good at meta-step ~1 330 (best held-out 1.86 at step 1 250), 3e-4 fell
# steadily to 1.89 at step 5 000.
# Two moons (measured on 2026-11-24, docs/dynamics_results.md): the opposite case. Its
# gradients are small (rms 0.02 at init), so with the raw gradient the GRU's Glorot input
# weights barely move its state: held-out 0.63 -> 0.14 in 550 meta-steps, far from tuned
# Adam's 0.026. Input scale 10 starts at 0.37 and trains fast, but at meta lr 1e-3 (and at
# scale 100) the runs blew up within 150 meta-steps (exploding meta-gradients, clipped);
# 3e-4 trained steadily (1e-4 too, three times slower).
_TASK_OVERRIDES: dict[str, dict] = {
    "rosenbrock": {
        "dtype": "float64",
        "rule_kwargs": {"input_scale": 0.01},
        "meta_learning_rate": 3e-4,
    },
    "two_moons": {"rule_kwargs": {"input_scale": 10.0}, "meta_learning_rate": 3e-4},
}


def _dynamics_presets() -> dict[str, MetaTrainConfig]:
    presets = {}
    for task, (problem, kwargs) in DYNAMICS_TASKS.items():
        full = MetaTrainConfig(problem=problem, problem_kwargs=kwargs, **_DYNAMICS_RECIPE)
        presets[f"dynamics_{task}_quick"] = dataclasses.replace(full, **_QUICK)
        presets[f"dynamics_{task}"] = dataclasses.replace(full, **_TASK_OVERRIDES.get(task, {}))
    return presets


# Seed 001 (Wichrowska et al. 2017), spec "Meta-training recipe": the hierarchical RNN
# (`preset="paper"`: attention on, as in §5.5) on the release's mixture of 101 problems drawn
# uniformly, partial unrolls per sampled problem (5 meta-iterations of round(Exp(40)) + 1
# partial unrolls of round(Exp(200)) + 50 steps), one meta-update per partial unroll, the log
# meta-objective over the full-batch loss at the true parameters, second derivatives, TF1
# RMSProp (lr 1e-6, decay 0.9, accumulator from 1) with non-finite entries zeroed and ±1e4
# clipping. Sized for the release's cluster of 1 000 asynchronous workers (issue: scale-out).
# Choices the spec leaves open: epsilon 1e-10 (the release's 1e-20 only when reproducing it
# bit for bit), an early end of a truncation past 1e4·f_init (`divergence_factor`: the spec
# makes it optional and gives no multiple), 16 held-out samples of the mixture evaluated over
# 1 000 steps every 500 meta-steps.
WICHROWSKA2017 = MetaTrainConfig(
    problem_set="wichrowska2017",
    rule="hierarchical_rnn",
    rule_kwargs={"preset": "paper"},
    steps=1_000_000,
    meta_batch=1,
    meta_loss="log",
    second_order=True,
    record="full_batch_loss",
    meta_optimizer="rmsprop_tf1",
    meta_learning_rate=1e-6,
    meta_rho=0.9,
    meta_epsilon=1e-10,
    meta_grad_clip=1e4,
    truncation_schedule="partial_unrolls",
    meta_iterations=5,
    mean_partial_unrolls=40.0,
    mean_partial_length=200.0,
    min_partial_length=50,
    divergence_factor=1e4,
    eval_steps=1000,
    eval_every=500,
    num_eval_problems=16,
    checkpoint_every=100,
)
# The same recipe sized for 2 CPU cores; each deviation and its reason:
# - meta_learning_rate 3e-4 instead of 1e-6: the release's rate is per update of 1 000
#   asynchronous workers; one process makes about 5 000 meta-updates an hour here (HRNN,
#   T ≈ 250: 0.16 s on a 20-D quadratic, 1.25 s on a 2-class MLP per 200 steps, measured
#   2026-12-06), so 1e-6 would move a meta-parameter by at most 0.005 an hour. A first run
#   at 1e-4 (2026-12-06, 1 600 meta-steps, 27 min) moved the learning-rate readout bias by
#   0.006 and the step offset c by 0.005, about 5 % of the most RMSProp allows (lr per
#   step), with the held-out meta-loss −0.167 → −0.174: the drift is consistent but slow, so
#   3e-4 (random-walk spread after 10 000 steps ≈ 0.03, against kernels of scale ≈ 0.09).
# - meta_iterations 1 instead of 5: one meta-iteration keeps the release's horizon (about
#   41 partial unrolls, ≈ 10 000 inner steps) and draws a new problem 5× as often, so a run
#   of a few hours meets every entry of the mixture more than once instead of ~36 problems.
# - meta_grad_norm_clip 1.0 (not in the release): the mixture's meta-gradients span eight
#   orders of magnitude (global norm 0.002 … 9e5, median 0.15, 90th percentile 336, over the
#   first 4 359 meta-steps of the 2026-12-06 run without it), so RMSProp's mean square was
#   set by the rare huge ones and a typical problem moved the weights by little: in that run
#   the learning-rate readout bias moved 0.019 of the 1.3 its learning rate allowed, and the
#   held-out meta-loss stayed at −0.19 ± 0.005 from meta-step 750 to 4 250. Rescaling every
#   meta-gradient to a global norm of at most 1 (after the element-wise ±1e4) bounds them;
#   1 000 asynchronous workers averaged them instead.
# - max_partial_length 2 000: a cap on T for memory (second-order truncations store every
#   step; P(T > 2 000) = e^-9.75 ≈ 6e-5 under the release's distribution).
# - held out: 16 samples over 500 steps every 250 meta-steps.
WICHROWSKA2017_CPU = dataclasses.replace(
    WICHROWSKA2017,
    steps=20_000,
    meta_learning_rate=3e-4,
    meta_grad_norm_clip=1.0,
    meta_iterations=1,
    max_partial_length=2000,
    eval_steps=500,
    eval_every=250,
)
# Test size: the recipe on short unrolls, a handful of meta-steps.
WICHROWSKA2017_QUICK = dataclasses.replace(
    WICHROWSKA2017_CPU,
    steps=6,
    meta_learning_rate=1e-3,
    mean_partial_unrolls=1.0,
    mean_partial_length=5.0,
    min_partial_length=5,
    max_partial_length=20,
    eval_steps=10,
    eval_every=3,
    num_eval_problems=2,
    checkpoint_every=3,
)

PRESETS: dict[str, MetaTrainConfig] = {
    # The README's main job: the MLP rule on 10-D random quadratics (the embedded defaults).
    "quickstart": MetaTrainConfig(),
    **_dynamics_presets(),
    "wichrowska2017": WICHROWSKA2017,
    "wichrowska2017_cpu": WICHROWSKA2017_CPU,
    "wichrowska2017_quick": WICHROWSKA2017_QUICK,
}


def get_preset(name: str) -> MetaTrainConfig:
    """A copy of preset `name` (so callers may change it)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}.")
    return dataclasses.replace(PRESETS[name])
