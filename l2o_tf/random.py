"""Stateless random numbers with explicit seeds, shared by rules, problems and trainers.

One fixed algorithm (philox): "auto_select" may pick different generators with and without
XLA. Even so, XLA's kernels draw other numbers than TensorFlow's for the same seed (same
distributions), which `trainers.estimators` documents.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

RNG_ALG = "philox"


def as_seed(seed: int | tf.Tensor | Sequence[int]) -> tf.Tensor:
    """A stateless-RNG seed: an int becomes [seed, 0]; a shape-[2] seed is passed through."""
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed), 0], tf.int64)
    return tf.cast(tf.convert_to_tensor(seed), tf.int64)


def fold_in(seed: tf.Tensor, data: int | tf.Tensor) -> tf.Tensor:
    """A new seed derived from `seed` and `data` (e.g. a step index or a tensor index)."""
    return tf.random.experimental.stateless_fold_in(
        as_seed(seed), tf.cast(data, tf.int64), alg=RNG_ALG
    )


def normal(shape: Sequence[int] | tf.Tensor, seed: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """N(0, 1) samples drawn statelessly from `seed`."""
    return tf.random.stateless_normal(shape, as_seed(seed), dtype=dtype, alg=RNG_ALG)


def uniform(
    shape: Sequence[int] | tf.Tensor,
    seed: tf.Tensor,
    dtype: tf.DType,
    minval: float | tf.Tensor = 0.0,
    maxval: float | tf.Tensor = 1.0,
) -> tf.Tensor:
    """U[minval, maxval) samples drawn statelessly from `seed`."""
    return tf.random.stateless_uniform(
        shape, as_seed(seed), minval, maxval, dtype=dtype, alg=RNG_ALG
    )
