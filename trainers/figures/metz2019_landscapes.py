"""Chaotic inner training and rough outer landscapes of Metz et al. 2019 (spec "Toy studies"
and "Outer gradient estimators"; §2.3 Fig. 2d–f, §3 Fig. 4).

The inner problem of all three figures is the same small ReLU MLP: two moons
(`problems/two_moons.py`), 2 → 32 → 32 → 1 with ReLU hidden layers (1 185 parameters),
minibatches of 32 of its 128 examples, in float64 so that differences between runs are the
dynamics', not round-off. Every run goes through the one inner loop (`trainers.unroll`).
("2 layer MLP" in the paper may mean one hidden layer; we read it as two hidden layers, the
net of its App. F Fig. 10, on data that needs no download.)

- `metz2019_fig2d`: Adam (`rules.get("adam")`) for 40 steps with 100 learning rates
  log-spaced in [0.1469, 0.1484], the same w(0) and minibatches for all (seed 0). The
  trajectories come from `metz2019.trajectories` (the rule's `log_learning_rate` weight is
  assigned per value, one compiled loop). (a) a seeded Gaussian 2-D projection of the flat
  parameter vectors w(t), colour = learning rate; (b) the full-batch loss of w(40) against
  the learning rate; (c) the mean distance ‖w_i(t) − w_{i+1}(t)‖ between runs with
  neighbouring learning rates (relative spacing 1.5e-4) over the steps. The data hold the
  final losses and `sensitivity`: the largest |Δ final loss| between neighbours, the range of
  the final losses, and the growth of the neighbour distance from step 1 to step 40.
  `--quick` changes nothing (the paper's sizes take ~6 s). Measured: the final losses span
  0.029–0.170; neighbouring rates change the final loss by up to 0.106 (median 0.0003: the
  curve is piecewise flat with jumps); the neighbour distance grows 2 200× from step 1
  (5e-4) to step 40 (≈ 1.0), so the trajectories fan out as in the paper.

- `metz2019_fig2ef`: slices of the outer loss L_k(θ) = (1/k) Σ_{t<k} f_t (mean minibatch
  training loss over a k-step unroll, `meta_loss="mean"`) of the MLP rule of §4.1
  (`rules.get("mlp")`, initialized as `MetaTrainer` does with seed 0) for k = 5, 10, 20,
  through θ0 + s·d with d ~ N(0, I) over the 610 meta-parameters (seeded) and s ∈ [−3, 3].
  The three k come from one 20-step unroll (the first k losses of the same run). A point is
  one call of a compiled function that takes the flat θ as a tensor, assigns it to the
  rule's weights and unrolls; the rule's weights are restored afterwards. (e) the 1-D slice
  along the first direction (log10 L); (f) the 2-D slice over the first two directions.

  Choices: the paper slices along the gradient direction (caption of Fig. 2e); we use random
  directions (isotropic, one scale for every meta-parameter). With the rule's output scales
  λexp = λlin = 1e-3 the steps at θ0 are tiny and L is smooth near θ0; at |s| ≈ 3 the steps
  grow to the point where inner training either explodes (L grows by orders of magnitude,
  smoothly in log L — the exploding regime of §2.3) or turns chaotic (L bounded but rough),
  depending on the direction. `roughness` is measured on log10 L, so the exploding ends do
  not dominate: mean |second difference| / mean |first difference| along the slice (≈ 0 for a
  smooth curve on a fine grid, ≈ 1.7 for white noise), per direction and averaged over
  `num_directions` directions (the 2-D slice: the same ratio over both axes). Also recorded:
  the number of local extrema of each 1-D slice.

  Measured (quick: 41 points, 4 directions; seeds 0…9 of the rule init, direction seed
  derived from it): the mean 1-D roughness grows from k = 5 to k = 20 for all 10 seeds
  (seed 0: 0.20 → 0.47 → 0.48 for k = 5, 10, 20; smallest growth 0.20 → 0.21, seed 2), but
  not always monotonically (10 > 20 for 2 seeds), and per direction it grew in 35 of 40
  slices. `tests/trainers/test_metz2019_landscapes.py` checks only the k = 5 < k = 20
  ordering of the averaged value. Default sizes (201 points, 8 directions, 41 × 41 grid;
  ~1 min): 1-D roughness 0.12 → 0.47 → 0.65 and 2-D 0.36 → 0.55 → 0.68 for k = 5, 10, 20;
  the 20-step slices show jagged, near-discontinuous regions where the 5-step ones are
  smooth.

- `metz2019_fig4`: the variances of g_rp and g_es over outer training. `MetaTrainer` with
  `estimator="merged"` (one antithetic pair per run of the meta-batch, σ² = 0.01) trains the
  MLP rule on two moons with the linear truncation curriculum, and logs per meta-step the
  log10 of the per-coordinate variance of each estimator's mean, averaged over coordinates
  (`trainers/batch_estimators.py`); the figure reads them back with
  `trainers.logs.read_scalars`. (a) both log10 variances against the outer step; (b) the
  truncation length and the training outer loss. The run lives in `runs` and is resumed /
  reused.

  Sizes: the paper runs 5 000 outer steps of batch 128 with truncations growing to 10 000;
  on 2 CPU cores we use 150 outer steps, meta-batch 8, truncations 20 → 300 over the run,
  runs of 600 inner steps, meta learning rate 1e-2 by default (≈ 15 min); `--quick` 12
  steps, meta-batch 4, truncations 10 → 30, runs of 100 steps (≈ 20 s). The data hold the
  series and the median of log10 σ²_rp − log10 σ²_es over the first and last tenth.
  Measured (default, seed 0): that gap goes from −3.5 to +5.8 orders of magnitude (at single
  steps up to +14), while log10 σ²_es stays between about −5.5 and −3.5 (running median):
  g_rp starts far better than ES and ends far worse, as in Fig. 4 (there from −5 to +20
  orders, over 5 000 steps). The g_rp variance is very spiky from step to step. `--quick`
  only shows the start (gap ≈ −3.9 → −2.5).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple, Sequence

import keras
import numpy as np
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from problems.base import Problem, as_seed
from trainers.figures.base import pyplot, register, save
from trainers.figures.metz2019 import trajectories
from trainers.logs import read_scalars
from trainers.meta_train import MetaTrainConfig, MetaTrainer
from trainers.unroll import unroll_from_init

DTYPE = "float64"
PROBLEM = "two_moons"
PROBLEM_KWARGS = {"hidden": [32, 32], "batch_size": 32}  # lists: config.json round-trips
SEED = 0  # problem sample, w(0), minibatches, rule init


def landscape_problem(dtype: str = DTYPE) -> Problem:
    """The 2 → 32 → 32 → 1 ReLU MLP on two moons, minibatches of 32."""
    return problems.get(PROBLEM, seed=SEED, dtype=dtype, **PROBLEM_KWARGS)


def _unflatten(flat: np.ndarray | tf.Tensor, shapes: Sequence[Sequence[int]]) -> list[tf.Tensor]:
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    return [tf.reshape(x, s) for x, s in zip(tf.split(flat, sizes), shapes)]


# --- Fig. 2d: Adam with nearly equal learning rates ------------------------------------------

ADAM_STEPS = 40
LEARNING_RATE_RANGE = (0.1469, 0.1484)
NUM_LEARNING_RATES = 100
PROJECTION_SEED = 1


def adam_sweep(
    learning_rates: np.ndarray, num_steps: int = ADAM_STEPS, problem: Problem | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Adam on `problem` for every learning rate, the same seed for all. Returns the flat
    parameters [n, T + 1, n_params] and the full-batch loss of w(T) [n]."""
    problem = problem or landscape_problem()
    rule = rules.get("adam", dtype=problem.dtype.name)
    w = trajectories(rule, "log_learning_rate", np.log(learning_rates), num_steps, problem, SEED)
    final = np.array(
        [float(problem.loss(_unflatten(w_T, problem.param_shapes))) for w_T in w[:, -1]]
    )
    return w, final


def projection(num_params: int, seed: int = PROJECTION_SEED) -> np.ndarray:
    """A seeded Gaussian random projection to 2-D, [n_params, 2], columns of norm ≈ 1."""
    return np.random.default_rng(seed).standard_normal((num_params, 2)) / np.sqrt(num_params)


def sensitivity(w: np.ndarray, final_losses: np.ndarray) -> dict[str, Any]:
    """How far runs with neighbouring learning rates end up apart."""
    distance = np.linalg.norm(np.diff(w, axis=0), axis=-1).mean(0)  # [T + 1]
    jumps = np.abs(np.diff(final_losses))
    return {
        "max_neighbour_final_loss_change": float(jumps.max()),
        "median_neighbour_final_loss_change": float(np.median(jumps)),
        "final_loss_range": float(np.ptp(final_losses)),
        "neighbour_distance": distance,
        "neighbour_distance_growth": float(distance[-1] / distance[1]),
    }


@register(
    "metz2019_fig2d",
    "2-layer ReLU MLP, 40 Adam steps, 100 learning rates in [0.1469, 0.1484]: chaotic "
    "trajectories (Fig. 2d)",
)
def fig2d(out: str, quick: bool, runs: str) -> list[str]:
    del quick, runs  # the paper's sizes take seconds
    plt = pyplot()
    problem = landscape_problem()
    learning_rates = np.geomspace(*LEARNING_RATE_RANGE, NUM_LEARNING_RATES)
    w, final = adam_sweep(learning_rates, ADAM_STEPS, problem)
    projected = w @ projection(w.shape[-1])  # [n, T + 1, 2]
    summary = sensitivity(w, final)

    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(15, 4.2))
    cmap = plt.get_cmap("viridis")
    normed = np.log(learning_rates / learning_rates[0]) / np.log(
        learning_rates[-1] / learning_rates[0]
    )
    for i in range(len(learning_rates)):
        ax_a.plot(*projected[i].T, color=cmap(normed[i]), lw=0.6, alpha=0.7)
    ax_a.plot(*projected[0, 0], "*", ms=14, color="gold", mec="k")
    ax_a.set_xlabel("projection 1")
    ax_a.set_ylabel("projection 2")
    ax_a.set_title(f"(d) random 2-D projection of w(t), t ≤ {ADAM_STEPS}")
    scalar = plt.cm.ScalarMappable(
        cmap=cmap, norm=plt.Normalize(learning_rates[0], learning_rates[-1])
    )
    plt.colorbar(scalar, ax=ax_a, label="Adam learning rate")
    ax_b.plot(learning_rates, final, ".-", lw=0.8)
    ax_b.set_xlabel("Adam learning rate")
    ax_b.set_ylabel(f"full-batch loss after {ADAM_STEPS} steps")
    ax_b.set_title("final loss vs learning rate")
    ax_c.semilogy(np.arange(1, ADAM_STEPS + 1), summary["neighbour_distance"][1:])  # w(0) shared
    ax_c.set_xlabel("step t")
    ax_c.set_ylabel("mean ‖w_i(t) − w_i+1(t)‖, neighbouring rates")
    ax_c.set_title("divergence of neighbouring runs")
    fig.tight_layout()
    data = {
        "problem": {"name": PROBLEM, **PROBLEM_KWARGS, "num_params": problem.num_params},
        "rule": "adam",
        "num_steps": ADAM_STEPS,
        "seed": SEED,
        "projection_seed": PROJECTION_SEED,
        "dtype": DTYPE,
        "learning_rates": learning_rates,
        "final_loss": final,
        "sensitivity": summary,
    }
    arrays = {"learning_rates": learning_rates, "projected": projected, "final_loss": final}
    return save(out, "metz2019_fig2d", fig, data, arrays)


# --- Fig. 2e/f: slices of the outer loss of the MLP rule -------------------------------------

UNROLLS = (5, 10, 20)
SLICE_SCALE = 3.0  # s ∈ [−SLICE_SCALE, SLICE_SCALE] along d ~ N(0, I)


class SliceSizes(NamedTuple):
    num_points: int  # of the 1-D slice (odd: s = 0 is a point)
    grid: int  # points per axis of the 2-D slice (odd)
    num_directions: int  # random directions of the 1-D slices (roughness averaged over them)


SLICE_SIZES = {False: SliceSizes(201, 41, 8), True: SliceSizes(41, 11, 4)}


def seeded_rule(name: str = "mlp", seed: int = SEED, **kwargs: Any) -> UpdateRule:
    """`rules.get(name)` with the weights `MetaTrainer` starts from for `seed`."""
    keras.utils.set_random_seed(seed)
    return rules.get(name, dtype=DTYPE, **kwargs)


class OuterLandscape:
    """L_k(θ) for k in `horizons` at any flat meta-parameter vector θ.

    One unroll of max(horizons) steps from `seed` (the same w(0) and minibatches for every θ)
    gives every L_k as the mean of its first k losses. Evaluating assigns θ to the rule's
    weights inside one compiled function (θ is a tensor argument: no retrace); `values`
    restores the weights it found.
    """

    def __init__(
        self,
        rule: UpdateRule,
        problem: Problem,
        horizons: Sequence[int] = UNROLLS,
        seed: int = SEED,
    ) -> None:
        self.rule = rule
        self.problem = problem
        self.horizons = tuple(int(k) for k in horizons)
        self.seed = as_seed(seed)
        self.variables = rule.trainable_variables
        self.shapes = [v.shape.as_list() for v in self.variables]
        num_steps = max(self.horizons)

        @tf.function
        def losses(theta, seed):  # [n_meta] -> [T]
            for v, x in zip(self.variables, _unflatten(theta, self.shapes)):
                v.assign(x)
            return unroll_from_init(rule, problem, problem.tensors, seed, num_steps).losses

        self._losses = losses

    def theta(self) -> np.ndarray:
        """The rule's current meta-parameters, flat."""
        return np.concatenate([v.numpy().ravel() for v in self.variables])

    def values(self, points: np.ndarray) -> np.ndarray:
        """L_k at each row of `points` [m, n_meta]; returns [m, len(horizons)]."""
        saved = [v.numpy() for v in self.variables]
        dtype = self.variables[0].dtype
        out = np.empty((len(points), len(self.horizons)))
        try:
            for i, theta in enumerate(points):
                losses = self._losses(tf.constant(theta, dtype), self.seed).numpy()  # [T]
                out[i] = [losses[:k].mean() for k in self.horizons]
        finally:
            for v, s in zip(self.variables, saved):
                v.assign(s)
        return out


def offsets(num_points: int, scale: float = SLICE_SCALE) -> np.ndarray:
    """`num_points` (odd) evenly spaced s in [−scale, scale], with s = 0 exactly."""
    half = num_points // 2
    return scale * np.arange(-half, half + 1) / half


def roughness(values: np.ndarray, axis: int = -1) -> float:
    """mean |Δ² log10 L| / mean |Δ log10 L| along `axis` (non-finite points dropped)."""
    logs = np.log10(np.moveaxis(values, axis, -1))
    first, second = np.abs(np.diff(logs, axis=-1)), np.abs(np.diff(logs, 2, axis=-1))
    return float(np.nanmean(second[np.isfinite(second)]) / np.nanmean(first[np.isfinite(first)]))


def num_extrema(values: np.ndarray) -> int:
    """Local extrema of a 1-D slice."""
    return int(np.sum(np.diff(np.sign(np.diff(values))) != 0))


def outer_slices(sizes: SliceSizes, scale: float = SLICE_SCALE) -> dict[str, Any]:
    """The 1-D slices along `sizes.num_directions` random directions and the 2-D slice over
    the first two, of L_k of the seeded MLP rule for every k in `UNROLLS`."""
    rule = seeded_rule("mlp")
    landscape = OuterLandscape(rule, landscape_problem())
    theta0 = landscape.theta()
    directions = np.random.default_rng([SEED, 1]).standard_normal(
        (max(sizes.num_directions, 2), theta0.size)
    )
    s = offsets(sizes.num_points, scale)
    line = np.stack(
        [landscape.values(theta0 + s[:, None] * d) for d in directions[: sizes.num_directions]]
    )  # [directions, points, k]
    a = offsets(sizes.grid, scale)
    grid = theta0 + a[:, None, None] * directions[0] + a[None, :, None] * directions[1]
    plane = landscape.values(grid.reshape(-1, theta0.size)).reshape(sizes.grid, sizes.grid, -1)
    return {"theta0": theta0, "s": s, "line": line, "grid_s": a, "plane": plane}


@register(
    "metz2019_fig2ef",
    "1-D and 2-D slices of the outer loss of the MLP rule for 5, 10, 20 inner steps (Fig. 2e-f)",
)
def fig2ef(out: str, quick: bool, runs: str) -> list[str]:
    del runs
    plt = pyplot()
    sizes = SLICE_SIZES[quick]
    slices = outer_slices(sizes)
    s, line, a, plane = slices["s"], slices["line"], slices["grid_s"], slices["plane"]
    summary = {}
    for j, k in enumerate(UNROLLS):
        per_direction = [roughness(line[i, :, j]) for i in range(sizes.num_directions)]
        summary[str(k)] = {
            "roughness_1d": per_direction,
            "roughness_1d_mean": float(np.mean(per_direction)),
            "roughness_2d": float(np.mean([roughness(plane[..., j], ax) for ax in (0, 1)])),
            "num_extrema_1d": [num_extrema(line[i, :, j]) for i in range(sizes.num_directions)],
            "outer_loss_at_theta0": float(line[0, len(s) // 2, j]),
            "num_nonfinite": int(
                np.sum(~np.isfinite(line[..., j])) + np.sum(~np.isfinite(plane[..., j]))
            ),
        }

    fig, axes = plt.subplots(
        1, 1 + len(UNROLLS), figsize=(4.5 * (1 + len(UNROLLS)), 4.2), layout="constrained"
    )
    for j, k in enumerate(UNROLLS):
        label = f"{k} unrolls (roughness {summary[str(k)]['roughness_1d_mean']:.2f})"
        axes[0].plot(s, np.log10(line[0, :, j]), lw=1.0, label=label)
    axes[0].axvline(0.0, color="k", lw=0.6, ls="--")
    axes[0].set_xlabel("s  (θ = θ0 + s·d)")
    axes[0].set_ylabel("log10 L(θ), mean training loss")
    axes[0].set_title("(e) 1-D slice of the outer loss")
    axes[0].legend(fontsize=8)
    finite = np.log10(plane[np.isfinite(plane)])
    low, high = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    for j, k in enumerate(UNROLLS):
        image = axes[1 + j].imshow(
            np.log10(plane[..., j]).T,
            origin="lower",
            extent=(a[0], a[-1], a[0], a[-1]),
            cmap="viridis",
            vmin=low,
            vmax=high,
        )
        axes[1 + j].set_xlabel("s1")
        axes[1 + j].set_ylabel("s2")
        axes[1 + j].set_title(f"(f) {k} unrolls, roughness {summary[str(k)]['roughness_2d']:.2f}")
    fig.colorbar(image, ax=axes[-1], label="log10 L(θ) (darker is lower)")
    data = {
        "problem": {"name": PROBLEM, **PROBLEM_KWARGS},
        "rule": "mlp",
        "num_meta_params": int(slices["theta0"].size),
        "seed": SEED,
        "dtype": DTYPE,
        "unrolls": list(UNROLLS),
        "scale": SLICE_SCALE,
        "sizes": sizes._asdict(),
        "quick": quick,
        "s": s,
        "slice_1d": {str(k): line[0, :, j] for j, k in enumerate(UNROLLS)},
        "roughness": summary,
    }
    arrays = {"s": s, "line": line, "grid_s": a, "plane": plane, "theta0": slices["theta0"]}
    return save(out, "metz2019_fig2ef", fig, data, arrays)


# --- Fig. 4: variance of g_rp and g_es over outer training ----------------------------------


class VarianceSizes(NamedTuple):
    steps: int  # outer steps
    meta_batch: int  # antithetic samples per outer step (the variances are over these)
    truncations: tuple[int, int]  # first and last truncation length of the linear schedule
    run_length: int  # inner steps of one run before a fresh problem sample
    meta_learning_rate: float


VARIANCE_SIZES = {
    False: VarianceSizes(150, 8, (20, 300), 600, 1e-2),
    True: VarianceSizes(12, 4, (10, 30), 100, 1e-2),
}


def variance_config(sizes: VarianceSizes, seed: int = SEED) -> MetaTrainConfig:
    """Merged-estimator meta-training of the MLP rule on the two-moons MLP."""
    return MetaTrainConfig(
        problem=PROBLEM,
        problem_kwargs=dict(PROBLEM_KWARGS),
        rule="mlp",
        steps=sizes.steps,
        unroll_steps=sizes.truncations[0],
        truncation_schedule="linear",
        truncation_end=sizes.truncations[1],
        truncation_ramp_steps=sizes.steps,
        inner_steps=sizes.run_length,
        meta_batch=sizes.meta_batch,
        meta_loss="mean",
        estimator="merged",
        meta_learning_rate=sizes.meta_learning_rate,
        num_eval_problems=2,
        eval_every=10**9,  # held out only at the start and the end
        checkpoint_every=50,
        dtype=DTYPE,
        seed=seed,
    )


def variance_run(sizes: VarianceSizes, logdir: str, seed: int = SEED) -> dict[str, np.ndarray]:
    """Meta-trains (or resumes) in `logdir` and returns the logged series per outer step:
    `step`, `log10_rp`, `log10_es`, `truncation_length`, `outer_loss`."""
    trainer = MetaTrainer(variance_config(sizes, seed), logdir)
    trainer.train(verbose=False)
    scalars = read_scalars(logdir)
    tags = {
        "log10_rp": "variance/log10_rp",
        "log10_es": "variance/log10_es",
        "truncation_length": "truncation_length",
        "outer_loss": "meta_loss/train",
    }
    steps = scalars[tags["log10_rp"]][0]
    series = {"step": steps}
    for name, tag in tags.items():
        tag_steps, values = scalars[tag]
        if not np.array_equal(tag_steps, steps):
            raise ValueError(f"{logdir}: {tag} was logged at other steps than {tags['log10_rp']}.")
        series[name] = values
    return series


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of each `window` consecutive values, centred (shorter at the ends)."""
    half = window // 2
    return np.array(
        [np.median(values[max(0, i - half) : i - half + window]) for i in range(len(values))]
    )


@register(
    "metz2019_fig4",
    "variance of the reparameterization and ES outer-gradient estimators over outer training "
    "(Fig. 4)",
)
def fig4(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = VARIANCE_SIZES[quick]
    logdir = os.path.join(runs, f"metz2019_fig4_{'quick' if quick else 'full'}")
    series = variance_run(sizes, logdir)
    step = series["step"]

    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11, 4.2))
    window = max(1, len(step) // 10)
    for key, label, colour in (
        ("log10_rp", "g_rp (reparameterization)", "C0"),
        ("log10_es", "g_es (evolution strategies)", "C1"),
    ):
        ax_a.plot(step, series[key], color=colour, lw=0.6, alpha=0.5)
        ax_a.plot(step, running_median(series[key], window), color=colour, label=label)
    ax_a.set_xlabel("outer step")
    ax_a.set_ylabel("log10 variance (mean over meta-parameters)")
    smoothed = f" (thick: running median of {window})" if window > 1 else ""
    ax_a.set_title(f"(a) estimator variance{smoothed}")
    ax_a.legend(fontsize=8)
    ax_b.plot(step, series["outer_loss"], color="C2")
    ax_b.set_xlabel("outer step")
    ax_b.set_ylabel("training outer loss (mean over the truncation)", color="C2")
    twin = ax_b.twinx()
    twin.plot(step, series["truncation_length"], color="C3", lw=0.8)
    twin.set_ylabel("truncation length", color="C3")
    ax_b.set_title("(b) outer training")
    fig.tight_layout()
    gap = series["log10_rp"] - series["log10_es"]
    data = {
        "sizes": sizes._asdict(),
        "quick": quick,
        "config": dataclasses.asdict(variance_config(sizes)),
        "num_steps": int(len(step)),
        **series,
        # median of log10 σ²_rp − log10 σ²_es over the first and the last tenth of the run
        "log10_rp_minus_es_first": float(np.median(gap[:window])),
        "log10_rp_minus_es_last": float(np.median(gap[-window:])),
    }
    return save(out, "metz2019_fig4", fig, data)


__all__ = [
    "OuterLandscape",
    "adam_sweep",
    "fig2d",
    "fig2ef",
    "fig4",
    "landscape_problem",
    "outer_slices",
    "projection",
    "roughness",
    "running_median",
    "seeded_rule",
    "sensitivity",
    "variance_config",
    "variance_run",
]
