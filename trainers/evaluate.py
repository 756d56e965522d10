r"""Evaluation: a learned rule against tuned hand-designed baselines on held-out problems.

    python -m trainers.evaluate --logdir=runs/quadratic_mlp

reads the run's `config.json` and `rule_weights.npz`, tunes each baseline's learning rate on
a log grid (11 values from 1e-4 to 10, seed 002 App. E) by the run's meta-objective
(`meta_loss` of the `record`ed losses) on `--num_tuning_problems` held-out samples, then runs
the learned rule, every tuned baseline and Adam at its default learning rate (1e-3) on
`--num_problems` other held-out samples, all through the same inner loop (`trainers.unroll`).
`--problem_kwargs` (JSON) changes the problem arguments of the evaluation (e.g.
`'{"pool": "test"}'` for the conv family's outer-test classes) and `--record` the loss
scored (`validation_loss` for the test loss; the inner training still uses training data).
The tuning is the grid mode of `trainers.baselines` (its scorer, XLA when the run used it),
the one tuning path of the package. It writes `results.md` (a table), `results.json` and
`loss_curves.png` to `--out` (default LOGDIR/eval). Figures build their comparisons from the
same pieces: `contenders` (the learned rule, default Adam, the tuned baselines) and
`CurveRunner` (their loss curves).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, NamedTuple, Sequence

import matplotlib
import numpy as np
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import load_rule_weights
from problems.base import Problem, as_seed
from trainers.baselines import (
    GRID_OPTIMIZERS,
    LEARNING_RATE_GRID,
    TEST_STREAM,
    SearchConfig,
    held_out_problems,
    random_search,
)
from trainers.meta_loss import meta_loss
from trainers.meta_train import CONFIG_FILE, WEIGHTS_FILE, MetaTrainConfig
from trainers.unroll import unroll_from_init

BASELINES = GRID_OPTIMIZERS
DEFAULT_ADAM_LEARNING_RATE = 1e-3


class CurveRunner:
    """Per-step losses of a rule on a problem; one compiled loop per (rule, signature).
    `record` is the loss recorded per step (`trainers.unroll`), the minibatch loss by default."""

    def __init__(self, num_steps: int, record: str = "gradient_loss") -> None:
        self.num_steps = int(num_steps)
        self.record = record
        self._compiled: dict[tuple, Callable] = {}

    def __call__(self, rule: UpdateRule, problem: Problem, seed: int) -> np.ndarray:
        key = (id(rule), problem.signature)
        if key not in self._compiled:

            def curve(tensors, seed):
                return unroll_from_init(
                    rule, problem, tensors, seed, self.num_steps, record=self.record
                ).losses

            self._compiled[key] = tf.function(curve)
        losses = self._compiled[key](problem.tensors, as_seed(seed)).numpy()
        return np.where(np.isfinite(losses), losses, np.inf)

    def curves(self, rule: UpdateRule, problems: Sequence[Problem]) -> np.ndarray:
        """The losses of `rule` on each problem from its own seed, [P, T]."""
        return np.stack([self(rule, p, p.seed) for p in problems])


def meta_losses(curves: Sequence[np.ndarray], kind: str) -> list[float]:
    """The meta-objective of each curve."""
    return [float(meta_loss(tf.constant(c), kind)) for c in curves]


@dataclasses.dataclass
class TunedBaseline:
    name: str
    learning_rate: float
    tuning_scores: dict[float, float]

    @property
    def on_grid_edge(self) -> bool:
        return self.learning_rate in (LEARNING_RATE_GRID[0], LEARNING_RATE_GRID[-1])


def tune_learning_rate(
    config: MetaTrainConfig, name: str, num_problems: int, cache_dir: str | None = None
) -> TunedBaseline:
    """The grid learning rate of baseline `name` with the best mean meta-objective of the
    task of `config` on `num_problems` tuning problems (`trainers.baselines`, grid mode;
    cached in `cache_dir` if given)."""
    search = SearchConfig(num_problems=num_problems, jit_compile=config.jit_compile, mode="grid")
    result = random_search(config, name, search, cache_dir)
    grid = result.grid["learning_rate"]
    scores = {grid[i]: score for (i,), score in zip(result.indices, result.scores)}
    return TunedBaseline(name, result.best["learning_rate"], scores)


class Contender(NamedTuple):
    """One optimizer of a comparison: its report label, its rule, the hyper-parameters the
    report shows and, for a learning-rate-tuned baseline, its tuning."""

    label: str
    rule: UpdateRule
    info: dict[str, Any]
    tuning: TunedBaseline | None = None


def contenders(
    config: MetaTrainConfig,
    weights: str,
    num_steps: int,
    num_tuning_problems: int,
    baselines: Sequence[str] = BASELINES,
    cache_dir: str | None = None,
) -> dict[str, Contender]:
    """The learned rule of `config` with the meta-parameters in `weights`, Adam at its default
    learning rate and every baseline with its learning rate tuned for `num_steps` steps of the
    task of `config`, keyed "learned", "adam_default" and by the baselines' names."""
    task = dataclasses.replace(config, unroll_steps=num_steps)
    learned = rules.get(config.rule, dtype=config.dtype, **config.rule_kwargs)
    load_rule_weights(learned, weights)
    default_adam = rules.get("adam", learning_rate=DEFAULT_ADAM_LEARNING_RATE, dtype=config.dtype)
    found = {
        "learned": Contender(f"learned {config.rule}", learned, {}),
        "adam_default": Contender(
            "adam (lr=1e-3, default)", default_adam, {"learning_rate": DEFAULT_ADAM_LEARNING_RATE}
        ),
    }
    for name in baselines:
        tuned = tune_learning_rate(task, name, num_tuning_problems, cache_dir)
        found[name] = Contender(
            f"{name} (tuned lr={tuned.learning_rate:.3g})",
            rules.get(name, learning_rate=tuned.learning_rate, dtype=config.dtype),
            {"learning_rate": tuned.learning_rate, "on_grid_edge": tuned.on_grid_edge},
            tuned,
        )
    return found


def evaluate(
    config: MetaTrainConfig,
    weights: str,
    num_steps: int,
    num_problems: int = 16,
    num_tuning_problems: int = 8,
    baselines: Sequence[str] = BASELINES,
    cache_dir: str | None = None,
) -> dict:
    """Runs the learned rule and the baselines; returns curves and a summary per optimizer,
    keyed by label; "optimizer" holds its key of `contenders` ("learned", "adam", ...). The
    learning-rate searches are cached in `cache_dir` if given."""
    runner = CurveRunner(num_steps, config.record)
    test = held_out_problems(config, TEST_STREAM, num_problems)
    results = {}
    for key, (label, rule, info, _) in contenders(
        config, weights, num_steps, num_tuning_problems, baselines, cache_dir
    ).items():
        curves = runner.curves(rule, test)
        per_problem = meta_losses(curves, config.meta_loss)
        results[label] = {
            "optimizer": key,
            **info,
            "meta_loss": float(np.mean(per_problem)),
            "meta_loss_per_problem": per_problem,
            "final_loss_median": float(np.median(curves[:, -1])),
            "curves": curves,
        }
    learned_scores = np.array(results[f"learned {config.rule}"]["meta_loss_per_problem"])
    for entry in results.values():
        entry["learned_wins"] = float(np.mean(learned_scores < np.array(entry["meta_loss_per_problem"])))
    return results


def _task_name(config: MetaTrainConfig) -> str:
    """The problem set, or the problem with its arguments."""
    return config.problem_set or f"{config.problem} {config.problem_kwargs or ''}".strip()


def write_report(results: dict, config: MetaTrainConfig, num_steps: int, out: str) -> None:
    """`results.md`, `results.json` and `loss_curves.png` in `out` (on the caller's
    matplotlib backend: the command line uses Agg)."""
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    n = len(next(iter(results.values()))["curves"])
    lines = [
        f"# {_task_name(config)}: {n} held-out problems, {num_steps} steps",
        "",
        f"| optimizer | meta-loss ({config.meta_loss}) | median final loss | learned better on |",
        "|---|---|---|---|",
    ]
    for label, r in results.items():
        edge = " (grid edge!)" if r.get("on_grid_edge") else ""
        wins = "—" if label.startswith("learned") else f"{100 * r['learned_wins']:.0f}%"
        lines.append(
            f"| {label}{edge} | {r['meta_loss']:.4f} | {r['final_loss_median']:.4g} | {wins} |"
        )
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(
            {k: {**v, "curves": v["curves"].tolist()} for k, v in results.items()},
            f,
            indent=1,
        )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, r in results.items():
        with np.errstate(divide="ignore"):
            geometric_mean = np.exp(np.mean(np.log(np.maximum(r["curves"], 1e-30)), axis=0))
        ax.plot(geometric_mean, label=label, lw=2.5 if label.startswith("learned") else 1.3)
    ax.set_yscale("log")
    ax.set_xlabel("inner step")
    ax.set_ylabel(f"loss (geometric mean over {n} problems)")
    ax.set_title(f"{_task_name(config)}: learned {config.rule} vs baselines (held-out problems)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss_curves.png"), dpi=120)
    plt.close(fig)
    print("\n".join(lines))


def evaluation_config(
    config: MetaTrainConfig, problem_kwargs: dict, record: str | None
) -> MetaTrainConfig:
    """The run's config with its problem arguments updated by `problem_kwargs` (e.g.
    `{"pool": "test"}`: the outer-test tasks of the conv family) and, if given, another
    `record` (e.g. "validation_loss": tune and score by the held-out-data loss, L_valid)."""
    changed = dataclasses.replace(
        config,
        problem_kwargs={**config.problem_kwargs, **problem_kwargs},
        record=record or config.record,
    )
    changed.validate()
    return changed


def main(argv: list[str]) -> None:
    from absl import flags

    del argv
    matplotlib.use("Agg")  # written to files, never shown
    f = flags.FLAGS
    config_path = os.path.join(f.logdir, CONFIG_FILE)
    if not os.path.exists(config_path):
        raise FileNotFoundError(
            f"No {CONFIG_FILE} in {f.logdir!r}: point --logdir at a directory written by "
            "`python -m trainers.meta_train --logdir=...`."
        )
    with open(config_path) as fh:
        config = MetaTrainConfig(**json.load(fh))
    config = evaluation_config(config, json.loads(f.problem_kwargs or "{}"), f.record)
    num_steps = f.steps or config.inner_length
    results = evaluate(
        config,
        f.weights or os.path.join(f.logdir, WEIGHTS_FILE),
        num_steps,
        f.num_problems,
        f.num_tuning_problems,
        f.baselines,
    )
    write_report(results, config, num_steps, f.out or os.path.join(f.logdir, "eval"))


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("logdir", None, "A meta-training log directory (config.json).")
    flags.DEFINE_string("weights", None, "Meta-parameter file; default LOGDIR/rule_weights.npz.")
    flags.DEFINE_integer("steps", None, "Inner steps; default the run's inner run length.")
    flags.DEFINE_integer("num_problems", 16, "Held-out test problem samples.")
    flags.DEFINE_integer("num_tuning_problems", 8, "Held-out samples for baseline tuning.")
    flags.DEFINE_list("baselines", list(BASELINES), "Baselines to tune.")
    flags.DEFINE_string("out", None, "Output directory; default LOGDIR/eval.")
    flags.DEFINE_string(
        "problem_kwargs", None, 'JSON updating the run\'s problem arguments, e.g. \'{"pool": "test"}\'.'
    )
    flags.DEFINE_string(
        "record", None, "Loss to score by (gradient_loss, full_batch_loss, validation_loss)."
    )
    flags.mark_flag_as_required("logdir")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
