"""Learning curves of the learned MLP optimizer against tuned baselines on outer-test tasks of
the conv family (Metz et al. 2019 §4.4, Fig. 6a–c; App. G for the wall clock; spec
"Baselines" and "Wall clock").

`metz2019_fig6`:

- The learned rule: the MLP rule of §4.1 meta-trained on the conv task family
  (`problems/conv_task.py`, outer-train class pool) with the merged estimator, log meta-loss
  of the training loss (L_train). Its run is `RUNS/mlp_merged` (`RUNS/mlp_merged_quick` with
  `--quick`): a run found there is used with its own `config.json`, trained on (resumed) up to
  its meta-steps if unfinished; otherwise one is started with `learned_config` (the paper's
  outer Adam β1 = 0.5). The default is the run of `docs/metz2019_conv_run.md` (400 outer
  steps, 4 runs per step, truncations of 20 in 400-step runs, 3-layer conv net of 32
  channels at batch 32, 500 validation images per task; ≈ 18 min), so
  `--runs /work/runs/conv` evaluates that run as it is (trained with Keras' β1 = 0.9,
  before the trainer exposed β1). `--quick` meta-trains a 40-step run (2 runs per step,
  truncations of 10 in 200-step runs, outer learning rate 1e-2) on a tiny conv net (8
  channels, batch 16, 50 images per class of which 100 held out; ≈ 40 s).
- The tasks: tasks of the **outer-test** class pool (`pool="test"`, classes never seen in
  meta-training), all other problem arguments as in the run; `test_tasks` of them are plotted
  (the test stream of `trainers.baselines`), the baselines are tuned on `tuning_tasks` others
  (its tuning stream), so tuning and plotted tasks are disjoint. Each optimizer runs the run's
  inner length (400 steps; 200 with `--quick`) through the one inner loop. Default sizes: 32
  plotted and 4 tuning tasks, 64 Adam+Reg+Decay configurations, 5 timing repeats (`--quick`:
  8, 3, 8, 3); the paper: 100 tasks, 10k steps, ~2 000 configurations.
- Two objectives, as the paper's panels (a) and (b): "train" records the training minibatch
  loss (L_train), "test" the loss on a minibatch of the task's held-out images (L_valid;
  `record="validation_loss"`, the inner training still uses the training images). For each,
  the baselines are tuned by the mean of that loss over the run (the spec's L_train /
  L_valid): Adam, RMSProp and SGD + momentum on the 11-point learning-rate grid 1e-4 … 10
  (`trainers.evaluate.contenders`, the grid mode of `trainers.baselines`), Adam+Reg+Decay by
  a random search of its 8 hyper-parameters (`trainers.baselines`, `adam_reg_decay`) of
  `reg_decay_samples` configurations only (the paper: ~2 000), and Adam at its default
  learning rate 1e-3. The learned rule is the same in both (only an L_train run exists). The
  paper tunes the learning rate per plotted task; we tune on disjoint tasks (no peeking).
- Wall clock (App. G): seconds per inner step of each optimizer, measured on the first
  plotted task by timing its compiled unroll (`trainers.evaluate.CurveRunner`, the training
  loss recorded) after a warm-up call, `timing_repeats` times round-robin over the
  optimizers (so that load from other jobs on the machine spreads over all), median. Panel
  (c) plots the training loss against step × seconds per step of that optimizer, as the
  paper rescales its step curves.
- Panels: (a) training loss, (b) test loss against the inner step, (c) training loss against
  seconds: median over the plotted tasks, band 25–75 %; (d) per plotted task and baseline,
  (baseline − learned) of the loss averaged over the run, for both objectives (Fig. 6c;
  positive: the learned rule is better). Losses of diverged runs are inf and left out of
  (d); the data count them.
- Data: `metz2019_fig6.json` holds the sizes, the run's directory and config, per objective
  the evaluation config, every optimizer's label, hyper-parameters, tuning scores, mean loss
  per plotted task and the (baseline − learned) differences, and the seconds per step (median
  and every repeat); `metz2019_fig6.npz` the curves, `{objective}/{optimizer}` [tasks, steps].

Data source: the conv family draws its classes from 32×32 ImageNet or CIFAR-100 when
prepared for tensorflow-datasets, else from the offline stand-in `problems/photo_classes.py`
(see `docs/metz2019_conv_run.md`); the data name the source.

Measured on the 2 shared CPU cores of the development machine, offline stand-in data:
`--quick` takes 2 min 45 s (≈ 40 s meta-training, the rest tuning and curves; 3 min 20 s
under load). Its 40-step learned rule beats Adam at 1e-3 on 7 of 8 tasks but, on average,
none of the tuned baselines (mean loss over 200 steps, training: learned 1.81, Adam 1e-3
1.92, tuned Adam 1.36, RMSProp 1.47, SGD + momentum 1.72, Adam+Reg+Decay 1.38; the test
loss alike); 1.6–1.7 ms per step for the learned rule, 1.3–1.4 ms for the baselines.

The default against the documented run (`--runs /work/runs/conv`, 62 min with the machine
at a load of ~9 from other jobs; the searches are cached in `RUNS/baselines`): mean training
loss over the 400 steps, learned 0.667, Adam 1e-3 0.731, tuned Adam (lr 0.01) 0.551,
RMSProp (0.00316) 0.718, SGD + momentum (0.0316) 0.901, Adam+Reg+Decay (best of 64) 0.682.
The learned rule is better than default Adam on 84 % of the 32 tasks, than RMSProp on 56 %,
SGD + momentum 94 %, Adam+Reg+Decay 62 % (test loss: 81, 56, 94, 50 %), and than tuned Adam
on 12 % (16 %): tuned Adam is faster early, the learned rule ends about level (median final
training loss 0.174 vs 0.150; test loss 0.218 vs 0.210, both well below the other
baselines). The 64-configuration Adam+Reg+Decay search is weaker than the learning-rate grid
of Adam alone. Seconds per step under that load were noisy (repeats 4–10 ms; medians 7.3
ms learned, 5.3–8.0 ms for the baselines, which do the same work at different learning
rates), so panel (c) shows no reliable speed difference; App. G's 16 % overhead of the
learned rule is below this noise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, NamedTuple

import numpy as np

from l2o_tf.rules.base import UpdateRule
from problems.base import Problem
from trainers.baselines import TEST_STREAM, SearchConfig, held_out_problems, random_search, space
from trainers.evaluate import Contender, CurveRunner, contenders, evaluation_config
from trainers.figures.base import pyplot, register, save
from trainers.meta_train import CONFIG_FILE, WEIGHTS_FILE, MetaTrainConfig, MetaTrainer

OBJECTIVES = {"train": "gradient_loss", "test": "validation_loss"}  # L_train, L_valid
GRID_BASELINES = ("adam", "rmsprop", "momentum")
REG_DECAY = "adam_reg_decay"
META_BETA_1 = 0.5  # §4.3, App. D.3


class RunSizes(NamedTuple):
    """The meta-training run of the learned rule (`learned_config`)."""

    name: str  # its directory in `runs`
    problem_kwargs: dict[str, Any]  # of the conv task
    steps: int  # outer steps
    meta_batch: int  # inner runs per outer step
    truncation: int  # inner steps per truncation
    inner_steps: int  # steps of one inner run (also the length of the plotted curves)
    meta_learning_rate: float
    eval_every: int  # held-out evaluation and checkpoint every this many outer steps


RUN_SIZES = {
    False: RunSizes(
        name="mlp_merged",
        problem_kwargs={"batch_size": 32, "validation_examples": 500},
        steps=400,
        meta_batch=4,
        truncation=20,
        inner_steps=400,
        meta_learning_rate=3e-3,
        eval_every=100,
    ),
    True: RunSizes(
        name="mlp_merged_quick",
        problem_kwargs={
            "channels": 8,
            "batch_size": 16,
            "examples_per_class": 50,
            "validation_examples": 100,
        },
        steps=40,
        meta_batch=2,
        truncation=10,
        inner_steps=200,
        meta_learning_rate=1e-2,
        eval_every=20,
    ),
}


class CurveSizes(NamedTuple):
    """The evaluation of the learned rule against the baselines."""

    test_tasks: int  # plotted outer-test tasks (the paper's Fig. 6c: 100)
    tuning_tasks: int  # outer-test tasks the baselines are tuned on
    reg_decay_samples: int  # random Adam+Reg+Decay configurations (the paper: ~2 000)
    timing_repeats: int


CURVE_SIZES = {False: CurveSizes(32, 4, 64, 5), True: CurveSizes(8, 3, 8, 3)}


def learned_config(sizes: RunSizes) -> MetaTrainConfig:
    """The MLP rule meta-trained on outer-train conv tasks: merged estimator, log meta-loss of
    the training loss, fixed truncations carried through inner runs, outer Adam with β1 = 0.5
    (`docs/metz2019_conv_run.md`'s command at the default sizes)."""
    return MetaTrainConfig(
        problem="conv_task",
        problem_kwargs=dict(sizes.problem_kwargs),
        rule="mlp",
        steps=sizes.steps,
        unroll_steps=sizes.truncation,
        inner_steps=sizes.inner_steps,
        meta_batch=sizes.meta_batch,
        meta_loss="log",
        estimator="merged",
        meta_learning_rate=sizes.meta_learning_rate,
        meta_beta_1=META_BETA_1,
        eval_every=sizes.eval_every,
        num_eval_problems=2,
        eval_steps=sizes.inner_steps,
        checkpoint_every=sizes.eval_every,
    )


def learned_run(sizes: RunSizes, runs: str) -> tuple[MetaTrainConfig, str]:
    """The config and weights file of the run `runs/sizes.name`: its saved config if it has
    one, else `learned_config(sizes)`; meta-trained (or resumed) here up to its steps."""
    logdir = os.path.join(runs, sizes.name)
    path = os.path.join(logdir, CONFIG_FILE)
    if os.path.exists(path):
        with open(path) as f:
            config = MetaTrainConfig(**json.load(f))
    else:
        config = learned_config(sizes)
    trainer = MetaTrainer(config, logdir)
    if int(trainer.step) < config.steps:
        trainer.train(verbose=False)
    return config, os.path.join(logdir, WEIGHTS_FILE)


def evaluation_task(config: MetaTrainConfig, record: str) -> MetaTrainConfig:
    """The task the figure scores: outer-test tasks of the run's family, `record`ed loss, mean
    over the run's inner length (L_train or L_valid of the spec)."""
    task = evaluation_config(config, {"pool": "test"}, record)
    return dataclasses.replace(task, meta_loss="mean", unroll_steps=config.inner_length)


def reg_decay_contender(
    task: MetaTrainConfig, num_samples: int, num_problems: int, cache_dir: str
) -> Contender:
    """Adam+Reg+Decay (§4.4): the best of `num_samples` random configurations of its 8
    hyper-parameters on `num_problems` tuning tasks of `task`."""
    search = SearchConfig(num_samples, num_problems, jit_compile=task.jit_compile)
    result = random_search(task, REG_DECAY, search, cache_dir)
    return Contender(
        f"adam+reg+decay (best of {num_samples})",
        space(REG_DECAY).rule_for(result.best, task.dtype),
        {**result.best, "tuning_score": result.best_score},
    )


class Comparison(NamedTuple):
    """The optimizers of one objective and their curves on the plotted tasks."""

    task: MetaTrainConfig
    contenders: dict[str, Contender]
    curves: dict[str, np.ndarray]  # [tasks, steps] per optimizer
    runner: CurveRunner
    problems: list[Problem]


def compare(
    config: MetaTrainConfig, weights: str, record: str, sizes: CurveSizes, cache_dir: str
) -> Comparison:
    """The learned rule, default Adam and the baselines tuned for `record`, run on the
    plotted outer-test tasks."""
    task = evaluation_task(config, record)
    found = contenders(
        task, weights, task.unroll_steps, sizes.tuning_tasks, GRID_BASELINES, cache_dir
    )
    found[REG_DECAY] = reg_decay_contender(
        task, sizes.reg_decay_samples, sizes.tuning_tasks, cache_dir
    )
    runner = CurveRunner(task.unroll_steps, record)
    plotted = held_out_problems(task, TEST_STREAM, sizes.test_tasks)
    curves = {key: runner.curves(c.rule, plotted) for key, c in found.items()}
    return Comparison(task, found, curves, runner, plotted)


def seconds_per_step(
    runner: CurveRunner, rules: dict[str, UpdateRule], problem: Problem, repeats: int
) -> dict[str, np.ndarray]:
    """Seconds per inner step of each rule on `problem` (App. G): its compiled unroll timed
    `repeats` times after a warm-up call, round-robin over the rules; [repeats] per rule."""
    for rule in rules.values():
        runner(rule, problem, problem.seed)
    seconds: dict[str, list[float]] = {key: [] for key in rules}
    for _ in range(repeats):
        for key, rule in rules.items():
            start = time.perf_counter()
            runner(rule, problem, problem.seed)
            seconds[key].append((time.perf_counter() - start) / runner.num_steps)
    return {key: np.array(values) for key, values in seconds.items()}


def optimizer_summary(contender: Contender, curves: np.ndarray) -> dict[str, Any]:
    """What the data hold of one optimizer on one objective."""
    summary = {
        "label": contender.label,
        "hyper_parameters": contender.info,
        "mean_loss_per_task": curves.mean(axis=1),
        "final_loss_median": float(np.median(curves[:, -1])),
    }
    if contender.tuning is not None:
        summary["tuning_learning_rates"] = list(contender.tuning.tuning_scores)
        summary["tuning_scores"] = list(contender.tuning.tuning_scores.values())
    return summary


def objective_summary(comparison: Comparison) -> dict[str, Any]:
    """Per optimizer its summary; per baseline the (baseline − learned) mean loss per task."""
    optimizers = {
        key: optimizer_summary(c, comparison.curves[key])
        for key, c in comparison.contenders.items()
    }
    learned = optimizers["learned"]["mean_loss_per_task"]
    differences = {
        key: entry["mean_loss_per_task"] - learned
        for key, entry in optimizers.items()
        if key != "learned"
    }
    return {
        "record": comparison.task.record,
        "evaluation_config": dataclasses.asdict(comparison.task),
        "data_source": comparison.problems[0].data_source,
        "optimizers": optimizers,
        "baseline_minus_learned": differences,
        "learned_better_fraction": {k: float(np.mean(d > 0)) for k, d in differences.items()},
        "num_diverged": {
            k: int(np.sum(~np.isfinite(c[:, -1]))) for k, c in comparison.curves.items()
        },
    }


STYLES = {
    "learned": dict(color="k", lw=2.4),
    "adam_default": dict(color="C0", ls="--", lw=1.2),
    "adam": dict(color="C0", lw=1.4),
    "rmsprop": dict(color="C1", lw=1.4),
    "momentum": dict(color="C2", lw=1.4),
    REG_DECAY: dict(color="C3", lw=1.4),
}


def _band(ax: Any, x: np.ndarray, curves: np.ndarray, label: str, key: str) -> None:
    """Median over tasks and the 25–75 % band."""
    low, median, high = np.percentile(curves, [25, 50, 75], axis=0)
    ax.plot(x, median, label=label, **STYLES[key])
    ax.fill_between(x, low, high, color=STYLES[key]["color"], alpha=0.12, lw=0)


def _differences_panel(ax: Any, data: dict[str, Any], labels: dict[str, str]) -> None:
    """Fig. 6c: (baseline − learned) mean loss per task, a box per baseline and objective."""
    keys = list(data["train"]["baseline_minus_learned"])
    rng = np.random.default_rng(0)
    for j, (objective, hatch) in enumerate((("train", ""), ("test", "//"))):
        values = [np.asarray(data[objective]["baseline_minus_learned"][k]) for k in keys]
        values = [v[np.isfinite(v)] for v in values]
        positions = np.arange(len(keys)) + (j - 0.5) * 0.38
        boxes = ax.boxplot(
            values,
            positions=positions,
            widths=0.32,
            patch_artist=True,
            showfliers=False,
            medianprops=dict(color="k"),
        )
        for box, key in zip(boxes["boxes"], keys):
            box.set(facecolor=STYLES[key]["color"], alpha=0.35, hatch=hatch)
        for x, v in zip(positions, values):
            ax.plot(x + rng.uniform(-0.08, 0.08, v.size), v, ".", color="k", ms=3)
    ax.axhline(0.0, color="k", lw=0.8)
    ticks = [labels[k] for k in keys]
    ax.set_xticks(np.arange(len(keys)), ticks, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("baseline − learned: loss averaged over the run")
    ax.set_title(
        "(d) per outer-test task, left: training loss, right (hatched): test loss\n"
        "positive: the learned rule is better",
        fontsize=10,
    )


@register(
    "metz2019_fig6",
    "learned MLP rule vs tuned Adam, RMSProp, SGD+momentum, Adam+Reg+Decay on outer-test conv "
    "tasks: train/test loss over steps and seconds, per-task differences (Fig. 6)",
)
def fig6(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    sizes = CURVE_SIZES[quick]
    config, weights = learned_run(RUN_SIZES[quick], runs)
    cache_dir = os.path.join(runs, "baselines")
    comparisons = {
        objective: compare(config, weights, record, sizes, cache_dir)
        for objective, record in OBJECTIVES.items()
    }
    train = comparisons["train"]
    timing = seconds_per_step(
        train.runner,
        {key: c.rule for key, c in train.contenders.items()},
        train.problems[0],
        sizes.timing_repeats,
    )
    per_step = {key: float(np.median(s)) for key, s in timing.items()}
    summaries = {objective: objective_summary(c) for objective, c in comparisons.items()}

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    (ax_a, ax_b), (ax_c, ax_d) = axes
    steps = np.arange(train.task.unroll_steps)
    for ax, objective in ((ax_a, "train"), (ax_b, "test")):
        for key, c in comparisons[objective].contenders.items():
            _band(ax, steps, comparisons[objective].curves[key], c.label, key)
    for key, c in train.contenders.items():
        label = f"{c.label}: {1e3 * per_step[key]:.2f} ms/step"
        _band(ax_c, steps * per_step[key], train.curves[key], label, key)
    n = sizes.test_tasks
    for ax, title, xlabel in (
        (ax_a, "(a) training loss", "inner step"),
        (ax_b, "(b) test loss (baselines tuned for it)", "inner step"),
        (ax_c, "(c) training loss against wall clock (step × s/step)", "seconds"),
    ):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"loss: median and 25–75 % over {n} outer-test tasks")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    labels = {key: c.label for key, c in train.contenders.items()}
    _differences_panel(ax_d, summaries, labels)
    fig.suptitle(
        f"{config.problem} {json.dumps(config.problem_kwargs)}, outer-test classes, "
        f"{train.task.unroll_steps} inner steps ({summaries['train']['data_source']})",
        fontsize=10,
    )
    fig.tight_layout()
    data = {
        "quick": quick,
        "run_sizes": RUN_SIZES[quick]._asdict(),
        "curve_sizes": sizes._asdict(),
        "run": os.path.join(runs, RUN_SIZES[quick].name),
        "run_config": dataclasses.asdict(config),
        "num_steps": train.task.unroll_steps,
        "seconds_per_step": per_step,
        "seconds_per_step_repeats": timing,
        **summaries,
    }
    arrays = {
        f"{objective}/{key}": curves
        for objective, c in comparisons.items()
        for key, curves in c.curves.items()
    }
    return save(out, "metz2019_fig6", fig, data, arrays)


__all__ = [
    "Comparison",
    "compare",
    "evaluation_task",
    "fig6",
    "learned_config",
    "learned_run",
    "objective_summary",
    "reg_decay_contender",
    "seconds_per_step",
]
