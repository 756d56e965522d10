r"""Random-search tuning of the hand-designed baselines (dynamics paper App. D.3, Figs. 9-12).

    python -m trainers.baselines --preset=dynamics_linear_regression --cache=runs/baselines

For one task (a meta-training config: problem family, unroll length, meta-objective) and one
optimizer — momentum (α, β), RMSProp (α, γ) or Adam (α, β1, β2) — `random_search` draws
`num_samples` (2 500) distinct combinations from the optimizer's grid (`GRIDS`) and scores
each by the meta-objective of the training recipe, the mean training loss over the unroll,
averaged over `num_problems` problems of the task's tuning stream (held-out seeds disjoint
from meta-training's, `trainers.evaluate.TUNING_STREAM`). A diverging run scores inf. The
best combination must not sit on the grid's edge (App. D.3): `SearchResult.edge` names the
hyper-parameters whose best value is an end of their axis, and the search logs a warning.

Vectorization: the `num_problems` samples are stacked into one `ProblemBatch` (a problem of
stacked parameters whose loss is the sum of the samples' losses; the baselines act
element-wise, so the samples do not interact), unrolled by the one inner loop
(`trainers.unroll`) inside one compiled function per optimizer (XLA by default); each
combination is assigned to the rule's hyper-parameter weights (`log_learning_rate`,
`<name>_logit`) before a call, so nothing is retraced. Under XLA the stateless random
draws (initial parameters) differ from TensorFlow's kernels: the tuning set is another
sample of the same distribution.

Results are cached as JSON in `cache_dir`, one file per task, optimizer and search config
(the file name holds a hash of all of them and of the grid), and reloaded instead of rerun.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from problems.base import Batch, Problem, as_seed, fold_in
from trainers.evaluate import TUNING_STREAM
from trainers.meta_loss import meta_loss
from trainers.meta_train import MetaTrainConfig, problem_seed, sample_problem
from trainers.unroll import unroll_from_init


def _decays(smallest_gap: float, count: int) -> np.ndarray:
    """Decay rates 1 − d for d log-spaced from 0.9 down to `smallest_gap` (0.1 … 1 − gap)."""
    return 1.0 - np.geomspace(0.9, smallest_gap, count)


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


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """How a random search runs.

    Args:
        num_samples: distinct grid combinations tried. Default 2 500 (App. D.3).
        num_problems: tuning problems each combination is scored on. Default 32 (the
            meta-batch of the training recipe).
        seed: draws the combinations.
        jit_compile: compile the unroll with XLA (fast runs, ~10 s compile). Default True.
    """

    num_samples: int = 2500
    num_problems: int = 32
    seed: int = 0
    jit_compile: bool = True


QUICK_SEARCH = SearchConfig(num_samples=16, num_problems=4, jit_compile=False)


class ProblemBatch(Problem):
    """`samples` of one family (one signature) as one problem: parameters stacked on a new
    leading axis, loss the sum of the samples' losses (so each sample's gradient is its own).

    Sample i starts from `init_params(fold_in(seed, i))` of the family; minibatches, if
    any, follow the same indices for every sample.
    """

    def __init__(self, samples: Sequence[Problem]) -> None:
        first = samples[0]
        if any(s.signature != first.signature for s in samples):
            raise ValueError("A ProblemBatch needs samples of one signature (family and shapes).")
        if type(first).transform_gradients is not Problem.transform_gradients:
            raise ValueError(
                f"{first.name} transforms its gradients; a ProblemBatch cannot stack it."
            )
        super().__init__(
            seed=first.seed, gradient_noise=first.gradient_noise, dtype=first.dtype.name
        )
        self.name = f"{first.name}_batch"
        self.family = first
        self.size = len(samples)
        self.tensors = {k: tf.stack([s.tensors[k] for s in samples]) for k in first.tensors}
        self._data_free = first.full_batch(first.tensors) is None

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.size, *shape) for shape in self.family.param_shapes]

    def _static_config(self) -> tuple:
        return (self.family.signature,)

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        samples = [self.family.init_params(fold_in(seed, i)) for i in range(self.size)]
        return [tf.stack(tensors) for tensors in zip(*samples)]

    def batch_fn(self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor) -> Batch:
        if self._data_free:
            return None
        return tf.vectorized_map(lambda t: self.family.batch_fn(t, step, seed), tensors)

    def full_batch(self, tensors: dict[str, tf.Tensor]) -> Batch:
        if self._data_free:
            return None
        return tf.vectorized_map(self.family.full_batch, tensors)

    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        def sample_loss(sample):
            tensors, params, batch = sample
            return self.family.loss_fn(tensors, params, None if self._data_free else batch)

        samples = (tensors, list(params), () if batch is None else batch)
        return tf.reduce_sum(tf.vectorized_map(sample_loss, samples))


def set_hyperparameters(rule: UpdateRule, values: dict[str, float]) -> None:
    """Assigns hyper-parameters (constructor names) to a hand-designed rule's weights:
    the learning rate as log α, decays as logits."""
    for name, value in values.items():
        if name == "learning_rate":
            rule.log_learning_rate.assign(math.log(value))
        else:
            getattr(rule, f"{name}_logit").assign(math.log(value / (1.0 - value)))


@dataclasses.dataclass
class SearchResult:
    """One random search: what was tried and how it scored.

    Attributes:
        optimizer: "momentum", "rmsprop" or "adam".
        task: the meta-training config fields that define the task (problem, kwargs,
            unroll length, meta-objective, dtype).
        search: the `SearchConfig` fields.
        grid: the axis values, per hyper-parameter.
        indices: grid indices of every sample, [S, d].
        scores: meta-objective of every sample (inf when it diverged), [S].
    """

    optimizer: str
    task: dict[str, Any]
    search: dict[str, Any]
    grid: dict[str, list[float]]
    indices: list[list[int]]
    scores: list[float]

    @property
    def names(self) -> list[str]:
        return list(self.grid)

    @property
    def best_index(self) -> list[int]:
        return self.indices[int(np.argmin(self.scores))]

    @property
    def best(self) -> dict[str, float]:
        """The best hyper-parameters, by constructor argument name."""
        return {n: self.grid[n][i] for n, i in zip(self.names, self.best_index)}

    @property
    def best_score(self) -> float:
        return float(np.min(self.scores))

    @property
    def edge(self) -> list[str]:
        """Hyper-parameters whose best value is the first or last of its grid axis."""
        return [n for n, i in zip(self.names, self.best_index) if i in (0, len(self.grid[n]) - 1)]

    def values(self) -> np.ndarray:
        """The hyper-parameters of every sample, [S, d]."""
        return np.array(
            [[self.grid[n][i] for n, i in zip(self.names, row)] for row in self.indices]
        )

    def summary(self) -> dict[str, Any]:
        return {"best": self.best, "best_score": self.best_score, "on_grid_edge": self.edge}


def task_fields(config: MetaTrainConfig) -> dict[str, Any]:
    """What defines a task for tuning: the fields of `config` the score depends on."""
    fields = ("problem", "problem_kwargs", "unroll_steps", "meta_loss", "dtype", "seed")
    return {name: getattr(config, name) for name in fields}


def cache_path(
    config: MetaTrainConfig, optimizer: str, search: SearchConfig, cache_dir: str
) -> str:
    key = {
        "task": task_fields(config),
        "optimizer": optimizer,
        "search": dataclasses.asdict(search),
        "grid": {n: v.tolist() for n, v in GRIDS[optimizer].items()},
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return os.path.join(cache_dir, f"{config.problem}_{optimizer}_{digest}.json")


def tuning_problems(config: MetaTrainConfig, count: int) -> list[Problem]:
    return [
        sample_problem(config, problem_seed(config, TUNING_STREAM, i, held_out=True))
        for i in range(count)
    ]


def random_search(
    config: MetaTrainConfig,
    optimizer: str,
    search: SearchConfig = SearchConfig(),
    cache_dir: str | None = None,
    verbose: bool = False,
) -> SearchResult:
    """The random search of `optimizer` on the task of `config` (module docstring); read
    from `cache_dir` when it holds this search, written there otherwise."""
    if optimizer not in GRIDS:
        raise ValueError(f"Unknown baseline {optimizer!r}; use one of {', '.join(OPTIMIZERS)}.")
    if config.meta_loss != "mean":
        raise ValueError(
            f"The search scores the mean training loss (App. D.3); the config asks for "
            f"meta_loss={config.meta_loss!r}."
        )
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


def _run_search(
    config: MetaTrainConfig, optimizer: str, search: SearchConfig, verbose: bool
) -> SearchResult:
    grid = GRIDS[optimizer]
    shape = tuple(len(axis) for axis in grid.values())
    total = int(np.prod(shape))
    rng = np.random.default_rng(search.seed)
    flat = rng.choice(total, size=min(search.num_samples, total), replace=False)
    indices = np.stack(np.unravel_index(flat, shape), axis=1)  # [S, d]
    batch = ProblemBatch(tuning_problems(config, search.num_problems))
    rule = rules.get(optimizer, dtype=config.dtype)

    @tf.function(jit_compile=search.jit_compile)
    def score(tensors, seed):
        losses = unroll_from_init(rule, batch, tensors, seed, config.unroll_steps).losses
        return meta_loss(losses, "mean") / batch.size  # the mean over samples (mean is linear)

    seed = as_seed(search.seed)
    scores, start = [], time.perf_counter()
    for row in indices:
        set_hyperparameters(rule, {n: float(grid[n][i]) for n, i in zip(grid, row)})
        value = float(score(batch.tensors, seed))
        scores.append(value if math.isfinite(value) else math.inf)
    if verbose:
        print(
            f"{optimizer} on {config.problem}: {len(indices)} samples x {batch.size} problems "
            f"in {time.perf_counter() - start:.1f} s"
        )
    return SearchResult(
        optimizer=optimizer,
        task=task_fields(config),
        search=dataclasses.asdict(search),
        grid={n: axis.tolist() for n, axis in grid.items()},
        indices=indices.tolist(),
        scores=scores,
    )


def main(argv: list[str]) -> None:
    from absl import flags

    from trainers.presets import get_preset

    del argv
    f = flags.FLAGS
    config = get_preset(f.preset)
    search = SearchConfig(f.num_samples, f.num_problems, f.seed, f.jit_compile)
    for optimizer in f.optimizers:
        result = random_search(config, optimizer, search, f.cache, verbose=True)
        print(json.dumps({"optimizer": optimizer, **result.summary()}))


def _define_flags() -> None:
    from absl import flags

    defaults = SearchConfig()
    flags.DEFINE_string("preset", None, "The task: a preset of trainers/presets.py.")
    flags.DEFINE_list("optimizers", list(OPTIMIZERS), "Baselines to tune.")
    flags.DEFINE_integer("num_samples", defaults.num_samples, "Grid combinations tried.")
    flags.DEFINE_integer("num_problems", defaults.num_problems, "Tuning problems.")
    flags.DEFINE_integer("seed", defaults.seed, "Seed of the sampled combinations.")
    flags.DEFINE_bool("jit_compile", defaults.jit_compile, "Compile the unroll with XLA.")
    flags.DEFINE_string("cache", "runs/baselines", "Directory of cached search results.")
    flags.mark_flag_as_required("preset")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
