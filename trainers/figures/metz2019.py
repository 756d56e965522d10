"""Toy studies of Metz et al. 2019 (spec "Toy studies"; §2.3–2.4, Fig. 2a–c, 3, App. B, Fig. 9;
Fig. 2d–f and Fig. 4 are in `metz2019_landscapes.py`).

The inner problem is the 1-D loss with two local minima l(w) = (w − 4)(w − 3) w² from the
fixed start w(0) = −1.2 (`problems/two_minima.py`), trained by a hand-designed rule whose one
hyper-parameter θ is swept; for every θ the run goes through the one inner loop
(`trainers.unroll`) with w(t) recorded by `_ParameterRecorder` (the idea of
`l2o_tf.analysis.Recorder`: the wrapper writes what it sees into its own state). The rule's
weight is assigned per value, so one compiled loop serves the whole sweep.

- `metz2019_fig2`: heavy-ball momentum m ← θ m + g, w ← w − α m with θ the momentum. (a) the
  loss surface and w(0); (b) w(t) over the steps for every θ, colour = θ; (c) the final loss
  l(w(T)) against θ for several T.
- `metz2019_fig9` (App. B): the same with the learning rate α as θ (log grid), top row with
  fixed momentum 0.9, bottom row with no momentum (SGD).

Choices (the paper does not give them): α = 0.005 for the momentum sweep (with this
heavy-ball form low θ settles at w = 0, θ ≈ 0.87–0.95 at the global minimum w ≈ 3.57, θ near
1 oscillates between the basins for hundreds of steps before settling); θ ∈ [0, 0.995]. For
Fig. 9, α ∈ [1e-4, 0.1] with momentum 0.9 and α ∈ [1e-3, 0.12] without (low α → w = 0, larger
→ w ≈ 3.57, the largest diverge; runs with |w(T)| > 10 count as diverged and are left out
of panel (c) as NaN). Runs are in float64 so that the jumps are the dynamics', not
round-off. Sizes: 400 θ values and
T ∈ {10, 50, 200, 1000} by default; `--quick` uses 60 values and T ∈ {10, 50, 200}.

Each figure's data hold, per T, `total_variation` Σ_i |l_{i+1} − l_i| of the final loss over
the θ grid and `max_jump` max_i |l_{i+1} − l_i|. As T grows the smooth dependence on θ gives
way to a piecewise-constant one (the basins' values 0 and l(w*) ≈ −3.12) with jumps at the
basin switches. The raw total variation does NOT measure this: it is not monotone in T (at
α = 0.005, 400 values: 23, 78, 22, 19 for T = 10, 50, 200, 1000), since the early curve
already spans a large range smoothly and intermediate T catch the runs near θ = 1 in
transient oscillation. What does: refining the grid 4× shrinks `max_jump` about 3× at T = 10
(smooth) but not at T ≥ 50, where it stays at least the basin gap 3.12 (near-discontinuities);
`tests/trainers/test_figures_metz2019.py` checks that.

- `metz2019_fig3` (§2.4): truncation bias. Only Adam's learning rate is outer-learned
  (`learn=["log_learning_rate"]`, init α = 1e-3) on a 784-32-10 ReLU MLP on "mnist" (the
  scikit-learn digits stand-in offline), with `MetaTrainer`: mean meta-loss, truncated BPTT,
  Adam as outer optimizer (learning rate 0.01), `inner_steps` = the run length and
  `unroll_steps` = the truncation length, the same inner steps for every truncation length.
  (a) held-out outer loss (mean loss over a whole run, `held_out_meta_loss`) after each run;
  (b) α over outer-training; (c) the cumulative sum of the truncations' outer-gradients
  dL/d log α over the first run (recorded by wrapping the trainer's batch estimator).

  Choices: the paper runs 10k inner steps; we use 2000-step runs (the MLP on the 1797 digits
  is well into its noise-dominated phase by then, and a full BPTT over 10k steps would not fit
  the memory of a small machine) with minibatches of 4 (noisy gradients are what make the
  short horizon greedy). Default: truncations 10, 100, 500, 2000 and 8 runs each; `--quick`:
  10 and 2000, 2 runs (~20 s). Measured (quick, seeds 0, 1, 2): 10-step truncations end at α
  ≈ 7.0–7.7e-4 with the held-out outer loss up by 11–16 %, full-run truncations at α ≈
  1.02e-3; the summed 10-step outer-gradients of a run are ≈ +0.40 (early truncations push α
  up, later ones down), the full-run outer-gradient ≈ −0.21: anti-correlated, as in the paper.
  With 500-step runs both went up (the MLP is far from trained by then). Default sizes
  (seed 0, 2 min 10 s): final α 7.1e-4 / 1.31e-3 / 1.18e-3 / 1.08e-3 for truncations
  10 / 100 / 500 / 2000 and held-out outer loss 0.421 → 0.480 / 0.387 / 0.401 / 0.419; the
  per-run sums of the 10-step outer-gradients are positive in the first runs and near zero
  later (α oscillates within each run below its start). The full-run length moves α least only
  because it takes one outer step per run.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.rules.base import Params, State, UpdateRule
from problems.base import Problem, as_seed, fold_in
from problems.two_minima import (
    GLOBAL_MINIMIZER,
    LOCAL_MINIMIZER,
    MINIMUM,
    TwoMinima,
    two_minima_loss,
)
from trainers.figures.base import pyplot, register, save
from trainers.meta_train import MetaTrainConfig, MetaTrainer
from trainers.unroll import unroll_from_init

DTYPE = "float64"
MOMENTUM_LEARNING_RATE = 0.005  # α of the momentum sweep (Fig. 2)
FIXED_MOMENTUM = 0.9  # β of the learning-rate sweep with momentum (Fig. 9, top)
DIVERGED = 10.0  # |w(T)| beyond which a run counts as diverged (l grows as w⁴ out there)


class Sizes(NamedTuple):
    num_values: int  # θ values per sweep
    horizons: tuple[int, ...]  # the T of panel (c); the last is the run length


SIZES = {False: Sizes(400, (10, 50, 200, 1000)), True: Sizes(60, (10, 50, 200))}


class _ParameterRecorder(UpdateRule):
    """`rule`, also writing the flat parameters after each step k into its state (w(k + 1))."""

    rule_name = "parameter_recorder"

    def __init__(self, rule: UpdateRule, num_steps: int, **kwargs: Any) -> None:
        self.rule = rule
        self.num_steps = int(num_steps)
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:  # the wrapped rule holds the weights
        super().build(input_shape)

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        return {
            "inner": self.rule.init(params, seed),
            "k": tf.constant(0),
            "params": tf.TensorArray(params[0].dtype, size=self.num_steps),
        }

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        params, inner = self.rule.step(params, grads, state["inner"])
        flat = tf.concat([tf.reshape(p, [-1]) for p in params], 0)  # [n]
        return params, {
            "inner": inner,
            "k": state["k"] + 1,
            "params": state["params"].write(state["k"], flat),
        }

    def eval_point(self, params: Sequence[tf.Tensor], state: State) -> Params:
        return self.rule.eval_point(params, state["inner"])


def trajectories(
    rule: UpdateRule,
    weight: str,
    values: Sequence[float],
    num_steps: int,
    problem: Problem,
    seed: int = 0,
) -> np.ndarray:
    """The flat parameters w(t), t = 0…T, of `rule` on `problem` for every value of the
    rule's weight `weight`, all from the same seed (same w(0), minibatches and noise).

    `values` are in the weight's own coordinates (log α, logit β); the weight is assigned per
    value and the compiled loop reused. Returns [len(values), T + 1, n_params] (w(0) first).
    """
    recorder = _ParameterRecorder(rule, num_steps)
    variable = getattr(rule, weight)

    @tf.function
    def trajectory(seed):
        result = unroll_from_init(recorder, problem, problem.tensors, seed, num_steps)
        return result.state["params"].stack()  # [T, n]

    seed = as_seed(seed)
    w0 = np.concatenate([p.numpy().ravel() for p in problem.init_params(fold_in(seed, 0))])
    out = np.empty((len(values), num_steps + 1, w0.size))
    for i, value in enumerate(values):
        variable.assign(value)
        out[i, 0] = w0
        out[i, 1:] = trajectory(seed).numpy()
    return out


def sweep(
    rule: UpdateRule,
    weight: str,
    values: Sequence[float],
    num_steps: int,
    problem: TwoMinima | None = None,
) -> np.ndarray:
    """w(t), t = 0…T, of `rule` on the 1-D `problem` (default `TwoMinima`) for every value of
    the rule's weight `weight` (see `trajectories`). Returns [len(values), T + 1]."""
    problem = problem or TwoMinima(dtype=DTYPE)
    return trajectories(rule, weight, values, num_steps, problem)[:, :, 0]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)  # θ = 0 is σ(logit) ≈ 1e-12
    return np.log(p) - np.log1p(-p)


def momentum_sweep(momenta: np.ndarray, num_steps: int) -> np.ndarray:
    rule = rules.get("momentum", learning_rate=MOMENTUM_LEARNING_RATE, momentum=0.5, dtype=DTYPE)
    return sweep(rule, "momentum_logit", _logit(momenta), num_steps)


def learning_rate_sweep(
    learning_rates: np.ndarray, num_steps: int, momentum: float | None
) -> np.ndarray:
    """With `momentum` None the rule is plain SGD."""
    if momentum is None:
        rule = rules.get("sgd", dtype=DTYPE)
    else:
        rule = rules.get("momentum", momentum=momentum, dtype=DTYPE)
    return sweep(rule, "log_learning_rate", np.log(learning_rates), num_steps)


def roughness(final_losses: np.ndarray) -> dict[str, float]:
    """Total variation and largest neighbour jump of l(w(T)) over the θ grid (NaN-free)."""
    finite = final_losses[np.isfinite(final_losses)]
    jumps = np.abs(np.diff(finite))
    return {
        "total_variation": float(jumps.sum()),
        "max_jump": float(jumps.max(initial=0.0)),
        "num_diverged": int(final_losses.size - finite.size),
    }


def _final_losses(w: np.ndarray, horizons: Sequence[int]) -> dict[int, np.ndarray]:
    finals = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for T in horizons:
            diverged = ~(np.abs(w[:, T]) < DIVERGED)  # NaN and inf included
            finals[T] = np.where(diverged, np.nan, two_minima_loss(w[:, T]))
    return finals


def _row(plt, axes, values, w, horizons, label, log_x, title):
    """Panels (a), (b), (c) of one sweep on a row of three axes; returns the row's data."""
    ax_a, ax_b, ax_c = axes
    grid = np.linspace(-2.0, 5.0, 400)
    ax_a.plot(grid, two_minima_loss(grid), "k")
    ax_a.plot([w[0, 0]], [two_minima_loss(w[0, 0])], "*", ms=15, color="gold", mec="k")
    ax_a.set_ylim(-5, 40)
    ax_a.set_xlabel("w")
    ax_a.set_ylabel("l(w)")
    ax_a.set_title(f"(a) loss surface, w(0) = {w[0, 0]:g}")

    colour = np.log(values) if log_x else values
    cmap = plt.get_cmap("viridis_r")
    normed = (colour - colour.min()) / (np.ptp(colour) or 1.0)
    steps = np.arange(w.shape[1])
    with np.errstate(invalid="ignore"):
        shown = np.where(np.abs(w) < 10, w, np.nan)  # diverged runs leave the panel
    for i in range(len(values)):
        ax_b.plot(steps, shown[i], color=cmap(normed[i]), lw=0.6, alpha=0.7)
    ax_b.set_xscale("symlog", linthresh=10)
    ax_b.set_ylim(-2, 5.5)
    ax_b.set_xlabel("step t")
    ax_b.set_ylabel("w(t)")
    ax_b.set_title(f"(b) w(t), colour = {label}")
    scalar = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(values.min(), values.max()))
    if log_x:
        scalar.set_norm(plt.matplotlib.colors.LogNorm(values.min(), values.max()))
    plt.colorbar(scalar, ax=ax_b, label=label)

    finals = _final_losses(w, horizons)
    for T, losses in finals.items():
        ax_c.plot(values, losses, lw=1.2, label=f"T = {T}")
    if log_x:
        ax_c.set_xscale("log")
    ax_c.set_xlabel(label)
    ax_c.set_ylabel("final loss l(w(T))")
    ax_c.set_title(f"(c) final loss vs {label}")
    ax_c.legend(fontsize=8)
    ax_a.annotate(
        title, (0.97, 0.95), xycoords="axes fraction", va="top", ha="right", fontsize=9
    )
    return {
        "values": values,
        "horizons": list(horizons),
        "final_w": {str(T): w[:, T] for T in horizons},
        "final_loss": {str(T): finals[T] for T in horizons},
        "roughness": {str(T): roughness(finals[T]) for T in horizons},
    }


def _common() -> dict[str, Any]:
    return {
        "problem": "two_minima: l(w) = (w - 4)(w - 3) w^2",
        "w0": -1.2,
        "minima": {"local": [LOCAL_MINIMIZER, 0.0], "global": [GLOBAL_MINIMIZER, MINIMUM]},
        "dtype": DTYPE,
    }


@register(
    "metz2019_fig2",
    "two-minima toy: loss surface, w(t) per momentum, final loss vs momentum per T (Fig. 2a-c)",
)
def fig2(out: str, quick: bool, runs: str) -> list[str]:
    del runs  # nothing to reuse: the sweeps take seconds to minutes
    plt = pyplot()
    sizes = SIZES[quick]
    momenta = np.linspace(0.0, 0.995, sizes.num_values)
    w = momentum_sweep(momenta, sizes.horizons[-1])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    title = f"SGD + momentum, α = {MOMENTUM_LEARNING_RATE}"
    row = _row(plt, axes, momenta, w, sizes.horizons, "momentum θ", False, title)
    fig.tight_layout()
    data = {
        **_common(),
        "rule": "momentum",
        "learning_rate": MOMENTUM_LEARNING_RATE,
        "quick": quick,
        "momentum": row,
    }
    return save(out, "metz2019_fig2", fig, data, {"momenta": momenta, "w": w})


@register(
    "metz2019_fig9",
    "two-minima toy with the learning rate varied, fixed momentum 0.9 and none (App. B, Fig. 9)",
)
def fig9(out: str, quick: bool, runs: str) -> list[str]:
    del runs
    plt = pyplot()
    sizes = SIZES[quick]
    settings = {
        "momentum": (FIXED_MOMENTUM, np.geomspace(1e-4, 0.1, sizes.num_values)),
        "sgd": (None, np.geomspace(1e-3, 0.12, sizes.num_values)),
    }
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    data: dict[str, Any] = {**_common(), "quick": quick}
    arrays = {}
    for row_axes, (name, (momentum, learning_rates)) in zip(axes, settings.items()):
        with np.errstate(over="ignore", invalid="ignore"):
            w = learning_rate_sweep(learning_rates, sizes.horizons[-1], momentum)
        title = f"momentum β = {momentum}" if momentum is not None else "no momentum (SGD)"
        row = _row(plt, row_axes, learning_rates, w, sizes.horizons, "learning rate α", True, title)
        data[name] = {"fixed_momentum": momentum, **row}
        arrays[f"{name}_learning_rates"], arrays[f"{name}_w"] = learning_rates, w
    fig.tight_layout()
    return save(out, "metz2019_fig9", fig, data, arrays)


# --- Fig. 3: truncation bias (§2.4) ---------------------------------------------------------


class TruncationSizes(NamedTuple):
    run_length: int  # inner steps of one run (a fresh MLP sample after it)
    truncations: tuple[int, ...]  # steps per truncation; the last is the whole run
    num_runs: int  # inner runs per truncation length (the same inner steps for every length)
    batch_size: int
    num_eval_problems: int


TRUNCATION_SIZES = {
    False: TruncationSizes(2000, (10, 100, 500, 2000), 8, 4, 4),
    True: TruncationSizes(2000, (10, 2000), 2, 4, 2),
}
INITIAL_LEARNING_RATE = 1e-3
META_LEARNING_RATE = 0.01


def truncation_config(truncation: int, sizes: TruncationSizes, seed: int = 0) -> MetaTrainConfig:
    """Outer-learns only Adam's log learning rate on the 784-32-10 ReLU MLP (digits stand-in
    for MNIST), mean meta-loss, truncated BPTT with `truncation` steps per truncation."""
    return MetaTrainConfig(
        problem="fully_connected",
        problem_kwargs=dict(
            num_features=784,
            num_classes=10,
            hidden=[32],
            activation="relu",
            dataset="mnist",
            num_examples=None,
            batch_size=sizes.batch_size,
        ),
        rule="adam",
        rule_kwargs=dict(learning_rate=INITIAL_LEARNING_RATE, learn=["log_learning_rate"]),
        steps=sizes.num_runs * sizes.run_length // truncation,
        unroll_steps=truncation,
        inner_steps=sizes.run_length,
        meta_batch=1,
        meta_loss="mean",
        estimator="bptt",
        meta_optimizer="adam",
        meta_learning_rate=META_LEARNING_RATE,
        num_eval_problems=sizes.num_eval_problems,
        eval_every=10**9,  # evaluated here, once per finished run
        checkpoint_every=10**9,
        seed=seed,
    )


class _GradientLog:
    """Wraps a meta-trainer's batch estimator and keeps the outer-gradient of each truncation
    (the one learned weight, log α) before cleaning and the meta-optimizer."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.grads: list[float] = []

    def __call__(self, runs, lengths, seeds):
        estimate = self.estimator(runs, lengths, seeds)
        self.grads.append(float(estimate.grads[0]))
        return estimate


def truncation_study(truncation: int, sizes: TruncationSizes, logdir: str, seed: int = 0) -> dict:
    """Outer-trains the learning rate with one truncation length; returns, per outer step, the
    learning rate after it, the truncation's outer loss and outer-gradient and the inner step
    where the truncation started, and the held-out outer loss (mean loss of a whole run) at
    the start and after every run."""
    trainer = MetaTrainer(truncation_config(truncation, sizes, seed), logdir)
    log = _GradientLog(trainer.estimator)
    trainer.estimator = log
    per_run = sizes.run_length // truncation
    learning_rates, losses, starts, held_out = [], [], [], [trainer.held_out_meta_loss()]
    for step in range(trainer.config.steps):
        starts.append(step % per_run * truncation)
        losses.append(trainer.meta_step()["meta_loss/train"])
        learning_rates.append(float(np.exp(trainer.rule.log_learning_rate.numpy())))
        if (step + 1) % per_run == 0:
            held_out.append(trainer.held_out_meta_loss())
    return {
        "truncation": truncation,
        "learning_rate": np.array(learning_rates),
        "outer_loss": np.array(losses),
        "outer_gradient": np.array(log.grads),
        "truncation_start": np.array(starts),
        "held_out_outer_loss": np.array(held_out),
        "config": dataclasses.asdict(trainer.config),
    }


@register(
    "metz2019_fig3",
    "truncation bias: Adam's learning rate outer-learned with short and full truncations (Fig. 3)",
)
def fig3(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = TRUNCATION_SIZES[quick]
    studies = [
        truncation_study(
            k, sizes, os.path.join(runs, f"metz2019_fig3_{'quick' if quick else 'full'}_k{k}")
        )
        for k in sizes.truncations
    ]
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(15, 4.2))
    for r in studies:
        label = f"{r['truncation']} steps per truncation"
        inner = np.arange(1, len(r["learning_rate"]) + 1) * r["truncation"] / 1000  # [k steps]
        runs_done = np.arange(len(r["held_out_outer_loss"])) * sizes.run_length / 1000
        ax_a.plot(runs_done, r["held_out_outer_loss"], "o-", label=label)
        learning_rates = np.concatenate([[INITIAL_LEARNING_RATE], r["learning_rate"]])
        ax_b.plot(np.concatenate([[0], inner]), learning_rates, label=label)
        first = r["outer_gradient"][: sizes.run_length // r["truncation"]]  # the first run
        marker = "o-" if len(first) < 30 else "-"
        ax_c.plot(r["truncation_start"][: len(first)], np.cumsum(first), marker, label=label)
    ax_a.set_xlabel("inner steps of outer-training (thousands)")
    ax_a.set_ylabel("held-out outer loss (mean over a run)")
    ax_a.set_title("(a) outer loss")
    ax_b.axhline(INITIAL_LEARNING_RATE, color="k", ls="--", lw=1)
    ax_b.set_yscale("log")
    ax_b.set_xlabel("inner steps of outer-training (thousands)")
    ax_b.set_ylabel("Adam learning rate α")
    ax_b.set_title("(b) learned learning rate")
    ax_c.axhline(0.0, color="k", lw=0.8)
    ax_c.set_xlabel("inner step where the truncation starts (first run)")
    ax_c.set_ylabel("cumulative outer-gradient d L / d log α")
    ax_c.set_title("(c) summed truncated outer-gradients")
    for ax in (ax_a, ax_b, ax_c):
        ax.legend(fontsize=8)
    fig.tight_layout()
    data = {
        "sizes": sizes._asdict(),
        "initial_learning_rate": INITIAL_LEARNING_RATE,
        "quick": quick,
        "final_learning_rate": {
            str(r["truncation"]): float(r["learning_rate"][-1]) for r in studies
        },
        "studies": {str(r["truncation"]): r for r in studies},
    }
    return save(out, "metz2019_fig3", fig, data)


__all__ = [
    "fig2",
    "fig3",
    "fig9",
    "learning_rate_sweep",
    "momentum_sweep",
    "roughness",
    "sweep",
    "trajectories",
    "truncation_study",
]
