"""Ablations of Wichrowska et al. 2017 (§5.5, Fig. 6): the hierarchical RNN meta-trained with
one feature of §3 or one choice of §4 switched off at a time, compared with the full optimizer
on the same held-out problems with the same scoring.

Never start the full-size figure while another meta-training job runs (2 CPU cores).

`wichrowska2017_fig6`. The full optimizer is seed 001's recipe on 2 CPU cores (the preset
`wichrowska2017_cpu`, `trainers/presets.py`: the hierarchical RNN with `preset="paper"` on
the release's mixture of 101 problems, partial unrolls, the log meta-objective over the
full-batch loss, second derivatives, TF1 RMSProp) cut to `steps` meta-steps. Each variant
(`variant_overrides`: `dataclasses.replace` overrides of that config) switches off one thing;
the rule switches are `HierarchicalRNN`'s own arguments, merged onto the preset's
`rule_kwargs`. The variants, and the paper's claim for each (§5.5: the features it "kept"
"on average made performance better on a variety of test problems"; Fig. 6's labels in
quotes):

    full                          nothing off
    no attention                  attention=False                §3.2.1: kept
    one timescale                 num_timescales=1               §3.2.2 "gradient scl": kept
    no dynamic input scaling      dynamic_input_scaling=False    §3.2.3 "variable scl decay":
                                  (γ = 0.93)                     kept
    fixed input decay             learnable_input_decay=False    "inp decay": helpful
                                  (β = 0.89)
    no relative log lr input      relative_lr_input=False        §3.2.4 "relative lr": kept
    no dynamic output scale       dynamic_output_scale=False,    §3.2.4 (no claim in §5.5;
                                  relative_lr_input=False        the relative log lr input
                                  (step 2σ(h0 W_lr + b_lr))      needs the log-lr state)
    no trainable initial states   trainable_initial_states=False "trainable weight init":
                                                                 helpful
    1 level, 2 levels             num_levels=1, 2                §3.1 hierarchy (no claim in
                                  (Parameter RNN; + Tensor RNN)  §5.5)
    mean objective                meta_loss="mean"               §4.2 "log obj": important
    first order                   second_order=False             §4.3 (no claim in §5.5)

The paper adds that "all features had an effect", some more consistently than others, and
shows one test problem (a 2-layer convolutional network) on which every final feature
matters. Here, as in §5.5, every variant is meta-trained from scratch, each with the
preset's seed (for its initial weights and its problem samples: the same samples as the
full optimizer's until one of its runs diverges and gives way to a fresh sample), in its own
log directory `RUNS/wichrowska2017_fig6/NAME` (`RUNS/wichrowska2017_fig6_quick/NAME` at
`--quick`; config.json, checkpoints, weights; resumed when run again, and a finished run
only re-evaluates its held-out meta-loss).

Scoring. A run's own held-out meta-loss is not comparable across variants (the mean-objective
variant logs the mean loss), so every variant's best weights (`BEST_WEIGHTS_FILE`, those of
the lowest held-out meta-loss of its run, by its own objective; the final weights if the run
never wrote any) are scored by one evaluator: the log meta-objective of eq. 14 over the
full-batch loss (`FullUnroll(rule, eval_steps, meta_loss="log", record="full_batch_loss")`),
on `num_test_problems` samples of the mixture from the evaluation stream
(`held_out_problems(config, TEST_STREAM, ...)`: disjoint from meta-training's, the run's
held-out and the tuning samples), each from its own seed. Reported per variant: mean ± s.e.
over the problems, and the paired difference to "full" (mean ± s.e. of the per-problem
differences; positive = worse than the full optimizer). A non-finite score (the learned
optimizer diverged) is counted and left out of the means (pairs: both scores finite).

Panels: (a) the paired differences as horizontal bars with ± s.e.; (b) the held-out
meta-loss of each log-objective variant over its meta-training (TensorBoard
`meta_loss/held_out` on the run's own held-out samples).

Sizes and cost. Full size (default): 1 500 meta-steps per variant, the run's held-out every
250, scored over 500 steps on 16 test problems. Seed 001's run of the `wichrowska2017_cpu`
recipe took 0.63 s per meta-step on 2 cores (1 211 meta-steps in 762 s, 2026-12-06, compile
time included: 23 %), and 4.4 s per held-out evaluation (16 samples × 500 steps), so the 12
variants take 12 × 1 500 × 0.63 s ≈ 3.2 h of meta-steps (less: first order, 1 and 2 levels
and no attention have cheaper meta-steps), plus one to two minutes of evaluations and
tracing per variant: ≈ 3.5 h in all. A variant meets ≈ 37 problem samples (≈ 41 partial
unrolls each), about a third of the mixture's 101 entries: a reduced-size replica of §5.5,
one seed per variant, whose differences are noisy. `--quick`: the `wichrowska2017_quick`
preset (6 meta-steps of partial unrolls of 5-20 steps), 3 variants (full, no attention, mean
objective), scored over 10 steps on 2 test problems: 1 min alone, 2 min on the loaded
machine (2026-12-06). It checks the plumbing only: in 6 meta-steps the weights barely move
(the best held-out can be the initial weights) and the differences are of order 1e-5. The
tests build and validate every variant's config and rule without meta-training.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple, Sequence

import numpy as np

from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import load_rule_weights
from problems.base import Problem
from trainers.baselines import TEST_STREAM, held_out_problems
from trainers.estimators import FullUnroll
from trainers.figures.base import pyplot, register, save
from trainers.logs import read_scalars
from trainers.meta_train import (
    BEST_WEIGHTS_FILE,
    WEIGHTS_FILE,
    MetaTrainConfig,
    MetaTrainer,
    initial_rule,
    sample_family,
)
from trainers.presets import get_preset

NAME = "wichrowska2017_fig6"
SCORE_META_LOSS = "log"  # eq. 14, for every variant
SCORE_RECORD = "full_batch_loss"
HELD_OUT_TAG = "meta_loss/held_out"

# HierarchicalRNN arguments that switch a feature off, merged onto the preset's rule_kwargs.
RULE_SWITCHES: dict[str, dict[str, Any]] = {
    "no attention": {"attention": False},
    "one timescale": {"num_timescales": 1},
    "no dynamic input scaling": {"dynamic_input_scaling": False},
    "fixed input decay": {"learnable_input_decay": False},
    "no relative log lr input": {"relative_lr_input": False},
    # the relative log lr input reads the log-lr state of the dynamic output scale
    "no dynamic output scale": {"dynamic_output_scale": False, "relative_lr_input": False},
    "no trainable initial states": {"trainable_initial_states": False},
    "1 level": {"num_levels": 1},
    "2 levels": {"num_levels": 2},
}
# Meta-training choices (MetaTrainConfig fields).
CONFIG_SWITCHES: dict[str, dict[str, Any]] = {
    "mean objective": {"meta_loss": "mean"},
    "first order": {"second_order": False},
}
VARIANTS = ("full", *RULE_SWITCHES, *CONFIG_SWITCHES)


class AblationSizes(NamedTuple):
    preset: str  # the meta-training recipe (trainers/presets.py) the variants derive from
    steps: int  # meta-steps of every variant
    eval_steps: int  # inner steps of each scored unroll
    num_test_problems: int
    variants: tuple[str, ...]


ABLATION_SIZES = {
    False: AblationSizes("wichrowska2017_cpu", 1500, 500, 16, VARIANTS),
    True: AblationSizes(
        "wichrowska2017_quick", 6, 10, 2, ("full", "no attention", "mean objective")
    ),
}


def full_config(sizes: AblationSizes) -> MetaTrainConfig:
    """The full optimizer's meta-training: the preset cut to `sizes.steps` meta-steps."""
    return dataclasses.replace(get_preset(sizes.preset), steps=sizes.steps)


def variant_overrides(full: MetaTrainConfig) -> dict[str, dict[str, Any]]:
    """Every Fig. 6 variant (`VARIANTS`) as overrides of the full optimizer's config."""
    rule_variants = {
        name: {"rule_kwargs": {**full.rule_kwargs, **switches}}
        for name, switches in RULE_SWITCHES.items()
    }
    return {"full": {}, **rule_variants, **CONFIG_SWITCHES}


def slug(name: str) -> str:
    """A variant's name as a file name."""
    return name.replace(" ", "_")


def variant_logdir(runs: str, quick: bool, name: str) -> str:
    return os.path.join(runs, NAME + ("_quick" if quick else ""), slug(name))


def held_out_curve(scalars: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The run's held-out meta-loss over meta-training: steps, values."""
    steps, values = scalars[HELD_OUT_TAG]
    return {"steps": steps, "values": values}


def weights_used(logdir: str, curve: dict[str, Any]) -> dict[str, Any]:
    """Which weights of the run are scored: the best ones (and the meta-step and held-out
    meta-loss, by the run's own objective, they were saved at), else the final ones."""
    best = os.path.join(logdir, BEST_WEIGHTS_FILE)
    if not os.path.exists(best):
        return {"kind": "final", "path": os.path.join(logdir, WEIGHTS_FILE)}
    values = np.where(np.isfinite(curve["values"]), curve["values"], np.inf)
    at = int(np.argmin(values))  # the trainer saves at a strictly lower value: the first
    return {
        "kind": "best",
        "path": best,
        "meta_step": int(curve["steps"][at]),
        "held_out": float(values[at]),
    }


def train_variant(config: MetaTrainConfig, logdir: str) -> dict[str, Any]:
    """Meta-trains (or resumes) one variant; returns its training record (the run's held-out
    curve, meta-training seconds, the weights to score)."""
    MetaTrainer(config, logdir).train(verbose=False)
    scalars = read_scalars(logdir)
    curve = held_out_curve(scalars)
    return {
        "logdir": logdir,
        "meta_steps": config.steps,
        "meta_loss": config.meta_loss,
        "train_seconds": float(scalars["train_seconds"][1][-1]),
        "held_out_curve": curve,
        "weights": weights_used(logdir, curve),
    }


def trained_rule(config: MetaTrainConfig, weights_path: str) -> UpdateRule:
    """The variant's rule with the weights at `weights_path`."""
    rule = initial_rule(config)
    load_rule_weights(rule, weights_path)
    return rule


def scores(
    rule: UpdateRule, problems: Sequence[Problem], eval_steps: int, jit_compile: bool
) -> np.ndarray:
    """The common score [P]: the log meta-objective over the full-batch loss of one
    `eval_steps`-step unroll of `rule` per problem, from the problem's seed."""
    evaluator = FullUnroll(
        rule, eval_steps, SCORE_META_LOSS, record=SCORE_RECORD, jit_compile=jit_compile
    )
    return np.array([float(evaluator.meta_loss_value(p, p.seed)) for p in problems])


def mean_and_se(values: np.ndarray) -> dict[str, Any]:
    """Mean ± standard error of the finite `values`, and how many were not finite."""
    finite = values[np.isfinite(values)]
    se = np.std(finite, ddof=1) / np.sqrt(finite.size) if finite.size > 1 else np.nan
    return {
        "mean": float(np.mean(finite)) if finite.size else np.nan,
        "se": float(se),
        "num_finite": int(finite.size),
        "num_nonfinite": int(values.size - finite.size),
    }


def paired_difference(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Mean ± s.e. of the per-problem differences `values − reference` over the problems
    where both are finite (inf − inf is not a difference)."""
    with np.errstate(invalid="ignore"):
        return mean_and_se(values - reference)


def _label(name: str, result: dict[str, Any]) -> str:
    """A variant's name with its score (mean ± s.e.) and its diverged test problems."""
    score = result["score"]
    diverged = f", {score['num_nonfinite']} diverged" if score["num_nonfinite"] else ""
    return f"{name} ({score['mean']:.3g} ± {score['se']:.2g}{diverged})"


def _plot(plt: Any, results: dict[str, dict], sizes: AblationSizes) -> Any:
    """(a) paired differences to the full optimizer, (b) held-out curves (module docstring)."""
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(15, 0.45 * len(results) + 3))
    ablated = [name for name in results if name != "full"][::-1]  # first variant on top
    diffs = [results[name]["difference_to_full"] for name in ablated]
    means = np.array([d["mean"] for d in diffs])
    colors = ["C3" if m > 0 else "C2" for m in means]  # worse / better than the full one
    ax_a.barh(range(len(ablated)), means, xerr=[d["se"] for d in diffs], color=colors, capsize=3)
    ax_a.axvline(0.0, color="k", lw=1)
    ax_a.set_yticks(range(len(ablated)), [_label(name, results[name]) for name in ablated])
    ax_a.tick_params(axis="y", labelsize=8)
    ax_a.set_xlabel("paired difference to full (> 0: worse)\nmean ± s.e. over test problems")
    ax_a.set_title(
        f"(a) log meta-objective, full-batch loss over {sizes.eval_steps} steps, "
        f"{sizes.num_test_problems} test problems\n{_label('full', results['full'])}",
        fontsize=10,
    )
    for i, (name, r) in enumerate(results.items()):
        if r["meta_loss"] != SCORE_META_LOSS:
            continue  # its curve is of another objective
        curve = r["held_out_curve"]
        style = {"lw": 2.5, "zorder": 3} if name == "full" else {"lw": 1.2}
        color, dashes = f"C{i % 10}", "-" if i < 10 else "--"  # 10 colours, 12 variants
        ax_b.plot(curve["steps"], curve["values"], dashes, color=color, label=name, **style)
    ax_b.set_xlabel("meta-step")
    ax_b.set_ylabel("held-out log meta-objective (the run's own samples)")
    ax_b.set_title("(b) held-out meta-loss over meta-training (log-objective variants)")
    ax_b.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


@register(
    NAME,
    "ablations of the hierarchical RNN: each §5.5 feature switched off, re-meta-trained and "
    "scored against the full optimizer on held-out problems (Fig. 6)",
)
def fig6(out: str, quick: bool, runs: str) -> list[str]:
    sizes = ABLATION_SIZES[quick]
    full = full_config(sizes)
    overrides = variant_overrides(full)
    test = held_out_problems(full, TEST_STREAM, sizes.num_test_problems)
    results = {}
    for name in sizes.variants:
        config = dataclasses.replace(full, **overrides[name])
        trained = train_variant(config, variant_logdir(runs, quick, name))
        rule = trained_rule(config, trained["weights"]["path"])
        per_problem = scores(rule, test, sizes.eval_steps, config.jit_compile)
        results[name] = {"override": overrides[name], **trained, "per_problem": per_problem}
    reference = results["full"]["per_problem"]
    for r in results.values():
        r["score"] = mean_and_se(r["per_problem"])
        r["difference_to_full"] = paired_difference(r["per_problem"], reference)

    fig = _plot(pyplot(), results, sizes)
    data = {
        "quick": quick,
        "sizes": sizes._asdict(),
        "full_config": dataclasses.asdict(full),
        "scoring": {
            "meta_loss": SCORE_META_LOSS,
            "record": SCORE_RECORD,
            "eval_steps": sizes.eval_steps,
            "stream": TEST_STREAM,
        },
        "test_problems": [
            {"seed": p.seed, "family": sample_family(full, p.seed)[1]} for p in test
        ],
        "variants": results,
    }
    arrays = {slug(name): r["per_problem"] for name, r in results.items()}
    return save(out, NAME, fig, data, arrays)


__all__ = [
    "ABLATION_SIZES",
    "AblationSizes",
    "CONFIG_SWITCHES",
    "RULE_SWITCHES",
    "VARIANTS",
    "fig6",
    "full_config",
    "held_out_curve",
    "mean_and_se",
    "paired_difference",
    "scores",
    "slug",
    "train_variant",
    "trained_rule",
    "variant_logdir",
    "variant_overrides",
    "weights_used",
]
