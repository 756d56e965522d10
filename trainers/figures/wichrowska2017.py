"""The hierarchical RNN against tuned hand-designed optimizers (Wichrowska et al. 2017 §5.2–5.4,
Figs. 3–5): problems of its training mixture, MNIST networks far past its training unrolls,
and robustness to the initial learning rate.

The learned optimizer (`learned_optimizer`, used by all three figures):

- `--quick`: the preset `wichrowska2017_quick` (6 meta-steps of 5–20-step partial unrolls),
  meta-trained here in `RUNS/wichrowska2017_quick` (≈ 20 s), or reused when finished.
- default: the run of preset `wichrowska2017_cpu` in `RUNS/wichrowska2017_cpu`, read as it is
  (its `config.json` and `best_rule_weights.npz`, the weights of its lowest held-out
  meta-loss), never trained here: the run takes hours, `python -m trainers.meta_train
  --preset=wichrowska2017_cpu --logdir=RUNS/wichrowska2017_cpu`. Without it the shipped
  `l2o_tf/pretrained/hierarchical_rnn.npz` with the preset's config, if that file exists;
  otherwise a ValueError giving that command.

Every figure's JSON records under "learned" which weights file was used and at which
meta-step: the first logged step at which `meta_loss/held_out_best` reached its final value
(when the best weights were written; `trainers.logs.read_scalars`), or why it is unknown.

`wichrowska2017_fig3` (§5.2: "The learned optimizer matches or outperforms ADAM and RMSProp
on problem types from the metatraining set"): per family of the mixture (the 18 named sets of
`problems.problem_sets.WICHROWSKA2017`), `trainers.evaluate.evaluate` on held-out samples of
the family (its test stream) of the learned rule, Adam at 1e-3 and Adam, RMSProp and SGD with
momentum, each with the learning rate of the 11-point grid 1e-4 … 10 (`trainers.baselines`,
grid mode) best on other held-out samples (its tuning stream; cached in `RUNS/baselines`).
The score is the run's meta-objective: the log objective (seed 001 eq. 14) over the
full-batch loss. The learned rule starts as in meta-training and in the meta-trainer's
held-out evaluation: its initial learning rates drawn per sample from the meta-training
range (`trainers.evaluate.CurveRunner` passes a seed to `rule.init`). Panels: (a) per
family, learned − baseline meta-objective, mean over the test samples (negative: the learned
rule is better; a divergence is an infinite difference, drawn at the axis' edge and marked);
(b) the fraction of test samples on which the learned rule is better. The title counts the
families where it is better on average, per baseline. Default: all 18 families, 1 000 steps
(≈ 4× the mean partial unroll, ≈ 250 steps), 8 test and 4 tuning samples each; `--quick`:
"quadratic_noisy", "bowl", "norm", 10 steps, 2 and 2.

`wichrowska2017_fig4` (§5.3, Fig. 2 and 3(a): comparable performance "on simple
convolutional multilayer networks and multilayer fully connected networks both in terms of
final loss and number of iterations to convergence", "even for numbers of iterations not seen
during metatraining"): the MNIST MLPs and conv nets of `wichrowska2017_test` trained for
10 000 steps, far past every training unroll, by the learned rule at deployment
(`rule.init(params)` without a seed: every initial learning rate is the documented
`deployment_learning_rate`, 1e-4) and by Adam, RMSProp and SGD with momentum with their
learning rates tuned on a shorter horizon, 1 000 steps (grid 1e-4 … 10, the run's log
objective of the minibatch loss, 2 tuning samples of the problem). Recorded: the minibatch
loss of every step (`record="gradient_loss"`: at the attended point for the learned rule;
the full-batch loss every step would cost a pass over all training images), plotted as a
100-step trailing mean, and the full-batch training loss every 500 steps (and at step 0),
evaluated separately (`full_batch_loss`, in chunks of ≤ 10 000 images). The JSON answers per
problem and optimizer whether it keeps improving (full-batch loss at 10 000 steps below the
one at the tuning horizon) and whether it diverged (a non-finite loss, or a final full-batch
loss above the initial one). The data source of each problem (`DatasetProblem.data_source`:
"tfds:mnist" when MNIST is prepared locally, else the offline stand-in "sklearn_digits", see
`problems/image_data.py`) is in the titles and the JSON. Default: the 4 networks (MLP and
conv net, sigmoid and ReLU), one test sample each; `--quick`: the sigmoid MLP, 30 steps,
tuned on 10 (the full 11-point grid: the grid search has no smaller grid), 1 tuning sample,
full-batch loss every 10 steps, 5-step mean.

`wichrowska2017_fig5` (§5.4: "While the learned optimizer is also sensitive to initial
learning rate, it is much more robust"; the paper's Fig. 5 is a quadratic): the learned rule
deployed with `deployment_learning_rate` (a constructor argument of `HierarchicalRNN`, the
same weights loaded into each) swept over two orders of magnitude log-spaced around its
default, 1e-5 … 1e-3 (the default 1e-4 is the geometric centre of the meta-training range
1e-6 … 1e-2, spec "initial learning rate range"), against Adam, RMSProp and SGD with momentum
swept over as many log-spaced values spanning two orders of magnitude around the learning
rate tuned for each (the fig4 tuning on the same problem and horizon; the paper uses the
same values for all, which would put the learned rule's 1e-4 far below the baselines'
optima). Problems of `wichrowska2017_test`: the 20-D quadratic and the 2- and 10-class MLPs on
random data. Score: the full-batch loss after N steps (plotted, median over seeds, against
the learning rate relative to the sweep's centre) and the run's meta-objective over the run's
record (JSON); the JSON gives per optimizer the spread, log10(worst / best) median final loss
over its sweep (inf if a point diverged). Default: 1 000 steps, 9 values, 3 seeds (test
samples), 4 tuning samples; `--quick`: 10 steps, 3 values, 1 seed, 1 tuning sample.

Costs on the 2 CPU cores of the development machine, shared with a meta-training job (so
each figure had about one core), stand-in MNIST data:

- `--quick`: 46 s (fig3), 50 s (fig4), 56 s (fig5) each in a fresh `RUNS`, ≈ 20 s of which
  meta-train the quick run (reused afterwards).
- fig3, computed: ≈ 15 min (at most ≈ 30). Two families measured at full size: "norm" 19 s,
  "fully_connected_random_2_class" 101 s, the costliest by its time per step (1 000 steps
  recording the full-batch loss: 0.15–1.6 s for the learned rule, 0.02–0.6 s for Adam over
  the 18 families, plus 1–3 s of tracing per optimizer and problem shape).
- fig4, computed: ≈ 1 h. Measured per step: learned 12–13 ms on the MLPs, 26 ms on the conv
  nets; Adam 0.7 and 13 ms. A conv net: ≈ 14 min of tuning (3 × 11 rates × 2 samples ×
  1 000 steps), ≈ 11 min of 10 000-step runs; an MLP ≈ 3 min. With MNIST prepared, the
  full-batch passes over 60 000 images add a few seconds per evaluation (21 per run).
- fig5, measured: 32 min (the quick run's weights standing in for the full run's: the same
  architecture and cost): the quadratic 1.5 min, each MLP ≈ 6 min of tuning and ≈ 9 min of
  sweeps (the run's record is the full-batch loss of 10 000 examples at every step).
  The spread log10(worst / best) measures sensitivity only: read it with the loss level (a
  rule that barely moves has a small spread).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

import l2o_tf
from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import load_rule_weights
from problems import get_set, problem_sets
from problems.base import Problem, as_seed, fold_in
from problems.registry import Factory
from trainers.baselines import TEST_STREAM, held_out_problems
from trainers.evaluate import TunedBaseline, evaluate, meta_losses, tune_learning_rate
from trainers.figures.base import pyplot, register, save
from trainers.logs import read_scalars
from trainers.meta_train import BEST_WEIGHTS_FILE, CONFIG_FILE, MetaTrainConfig, MetaTrainer
from trainers.presets import get_preset
from trainers.unroll import unroll

BASELINES = ("adam", "rmsprop", "momentum")
PRESETS = {True: "wichrowska2017_quick", False: "wichrowska2017_cpu"}
PRETRAINED = os.path.join(os.path.dirname(l2o_tf.__file__), "pretrained", "hierarchical_rnn.npz")
BEST_TAG = "meta_loss/held_out_best"
FULL_BATCH_CHUNK = 10_000  # examples per pass of `full_batch_loss`
STYLES = {
    "learned": dict(color="k", lw=2.2),
    "adam": dict(color="C0", lw=1.3),
    "rmsprop": dict(color="C1", lw=1.3),
    "momentum": dict(color="C2", lw=1.3),
}


class Learned(NamedTuple):
    """The meta-trained hierarchical RNN: its run's config, weights file and provenance."""

    config: MetaTrainConfig
    weights: str
    provenance: dict[str, Any]  # what the figures' JSON records under "learned"

    def rule(self, **overrides: Any) -> UpdateRule:
        """A new rule of the run's config (`overrides` of its arguments) with the weights."""
        kwargs = {**self.config.rule_kwargs, **overrides}
        rule = rules.get(self.config.rule, dtype=self.config.dtype, **kwargs)
        load_rule_weights(rule, self.weights)
        return rule


def checkpoint_step(logdir: str) -> dict[str, Any]:
    """The meta-step of the run's BEST_WEIGHTS_FILE: the first logged step at which the lowest
    held-out meta-loss reached its final value (it is written then), from TensorBoard."""
    try:
        steps, best = read_scalars(logdir)[BEST_TAG]
    except (FileNotFoundError, KeyError):
        return {"meta_step": None, "meta_step_note": f"no {BEST_TAG} scalars in {logdir}"}
    return {
        "meta_step": int(steps[np.argmax(best <= best[-1])]),
        "held_out_meta_loss": float(best[-1]),
        "last_logged_meta_step": int(steps[-1]),
        "meta_step_note": f"first step of the final {BEST_TAG}",
    }


def learned_optimizer(runs: str, quick: bool) -> Learned:
    """The hierarchical RNN of the figures (module docstring): quick, the preset
    `wichrowska2017_quick` meta-trained (or reused) in `runs`; otherwise the run of
    `wichrowska2017_cpu` in `runs`, read without training, else the shipped weights."""
    preset = PRESETS[quick]
    logdir = os.path.join(runs, preset)
    weights = os.path.join(logdir, BEST_WEIGHTS_FILE)
    if quick:
        config = get_preset(preset)
        trainer = MetaTrainer(config, logdir)
        if int(trainer.step) < config.steps:
            trainer.train(verbose=False)
    elif os.path.exists(os.path.join(logdir, CONFIG_FILE)) and os.path.exists(weights):
        with open(os.path.join(logdir, CONFIG_FILE)) as f:
            config = MetaTrainConfig(**json.load(f))
    elif os.path.exists(PRETRAINED):
        note = "shipped weights: their meta-step is not recorded"
        provenance = {"preset": preset, "weights": PRETRAINED, "meta_step": None}
        return Learned(get_preset(preset), PRETRAINED, {**provenance, "meta_step_note": note})
    else:
        raise ValueError(
            f"No meta-trained hierarchical RNN in {logdir} (nor {PRETRAINED}); train it first "
            f"(hours): python -m trainers.meta_train --preset={preset} --logdir={logdir}"
        )
    provenance = {"preset": preset, "logdir": logdir, "weights": weights}
    return Learned(config, weights, {**provenance, **checkpoint_step(logdir)})


def entry_config(
    run: MetaTrainConfig, factory: Factory, num_steps: int, record: str
) -> MetaTrainConfig:
    """The task of one problem entry (no one-entry named set exists): the run's config with
    the entry as its problem, `num_steps` steps recording `record`, the run's meta-objective."""
    return dataclasses.replace(
        run,
        problem=factory.name,
        problem_kwargs=dict(factory.kwargs),
        problem_set="",
        unroll_steps=num_steps,
        record=record,
    )


def tuned_rates(
    task: MetaTrainConfig, num_problems: int, cache_dir: str
) -> dict[str, TunedBaseline]:
    """Each baseline's grid learning rate best on `num_problems` tuning samples of `task`."""
    return {b: tune_learning_rate(task, b, num_problems, cache_dir) for b in BASELINES}


def test_entries(keep: Callable[[Factory], bool]) -> list[Factory]:
    """The factories of `wichrowska2017_test` that `keep` selects, in the set's order."""
    return [e.factory for e in get_set("wichrowska2017_test") if keep(e.factory)]


def title(factory: Factory) -> str:
    """A short label of a problem entry: its name and the arguments that tell the test problems
    apart."""
    shown = ("dim", "num_features", "num_classes", "hidden", "activation")
    arguments = ", ".join(f"{k}={factory.kwargs[k]}" for k in shown if k in factory.kwargs)
    return f"{factory.name}({arguments})"


def full_batch_loss(
    problem: Problem, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor]
) -> tf.Tensor:
    """The loss on all the training data, in passes over ≤ FULL_BATCH_CHUNK examples weighted
    by their sizes: equal to one pass, since the loss is a mean over examples plus terms free
    of data (the L2 term), and 60 000 MNIST images in one pass of the conv net would need
    ~1.5 GB per layer."""
    batch = problem.full_batch(tensors)
    if batch is None:
        return problem.loss_fn(tensors, params, batch)
    total = int(batch[0].shape[0])
    starts = range(0, total, FULL_BATCH_CHUNK)
    parts = [
        problem.loss_fn(tensors, params, tuple(b[s : s + FULL_BATCH_CHUNK] for b in batch))
        * (min(total, s + FULL_BATCH_CHUNK) - s)
        for s in starts
    ]
    return tf.add_n(parts) / total


class DeployedRun(NamedTuple):
    losses: np.ndarray  # [T] the recorded loss of every step (inf where not finite)
    eval_steps: np.ndarray  # [K + 1]: 0, eval_every, …, T
    full_batch: np.ndarray  # [K + 1] the full-batch loss after those steps (inf: not finite)


class DeploymentRunner:
    """A rule as deployed on a problem: parameters `problem.init_params(fold_in(seed, 0))`,
    rule state `rule.init(params)` WITHOUT a seed (the hierarchical RNN's documented
    deployment learning rate), minibatches and noise from `fold_in(seed, 1)` (the seeds of
    `trainers.unroll.unroll_from_init`, which draws the rule state instead). `num_steps`
    steps of the one inner loop, compiled per (rule, problem signature), in chunks of
    `eval_every`, the full-batch loss evaluated at the start and after every chunk."""

    def __init__(self, num_steps: int, eval_every: int, record: str) -> None:
        if num_steps % eval_every:
            raise ValueError(f"eval_every={eval_every} must divide num_steps={num_steps}.")
        self.num_steps, self.eval_every, self.record = num_steps, eval_every, record
        self._compiled: dict[tuple, tuple[Callable, Callable]] = {}

    def _functions(self, rule: UpdateRule, problem: Problem) -> tuple[Callable, Callable]:
        key = (id(rule), problem.signature)
        if key not in self._compiled:

            def chunk(tensors, params, state, seed, start):
                result = unroll(
                    rule,
                    problem,
                    tensors,
                    params,
                    state,
                    seed,
                    self.eval_every,
                    start_step=start,
                    record=self.record,
                )
                full = full_batch_loss(problem, tensors, result.params)
                return result.params, result.state, result.losses, full

            def full(tensors, params):
                return full_batch_loss(problem, tensors, params)

            self._compiled[key] = (tf.function(chunk), tf.function(full))
        return self._compiled[key]

    def __call__(self, rule: UpdateRule, problem: Problem, seed: int) -> DeployedRun:
        chunk, full = self._functions(rule, problem)
        seed = as_seed(seed)
        params = problem.init_params(fold_in(seed, 0))
        state = rule.init(params)
        noise_seed = fold_in(seed, 1)
        losses, full_batch = [], [full(problem.tensors, params)]
        for start in range(0, self.num_steps, self.eval_every):
            params, state, chunk_losses, loss = chunk(
                problem.tensors, params, state, noise_seed, tf.constant(start, tf.int64)
            )
            losses.append(chunk_losses.numpy())
            full_batch.append(loss)
        losses = np.concatenate(losses)
        full_batch = np.array([float(v) for v in full_batch])
        return DeployedRun(
            np.where(np.isfinite(losses), losses, np.inf),
            np.arange(0, self.num_steps + 1, self.eval_every),
            np.where(np.isfinite(full_batch), full_batch, np.inf),
        )


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each `window` consecutive values: [T − window + 1], ending at steps w−1 …"""
    return np.convolve(values, np.ones(window) / window, mode="valid")


def sweep(center: float, num_points: int) -> np.ndarray:
    """`num_points` log-spaced values over two orders of magnitude around `center`."""
    return np.geomspace(center / 10.0, center * 10.0, num_points)


# ----------------------------------------------------------------------------- Fig. 3


class Fig3Sizes(NamedTuple):
    families: tuple[str, ...]  # named sets of the mixture
    num_steps: int
    test_problems: int  # per family
    tuning_problems: int  # per family


FIG3_SIZES = {
    False: Fig3Sizes(problem_sets.WICHROWSKA2017, 1000, 8, 4),
    True: Fig3Sizes(("quadratic_noisy", "bowl", "norm"), 10, 2, 2),
}


def family_comparison(
    learned: Learned, family: str, sizes: Fig3Sizes, cache_dir: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """`trainers.evaluate.evaluate` on the family's held-out samples: what the JSON holds of
    it (meta-objective per sample per optimizer, learned − baseline, fraction won, tuned
    learning rates) and the curves per optimizer [P, T]."""
    config = dataclasses.replace(learned.config, problem_set=family)
    results = evaluate(
        config,
        learned.weights,
        sizes.num_steps,
        sizes.test_problems,
        sizes.tuning_problems,
        BASELINES,
        cache_dir,
    )
    by_key = {entry["optimizer"]: entry for entry in results.values()}
    scores = {k: np.array(e["meta_loss_per_problem"]) for k, e in by_key.items()}
    with np.errstate(invalid="ignore"):
        differences = {b: float(np.mean(scores["learned"] - scores[b])) for b in BASELINES}
    summary = {
        "meta_loss_per_problem": scores,
        "meta_loss_mean": {k: float(np.mean(v)) for k, v in scores.items()},
        "learned_minus_baseline": differences,
        "learned_wins": {b: by_key[b]["learned_wins"] for b in BASELINES},
        "learned_better": {b: bool(d < 0) for b, d in differences.items()},
        "tuned_learning_rate": {b: by_key[b]["learning_rate"] for b in BASELINES},
        "on_grid_edge": {b: by_key[b]["on_grid_edge"] for b in BASELINES},
        "diverged": {k: int(np.sum(~np.isfinite(v))) for k, v in scores.items()},
    }
    return summary, {k: e["curves"] for k, e in by_key.items()}


def _grouped_bars(ax: Any, groups: list[str], values: dict[str, list[float]]) -> None:
    """One bar per baseline in each group; non-finite values at the axis' edge, marked."""
    finite = np.array([v for vs in values.values() for v in vs if np.isfinite(v)])
    edge = 1.1 * np.max(np.abs(finite)) if finite.size and np.any(finite) else 1.0
    width = 0.8 / len(values)
    x = np.arange(len(groups))
    for i, (key, vs) in enumerate(values.items()):
        vs = np.array(vs)
        shown = np.where(np.isfinite(vs), vs, np.sign(np.nan_to_num(vs)) * edge)
        position = x + (i - (len(values) - 1) / 2) * width
        ax.bar(position, shown, width, color=STYLES[key]["color"], label=key)
        for p, v, s in zip(position, vs, shown):
            if not np.isfinite(v):
                ax.text(p, s, "div", ha="center", va="bottom" if s >= 0 else "top", fontsize=6)
    ax.set_xticks(x, groups, rotation=35, ha="right", fontsize=7)
    ax.axhline(0.0, color="k", lw=0.8)


@register(
    "wichrowska2017_fig3",
    "learned HRNN vs lr-tuned Adam, RMSProp, SGD+momentum per family of the training mixture: "
    "learned − baseline log meta-objective and fraction of held-out problems won (Fig. 3, §5.2)",
)
def fig3(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = FIG3_SIZES[quick]
    learned = learned_optimizer(runs, quick)
    cache_dir = os.path.join(runs, "baselines")
    families, arrays = {}, {}
    for family in sizes.families:
        families[family], curves = family_comparison(learned, family, sizes, cache_dir)
        arrays.update({f"{family}/{k}": c for k, c in curves.items()})
    better = {b: sum(f["learned_better"][b] for f in families.values()) for b in BASELINES}
    names = list(families)
    fig, (ax_a, ax_b) = plt.subplots(2, 1, figsize=(max(7, 0.6 * len(names) + 3), 8))
    differences = {b: [families[f]["learned_minus_baseline"][b] for f in names] for b in BASELINES}
    _grouped_bars(ax_a, names, differences)
    ax_a.set_ylabel("learned − baseline\n(mean log meta-objective)")
    ax_a.set_title("(a) negative: the learned rule is better", fontsize=10)
    ax_a.legend(fontsize=8)
    wins = {b: [families[f]["learned_wins"][b] for f in names] for b in BASELINES}
    _grouped_bars(ax_b, names, wins)
    ax_b.axhline(0.5, color="k", ls=":", lw=0.8)
    ax_b.set_ylim(0, 1)
    ax_b.set_ylabel("fraction of test problems\nthe learned rule wins")
    ax_b.set_title("(b) per held-out problem sample", fontsize=10)
    counts = ", ".join(f"{b} {n}/{len(names)}" for b, n in better.items())
    fig.suptitle(
        f"Learned HRNN vs tuned baselines, {sizes.num_steps} steps, {sizes.test_problems} "
        f"held-out problems per family\nlearned better on average in: {counts} families",
        fontsize=10,
    )
    fig.tight_layout()
    data = {
        "quick": quick,
        "sizes": sizes._asdict(),
        "learned": learned.provenance,
        "run_config": dataclasses.asdict(learned.config),
        "meta_objective": f"{learned.config.meta_loss} of {learned.config.record}",
        "baselines": BASELINES,
        "families": families,
        "families_learned_better": better,
    }
    return save(out, "wichrowska2017_fig3", fig, data, arrays)


# ----------------------------------------------------------------------------- Fig. 4


class Fig4Sizes(NamedTuple):
    num_problems: int  # the first of the MNIST networks of `wichrowska2017_test`
    num_steps: int
    tuning_steps: int  # the baselines' tuning horizon
    tuning_problems: int
    eval_every: int  # steps between full-batch evaluations
    smoothing: int  # steps of the trailing mean of the minibatch loss


FIG4_SIZES = {False: Fig4Sizes(4, 10_000, 1000, 2, 500, 100), True: Fig4Sizes(1, 30, 10, 1, 10, 5)}


def is_mnist_network(factory: Factory) -> bool:
    """The MNIST MLPs (784 inputs) and conv nets of `wichrowska2017_test`."""
    mlp = factory.name == "fully_connected" and factory.kwargs.get("num_features") == 784
    return mlp or factory.name == "conv_net"


def optimizer_answers(run: DeployedRun, horizon: int) -> dict[str, Any]:
    """Does the optimizer keep improving past the tuning horizon, did it diverge."""
    at = dict(zip(run.eval_steps.tolist(), run.full_batch.tolist()))
    initial, at_horizon, final = at[0], at[horizon], at[int(run.eval_steps[-1])]
    diverged = not np.all(np.isfinite(run.losses)) or not final <= initial
    return {
        "full_batch_initial": initial,
        "full_batch_at_tuning_horizon": at_horizon,
        "full_batch_final": final,
        "keeps_improving": bool(final < at_horizon),
        "diverged": bool(diverged),
    }


def mnist_comparison(
    learned: Learned, factory: Factory, sizes: Fig4Sizes, cache_dir: str
) -> tuple[dict[str, Any], dict[str, DeployedRun]]:
    """One MNIST network: the baselines tuned on the short horizon, every optimizer's long run."""
    run = learned.config
    tuning = entry_config(run, factory, sizes.tuning_steps, "gradient_loss")
    tuned = tuned_rates(tuning, sizes.tuning_problems, cache_dir)
    task = entry_config(run, factory, sizes.num_steps, "gradient_loss")
    problem = held_out_problems(task, TEST_STREAM, 1)[0]
    optimizers = {"learned": learned.rule()}
    for b, t in tuned.items():
        optimizers[b] = rules.get(b, learning_rate=t.learning_rate, dtype=run.dtype)
    runner = DeploymentRunner(sizes.num_steps, sizes.eval_every, "gradient_loss")
    runs = {k: runner(rule, problem, problem.seed) for k, rule in optimizers.items()}
    summary = {
        "problem": factory.label,
        "data_source": problem.data_source,
        "deployment_learning_rate": optimizers["learned"].deployment_learning_rate,
        "tuned_learning_rate": {b: t.learning_rate for b, t in tuned.items()},
        "tuning_scores": {b: list(t.tuning_scores.values()) for b, t in tuned.items()},
        "on_grid_edge": {b: t.on_grid_edge for b, t in tuned.items()},
        "eval_steps": runs["learned"].eval_steps,
        "full_batch_loss": {k: r.full_batch for k, r in runs.items()},
        "answers": {k: optimizer_answers(r, sizes.tuning_steps) for k, r in runs.items()},
    }
    return summary, runs


@register(
    "wichrowska2017_fig4",
    "MNIST MLP and conv nets trained 10k steps (far past meta-training) by the learned HRNN vs "
    "Adam, RMSProp, SGD+momentum tuned on 1k steps: loss curves, keeps improving? (Fig. 3a, §5.3)",
)
def fig4(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = FIG4_SIZES[quick]
    learned = learned_optimizer(runs, quick)
    cache_dir = os.path.join(runs, "baselines")
    factories = test_entries(is_mnist_network)[: sizes.num_problems]
    problems_data, arrays = [], {}
    fig, axes = plt.subplots(
        1, len(factories), figsize=(max(8.0, 5.5 * len(factories)), 4.8), squeeze=False
    )
    for i, (ax, factory) in enumerate(zip(axes[0], factories)):
        summary, deployed = mnist_comparison(learned, factory, sizes, cache_dir)
        problems_data.append(summary)
        for key, run in deployed.items():
            smooth = trailing_mean(run.losses, sizes.smoothing)
            steps = np.arange(sizes.smoothing - 1, sizes.num_steps)
            if key == "learned":
                label = f"learned (initial lr {summary['deployment_learning_rate']:.3g})"
            else:
                label = f"{key} (lr={summary['tuned_learning_rate'][key]:.3g})"
            ax.plot(steps, smooth, label=label, alpha=0.8, **STYLES[key])
            ax.plot(run.eval_steps, run.full_batch, "o", ms=3.5, color=STYLES[key]["color"])
            arrays[f"{i}/{key}/losses"] = run.losses
            arrays[f"{i}/{key}/full_batch"] = run.full_batch
        ax.axvline(sizes.tuning_steps, color="k", ls=":", lw=0.8, label="tuning horizon")
        ax.set_yscale("log")
        ax.set_xlabel("inner step")
        ax.set_ylabel(f"minibatch loss ({sizes.smoothing}-step mean); dots: full batch")
        ax.set_title(f"{title(factory)}\ndata: {summary['data_source']}", fontsize=8)
        ax.legend(fontsize=7)
    sources = sorted({p["data_source"] for p in problems_data})
    fig.suptitle(
        f"MNIST networks (data: {', '.join(sources)}), {sizes.num_steps} steps:\n"
        f"learned HRNN vs baselines tuned on {sizes.tuning_steps} steps",
        fontsize=10,
    )
    fig.tight_layout()
    data = {
        "quick": quick,
        "sizes": sizes._asdict(),
        "learned": {
            **learned.provenance,
            "deployment_learning_rate": problems_data[0]["deployment_learning_rate"],
        },
        "run_config": dataclasses.asdict(learned.config),
        "record": "gradient_loss",
        "tuning_objective": f"{learned.config.meta_loss} of gradient_loss",
        "data_sources": sources,
        "diverged": [
            f"{p['problem']}: {k}" for p in problems_data for k, a in p["answers"].items()
            if a["diverged"]
        ],
        "problems": problems_data,
    }
    return save(out, "wichrowska2017_fig4", fig, data, arrays)


# ----------------------------------------------------------------------------- Fig. 5


class Fig5Sizes(NamedTuple):
    num_steps: int
    num_points: int  # learning rates per optimizer
    seeds: int  # test samples per problem
    tuning_problems: int


FIG5_SIZES = {False: Fig5Sizes(1000, 9, 3, 4), True: Fig5Sizes(10, 3, 1, 1)}


def is_fig5_problem(factory: Factory) -> bool:
    """The noiseless 20-D quadratic and the 2- and 10-class MLPs on random data."""
    quadratic = factory.name == "quadratic" and not factory.kwargs.get("gradient_noise")
    mlp = factory.name == "fully_connected" and factory.kwargs.get("dataset") == "random"
    return quadratic or mlp


def learning_rate_sweep(
    learned: Learned, factory: Factory, sizes: Fig5Sizes, cache_dir: str
) -> dict[str, Any]:
    """Every optimizer on the problem's test samples at each learning rate of its sweep:
    final full-batch loss and meta-objective, [points, seeds] per optimizer."""
    run = learned.config
    task = entry_config(run, factory, sizes.num_steps, run.record)
    tuned = tuned_rates(task, sizes.tuning_problems, cache_dir)
    samples = held_out_problems(task, TEST_STREAM, sizes.seeds)
    runner = DeploymentRunner(sizes.num_steps, sizes.num_steps, run.record)
    centers = {"learned": learned.rule().deployment_learning_rate}
    centers.update({b: t.learning_rate for b, t in tuned.items()})
    results: dict[str, Any] = {}
    for key, center in centers.items():
        rates = sweep(center, sizes.num_points)
        if key == "learned":
            at_rate = [learned.rule(deployment_learning_rate=float(lr)) for lr in rates]
        else:
            baseline = rules.get(key, dtype=run.dtype)
            at_rate = [baseline] * len(rates)
        final, objective = [], []
        for lr, rule in zip(rates, at_rate):
            if key != "learned":
                rule.set_hyper_parameters({"learning_rate": float(lr)})
            deployed = [runner(rule, p, p.seed) for p in samples]
            final.append([d.full_batch[-1] for d in deployed])
            objective.append(meta_losses([d.losses for d in deployed], run.meta_loss))
        median = np.median(final, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = float(np.log10(np.max(median) / np.min(median)))
        results[key] = {
            "center": center,
            "learning_rates": rates,
            "final_loss": np.array(final),
            "meta_objective": np.array(objective),
            "final_loss_median": median,
            "log10_worst_over_best": spread if np.isfinite(spread) else float("inf"),
            "diverged": int(np.sum(~np.isfinite(final))),
        }
    return {"problem": factory.label, "optimizers": results}


@register(
    "wichrowska2017_fig5",
    "robustness to the initial learning rate: final loss of the learned HRNN (deployment lr "
    "swept 1e-5..1e-3) vs Adam, RMSProp, SGD+momentum swept around their tuned lr (Fig. 5, §5.4)",
)
def fig5(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = FIG5_SIZES[quick]
    learned = learned_optimizer(runs, quick)
    cache_dir = os.path.join(runs, "baselines")
    factories = test_entries(is_fig5_problem)
    fig, axes = plt.subplots(1, len(factories), figsize=(5 * len(factories), 4.2), squeeze=False)
    panels = []
    for ax, factory in zip(axes[0], factories):
        panel = learning_rate_sweep(learned, factory, sizes, cache_dir)
        panels.append(panel)
        for key, entry in panel["optimizers"].items():
            relative = entry["learning_rates"] / entry["center"]
            median = entry["final_loss_median"]
            median = np.where(np.isfinite(median), median, np.nan)  # diverged: left out
            spread = entry["log10_worst_over_best"]
            diverged = f"; {entry['diverged']} runs diverged" if entry["diverged"] else ""
            label = f"{key} (centre {entry['center']:.3g}; spread {spread:.2g}{diverged})"
            ax.plot(relative, median, "o-", ms=3.5, label=label, **STYLES[key])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate / centre of the sweep")
        ax.set_ylabel(f"full-batch loss after {sizes.num_steps} steps (median of {sizes.seeds})")
        ax.set_title(title(factory), fontsize=8)
        ax.legend(fontsize=7, title="spread: log10 worst/best", title_fontsize=7)
    fig.suptitle(
        "Initial learning rate swept over two orders of magnitude: learned HRNN around its "
        "deployment default, baselines around their tuned rates",
        fontsize=10,
    )
    fig.tight_layout()
    data = {
        "quick": quick,
        "sizes": sizes._asdict(),
        "learned": learned.provenance,
        "run_config": dataclasses.asdict(learned.config),
        "meta_objective": f"{learned.config.meta_loss} of {learned.config.record}",
        "problems": panels,
    }
    return save(out, "wichrowska2017_fig5", fig, data)


__all__ = [
    "DeployedRun",
    "DeploymentRunner",
    "Learned",
    "checkpoint_step",
    "entry_config",
    "family_comparison",
    "fig3",
    "fig4",
    "fig5",
    "full_batch_loss",
    "learned_optimizer",
    "learning_rate_sweep",
    "mnist_comparison",
    "sweep",
]
