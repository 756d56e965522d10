"""Meta-gradient estimators; gradients are aligned with `rule.trainable_variables`.

- `TruncatedBPTT`: backpropagation through one truncation of an inner run. The inner state
  (`TaskState`: parameters, rule state, step, seed, f_init) is carried from truncation to
  truncation without gradient across the boundary (seed 001 "partial unrolls"; seed 002 §2.4).
- `FullUnroll`: a single truncation from fresh parameters, i.e. full BPTT: `(problem, seed)
  -> (meta_loss, meta_gradients)`.
- `AntitheticSampler`: one sample of the reparameterization and ES estimators of the
  smoothed objective L̃(θ) = E_{ε~N(0, σ²I)} L(θ + ε) (Metz et al. 2019 §3), from an
  antithetic pair θ ± ε run on the same truncation (same data, same start state):
      g_rp = ∇θ ½(L⁺ + L⁻),    g_es = ½(L⁺ − L⁻) ε / σ².
- `merge_estimates`: per-coordinate inverse-variance weighting of the two over a batch of
  samples (eq. 1), returning both estimators' variances for logging (Fig. 4).

With `second_order=True` (default) the inner gradient is taken inside the outer tape, so the
meta-gradient contains the Hessian-vector terms ("second derivatives on" in Wichrowska et al.
2017); `second_order=False` stops the gradient at the inner gradient.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.base import UpdateRule
from problems.base import Problem, as_seed, fold_in, normal
from trainers.meta_loss import check_meta_loss, meta_loss
from trainers.unroll import check_record, unroll


class TaskState(NamedTuple):
    """Where an inner run stands between truncations.

    `rule_state` is None for a fresh run: the rule's initial state is then built inside the
    outer tape, so meta-parameters of the initial state (trainable initial RNN states) get
    gradients. Minibatches use `fold_in(seed, 1)`, the rule's random init `fold_in(seed, 2)`.
    """

    params: list[tf.Tensor]
    rule_state: Any
    step: tf.Tensor  # int64 scalar: inner steps done so far
    seed: tf.Tensor  # [2]
    initial_loss: tf.Tensor  # f_init of the log meta-objective

    def advanced(self, params: list[tf.Tensor], rule_state: Any, num_steps: int) -> "TaskState":
        """The same run `num_steps` steps later, at `params` and `rule_state`."""
        return self._replace(params=params, rule_state=rule_state, step=self.step + num_steps)


def start_task(
    problem: Problem, seed: int | tf.Tensor, tensors: dict[str, tf.Tensor] | None = None
) -> TaskState:
    """A fresh inner run: parameters `problem.init_params(fold_in(seed, 0))`, f_init their
    full-batch loss (seed 001: the loss at the problem's initial parameters). `tensors`
    defaults to the sample's own (pass them when tracing a graph that takes them as input)."""
    seed = as_seed(seed)
    tensors = problem.tensors if tensors is None else tensors
    params = problem.init_params(fold_in(seed, 0))
    initial_loss = problem.loss_fn(tensors, params, problem.full_batch(tensors))
    return TaskState(params, None, tf.constant(0, tf.int64), seed, initial_loss)


class Truncation(NamedTuple):
    meta_loss: tf.Tensor
    grads: list[tf.Tensor]
    task: TaskState  # where the next truncation starts


class TruncatedBPTT:
    """Meta-loss of `num_steps` inner steps from a `TaskState`, and its exact gradient.

    Args:
        rule: the update rule whose trainable weights are the meta-parameters.
        meta_loss: "log" (seed 001 eq. 14, default) or "mean".
        second_order: keep second-order terms. Default True.
        record: the per-step loss the meta-loss averages, "gradient_loss" (default) or
            "full_batch_loss" (see `trainers.unroll`).
        jit_compile: compile with XLA. Default False. XLA's stateless random generator
            differs from TensorFlow's kernels, so initial parameters, minibatch order and
            gradient noise of a seed differ between the two settings (same distributions).
            XLA compiles anew for every distinct truncation length: keep it off for drawn
            lengths (seed 001 partial unrolls).
        divergence_factor: end a truncation early once its recorded loss is non-finite or
            above this multiple of f_init (seed 001 "An unroll stops early"); 0 (default)
            never ends early on a large loss.

    One trace serves every sample with the same problem signature and every truncation
    length (the length is a tensor argument). The meta-loss says how a truncation ended
    (`truncation_status`): +inf when it ended early (diverged), −inf when a recorded loss
    went negative under the log objective (which needs f ≥ 0; the truncation ends there).
    Their meta-gradients are not meaningful and must not be applied.
    """

    def __init__(
        self,
        rule: UpdateRule,
        meta_loss: str = "log",
        second_order: bool = True,
        record: str = "gradient_loss",
        jit_compile: bool = False,
        divergence_factor: float = 0.0,
    ) -> None:
        if divergence_factor < 0:
            raise ValueError(f"divergence_factor must be >= 0, got {divergence_factor}.")
        self.rule = rule
        self.meta_loss = check_meta_loss(meta_loss)
        self.second_order = second_order
        self.record = check_record(record)
        self.jit_compile = jit_compile
        self.divergence_factor = float(divergence_factor)
        self._compiled: dict[tuple, Callable] = {}

    def __call__(self, problem: Problem, task: TaskState, num_steps: int) -> Truncation:
        fn = self.meta_gradient_fn(problem)
        loss, grads, params, rule_state = fn(problem.tensors, *task, truncation_length(num_steps))
        return Truncation(loss, grads, task.advanced(params, rule_state, num_steps))

    def meta_gradient_fn(self, problem: Problem) -> Callable:
        """The compiled `(tensors, params, rule_state, step, seed, initial_loss, num_steps) ->
        (meta_loss, grads, params, rule_state)` for samples of `problem`'s signature."""
        return self._compile(problem, "truncation", lambda: self._truncation_fn(problem, True))

    def forward_fn(self, problem: Problem) -> Callable:
        """The compiled truncation without any tape: `(tensors, params, rule_state, step, seed,
        initial_loss, num_steps) -> (meta_loss, params, rule_state)` (evaluation, benchmarks)."""
        return self._compile(problem, "forward", lambda: self._truncation_fn(problem, False))

    def trace_count(self) -> int:
        """Traces made so far by all compiled functions (one per signature and kind, plus one
        per distinct kind of argument, e.g. a fresh or a carried rule state)."""
        return sum(fn.experimental_get_tracing_count() for fn in self._compiled.values())

    def _compile(self, problem: Problem, kind: str, build: Callable[[], Callable]) -> Callable:
        key = (problem.signature, kind)
        if key not in self._compiled:
            self._compiled[key] = tf.function(build(), jit_compile=self.jit_compile)
        return self._compiled[key]

    def _truncation_fn(self, problem: Problem, with_gradient: bool) -> Callable:
        forward = self._truncation(problem)
        return self._with_gradient(forward) if with_gradient else forward

    def _truncation(self, problem: Problem) -> Callable:
        rule = self.rule

        def truncation(tensors, params, rule_state, step, seed, initial_loss, num_steps):
            if rule_state is None:
                rule_state = rule.init(params, fold_in(seed, 2))
            stop_above, stop_below = self._stop_bounds(initial_loss)
            result = unroll(
                rule,
                problem,
                tensors,
                params,
                rule_state,
                fold_in(seed, 1),
                num_steps,
                start_step=step,
                second_order=self.second_order,
                record=self.record,
                stop_above=stop_above,
                stop_below=stop_below,
            )
            loss = meta_loss(result.losses, self.meta_loss, initial_loss)
            # The loop ends at the first unhealthy loss, so the last one says how it ended.
            last = result.losses[tf.maximum(result.steps - 1, 0)]
            if stop_below is not None:
                loss = tf.where(last < stop_below, tf.constant(-math.inf, loss.dtype), loss)
            if stop_above is not None:
                diverged = ~tf.math.is_finite(last) | (last > stop_above)
                loss = tf.where(diverged, tf.constant(math.inf, loss.dtype), loss)
            return loss, result.params, result.state

        return truncation

    def _stop_bounds(self, initial_loss: tf.Tensor) -> tuple[tf.Tensor | None, tf.Tensor | None]:
        """(stop_above, stop_below) of `unroll` for a run whose f_init is `initial_loss`:
        `divergence_factor`·(|f_init| + 1e-6) when set, and 0 under the log objective."""
        above = below = None
        if self.divergence_factor:
            above = self.divergence_factor * (tf.abs(initial_loss) + 1e-6)
        if self.meta_loss == "log":
            below = tf.zeros([], initial_loss.dtype)
        return above, below

        return truncation

    def _with_gradient(self, forward: Callable) -> Callable:
        variables = self.rule.trainable_variables

        def truncation_with_gradient(*args):
            with tf.GradientTape() as tape:
                loss, params, rule_state = forward(*args)
            # Zeros for meta-parameters the truncation does not reach (the trainable initial
            # states, from carried state) are filled in here: `UnconnectedGradients.ZERO`
            # fails on Keras 3 variables, whose dtype is a string.
            grads = [
                tf.zeros(v.shape, v.dtype) if g is None else g
                for v, g in zip(variables, tape.gradient(loss, variables))
            ]
            stop = tf.nest.map_structure(tf.stop_gradient, (params, rule_state))
            return (loss, grads) + stop

        return truncation_with_gradient


def truncation_status(meta_loss: float) -> str:
    """How a truncation ended, read off its meta-loss (`TruncatedBPTT`): "negative_loss"
    (−inf), "diverged" (+inf: non-finite loss, or above the divergence factor), "nonfinite"
    (NaN: without the early end) or "ok"."""
    if meta_loss == -math.inf:
        return "negative_loss"
    if meta_loss == math.inf:
        return "diverged"
    return "ok" if math.isfinite(meta_loss) else "nonfinite"


class FullUnroll(TruncatedBPTT):
    """Full BPTT: the meta-gradient of one `num_steps`-step unroll from fresh parameters.

    Called as `(problem, seed) -> (meta_loss, meta_gradients)`; the initial parameters,
    minibatches and random rule state come from `seed` (see `start_task`). Other arguments
    as `TruncatedBPTT`.
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
        super().__init__(rule, meta_loss, second_order, record, jit_compile)
        self.num_steps = int(num_steps)

    def __call__(
        self, problem: Problem, seed: int | tf.Tensor
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The meta-loss of one unroll on `problem` from `seed`, and its meta-gradient."""
        return self.meta_gradient_fn(problem)(problem.tensors, as_seed(seed))

    def meta_gradient_fn(self, problem: Problem) -> Callable:
        """The compiled `(tensors, seed) -> (meta_loss, meta_gradients)` for samples of
        `problem`'s signature (what `tf.distribute` replicas run)."""
        return self._compile(problem, "full", lambda: self._from_seed(problem, True))

    def meta_loss_value(self, problem: Problem, seed: int | tf.Tensor) -> tf.Tensor:
        """The meta-loss alone (a forward unroll, no tape): for held-out evaluation."""
        fn = self._compile(problem, "full_forward", lambda: self._from_seed(problem, False))
        return fn(problem.tensors, as_seed(seed))

    def _from_seed(self, problem: Problem, with_gradient: bool) -> Callable:
        truncation = self._truncation_fn(problem, with_gradient)

        def full_unroll(tensors, seed):
            task = start_task(problem, seed, tensors)
            outputs = truncation(tensors, *task, self.num_steps)
            return outputs[:2] if with_gradient else outputs[0]

        return full_unroll


def truncation_length(num_steps: int) -> tf.Tensor:
    """A truncation length as the int32 tensor the compiled functions take."""
    if num_steps < 1:
        raise ValueError(f"A truncation needs at least 1 step, got {num_steps}.")
    return tf.constant(num_steps, tf.int32)


class AntitheticSample(NamedTuple):
    meta_loss: tf.Tensor  # ½(L⁺ + L⁻)
    g_rp: list[tf.Tensor]
    g_es: list[tf.Tensor]
    task: TaskState  # the end of the θ + ε sequence, where the next truncation starts


class AntitheticSampler:
    """One (g_rp, g_es) sample of the smoothed objective (Metz et al. 2019 §3, Alg. 1).

    Args:
        estimator: the `TruncatedBPTT` that runs each sequence (its meta-loss, second-order,
            record and jit_compile settings apply).
        sigma_squared: σ², the variance of the perturbation. Default 0.01 (the paper's).

    Both sequences start from the same `TaskState` (same parameters, rule state, minibatch
    order), so the pair differs only by ±ε. Costs two forward and two backward unrolls, run
    as one compiled function: the rule reads θ ± ε through a `keras.StatelessScope` (the
    variables are never assigned), so the two sequences are independent subgraphs that
    TensorFlow's executor runs side by side on two cores: on the two-moons MLP (T = 100) a
    sample took 3.3× a forward truncation instead of 7.1× one sequence after the other, at
    the price of both sequences' intermediates in memory at once (T = 1 000: +460 MB over a
    1-step sample instead of +265 MB; `benchmarks/estimators.py`).
    """

    def __init__(self, estimator: TruncatedBPTT, sigma_squared: float = 0.01) -> None:
        if sigma_squared <= 0:
            raise ValueError(f"sigma_squared must be > 0, got {sigma_squared}.")
        self.estimator = estimator
        self.sigma_squared = float(sigma_squared)

    def __call__(
        self, problem: Problem, task: TaskState, num_steps: int, seed: int | tf.Tensor
    ) -> AntitheticSample:
        variables = self.estimator.rule.trainable_variables
        sigma = self.sigma_squared**0.5
        epsilon = [
            sigma * normal(v.shape, fold_in(seed, i), v.dtype) for i, v in enumerate(variables)
        ]
        plus, minus = self.pair_fn(problem)(
            problem.tensors, *task, truncation_length(num_steps), epsilon
        )
        half_difference = 0.5 * (plus[0] - minus[0])
        return AntitheticSample(
            meta_loss=0.5 * (plus[0] + minus[0]),
            g_rp=[0.5 * (a + b) for a, b in zip(plus[1], minus[1])],
            g_es=[half_difference * e / self.sigma_squared for e in epsilon],
            task=task.advanced(plus[2], plus[3], num_steps),
        )

    def pair_fn(self, problem: Problem) -> Callable:
        """The compiled `(tensors, *task, num_steps, epsilon) -> (plus, minus)`, each the
        `(meta_loss, grads, params, rule_state)` of one sequence (compiled once per
        signature, with the estimator's own functions)."""
        estimator = self.estimator

        def build() -> Callable:
            truncation = estimator._truncation(problem)

            def pair(*args: Any) -> tuple:
                *task, epsilon = args
                sequences = [
                    _perturbed(estimator.rule, truncation, sign, epsilon) for sign in (1.0, -1.0)
                ]
                return tuple(estimator._with_gradient(forward)(*task) for forward in sequences)

            return pair

        return estimator._compile(problem, "antithetic_pair", build)


def _perturbed(
    rule: UpdateRule, forward: Callable, sign: float, epsilon: Sequence[tf.Tensor]
) -> Callable:
    """`forward` with the rule's meta-parameters read as θ + sign·ε (computed inside the
    caller's tape, so its gradients reach θ)."""
    variables = rule.trainable_variables

    def perturbed_forward(*args: Any) -> Any:
        values = [v + sign * e for v, e in zip(variables, epsilon)]
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return forward(*args)

    return perturbed_forward


class MergedEstimate(NamedTuple):
    grads: list[tf.Tensor]
    g_rp: list[tf.Tensor]  # mean over samples
    g_es: list[tf.Tensor]
    variance_rp: list[tf.Tensor]  # variance of the mean, per coordinate
    variance_es: list[tf.Tensor]
    variance_merged: list[tf.Tensor]  # 1 / (1/σ²_rp + 1/σ²_es), with the empirical variances


def merge_estimates(
    g_rp: Sequence[Sequence[tf.Tensor]],
    g_es: Sequence[Sequence[tf.Tensor]],
    use: str = "merged",
) -> MergedEstimate:
    """Inverse-variance weighting of the two estimators (Metz et al. 2019 eq. 1).

    `g_rp[s][i]` is sample s of meta-parameter i. Per coordinate, each estimator's mean over
    the S samples is weighted by the inverse of its variance *of the mean* (the empirical
    variance with S − 1 degrees of freedom, divided by S) — App. C's "empirical variance and
    mean of each weight for each estimator", the same samples for both (as the paper does).
    `use="rp"` or `"es"` returns one estimator alone (the §4.5 ablations).

    The weights assume independent estimators. With the same ε behind both they are
    correlated; measured here (tests/trainers/test_variational.py): on a 6-parameter toy the
    merge is no noisier than the better estimator, but on a 1-parameter toy, where both
    are driven by ε² alone, it was 1.6× noisier than g_rp.
    """
    if use not in ("merged", "rp", "es"):
        raise ValueError(f"Unknown estimator {use!r}; use merged, rp or es.")
    num_samples = len(g_rp)
    if num_samples < 2 or len(g_es) != num_samples:
        raise ValueError(
            f"Merging needs the same number (>= 2) of g_rp and g_es samples to estimate "
            f"variances; got {len(g_rp)} and {len(g_es)}."
        )
    merged, means_rp, means_es, variances_rp, variances_es, variances = [], [], [], [], [], []
    for rp, es in zip(zip(*g_rp), zip(*g_es)):
        rp, es = tf.stack(rp), tf.stack(es)  # [S, *shape]
        mean_rp, mean_es = tf.reduce_mean(rp, 0), tf.reduce_mean(es, 0)
        var_rp = tf.reduce_sum(tf.square(rp - mean_rp), 0) / (num_samples - 1) / num_samples
        var_es = tf.reduce_sum(tf.square(es - mean_es), 0) / (num_samples - 1) / num_samples
        tiny = tf.constant(1e-30, rp.dtype)  # both variances 0: plain average
        weight_rp = 1.0 / (var_rp + tiny)
        weight_es = 1.0 / (var_es + tiny)
        combined = (mean_rp * weight_rp + mean_es * weight_es) / (weight_rp + weight_es)
        merged.append({"merged": combined, "rp": mean_rp, "es": mean_es}[use])
        means_rp.append(mean_rp)
        means_es.append(mean_es)
        variances_rp.append(var_rp)
        variances_es.append(var_es)
        variances.append(1.0 / (weight_rp + weight_es))
    return MergedEstimate(merged, means_rp, means_es, variances_rp, variances_es, variances)
