"""Meta-gradient estimators. One object per estimator, one method: `(problem, seed) ->
(meta_loss, meta_gradients)`, gradients aligned with `rule.trainable_variables`.

`FullUnroll` backpropagates through an entire unroll of `trainers.unroll` (full BPTT). With
`second_order=True` (default) the inner gradient is taken inside the outer tape, so the
meta-gradient contains the Hessian-vector terms of Wichrowska et al. 2017 ("second
derivatives on"); `second_order=False` stops the gradient at the inner gradient.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from l2o_tf.rules.base import UpdateRule
from problems.base import Problem, as_seed
from trainers.meta_loss import check_meta_loss, meta_loss
from trainers.unroll import check_record, unroll_from_init


class FullUnroll:
    """Exact meta-gradient of the meta-loss of a `num_steps`-step unroll.

    Args:
        rule: the update rule whose trainable weights are the meta-parameters.
        num_steps: T, inner steps per unroll.
        meta_loss: "log" (seed 001 eq. 14, default) or "mean".
        second_order: keep second-order terms. Default True.
        record: the per-step loss the meta-loss averages, "gradient_loss" (default) or
            "full_batch_loss" (see `trainers.unroll`).
        jit_compile: compile the meta-gradient with XLA. Default False. XLA's stateless
            random generator differs from TensorFlow's kernels, so initial parameters,
            minibatch order and gradient noise of a seed differ between the two settings
            (same distributions).

    Each call draws the initial parameters from `seed` (and minibatches from a seed folded
    from it) and compiles once per problem signature.
    """

    def __init__(
        self,
        rule: UpdateRule,
        num_steps: int,
        meta_loss: str = "log",
        second_order: bool = True,
        record: str = "gradient_loss",
        jit_compile: bool = False,
    ) -> None:
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
        self.rule = rule
        self.num_steps = int(num_steps)
        self.meta_loss = check_meta_loss(meta_loss)
        self.second_order = second_order
        self.record = check_record(record)
        self.jit_compile = jit_compile
        self._compiled: dict[tuple, Callable] = {}

    def __call__(self, problem: Problem, seed: int | tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The meta-loss of one unroll on `problem` from `seed`, and its meta-gradient."""
        return self.meta_gradient_fn(problem)(problem.tensors, as_seed(seed))

    def meta_gradient_fn(self, problem: Problem) -> Callable:
        """The compiled `(tensors, seed) -> (meta_loss, meta_gradients)` for samples with
        `problem`'s signature (what `tf.distribute` replicas run)."""
        return self._compiled_fn(problem, with_gradient=True)

    def meta_loss_value(self, problem: Problem, seed: int | tf.Tensor) -> tf.Tensor:
        """The meta-loss alone (a forward unroll, no tape): for held-out evaluation."""
        return self._compiled_fn(problem, with_gradient=False)(problem.tensors, as_seed(seed))

    def _compiled_fn(self, problem: Problem, with_gradient: bool) -> Callable:
        key = (problem.signature, with_gradient)
        if key not in self._compiled:
            fn = self._meta_gradient(problem) if with_gradient else self._meta_loss(problem)
            self._compiled[key] = tf.function(fn, jit_compile=self.jit_compile)
        return self._compiled[key]

    def _meta_loss(self, problem: Problem) -> Callable:
        def unrolled_meta_loss(tensors, seed):
            result = unroll_from_init(
                self.rule, problem, tensors, seed, self.num_steps, self.second_order, self.record
            )
            return meta_loss(result.losses, self.meta_loss)

        return unrolled_meta_loss

    def _meta_gradient(self, problem: Problem) -> Callable:
        forward = self._meta_loss(problem)
        variables = self.rule.trainable_variables

        def meta_gradient(tensors, seed):
            with tf.GradientTape() as tape:
                loss = forward(tensors, seed)
            grads = tape.gradient(
                loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO
            )
            return loss, grads

        return meta_gradient
