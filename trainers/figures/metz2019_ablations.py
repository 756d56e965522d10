"""Ablations of Metz et al. 2019 (§4.5, Fig. 8; learning curves App. H, Fig. 17): the learned
optimizer meta-trained with one ingredient of the method removed at a time.

`metz2019_fig8`. The full method (`full_config`): the MLP rule of §4.1 (`rules.get("mlp")`)
meta-trained by `MetaTrainer` with the merged estimator (eq. 1, one antithetic pair per run of
the meta-batch, σ² = 0.01), the linear truncation curriculum from `first_truncation` to the
whole run with ±20 % jitter, the mean training loss over the truncation as outer loss
(L_train), outer Adam with β1 = 0.5 (§4.3). Each variant (`variant_overrides`, a table of
`dataclasses.replace` overrides of that config) removes one thing:

    full            merged estimator, linear curriculum, all features
    only g_rp       estimator="rp"   (the paper's "Gradients")
    only ES         estimator="es"
    fixed K         truncation_schedule="fixed", unroll_steps=K, and as many outer steps as
                    give the same inner steps per run of the meta-batch as the full method
                    (the paper: "keeping the same total inner-weight updates")
    no momentum     rule_kwargs momentum_decays=[] (the rule takes g, w and the time features)
    no time         rule_kwargs time_scales=[]    (g, w and the momenta)

The feature switches are `MLPRule`'s own arguments: empty decays / time scales drop those
inputs (and the rows of the first-layer kernel that read them). Every variant has the same
seed (so the same problem samples, minibatches and, where the kernel shape allows, the same
initial θ), the same outer learning rate and meta-batch, and its own log directory
`RUNS/metz2019_fig8_{quick,full}/NAME` (config.json, checkpoints, weights; resumed when run
again). The inner problem is the two-moons MLP of Fig. 2d–f and 4 (2 → 32 → 32 → 1, ReLU,
minibatches of 32; `metz2019_landscapes.PROBLEM`), in float32: it has no class pools, so the
learned optimizers are compared on `num_test_problems` held-out samples (odd seeds, the
evaluation stream of `trainers.baselines`: other data draws and initializations than any
meta-training or tuning sample), the same for every variant, each trained for the run length
by the one inner loop (`trainers.evaluate.CurveRunner`) recording the full-batch training loss.
The reference "initial θ" is the full method's rule before any meta-step.

Panels: (a) held-out outer loss (the mean full-batch loss over the run) per variant, one dot
per test problem, median and 25–75 % bar, the initial θ's median dashed; (b) the learned
optimizers' learning curves, median over the test problems. Every variant is scored with its
final meta-parameters (not the lowest-held-out ones `MetaTrainer` also keeps: those would hide
a meta-training that blew up). Diverged runs count as inf: they are left out of (a)'s dots and
counted in its tick labels.

Sizes. The paper trains 5 000 outer steps of batch 128 on 128 CPU workers with 10 000-step
runs. On 2 CPU cores the default is runs of 1 000 inner steps, the curriculum 10 → 1 000 over
50 outer steps of meta-batch 8 (17 969 inner steps per run of the batch, runs cut at their
end), outer learning rate 1e-2 (the paper: 3e-3), fixed truncations 10, 100, 1000 (1 797, 180
and 18 outer steps; 1000 is the whole run, where the paper's was a tenth of its run), 16 test
problems. A meta-step costs ≈ 2 ms per inner step and run (both antithetic unrolls,
second-order backward) plus ≈ 0.1 s. Measured (seed 0): 73 min wall clock for the whole figure
on a machine loaded by other jobs (load ≈ 8 on 2 cores; 35 min of CPU time), from 4 min (no
momentum) to 18 min (fixed 10) of meta-training per variant.

Measured at default sizes, median held-out outer loss (initial θ: 5.7, its runs blow up after
≈ 600 steps): full 0.026; only g_rp 1 486 (its meta-training blew up: the learned optimizer
diverges on every test problem, the exploding outer gradients of §2.3); only ES 0.094 (8 ES
samples of 610 meta-parameters: a noisy direction); fixed 10 0.011, fixed 100 0.027, fixed
1000 0.099; no momentum 0.059; no time 0.031 (test problems' spread ≈ ±10 %). As in Fig. 8:
the merged estimator beats both of its parts, the longest fixed truncation (fewest outer
steps) does worse, no momentum hurts clearly, no time a little. Unlike Fig. 8, fixed 10 does
best: with the same inner steps it takes 36× more outer steps, and the truncation bias that
the curriculum avoids in 10 000-step runs is small in 1 000-step runs of a problem solved
within ≈ 250 steps. One seed only (the paper: several per variant).

`--quick` (runs of 100 steps, curriculum 5 → 100 over 8 outer steps of batch 4, 272 inner steps
per run; fixed truncations 5, 25, 100; 8 test problems; 50 s alone, 2 min loaded) checks the
plumbing only: every variant takes a few outer steps, so the differences are those of a few
steps (fixed 5 takes 55 outer steps and wins; only g_rp ≈ full, as g_rp's variance is still
low early in outer-training) and of the initial θ (the feature ablations start from another
kernel shape), not those of Fig. 8.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, NamedTuple, Sequence

import numpy as np

from l2o_tf.rules.base import UpdateRule
from problems.base import Problem
from trainers.baselines import TEST_STREAM, held_out_problems
from trainers.evaluate import CurveRunner, meta_losses
from trainers.figures.base import pyplot, register, save
from trainers.figures.metz2019_landscapes import VarianceSizes, variance_config
from trainers.meta_train import MetaTrainConfig, MetaTrainer, drawn_truncation, initial_rule

SEED = 0
DTYPE = "float32"
RECORD = "full_batch_loss"  # what the evaluation records per inner step
OUTER_BETA_1 = 0.5  # §4.3


class AblationSizes(NamedTuple):
    steps: int  # outer steps of the full method (and of every variant but the fixed ones)
    meta_batch: int  # runs (antithetic samples) per outer step
    run_length: int  # inner steps of one run; the curriculum ends at it
    first_truncation: int  # where the linear curriculum starts
    fixed_truncations: tuple[int, ...]  # lengths of the fixed-truncation variants
    meta_learning_rate: float
    num_test_problems: int


ABLATION_SIZES = {
    False: AblationSizes(50, 8, 1000, 10, (10, 100, 1000), 1e-2, 16),
    True: AblationSizes(8, 4, 100, 5, (5, 25, 100), 1e-2, 8),
}


def full_config(sizes: AblationSizes, seed: int = SEED) -> MetaTrainConfig:
    """The full method: merged estimator, linear truncation curriculum over the whole run,
    all features; Fig. 4's meta-training (`variance_config`) at these sizes, in float32 with
    the outer Adam's β1 of §4.3."""
    curriculum = VarianceSizes(
        steps=sizes.steps,
        meta_batch=sizes.meta_batch,
        truncations=(sizes.first_truncation, sizes.run_length),
        run_length=sizes.run_length,
        meta_learning_rate=sizes.meta_learning_rate,
    )
    return dataclasses.replace(
        variance_config(curriculum, seed), dtype=DTYPE, meta_beta_1=OUTER_BETA_1
    )


def inner_steps_per_run(config: MetaTrainConfig) -> int:
    """Inner steps one run of the meta-batch takes over all `config.steps` outer steps: the
    lengths `MetaTrainer.meta_step` draws, cut where an inner run ends."""
    schedule, done, total = config.schedule(), 0, 0
    for step in range(config.steps):
        done %= config.inner_length  # a finished run starts afresh
        length = min(drawn_truncation(config, schedule, step), config.inner_length - done)
        done, total = done + length, total + length
    return total


def variant_overrides(
    full: MetaTrainConfig, fixed_truncations: tuple[int, ...]
) -> dict[str, dict[str, Any]]:
    """The Fig. 8 variants as overrides of the full method's config, by name."""
    budget = inner_steps_per_run(full)
    fixed = {
        f"fixed {k}": {
            "truncation_schedule": "fixed",
            "unroll_steps": k,
            "steps": math.ceil(budget / k),
        }
        for k in fixed_truncations
    }
    return {
        "full": {},
        "only g_rp": {"estimator": "rp"},
        "only ES": {"estimator": "es"},
        **fixed,
        "no momentum": {"rule_kwargs": {**full.rule_kwargs, "momentum_decays": []}},
        "no time": {"rule_kwargs": {**full.rule_kwargs, "time_scales": []}},
    }


def slug(name: str) -> str:
    """A variant's name as a file name."""
    return name.replace(" ", "_")


def variant_logdir(runs: str, quick: bool, name: str) -> str:
    return os.path.join(runs, f"metz2019_fig8_{'quick' if quick else 'full'}", slug(name))


def held_out_scores(
    rule: UpdateRule, runner: CurveRunner, problems: Sequence[Problem]
) -> dict[str, Any]:
    """Learning curves [P, T] of `rule` on `problems` and their outer losses (mean loss)."""
    curves = runner.curves(rule, problems)
    outer = np.array(meta_losses(curves, "mean"))
    return {
        "outer_loss": outer,
        "outer_loss_median": float(np.median(outer)),
        "final_loss": curves[:, -1],
        "num_diverged": int(np.sum(~np.isfinite(outer))),
        "curves": curves,
    }


def train_variant(config: MetaTrainConfig, logdir: str) -> dict[str, Any]:
    """Meta-trains (or resumes) one variant; returns its trained rule and its training record."""
    trainer = MetaTrainer(config, logdir)
    result = trainer.train(verbose=False)
    return {
        "rule": trainer.rule,
        "logdir": logdir,
        "outer_steps": config.steps,
        "inner_steps_per_run": inner_steps_per_run(config),
        "train_seconds": float(trainer.train_seconds),
        "trainer_held_out_after": result["held_out_after"],
    }


def _plot(plt: Any, results: dict[str, dict], reference: dict[str, Any], run_length: int) -> Any:
    """Panels (a) outer loss per variant and (b) median learning curves (module docstring)."""
    names = list(results)
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(15, 5))
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        outer = results[name]["outer_loss"]
        finite = outer[np.isfinite(outer)]
        ax_a.plot(i + rng.uniform(-0.15, 0.15, finite.size), finite, ".", color="0.6", ms=5)
        if finite.size:
            q25, q50, q75 = np.percentile(finite, [25, 50, 75])
            ax_a.errorbar(i, q50, [[q50 - q25], [q75 - q50]], fmt="o", color=f"C{i}", capsize=4)
    ax_a.axhline(reference["outer_loss_median"], color="k", ls="--", lw=1, label="initial θ")
    labels = [
        f"{name}\n({r['outer_steps']} steps"
        + (f", {r['num_diverged']} diverged)" if r["num_diverged"] else ")")
        for name, r in results.items()
    ]
    ax_a.set_xticks(range(len(names)), labels, fontsize=8)
    ax_a.set_xlabel("variant (outer steps of meta-training)")
    ax_a.set_yscale("log")
    ax_a.set_ylabel(f"held-out outer loss (mean loss over {run_length} steps)")
    ax_a.set_title("(a) learned optimizer per ablation (dots: test problems)")
    ax_a.legend(fontsize=8)
    steps = np.arange(1, run_length + 1)
    for i, name in enumerate(names):
        # the full method thick and on top: variants may coincide with it
        style = {"lw": 2.5, "zorder": 3} if name == "full" else {"lw": 1.3}
        median = np.median(results[name]["curves"], axis=0)
        ax_b.plot(steps, median, color=f"C{i}", label=name, **style)
    ax_b.plot(steps, np.median(reference["curves"], axis=0), "k--", lw=1, label="initial θ")
    ax_b.set_yscale("log")
    ax_b.set_xlabel("inner step")
    ax_b.set_ylabel("full-batch training loss (median over test problems)")
    ax_b.set_title("(b) learning curves on held-out problems")
    ax_b.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


@register(
    "metz2019_fig8",
    "ablations: only g_rp, only ES, fixed truncations, no momentum / time features vs the full "
    "method (Fig. 8)",
)
def fig8(out: str, quick: bool, runs: str) -> list[str]:
    sizes = ABLATION_SIZES[quick]
    full = full_config(sizes)
    test = held_out_problems(full, TEST_STREAM, sizes.num_test_problems)
    runner = CurveRunner(sizes.run_length, RECORD)
    results = {}
    for name, override in variant_overrides(full, sizes.fixed_truncations).items():
        config = dataclasses.replace(full, **override)
        trained = train_variant(config, variant_logdir(runs, quick, name))
        scores = held_out_scores(trained.pop("rule"), runner, test)
        results[name] = {"override": override, **trained, **scores}
    reference = held_out_scores(initial_rule(full), runner, test)

    fig = _plot(pyplot(), results, reference, sizes.run_length)
    data = {
        "sizes": sizes._asdict(),
        "quick": quick,
        "full_config": dataclasses.asdict(full),
        "record": RECORD,
        "test_problem_seeds": [p.seed for p in test],
        "initial_theta": {k: v for k, v in reference.items() if k != "curves"},
        "variants": {
            name: {k: v for k, v in r.items() if k != "curves"} for name, r in results.items()
        },
    }
    arrays = {
        "initial_theta": reference["curves"],
        **{slug(name): r["curves"] for name, r in results.items()},
    }
    return save(out, "metz2019_fig8", fig, data, arrays)


__all__ = [
    "ABLATION_SIZES",
    "AblationSizes",
    "fig8",
    "full_config",
    "held_out_scores",
    "initial_rule",
    "inner_steps_per_run",
    "slug",
    "train_variant",
    "variant_logdir",
    "variant_overrides",
]
