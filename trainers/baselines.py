r"""Tuning of the hand-designed baselines: random search (dynamics paper App. D.3, Figs. 9-12;
Metz et al. 2019 App. E) and learning-rate grid (Metz et al. 2019 §4.4).

    python -m trainers.baselines --preset=dynamics_linear_regression --cache=runs/baselines
    python -m trainers.baselines --preset=... --optimizers=adam_reg_decay --record=validation_loss
    python -m trainers.baselines --preset=... --mode=grid --optimizers=adam,rmsprop,momentum

For one task (a meta-training config: problem family, unroll length, meta-objective) and one
search space (`SPACES`: a rule and one axis of values per hyper-parameter), `random_search`
scores hyper-parameter combinations and keeps them all in a `SearchResult`:

- mode "random" draws `num_samples` distinct combinations of the space's axes; the default
  count is the space's (2 500 for the dynamics paper's momentum (α, β), RMSProp (α, γ) and
  Adam (α, β1, β2); 2 000 for Adam+Reg+Decay and 1 000 for the RMSProp and SGD+momentum
  variants of Metz et al. 2019 App. E).
- mode "grid" tries every point of the learning-rate grid `LEARNING_RATE_GRID` (11
  log-spaced values from 1e-4 to 10, seed 002 App. E) of adam, rmsprop, momentum or sgd,
  their other hyper-parameters at the rule's defaults. `trainers.evaluate` tunes its
  baselines this way, so there is one tuning path.

A combination's score is the task's meta-objective (`config.meta_loss`, mean or log, per
sample) of the recorded per-step losses (`config.record`: the training minibatch loss, the
full-batch loss, or the validation loss, i.e. L_train or L_valid of Metz et al. 2019), each
sample unrolled for `config.unroll_steps` steps, averaged over `num_problems` problems of the
task's tuning stream (held-out seeds disjoint from meta-training's and from evaluation's
test problems, `TUNING_STREAM`). A diverging run scores inf. The best combination must not
sit on an axis' edge (App. D.3): `SearchResult.edge` names the hyper-parameters whose best
value is an end of their axis, and the search logs a warning; an end at 0 (the term switched
off) and the ends of a yes/no axis (Nesterov) are natural bounds, not edges.

Compilation: the samples of one signature are stacked and mapped over (`tf.map_fn`) by one
compiled function per rule (XLA by default), each sample unrolled on its own by the one
inner loop (`trainers.unroll`), so the meta-objective is per sample (the log objective is not
linear in the losses) and problems that transform their gradients can be tuned. Measured
against unrolling the stacked samples as one problem (2 CPU cores, XLA, 32 problems x 200
steps): 5.1 vs 1.8 ms per combination on linear regression, 271 vs 235 ms on two moons, and
a quarter of the compile time (4.7 vs 20.7 s on two moons). Hyper-parameters held as weights
by the rule (learning rate, decays, ε, schedule and regularization coefficients) are
assigned before a call, so nothing is retraced; a discrete choice (Nesterov on/off) is a
constructor argument, one rule and one trace per value. Under XLA the stateless random draws
(initial parameters) differ from TensorFlow's kernels: the tuning set is another sample of
the same distribution.

Results are cached as JSON in `cache_dir`, one file per task, space, mode and search config
(the file name holds a hash of all of them and of the space's axes), and reloaded instead of
rerun. The tuned rule of a result is `space(name, mode).rule_for(result.best, dtype)`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import time
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from problems.base import Problem, as_seed, fold_in
from trainers.meta_loss import meta_loss
from trainers.meta_train import MetaTrainConfig, problem_seed, sample_problem
from trainers.unroll import unroll

# Problem streams of `problem_seed(..., held_out=True)`: step 0 is the meta-trainer's
# held-out set; tuning uses step 1 and evaluation tests on step 2, so the three are disjoint.
TUNING_STREAM, TEST_STREAM = 1, 2

LEARNING_RATE_GRID = tuple(float(x) for x in np.geomspace(1e-4, 10.0, 11))
GRID_OPTIMIZERS = ("adam", "rmsprop", "momentum", "sgd")
MODES = ("random", "grid")


def _decays(smallest_gap: float, count: int) -> np.ndarray:
    """Decay rates 1 − d for d log-spaced from 0.9 down to `smallest_gap` (0.1 … 1 − gap)."""
    return 1.0 - np.geomspace(0.9, smallest_gap, count)


def _off_or_log(low: float, high: float, per_decade: int = 4) -> np.ndarray:
    """0 (the term off), then `per_decade` log-spaced values per decade from low to high."""
    count = round(per_decade * math.log10(high / low)) + 1
    return np.concatenate([[0.0], np.geomspace(low, high, count)])


_LEARNING_RATES = np.geomspace(1e-6, 10.0, 71)  # 10 per decade
# Every grid axis, per optimizer, by constructor argument name (**choice**: App. D.3 does not
# give the grids). Decays run from 0.1 to 1 − 1e-4 (β2 to 1 − 1e-5), 40 points each.
GRIDS: dict[str, dict[str, np.ndarray]] = {
    "momentum": {"learning_rate": _LEARNING_RATES, "momentum": _decays(1e-4, 40)},
    "rmsprop": {"learning_rate": _LEARNING_RATES, "rho": _decays(1e-4, 40)},
    "adam": {
        "learning_rate": _LEARNING_RATES,
        "beta_1": _decays(1e-4, 40),
        "beta_2": _decays(1e-5, 40),
    },
}
OPTIMIZERS = tuple(GRIDS)

# The extra axes of the Reg+Decay spaces (**choice**: App. E gives neither ranges nor
# distributions). ε log-spaced 1e-10 … 1 (4 per decade); the decay coefficients λ_exp, λ_lin
# of `l2o_tf.rules.hand_designed` 0 or 1e-6 … 1e-2 (1e-2 stops a linear schedule after 100
# steps, 1e-6 barely moves it in 10k); l1, l2 0 or 1e-8 … 0.1 (4 per decade).
_EPSILONS = np.geomspace(1e-10, 1.0, 41)
_SCHEDULE = {
    "exponential_decay": _off_or_log(1e-6, 1e-2),
    "linear_decay": _off_or_log(1e-6, 1e-2),
}
_REGULARIZATION = {"l1": _off_or_log(1e-8, 0.1), "l2": _off_or_log(1e-8, 0.1)}


@dataclasses.dataclass(frozen=True)
class Space:
    """A search space.

    Args:
        rule: registry name of the hand-designed rule.
        axes: the values tried, per hyper-parameter (constructor argument name), increasing.
        num_samples: the default number of random combinations.
        rule_kwargs: fixed constructor arguments (e.g. `tune_epsilon=True` to search ε).
    """

    rule: str
    axes: dict[str, np.ndarray]
    num_samples: int
    rule_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis) for axis in self.axes.values())

    def rule_for(self, values: dict[str, Any], dtype: str = "float32") -> UpdateRule:
        """The rule at the hyper-parameters `values` (e.g. a search's best point)."""
        return rules.get(self.rule, dtype=dtype, **self.rule_kwargs, **values)


SPACES: dict[str, Space] = {
    **{name: Space(name, axes, 2500) for name, axes in GRIDS.items()},
    "adam_reg_decay": Space(
        "adam",
        {**GRIDS["adam"], "epsilon": _EPSILONS, **_SCHEDULE, **_REGULARIZATION},
        2000,
        {"tune_epsilon": True},
    ),
    "rmsprop_reg_decay": Space(
        "rmsprop",
        {**GRIDS["rmsprop"], "epsilon": _EPSILONS, **_SCHEDULE, **_REGULARIZATION},
        1000,
        {"tune_epsilon": True},
    ),
    "momentum_reg_decay": Space(
        "momentum",
        {
            **GRIDS["momentum"],
            "nesterov": np.array([False, True]),
            **_SCHEDULE,
            **_REGULARIZATION,
        },
        1000,
    ),
}


def space(name: str, mode: str = "random") -> Space:
    """The space `name` of `mode`: one of `SPACES` (random), or the learning-rate grid of a
    rule in `GRID_OPTIMIZERS` (grid)."""
    if mode == "grid" and name in GRID_OPTIMIZERS:
        grid = np.array(LEARNING_RATE_GRID)
        return Space(name, {"learning_rate": grid}, len(grid))
    if mode == "random" and name in SPACES:
        return SPACES[name]
    if mode not in MODES:
        raise ValueError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
    names = GRID_OPTIMIZERS if mode == "grid" else tuple(SPACES)
    raise ValueError(
        f"Unknown search space {name!r} for mode {mode!r}; use one of {', '.join(names)}."
    )


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """How a search runs.

    Args:
        num_samples: distinct combinations tried in random mode. Default None: the space's
            count (2 500, App. D.3; 2 000 or 1 000, App. E). Grid mode tries every point
            and needs None.
        num_problems: tuning problems each combination is scored on. Default 32 (the
            meta-batch of the training recipe).
        seed: draws the combinations and the problems' initial parameters.
        jit_compile: compile the unrolls with XLA (fast runs, ~5-10 s compile). Default True.
        mode: "random" (default) or "grid".
    """

    num_samples: int | None = None
    num_problems: int = 32
    seed: int = 0
    jit_compile: bool = True
    mode: str = "random"

    def resolved(self, space: Space) -> SearchConfig:
        """This config with the number of combinations that will be tried."""
        if self.mode == "grid":
            if self.num_samples is not None:
                raise ValueError("A grid search tries every point; leave num_samples at None.")
            return dataclasses.replace(self, num_samples=int(np.prod(space.shape)))
        if self.num_samples is None:
            return dataclasses.replace(self, num_samples=space.num_samples)
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}.")
        return self


QUICK_SEARCH = SearchConfig(num_samples=16, num_problems=4, jit_compile=False)


def held_out_problems(config: MetaTrainConfig, stream: int, count: int) -> list[Problem]:
    """The first `count` problems of held-out `stream` of the task of `config`."""
    return [
        sample_problem(config, problem_seed(config, stream, i, held_out=True))
        for i in range(count)
    ]


def tuning_problems(config: MetaTrainConfig, count: int) -> list[Problem]:
    return held_out_problems(config, TUNING_STREAM, count)


class Scorer:
    """The mean meta-objective of `rule` over `problems` on the task of `config`.

    Sample i starts from `init_params(fold_in(fold_in(seed, 0), i))` of its family, with
    rule state `rule.init(params, fold_in(fold_in(seed, 2), i))`; minibatches and gradient
    noise use `fold_in(seed, 1)` for every sample. Each sample is unrolled for
    `config.unroll_steps` steps recording `config.record`, and scored by `config.meta_loss`;
    the score is the mean over samples, inf when any diverged. Samples of one signature
    share one compiled function (samples of a family whose shapes vary form several).

    Args:
        rule: the rule; hyper-parameters assigned to its weights between calls are used
            without retracing.
        problems: the tuning problems.
        config: the task (`unroll_steps`, `meta_loss`, `record`).
        seed: the seed above.
        jit_compile: compile with XLA.
    """

    def __init__(
        self,
        rule: UpdateRule,
        problems: Sequence[Problem],
        config: MetaTrainConfig,
        seed: int,
        jit_compile: bool,
    ) -> None:
        self.rule = rule
        self.config = config
        self.seed = as_seed(seed)
        by_signature: dict[tuple, list[int]] = {}
        for i, problem in enumerate(problems):
            by_signature.setdefault(problem.signature, []).append(i)
        self.groups = []  # (compiled function, stacked tensors [S, ...], sample indices [S])
        for members in by_signature.values():
            family = problems[members[0]]
            stacked = {
                k: tf.stack([problems[i].tensors[k] for i in members]) for k in family.tensors
            }
            compiled = tf.function(
                functools.partial(self.sample_meta_losses, family), jit_compile=jit_compile
            )
            self.groups.append((compiled, stacked, tf.constant(members, tf.int64)))

    def sample_meta_losses(
        self, family: Problem, tensors: dict[str, tf.Tensor], indices: tf.Tensor, seed: tf.Tensor
    ) -> tf.Tensor:
        """The meta-objective of each stacked sample of `family`, [S]."""

        def one(sample):
            tensors, index = sample
            params = family.init_params(fold_in(fold_in(seed, 0), index))
            state = self.rule.init(params, fold_in(fold_in(seed, 2), index))
            losses = unroll(
                self.rule,
                family,
                tensors,
                params,
                state,
                fold_in(seed, 1),
                self.config.unroll_steps,
                record=self.config.record,
            ).losses
            return meta_loss(losses, self.config.meta_loss)

        return tf.map_fn(one, (tensors, indices), fn_output_signature=family.dtype)

    def __call__(self) -> float:
        values = np.concatenate(
            [fn(tensors, indices, self.seed).numpy() for fn, tensors, indices in self.groups]
        )
        return float(np.mean(values)) if np.all(np.isfinite(values)) else math.inf


def _is_bound(value: Any) -> bool:
    """An axis end that cannot be widened: 0 (the term off) or a yes/no value."""
    return isinstance(value, bool) or value == 0


@dataclasses.dataclass
class SearchResult:
    """One search: what was tried and how it scored.

    Attributes:
        optimizer: the space's name ("adam", "adam_reg_decay", ...).
        task: the meta-training config fields that define the task (problem, kwargs,
            unroll length, meta-objective, recorded loss, dtype).
        search: the `SearchConfig` fields (mode and number of combinations resolved).
        grid: the axis values, per hyper-parameter.
        indices: grid indices of every sample, [S, d].
        scores: meta-objective of every sample (inf when it diverged), [S].
    """

    optimizer: str
    task: dict[str, Any]
    search: dict[str, Any]
    grid: dict[str, list[Any]]
    indices: list[list[int]]
    scores: list[float]

    @property
    def names(self) -> list[str]:
        return list(self.grid)

    @property
    def best_index(self) -> list[int]:
        return self.indices[int(np.argmin(self.scores))]

    @property
    def best(self) -> dict[str, Any]:
        """The best hyper-parameters, by constructor argument name."""
        return {n: self.grid[n][i] for n, i in zip(self.names, self.best_index)}

    @property
    def best_score(self) -> float:
        return float(np.min(self.scores))

    @property
    def edge(self) -> list[str]:
        """Hyper-parameters whose best value is the first or last of its axis (ends that are
        natural bounds, 0 or a yes/no value, excepted)."""
        return [
            n
            for n, i in zip(self.names, self.best_index)
            if i in (0, len(self.grid[n]) - 1) and not _is_bound(self.grid[n][i])
        ]

    def values(self) -> np.ndarray:
        """The hyper-parameters of every sample, [S, d]."""
        return np.array(
            [[self.grid[n][i] for n, i in zip(self.names, row)] for row in self.indices]
        )

    def summary(self) -> dict[str, Any]:
        return {"best": self.best, "best_score": self.best_score, "on_grid_edge": self.edge}


def task_fields(config: MetaTrainConfig) -> dict[str, Any]:
    """What defines a task for tuning: the fields of `config` the score depends on."""
    fields = ("problem", "problem_kwargs", "unroll_steps", "meta_loss", "record", "dtype", "seed")
    task = {name: getattr(config, name) for name in fields}
    if config.problem_set:  # a set replaces the problem (added so older cache keys hold)
        task["problem_set"] = config.problem_set
    return task


def cache_path(
    config: MetaTrainConfig, optimizer: str, search: SearchConfig, cache_dir: str
) -> str:
    """The cache file of a search; `search` as resolved by `SearchConfig.resolved`."""
    searched = space(optimizer, search.mode)
    key = {
        "task": task_fields(config),
        "optimizer": optimizer,
        "search": dataclasses.asdict(search),
        "rule": searched.rule,
        "rule_kwargs": searched.rule_kwargs,
        "grid": {n: v.tolist() for n, v in searched.axes.items()},
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    task = config.problem_set or config.problem
    return os.path.join(cache_dir, f"{task}_{optimizer}_{search.mode}_{digest}.json")


def random_search(
    config: MetaTrainConfig,
    optimizer: str,
    search: SearchConfig = SearchConfig(),
    cache_dir: str | None = None,
    verbose: bool = False,
) -> SearchResult:
    """The search of space `optimizer` in `search.mode` on the task of `config` (module
    docstring); read from `cache_dir` when it holds this search, written there otherwise."""
    search = search.resolved(space(optimizer, search.mode))
    path = cache_path(config, optimizer, search, cache_dir) if cache_dir else None
    if path and os.path.exists(path):
        with open(path) as f:
            result = SearchResult(**json.load(f))
    else:
        result = _run_search(config, optimizer, search, verbose)
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            with open(path, "w") as f:
                json.dump(dataclasses.asdict(result), f)
    if result.edge:
        logging.warning(
            "%s on %s: the best point %s lies on the grid's edge in %s; widen the grid.",
            optimizer,
            config.problem,
            result.best,
            ", ".join(result.edge),
        )
    return result


def _sample_indices(searched: Space, search: SearchConfig) -> np.ndarray:
    """Grid indices of the combinations tried, [S, d]: all in order (grid) or distinct
    random ones (random)."""
    total = int(np.prod(searched.shape))
    if search.mode == "grid":
        flat = np.arange(total)
    else:
        rng = np.random.default_rng(search.seed)
        flat = rng.choice(total, size=min(search.num_samples, total), replace=False)
    return np.stack(np.unravel_index(flat, searched.shape), axis=1)


def _run_search(
    config: MetaTrainConfig, optimizer: str, search: SearchConfig, verbose: bool
) -> SearchResult:
    searched = space(optimizer, search.mode)
    grid = {n: axis.tolist() for n, axis in searched.axes.items()}
    indices = _sample_indices(searched, search)
    problems = tuning_problems(config, search.num_problems)
    # Hyper-parameters the rule holds as weights are assigned; the others (discrete choices)
    # are constructor arguments: one rule, and one scorer, per combination of their values.
    weights = searched.rule_for({n: axis[0] for n, axis in grid.items()}).hyper_parameter_names
    scorers: dict[tuple, Scorer] = {}
    scores, start = [], time.perf_counter()
    progbar = keras.utils.Progbar(
        len(indices), verbose=1 if verbose else 0, stateful_metrics=["best"]
    )
    for row in indices:
        values = {n: grid[n][i] for n, i in zip(grid, row)}
        discrete = tuple((n, v) for n, v in values.items() if n not in weights)
        if discrete not in scorers:
            rule = searched.rule_for(values, config.dtype)
            scorers[discrete] = Scorer(rule, problems, config, search.seed, search.jit_compile)
        scorer = scorers[discrete]
        scorer.rule.set_hyper_parameters({n: v for n, v in values.items() if n in weights})
        scores.append(scorer())
        progbar.update(len(scores), [("best", min(scores))])
    if verbose:
        print(
            f"{optimizer} ({search.mode}) on {config.problem}: {len(indices)} samples x "
            f"{len(problems)} problems in {time.perf_counter() - start:.1f} s"
        )
    return SearchResult(
        optimizer=optimizer,
        task=task_fields(config),
        search=dataclasses.asdict(search),
        grid=grid,
        indices=indices.tolist(),
        scores=scores,
    )


def main(argv: list[str]) -> None:
    from absl import flags

    from trainers.presets import get_preset

    del argv
    f = flags.FLAGS
    config = get_preset(f.preset)
    if f.record:
        config = dataclasses.replace(config, record=f.record)
    search = SearchConfig(f.num_samples, f.num_problems, f.seed, f.jit_compile, f.mode)
    for optimizer in f.optimizers:
        result = random_search(config, optimizer, search, f.cache, verbose=True)
        print(json.dumps({"optimizer": optimizer, "mode": f.mode, **result.summary()}))


def _define_flags() -> None:
    from absl import flags

    from trainers.unroll import RECORDS

    defaults = SearchConfig()
    flags.DEFINE_string("preset", None, "The task: a preset of trainers/presets.py.")
    flags.DEFINE_list(
        "optimizers",
        list(OPTIMIZERS),
        f"Spaces to search: {', '.join(SPACES)} (random); {', '.join(GRID_OPTIMIZERS)} (grid).",
    )
    flags.DEFINE_enum("mode", defaults.mode, list(MODES), "Random search or learning-rate grid.")
    flags.DEFINE_integer(
        "num_samples", defaults.num_samples, "Random combinations tried; default the space's."
    )
    flags.DEFINE_integer("num_problems", defaults.num_problems, "Tuning problems.")
    flags.DEFINE_integer("seed", defaults.seed, "Seed of the combinations and problems.")
    flags.DEFINE_bool("jit_compile", defaults.jit_compile, "Compile the unroll with XLA.")
    flags.DEFINE_enum(
        "record", None, list(RECORDS), "Recorded loss (L_train or L_valid); default the preset's."
    )
    flags.DEFINE_string("cache", "runs/baselines", "Directory of cached search results.")
    flags.mark_flag_as_required("preset")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
