"""Meta-batches over `tf.distribute` replicas.

A meta-step's inner runs are dealt out one per replica (`MirroredStrategy` over local GPUs
or logical CPUs; `TPUStrategy` follows the same path): every replica runs its own run with
the replica-local copy of the rule's meta-parameters, and the per-run results (meta-loss,
meta-gradient, end state) come back to the host, which averages the gradients. With the
default strategy (one replica) this is a plain loop.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

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


def replicated_map(
    strategy: tf.distribute.Strategy, fn: Callable, inputs: Sequence[tuple]
) -> list[Any]:
    """`[fn(*args) for args in inputs]`, `num_replicas_in_sync` calls at a time in parallel.

    `fn` is a compiled function; `None` arguments (a fresh run's rule state) are bound
    statically and must sit at the same positions within each group of replicas.
    """
    replicas = strategy.num_replicas_in_sync
    if len(inputs) % replicas:
        raise ValueError(
            f"meta_batch {len(inputs)} is not a multiple of the {replicas} replicas; "
            f"use --meta_batch={replicas * max(1, len(inputs) // replicas)}."
        )
    if replicas == 1:
        return [fn(*args) for args in inputs]
    outputs = []
    for start in range(0, len(inputs), replicas):
        group = inputs[start : start + replicas]
        dynamic = [i for i, a in enumerate(group[0]) if a is not None]
        if any([i for i, a in enumerate(args) if a is not None] != dynamic for args in group):
            raise ValueError("Runs dealt to one group of replicas must all be fresh or all continued.")

        def on_replica(*values, template=group[0]):
            args = list(template)
            for i, value in zip(dynamic, values):
                args[i] = value
            return fn(*args)

        values = strategy.experimental_distribute_values_from_function(
            lambda ctx, group=group: tuple(group[ctx.replica_id_in_sync_group][i] for i in dynamic)
        )
        result = strategy.run(on_replica, args=values)
        per_leaf = [strategy.experimental_local_results(x) for x in tf.nest.flatten(result)]
        outputs += [
            tf.nest.pack_sequence_as(result, [local[r] for local in per_leaf])
            for r in range(replicas)
        ]
    return outputs
