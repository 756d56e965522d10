"""How a meta-step turns a batch of inner runs into one meta-gradient.

Each estimator is called as `estimator(runs, lengths, seeds) -> BatchEstimate`, where a run
is a (problem sample, `TaskState`) pair, so the meta-trainer never branches on which one it
holds (seed 002 Algorithm 1; ARCHITECTURE.md):

- `BPTTBatch`: truncated backpropagation (full BPTT when every truncation starts fresh),
  averaged over the batch; runs are dealt out over `tf.distribute` replicas.
- `VariationalBatch`: one antithetic (g_rp, g_es) sample per run, merged by inverse variance
  (eq. 1) or used alone (`use="rp"` / `"es"`); logs both estimators' variances (Fig. 4).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from problems.base import Problem
from trainers.distribute import replicated_map
from trainers.estimators import (
    AntitheticSampler,
    TaskState,
    TruncatedBPTT,
    merge_estimates,
    truncation_length,
)

Run = tuple[Problem, TaskState]


class BatchEstimate(NamedTuple):
    meta_losses: list[float]
    grads: list[tf.Tensor]
    tasks: list[TaskState]  # where each run's next truncation starts
    scalars: dict[str, float]  # extra values to log


class BPTTBatch:
    """Mean truncated-BPTT meta-gradient over the runs whose meta-loss is finite, one run
    per replica at a time (runs of several problem signatures: one replica)."""

    def __init__(self, estimator: TruncatedBPTT, strategy: tf.distribute.Strategy) -> None:
        self.estimator = estimator
        self.strategy = strategy

    def __call__(
        self, runs: Sequence[Run], lengths: Sequence[int], seeds: Sequence[int]
    ) -> BatchEstimate:
        del seeds  # deterministic given the runs
        inputs = [(p.tensors, *task, truncation_length(k)) for (p, task), k in zip(runs, lengths)]
        if self.strategy.num_replicas_in_sync == 1:  # each run through its signature's function
            outputs = [
                self.estimator.meta_gradient_fn(p)(*args) for (p, _), args in zip(runs, inputs)
            ]
        else:
            signatures = {p.signature for p, _ in runs}
            if len(signatures) > 1:
                raise ValueError(
                    f"A meta-batch over {self.strategy.num_replicas_in_sync} replicas needs one "
                    f"problem signature; this one has {len(signatures)} (a problem set). Use "
                    "--strategy=default for mixtures."
                )
            fn = self.estimator.meta_gradient_fn(runs[0][0])
            outputs = replicated_map(self.strategy, fn, inputs)
        meta_losses = [float(out[0]) for out in outputs]
        # A run whose meta-loss is not finite (diverged, see `truncation_status`) is dropped.
        kept = [out[1] for out, loss in zip(outputs, meta_losses) if math.isfinite(loss)]
        if kept:
            grads = [tf.add_n(list(g)) / len(kept) for g in zip(*kept)]
        else:
            grads = [tf.zeros_like(g) for g in outputs[0][1]]
        tasks = [
            task.advanced(out[2], out[3], k) for out, (_, task), k in zip(outputs, runs, lengths)
        ]
        return BatchEstimate(meta_losses, grads, tasks, {})


class VariationalBatch:
    """Merged (or single) variational estimate over one antithetic sample per run."""

    def __init__(self, sampler: AntitheticSampler, use: str = "merged") -> None:
        self.sampler = sampler
        self.use = use

    def __call__(
        self, runs: Sequence[Run], lengths: Sequence[int], seeds: Sequence[int]
    ) -> BatchEstimate:
        samples = [
            self.sampler(problem, task, k, seed)
            for (problem, task), k, seed in zip(runs, lengths, seeds)
        ]
        merged = merge_estimates([s.g_rp for s in samples], [s.g_es for s in samples], self.use)

        def log10_mean(variances: list[tf.Tensor]) -> float:
            flat = np.concatenate([v.numpy().astype(np.float64).ravel() for v in variances])
            return float(np.log10(max(flat.mean(), 1e-300)))

        scalars = {  # log10 of the per-coordinate variance averaged over coordinates (Fig. 4)
            "variance/log10_rp": log10_mean(merged.variance_rp),
            "variance/log10_es": log10_mean(merged.variance_es),
        }
        return BatchEstimate(
            [float(s.meta_loss) for s in samples], merged.grads, [s.task for s in samples], scalars
        )
