"""Meta-objectives over the per-step losses f_1..f_T of an unroll.

- "mean": (1/T) Σ_t f_t, the mean training loss (Metz et al. 2019 Fig. 1; dynamics App. D.2).
- "log": (1/T) Σ_t log(f_t / (f_init + 1e-6) + 1e-6), Wichrowska et al. 2017 eq. 14
  (seed 001 spec, "Meta-objective and unrolls"); f_init is the loss at the problem's
  initial parameters, held constant. It needs f ≥ 0.
"""

from __future__ import annotations

import tensorflow as tf

META_LOSSES = ("mean", "log")


def check_meta_loss(kind: str) -> str:
    if kind not in META_LOSSES:
        raise ValueError(f"Unknown meta_loss {kind!r}; use one of {', '.join(META_LOSSES)}.")
    return kind


def meta_loss(losses: tf.Tensor, kind: str = "log", initial_loss: tf.Tensor | None = None) -> tf.Tensor:
    """The meta-objective of `losses` ([T]); `initial_loss` defaults to `losses[0]`."""
    check_meta_loss(kind)
    if kind == "mean":
        return tf.reduce_mean(losses)
    if initial_loss is None:
        initial_loss = losses[0]
    f_init = tf.stop_gradient(initial_loss)
    return tf.reduce_mean(tf.math.log(losses / (f_init + 1e-6) + 1e-6))
