"""The one inner loop: T steps of an update rule on a problem, as a `tf.while_loop`.

Meta-training, evaluation, baselines and notebooks all unroll through `unroll` (see
ARCHITECTURE.md); estimators differ only in what they do with its result. The loop is a
graph-level `tf.while_loop`, so the compile time does not grow with T, and it is pure, so an
outer `tf.GradientTape` sees through it. Each step (seed 001 "Meta-objective and unrolls"):

    θ_eval  = rule.eval_point(θ, s)                   # the attended point (θ itself for most rules)
    f_t, g  = loss and gradient at θ_eval on the minibatch of step t
    g       = problem.transform_gradients(g)           # e.g. sparse-gradient masks
    g       = g + σ_noise · N(0, 1)                    # the problem's gradient noise
    θ, s    = rule.step(θ, g, s)

`second_order=False` stops the gradient through g (the first-order approximation that drops
the Hessian terms of the meta-gradient). What is recorded as f_t is chosen by `record`:
"gradient_loss" (default, free) is the minibatch loss at θ_eval computed for the gradient;
"full_batch_loss" is the full-batch loss at the true θ_t before the step, which is what the
seed 001 meta-objective uses (one extra forward pass per step); "validation_loss" is the
loss at θ_t on the step's validation minibatch (`problem.validation_batch_fn`), the L_valid
outer objective of Metz et al. 2019 (inner training still uses the training batches). For
full-batch problems without attention the first two coincide.

`stop_above` and `stop_below` end the loop early (seed 001 "An unroll stops early"): after
the first step whose recorded loss is non-finite or above `stop_above`, or below
`stop_below`; the losses of the steps not taken are 0 and `steps` says how many were taken.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import tensorflow as tf

from l2o_tf.rules.base import UpdateRule
from problems.base import Problem, fold_in, normal

RECORDS = ("gradient_loss", "full_batch_loss", "validation_loss")


class UnrollResult(NamedTuple):
    params: list[tf.Tensor]
    state: Any
    losses: tf.Tensor  # [T]; 0 after an early end
    steps: tf.Tensor  # int32: steps taken (T unless the unroll ended early)


def check_record(record: str) -> str:
    if record not in RECORDS:
        raise ValueError(f"Unknown record {record!r}; use one of {', '.join(RECORDS)}.")
    return record


def inner_gradient(
    problem: Problem,
    tensors: dict[str, tf.Tensor],
    params: Sequence[tf.Tensor],
    step: tf.Tensor,
    seed: tf.Tensor,
) -> tuple[tf.Tensor, list[tf.Tensor]]:
    """Loss and (noisy) gradient of `problem` at `params` on the minibatch of `step`."""
    batch = problem.batch_fn(tensors, step, seed)
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = problem.loss_fn(tensors, params, batch)
    grads = tape.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = problem.transform_gradients(tensors, grads, step, seed)
    if problem.gradient_noise > 0:
        noise_seed = fold_in(fold_in(seed, -1), step)
        grads = [
            g + problem.gradient_noise * normal(tf.shape(g), fold_in(noise_seed, i), g.dtype)
            for i, g in enumerate(grads)
        ]
    return loss, grads


def unroll(
    rule: UpdateRule,
    problem: Problem,
    tensors: dict[str, tf.Tensor],
    params: Sequence[tf.Tensor],
    state: Any,
    seed: tf.Tensor,
    num_steps: int | tf.Tensor,
    start_step: int | tf.Tensor = 0,
    second_order: bool = True,
    record: str = "gradient_loss",
    stop_above: tf.Tensor | None = None,
    stop_below: tf.Tensor | None = None,
) -> UnrollResult:
    """Runs `num_steps` steps of `rule` on `problem` from (`params`, `state`).

    Args:
        rule: the update rule.
        problem: supplies `loss_fn` and `batch_fn`; its `tensors` are passed separately so
            one trace serves every sample of the same signature.
        tensors: the problem sample's tensors.
        params: initial parameters, a list of tensors.
        state: initial rule state.
        seed: shape-[2] seed for minibatches and gradient noise.
        num_steps: T.
        start_step: index of the first step (minibatch order continues across truncations).
        second_order: keep the dependence of the inner gradient on θ (default True).
        record: which loss is recorded per step (see the module docstring).
        stop_above: end after a step whose recorded loss is non-finite or exceeds this
            scalar (None: no such check; see the module docstring).
        stop_below: end after a step whose recorded loss is below this scalar or NaN
            (None: no such check).

    Returns:
        The final parameters and state, the T recorded losses and the steps taken.
    """
    check_record(record)
    params = list(params)
    start_step = tf.cast(start_step, tf.int64)

    def healthy(loss: tf.Tensor) -> tf.Tensor:
        ok = tf.constant(True)
        if stop_above is not None:
            ok = tf.math.is_finite(loss) & (loss <= stop_above)
        if stop_below is not None:
            ok = ok & (loss >= stop_below)  # False for NaN too
        return ok

    def body(t, params, state, losses, _):
        step = start_step + tf.cast(t, tf.int64)
        loss, grads = inner_gradient(
            problem, tensors, rule.eval_point(params, state), step, seed
        )
        if record == "full_batch_loss":
            loss = problem.loss_fn(tensors, params, problem.full_batch(tensors))
        elif record == "validation_loss":
            loss = problem.loss_fn(
                tensors, params, problem.validation_batch_fn(tensors, step, seed)
            )
        if not second_order:
            grads = [tf.stop_gradient(g) for g in grads]
        params, state = rule.step(params, grads, state)
        return t + 1, list(params), state, losses.write(t, loss), healthy(loss)

    losses = tf.TensorArray(problem.dtype, size=num_steps, element_shape=[])
    steps, params, state, losses, _ = tf.while_loop(
        lambda t, *rest: (t < num_steps) & rest[-1],
        body,
        (tf.constant(0), params, state, losses, tf.constant(True)),
        maximum_iterations=num_steps,
    )
    return UnrollResult(params, state, losses.stack(), steps)


def unroll_from_init(
    rule: UpdateRule,
    problem: Problem,
    tensors: dict[str, tf.Tensor],
    seed: tf.Tensor,
    num_steps: int | tf.Tensor,
    second_order: bool = True,
    record: str = "gradient_loss",
) -> UnrollResult:
    """`unroll` from fresh parameters `problem.init_params(fold_in(seed, 0))` and the rule
    state `rule.init(params, fold_in(seed, 2))`; minibatches and noise use `fold_in(seed, 1)`."""
    params = problem.init_params(fold_in(seed, 0))
    return unroll(
        rule,
        problem,
        tensors,
        params,
        rule.init(params, fold_in(seed, 2)),
        fold_in(seed, 1),
        num_steps,
        second_order=second_order,
        record=record,
    )
