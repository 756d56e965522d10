"""Meta-batches over `tf.distribute` replicas.

A meta-step's problem samples are dealt out one per replica (`MirroredStrategy` over local
GPUs or logical CPUs; `TPUStrategy` follows the same path): every replica unrolls its own
sample with the replica-local copy of the rule's meta-parameters, and the meta-gradients are
averaged with an all-reduce. With the default strategy (one replica) this is a plain loop.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from problems.base import Problem, as_seed
from trainers.estimators import FullUnroll

STRATEGIES = ("default", "mirrored")


def make_strategy(name: str, cpu_replicas: int = 0) -> tf.distribute.Strategy:
    """`"default"` (no distribution) or `"mirrored"` over the local accelerators; with no
    accelerator, `cpu_replicas` > 1 splits the CPU into that many logical devices (it must
    be called before TensorFlow initializes its devices)."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if cpu_replicas > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
        )
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])
    return tf.distribute.MirroredStrategy()


def mean_meta_gradient(
    strategy: tf.distribute.Strategy,
    estimator: FullUnroll,
    batch: Sequence[Problem],
    seeds: Sequence[int],
) -> tuple[list[float], list[tf.Tensor]]:
    """The per-sample meta-losses and the mean meta-gradient over `batch`.

    The batch size must be a multiple of the number of replicas, and all samples must share
    one signature when there is more than one replica.
    """
    replicas = strategy.num_replicas_in_sync
    if len(batch) % replicas:
        raise ValueError(
            f"meta_batch {len(batch)} is not a multiple of the {replicas} replicas; "
            f"use --meta_batch={replicas * max(1, len(batch) // replicas)}."
        )
    losses, total = [], None
    for start in range(0, len(batch), replicas):
        chunk, chunk_seeds = batch[start : start + replicas], seeds[start : start + replicas]
        if replicas == 1:
            loss, grads = estimator(chunk[0], chunk_seeds[0])
            chunk_losses = [float(loss)]
        else:
            inputs = strategy.experimental_distribute_values_from_function(
                lambda ctx: (
                    chunk[ctx.replica_id_in_sync_group].tensors,
                    as_seed(chunk_seeds[ctx.replica_id_in_sync_group]),
                )
            )
            loss, grads = strategy.run(estimator.meta_gradient_fn(chunk[0]), args=inputs)
            chunk_losses = [float(x) for x in strategy.experimental_local_results(loss)]
            grads = strategy.reduce(tf.distribute.ReduceOp.SUM, grads, axis=None)
        losses += chunk_losses
        total = grads if total is None else [a + b for a, b in zip(total, grads)]
    return losses, [g / len(batch) for g in total]
