r"""Meta-training: learn a rule's meta-parameters on a family of problems.

    python -m trainers.meta_train --problem=quadratic --rule=mlp --steps=300 \
        --logdir=runs/quadratic_mlp

The trainer keeps `meta_batch` inner runs going (seed 002 Algorithm 1; `trainers/inner_runs.py`).
Each meta-step advances every run by one truncation through the estimator (`estimator`:
truncated BPTT, second-order by default, or the merged / rp / es variational estimators).
The truncation lengths come from `truncation_schedule`: `unroll_steps` fixed, or the linear
50 → 10 000 curriculum with ±20 % jitter, a run starting a fresh problem sample once it has
taken `inner_steps` steps (by default `unroll_steps`: a fresh sample every meta-step, i.e.
full BPTT); or seed 001's `partial_unrolls`, drawn per sampled problem and meta-iteration.
Problems are samples of `problem`, or of entries of the named `problem_set` drawn uniformly
(seed 001's mixture). A truncation that diverges is dropped (`divergence_factor`), a
negative loss under the log objective is an error. The averaged meta-gradient gets the
gradient of an optional ℓ2 penalty λ‖θ‖², sets non-finite entries to 0 and clips
element-wise (seed 001 recipe) and, optionally, by its global norm, and applies the meta-optimizer (Adam, Keras RMSProp or
seed 001's `rmsprop_tf1`), whose learning rate may decay by a factor every k steps (the
dynamics paper's recipe). `--preset=NAME` starts from a named config (`trainers/presets.py`);
flags given on the command line override it. Training and held-out problems come from
disjoint seed streams (even and odd seeds); the held-out meta-loss (a full unroll of
`eval_steps`, default the inner run length) is logged every `eval_every` steps. A resumed
run restarts its inner runs from fresh problem samples. The log directory holds
`config.json`, TensorBoard scalars and histograms, `checkpoints/` (resumed automatically
when the same command is run again) and `rule_weights.npz`, the file
`LearnedOptimizer(weights=...)` loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import time
from typing import Any, Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import save_rule_weights
from problems.base import Problem
from trainers.batch_estimators import BatchEstimate, BPTTBatch, Run, VariationalBatch
from trainers.curricula import FixedTruncation, LinearTruncationSchedule, PartialUnrolls
from trainers.distribute import STRATEGIES, make_strategy
from trainers.estimators import (
    AntitheticSampler,
    FullUnroll,
    TruncatedBPTT,
    truncation_status,
)
from trainers.inner_runs import RESETS, InnerRun, InnerRuns
from trainers.logs import quiet_tensorflow_logs
from trainers.meta_loss import check_meta_loss
from trainers.unroll import check_record

WEIGHTS_FILE = "rule_weights.npz"
BEST_WEIGHTS_FILE = "best_rule_weights.npz"  # the weights of the lowest held-out meta-loss
CONFIG_FILE = "config.json"


@dataclasses.dataclass
class MetaTrainConfig:
    """Everything that defines a meta-training run; saved as `config.json` in the logdir."""

    problem: str = "quadratic"
    problem_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem_set: str = ""
    rule: str = "mlp"
    rule_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    steps: int = 1000
    unroll_steps: int = 50
    meta_batch: int = 4
    meta_loss: str = "log"
    second_order: bool = True
    record: str = "gradient_loss"
    meta_optimizer: str = "adam"
    meta_learning_rate: float = 3e-3
    meta_beta_1: float = 0.9
    meta_rho: float = 0.9
    meta_epsilon: float = 1e-10
    meta_grad_clip: float = 1e4
    meta_grad_norm_clip: float = 0.0
    meta_lr_decay: float = 1.0
    meta_lr_decay_steps: int = 500
    meta_l2: float = 0.0
    estimator: str = "bptt"
    sigma_squared: float = 0.01
    truncation_schedule: str = "fixed"
    truncation_end: int = 10_000
    truncation_ramp_steps: int = 5_000
    meta_iterations: int = 5
    mean_partial_unrolls: float = 40.0
    mean_partial_length: float = 200.0
    min_partial_length: int = 50
    max_partial_length: int = 0
    partial_tail: str = "exponential"
    reset_rule_state: str = "meta_iteration"
    divergence_factor: float = 0.0
    max_bad_meta_steps: int = 100
    inner_steps: int = 0
    eval_steps: int = 0
    jit_compile: bool = False
    seed: int = 0
    eval_every: int = 50
    num_eval_problems: int = 8
    checkpoint_every: int = 100
    dtype: str = "float32"

    def validate(self) -> None:
        if self.problem_set:
            problems.get_set(self.problem_set)  # raises on unknown names
            if self.problem_kwargs:
                raise ValueError(
                    "problem_kwargs applies to --problem, not to --problem_set; drop one."
                )
        else:
            problems.get(self.problem, **self.problem_kwargs)  # raises on unknown names/kwargs
        rules.rule_class(self.rule)
        check_meta_loss(self.meta_loss)
        check_record(self.record)
        _check_meta_optimizer(self.meta_optimizer)
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"Unknown estimator {self.estimator!r}; use one of {', '.join(ESTIMATORS)}."
            )
        if self.truncation_schedule not in TRUNCATION_SCHEDULES:
            raise ValueError(
                f"Unknown truncation_schedule {self.truncation_schedule!r}; use one of "
                f"{', '.join(TRUNCATION_SCHEDULES)}."
            )
        if self.reset_rule_state not in RESETS:
            raise ValueError(
                f"Unknown reset_rule_state {self.reset_rule_state!r}; use one of "
                f"{', '.join(RESETS)}."
            )
        self.partial_unrolls()  # raises on bad partial-unroll settings
        if self.divergence_factor < 0 or (0 < self.divergence_factor <= 1):
            raise ValueError(
                f"divergence_factor must be 0 (off) or > 1, got {self.divergence_factor}."
            )
        if self.meta_optimizer != "rmsprop_tf1" and (
            self.meta_rho != MetaTrainConfig.meta_rho
            or self.meta_epsilon != MetaTrainConfig.meta_epsilon
        ):
            raise ValueError(
                f"meta_rho and meta_epsilon set rmsprop_tf1 (seed 001's meta-optimizer); "
                f"meta_optimizer={self.meta_optimizer!r} ignores them. Leave them at their "
                "defaults or use meta_optimizer='rmsprop_tf1'."
            )
        if not 0 <= self.meta_rho < 1 or self.meta_epsilon <= 0:
            raise ValueError("meta_rho must be in [0, 1) and meta_epsilon > 0.")
        if self.inner_steps < 0 or self.eval_steps < 0:
            raise ValueError("inner_steps and eval_steps must be >= 0 (0: the default length).")
        if not 0 <= self.meta_beta_1 < 1:
            raise ValueError(f"meta_beta_1 must be in [0, 1), got {self.meta_beta_1}.")
        if self.meta_optimizer != "adam" and self.meta_beta_1 != MetaTrainConfig.meta_beta_1:
            raise ValueError(
                f"meta_beta_1 is Adam's β1; meta_optimizer={self.meta_optimizer!r} has none. "
                "Leave meta_beta_1 at its default or use meta_optimizer='adam'."
            )
        if not 0 < self.meta_lr_decay <= 1:
            raise ValueError(f"meta_lr_decay must be in (0, 1], got {self.meta_lr_decay}.")
        if self.meta_grad_norm_clip < 0:
            raise ValueError(
                f"meta_grad_norm_clip must be >= 0, got {self.meta_grad_norm_clip}."
            )
        for name in (
            "steps",
            "unroll_steps",
            "meta_batch",
            "eval_every",
            "checkpoint_every",
            "meta_lr_decay_steps",
            "max_bad_meta_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")


    @property
    def inner_length(self) -> int:
        """Steps of one inner run before a fresh problem sample is drawn."""
        return self.inner_steps or self.unroll_steps

    def partial_unrolls(self) -> PartialUnrolls:
        """Seed 001's partial unrolls per sampled problem (`truncation_schedule=
        "partial_unrolls"`)."""
        return PartialUnrolls(
            self.meta_iterations,
            self.mean_partial_unrolls,
            self.mean_partial_length,
            self.min_partial_length,
            self.partial_tail,
            max_length=self.max_partial_length,
        )

    def schedule(self) -> LinearTruncationSchedule | FixedTruncation:
        if self.truncation_schedule == "linear":
            return LinearTruncationSchedule(
                self.unroll_steps, self.truncation_end, self.truncation_ramp_steps
            )
        return FixedTruncation(self.unroll_steps)


ESTIMATORS = ("bptt", "merged", "rp", "es")
TRUNCATION_SCHEDULES = ("fixed", "linear", "partial_unrolls")
META_OPTIMIZERS = ("adam", "rmsprop", "rmsprop_tf1")


class TF1RMSprop(keras.optimizers.RMSprop):
    """RMSProp as TF1's `tf.train.RMSPropOptimizer`, the meta-optimizer of seed 001's
    release: v ← ρv + (1 − ρ)g², θ ← θ − lr·g/√(v + ε) (ε inside the root, as Keras'), with
    the mean-square accumulator v starting at 1 instead of Keras' 0 (spec "Meta-training
    recipe"): the first step is lr·g/√(ρ + (1 − ρ)g²), about lr·g for small gradients,
    instead of Keras' lr·sign(g)/√(1 − ρ)."""

    def build(self, var_list: list) -> None:
        if self.built:
            return
        super().build(var_list)
        for velocity in self._velocities:
            velocity.assign(tf.ones_like(velocity))


def _meta_optimizer(config: MetaTrainConfig) -> keras.optimizers.Optimizer:
    learning_rate = keras.optimizers.schedules.ExponentialDecay(
        config.meta_learning_rate, config.meta_lr_decay_steps, config.meta_lr_decay, staircase=True
    )
    if config.meta_optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=config.meta_beta_1)
    if config.meta_optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    return TF1RMSprop(learning_rate=learning_rate, rho=config.meta_rho, epsilon=config.meta_epsilon)


def _check_meta_optimizer(name: str) -> None:
    if name not in META_OPTIMIZERS:
        raise ValueError(
            f"Unknown meta_optimizer {name!r}; use one of {', '.join(META_OPTIMIZERS)}."
        )



def problem_seed(config: MetaTrainConfig, step: int, index: int, held_out: bool) -> int:
    """Seed of problem sample `index` of meta-step `step`: even for training, odd held out."""
    stream = np.random.SeedSequence([config.seed, step, index, int(held_out)])
    return 2 * int(stream.generate_state(1)[0] >> 1) + int(held_out)  # < 2**32


def drawn_truncation(
    config: MetaTrainConfig, schedule: Callable[[int, np.random.Generator], int], step: int
) -> int:
    """The truncation length meta-step `step` draws from `schedule` (`config.schedule()`),
    seeded by the run's seed and the step, so a resumed run draws the same lengths."""
    return schedule(step, np.random.default_rng([config.seed, step]))


def initial_rule(config: MetaTrainConfig) -> UpdateRule:
    """The rule a run of `config` starts from, before any meta-step (seeded by its seed)."""
    keras.utils.set_random_seed(config.seed)
    return rules.get(config.rule, dtype=config.dtype, **config.rule_kwargs)


def sample_family(config: MetaTrainConfig, seed: int) -> tuple[problems.Factory, str]:
    """The factory and family name of the problem sample `seed` draws: the config's problem,
    or an entry of its problem set drawn uniformly (by weight) with a generator seeded by
    `seed`, so disjoint seed streams give disjoint draws. The family is the entry's named
    set (e.g. "quadratic_noisy"), or the problem's name."""
    if not config.problem_set:
        return problems.Factory(config.problem, **config.problem_kwargs), config.problem
    problem_set = _problem_set(config.problem_set)
    entry = problem_set.entries[problem_set.sample_index(np.random.default_rng(seed))]
    return entry.factory, entry.group or entry.factory.name


@functools.lru_cache(maxsize=None)
def _problem_set(name: str) -> problems.ProblemSet:
    return problems.get_set(name)


def sample_problem(config: MetaTrainConfig, seed: int) -> Problem:
    """The problem sample of `seed` (see `sample_family`)."""
    return _sampled(config, seed)[0]


def _sampled(config: MetaTrainConfig, seed: int) -> tuple[Problem, str]:
    factory, family = sample_family(config, seed)
    return factory(seed=seed, dtype=config.dtype), family


def _mean_of_finite(values: list[float]) -> float:
    """The mean of the finite values (NaN when there are none): what a meta-loss averages
    over the runs whose meta-gradient is used."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def clean_meta_gradients(grads: list[tf.Tensor], clip: float) -> tuple[list[tf.Tensor], int]:
    """Non-finite entries set to 0, then clipped to ±clip; returns the number zeroed."""
    nonfinite = sum(int(tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.int32))) for g in grads)
    cleaned = [
        tf.clip_by_value(tf.where(tf.math.is_finite(g), g, tf.zeros_like(g)), -clip, clip)
        for g in grads
    ]
    return cleaned, nonfinite


LOCK_FILE = "train.lock"


@contextlib.contextmanager
def training_lock(logdir: str) -> Iterator[None]:
    """Holds an exclusive lock on `logdir` (an flock on LOCK_FILE, released when the process
    ends, however it ends) so that two processes never meta-train one run; a second one gets
    an error naming the first. A no-op where `fcntl` does not exist (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = os.path.join(logdir, LOCK_FILE)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise RuntimeError(
                f"{logdir} is being meta-trained by another process (pid {holder}); wait for "
                "it to finish, or read the run as it is (e.g. `python -m "
                "trainers.dynamics_report --notrain`)."
            ) from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class ResumedProgbar(keras.utils.Progbar):
    """A `keras.utils.Progbar` that starts at step `start` of `target` and estimates the time
    per step (and so the ETA) from the steps taken since, not from step 0 (Keras' bar,
    updated to 1 600 right after a resume, divides the first seconds by 1 600)."""

    def __init__(self, target: int, start: int, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.start = start
        self.update(start)

    def _estimate_step_duration(self, current: int, now: float) -> float:
        return super()._estimate_step_duration(current - self.start, now)


class MetaTrainer:
    """Owns the rule, estimator, meta-optimizer, checkpoints and logs of one run.

    Args:
        config: the run's configuration.
        logdir: where config, checkpoints, TensorBoard events and weights go.
        strategy: a `tf.distribute` strategy; each replica unrolls its own problem samples
            (`trainers.distribute`). Default: the current (usually default) strategy.
    """

    def __init__(
        self,
        config: MetaTrainConfig,
        logdir: str,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.logdir = logdir
        self.strategy = strategy or tf.distribute.get_strategy()
        self._check_or_save_config()
        with self.strategy.scope():
            self.rule: UpdateRule = initial_rule(config)
            self.meta_optimizer = _meta_optimizer(config)
            self.meta_optimizer.build(self.rule.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="meta_step")
        # Seconds spent in meta-steps over all sessions of this run (resumes included), so
        # "time to reach a held-out loss" is read off TensorBoard as `train_seconds`.
        self.train_seconds = tf.Variable(
            0.0, dtype=tf.float64, trainable=False, name="train_seconds"
        )
        # The lowest held-out meta-loss so far; its weights are in BEST_WEIGHTS_FILE.
        self.best_held_out = tf.Variable(
            np.inf, dtype=tf.float64, trainable=False, name="best_held_out"
        )
        self.truncated = TruncatedBPTT(
            self.rule,
            config.meta_loss,
            config.second_order,
            config.record,
            config.jit_compile,
            config.divergence_factor,
        )
        self.estimator = (
            BPTTBatch(self.truncated, self.strategy)
            if config.estimator == "bptt"
            else VariationalBatch(
                AntitheticSampler(self.truncated, config.sigma_squared), config.estimator
            )
        )
        self.evaluator = self._evaluator(self.rule)
        schedule = config.schedule()
        partial = config.truncation_schedule == "partial_unrolls"
        self.inner_runs = InnerRuns(
            config.meta_batch,
            sample=lambda seed: _sampled(config, seed),
            seed_of=lambda step, i: problem_seed(config, step, i, held_out=False),
            truncation=lambda step: drawn_truncation(config, schedule, step),
            inner_length=config.inner_length,
            partial=config.partial_unrolls() if partial else None,
            reset_rule_state=config.reset_rule_state,
            seed=config.seed,
        )
        # Seconds of meta-steps (this process) that traced and compiled a new function, and
        # the consecutive meta-steps none of whose runs gave a usable meta-gradient.
        self.compile_seconds = 0.0
        self.session_seconds = 0.0
        self.bad_meta_steps = 0
        required = dict(
            rule=self.rule,
            meta_optimizer=self.meta_optimizer,
            step=self.step,
            train_seconds=self.train_seconds,
        )
        checkpoint = tf.train.Checkpoint(**required, best_held_out=self.best_held_out)
        self.manager = tf.train.CheckpointManager(
            checkpoint, os.path.join(logdir, "checkpoints"), max_to_keep=3
        )
        latest = self.manager.latest_checkpoint
        if latest:
            # best_held_out is optional: a run saved before it existed resumes with inf.
            saved = {name.split("/")[0] for name, _ in tf.train.list_variables(latest)}
            restoring = checkpoint if "best_held_out" in saved else tf.train.Checkpoint(**required)
            restoring.restore(latest).assert_existing_objects_matched()
        self.held_out = [
            sample_problem(config, problem_seed(config, 0, i, held_out=True))
            for i in range(config.num_eval_problems)
        ]

    def _check_or_save_config(self) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        path = os.path.join(self.logdir, CONFIG_FILE)
        current = dataclasses.asdict(self.config)
        if os.path.exists(path):
            # Fields added after a run was saved hold their defaults in it.
            saved = dataclasses.asdict(MetaTrainConfig())
            with open(path) as f:
                saved.update(json.load(f))
            changed = {
                k: (saved[k], v) for k, v in current.items() if k != "steps" and saved[k] != v
            }
            if changed:
                raise ValueError(
                    f"{self.logdir} holds a run with another config ({changed}, as "
                    "saved -> now). Resume with the same flags (only --steps may change) "
                    "or choose a new --logdir."
                )
            if saved["steps"] == current["steps"]:
                return  # opening a run to read it (a report) writes nothing into it
        with open(path, "w") as f:
            json.dump(current, f, indent=2)

    @functools.cached_property
    def writer(self) -> tf.summary.SummaryWriter:
        """The run's TensorBoard writer, opened at the first scalar logged (so a run opened
        only to be read gets no empty event file)."""
        return tf.summary.create_file_writer(self.logdir)

    def _evaluator(self, rule: UpdateRule) -> FullUnroll:
        config = self.config
        return FullUnroll(
            rule,
            config.eval_steps or config.inner_length,
            config.meta_loss,
            record=config.record,
            jit_compile=config.jit_compile,
        )

    def held_out_meta_loss(self, rule: UpdateRule | None = None) -> float:
        """Mean meta-loss over the held-out problem samples of the current rule, or of another
        `rule` (e.g. a tuned baseline, scored exactly as the learned rule is)."""
        evaluator = self.evaluator if rule is None else self._evaluator(rule)
        values = [float(evaluator.meta_loss_value(p, p.seed)) for p in self.held_out]
        return float(np.mean(values))

    @property
    def runs(self) -> list[Run | None]:
        """The inner runs as (problem sample, `TaskState`) pairs (None: not started)."""
        return [None if r is None else (r.problem, r.task) for r in self.inner_runs.runs]

    def meta_step(self) -> dict[str, float]:
        """One truncation of every run and one meta-update; returns the logged scalars.

        A run whose truncation ended early (diverged) or went non-finite gives no
        meta-gradient (`BPTTBatch` averages the others) and gives way to a fresh problem;
        a loss that went negative under the log objective is an error naming the problem.
        `max_bad_meta_steps` meta-steps in a row without a usable meta-gradient stop the run.
        """
        config, step = self.config, int(self.step)
        inner, lengths = self.inner_runs.next(step)
        runs = [(run.problem, run.task) for run in inner]
        noise_seeds = [problem_seed(config, step, i, held_out=False) + 1 for i in range(len(runs))]
        traces = self.truncated.trace_count()
        t0 = time.perf_counter()
        try:
            estimate = self.estimator(runs, lengths, noise_seeds)
        except tf.errors.InvalidArgumentError as error:  # e.g. a singular solve in a loss
            estimate = self._failed_estimate(inner, error)
        if self.truncated.trace_count() > traces:
            self.compile_seconds += time.perf_counter() - t0
        statuses = [truncation_status(loss) for loss in estimate.meta_losses]
        for run, status in zip(inner, statuses):
            if status == "negative_loss":
                raise ValueError(
                    f"The loss of {run.problem!r} ({run.family}) went negative; the log "
                    "meta-objective (seed 001 eq. 14) needs f >= 0. Use --meta_loss=mean or "
                    "leave this problem out of the set."
                )
            if status != "ok":
                logging.warning(
                    "meta-step %d: %s (%s) %s at inner step %d; its meta-gradient is dropped.",
                    step, run.problem, run.family, status, int(run.task.step),
                )
        self.inner_runs.advance(estimate.tasks, statuses)
        usable = statuses.count("ok")
        self.bad_meta_steps = 0 if usable else self.bad_meta_steps + 1
        if self.bad_meta_steps >= config.max_bad_meta_steps:
            raise RuntimeError(
                f"{self.bad_meta_steps} meta-steps in a row without a finite meta-gradient "
                f"(last: {[r.problem.name for r in inner]}: {statuses}); the rule's weights "
                f"have not changed since. Lower --meta_learning_rate, set "
                "--divergence_factor, or resume from an earlier checkpoint."
            )
        grads = estimate.grads
        if config.meta_l2:
            grads = [
                g + 2.0 * config.meta_l2 * w for g, w in zip(grads, self.rule.trainable_variables)
            ]
        grads, nonfinite = clean_meta_gradients(grads, config.meta_grad_clip)
        norm = tf.linalg.global_norm(grads)
        if config.meta_grad_norm_clip:
            grads, _ = tf.clip_by_global_norm(grads, config.meta_grad_norm_clip, norm)
        if usable:
            self.meta_optimizer.apply(grads, self.rule.trainable_variables)
        self.step.assign_add(1)
        scalars = {
            "meta_loss/train": _mean_of_finite(estimate.meta_losses),
            "meta_gradient/global_norm": float(norm),
            "meta_gradient/nonfinite_entries": float(nonfinite),
            "meta_gradient/dropped_runs": float(len(statuses) - usable),
            "truncation_length": float(self.inner_runs.drawn_length),
            **estimate.scalars,
        }
        for family in sorted({run.family for run in inner}):
            losses = [l for run, l in zip(inner, estimate.meta_losses) if run.family == family]
            scalars[f"meta_loss/family/{family}"] = _mean_of_finite(losses)
        return scalars

    def _failed_estimate(
        self, inner: list[InnerRun], error: tf.errors.OpError
    ) -> BatchEstimate:
        """The estimate of a meta-step whose truncations raised a numerical error: every run
        non-finite (dropped and replaced like a diverged one), no meta-gradient."""
        problems_named = ", ".join(f"{run.problem!r} ({run.family})" for run in inner)
        first_line = error.message.split("\n")[0]
        logging.warning("A truncation of %s raised %s", problems_named, first_line)
        zeros = [tf.zeros_like(v) for v in self.rule.trainable_variables]
        return BatchEstimate([math.nan] * len(inner), zeros, [run.task for run in inner], {})

    def save(self) -> str:
        self.manager.save(checkpoint_number=int(self.step))
        return save_rule_weights(self.rule, os.path.join(self.logdir, WEIGHTS_FILE))

    def train(self, verbose: bool = True) -> dict[str, float]:
        """Meta-trains up to `config.steps`; returns held-out meta-loss before and after.
        Refused while another process trains the same run (`training_lock`)."""
        with training_lock(self.logdir):
            return self._train(verbose)

    def _train(self, verbose: bool) -> dict[str, float]:
        config = self.config
        start = int(self.step)
        held_out = self._held_out()
        before = after = held_out["meta_loss/held_out"]
        self._log(held_out, start)
        shown = ("meta_loss/train", "meta_loss/held_out")
        progbar = ResumedProgbar(
            config.steps, start, verbose=1 if verbose else 0, stateful_metrics=shown
        )
        while int(self.step) < config.steps:
            t0 = time.perf_counter()
            scalars = self.meta_step()
            scalars["seconds_per_meta_step"] = time.perf_counter() - t0
            self.train_seconds.assign_add(scalars["seconds_per_meta_step"])
            scalars["train_seconds"] = float(self.train_seconds)
            self.session_seconds += scalars["seconds_per_meta_step"]
            scalars["compile/seconds"] = self.compile_seconds
            scalars["compile/share"] = self.compile_seconds / self.session_seconds
            scalars["compile/traces"] = float(self.truncated.trace_count())
            step = int(self.step)
            if step % config.eval_every == 0 or step == config.steps:
                scalars.update(self._held_out())
                after = scalars["meta_loss/held_out"]
            if step % config.checkpoint_every == 0 or step == config.steps:
                self.save()
            self._log(scalars, step)
            progbar.update(step, [(k, v) for k, v in scalars.items() if k in shown])
        self.save()  # the last evaluation was at config.steps (or, finished already, `before`)
        return {"held_out_before": before, "held_out_after": after, "resumed_from": start}

    def _held_out(self) -> dict[str, float]:
        """The held-out meta-loss and the lowest so far; a new lowest saves the rule's weights
        to BEST_WEIGHTS_FILE (mean-loss objectives can blow up late in a run: dynamics
        Rosenbrock, docs/dynamics_results.md)."""
        value = self.held_out_meta_loss()
        if value < float(self.best_held_out):
            self.best_held_out.assign(value)
            save_rule_weights(self.rule, os.path.join(self.logdir, BEST_WEIGHTS_FILE))
        return {"meta_loss/held_out": value, "meta_loss/held_out_best": float(self.best_held_out)}

    def _log(self, scalars: dict[str, float], step: int) -> None:
        """The scalars, and histograms of the partial unrolls drawn since the last call."""
        with self.writer.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)
            for name, values in self.inner_runs.take_draws().items():
                tf.summary.histogram(f"schedule/{name}", values)
        self.writer.flush()


FLAG_HELP = {
    "problem": f"Problem name: {', '.join(problems.names())}.",
    "problem_kwargs": "JSON keyword arguments of the problem.",
    "problem_set": "Meta-train on a named problem set instead of --problem (entries drawn "
    f"uniformly by weight), e.g. wichrowska2017: {', '.join(problems.set_names())}.",
    "rule": f"Rule name: {', '.join(rules.names())}.",
    "rule_kwargs": "JSON keyword arguments of the rule.",
    "steps": "Total meta-steps (a resumed run continues to it).",
    "unroll_steps": "Inner steps per unroll (T).",
    "meta_batch": "Problem samples per meta-step.",
    "meta_loss": "Meta-objective: log or mean (trainers.meta_loss).",
    "second_order": "Keep second-order meta-gradient terms.",
    "record": "Per-step loss of the meta-objective (trainers.unroll).",
    "meta_optimizer": "Meta-optimizer: adam, rmsprop (Keras) or rmsprop_tf1 (seed 001's: "
    "accumulator starting at 1).",
    "meta_learning_rate": "Meta-optimizer learning rate.",
    "meta_beta_1": "Adam's β1 of the meta-optimizer (seed 002 §4.3 uses 0.5).",
    "meta_rho": "rmsprop_tf1's mean-square decay (0.9; App. D.4 of seed 001: 0.999).",
    "meta_epsilon": "rmsprop_tf1's epsilon, inside the square root.",
    "meta_grad_clip": "Element-wise meta-gradient clip.",
    "meta_grad_norm_clip": "Rescale a meta-gradient whose global norm is above this to it "
    "(0: off; after the element-wise clip).",
    "meta_lr_decay": "Meta learning rate factor applied every meta_lr_decay_steps.",
    "meta_lr_decay_steps": "Meta-steps between meta learning rate decays.",
    "meta_l2": "λ of the ℓ2 penalty λ‖θ‖² on the meta-parameters.",
    "estimator": "Meta-gradient estimator: bptt, merged, rp or es (trainers/batch_estimators.py).",
    "sigma_squared": "σ² of the variational estimators' perturbations.",
    "truncation_schedule": "fixed (unroll_steps), linear (unroll_steps -> truncation_end) or "
    "partial_unrolls (seed 001: drawn partial unrolls per sampled problem).",
    "truncation_end": "Last truncation length of the linear schedule.",
    "truncation_ramp_steps": "Meta-steps over which the linear schedule grows.",
    "meta_iterations": "partial_unrolls: meta-iterations per sampled problem.",
    "mean_partial_unrolls": "partial_unrolls: N_u = round(X) + 1 per meta-iteration, E[X].",
    "mean_partial_length": "partial_unrolls: T = round(X) + min_partial_length, E[X].",
    "min_partial_length": "partial_unrolls: the offset of T.",
    "max_partial_length": "partial_unrolls: cap on T (0: none).",
    "partial_tail": "partial_unrolls: distribution of X, exponential or pareto (heavier).",
    "reset_rule_state": "partial_unrolls: reset the rule state every meta_iteration, or once "
    "per problem (the release's quirk).",
    "divergence_factor": "End a truncation once its loss is non-finite or above this multiple "
    "of the initial loss, and drop its meta-gradient (0: off).",
    "max_bad_meta_steps": "Stop with an error after this many meta-steps in a row without a "
    "finite meta-gradient.",
    "inner_steps": "Steps of one inner run before a fresh problem (0: unroll_steps).",
    "eval_steps": "Steps of the held-out evaluation unrolls (0: the inner run length).",
    "jit_compile": "Compile the unrolls and meta-gradients with XLA (other random draws).",
    "seed": "Seed of the rule init and the problem streams.",
    "eval_every": "Meta-steps between held-out evaluations.",
    "num_eval_problems": "Held-out problem samples.",
    "checkpoint_every": "Meta-steps between checkpoints.",
    "dtype": "Inner and rule dtype: float32 or float64.",
}


def config_from_flags() -> MetaTrainConfig:
    """The preset (or default) config, with every flag given on the command line applied."""
    from absl import flags

    from trainers.presets import get_preset

    f = flags.FLAGS
    config = get_preset(f.preset) if f.preset else MetaTrainConfig()
    for field in dataclasses.fields(MetaTrainConfig):
        if f[field.name].present:
            value = f[field.name].value
            is_json = field.name.endswith("_kwargs")
            setattr(config, field.name, json.loads(value) if is_json else value)
    return config


def main(argv: list[str]) -> None:
    from absl import flags

    del argv
    f = flags.FLAGS
    quiet_tensorflow_logs()
    try:  # a bad flag, a run of another config or a busy logdir: one line, no traceback
        config = config_from_flags()
        trainer = MetaTrainer(config, f.logdir, make_strategy(f.strategy, f.cpu_replicas))
    except (ValueError, RuntimeError) as error:
        raise SystemExit(f"meta_train: {error}") from None
    result = trainer.train()
    print(
        f"held-out meta-loss ({config.meta_loss}) over {config.num_eval_problems} "
        f"{config.problem_set or config.problem} problems: {result['held_out_before']:.4f} -> "
        f"{result['held_out_after']:.4f}; weights: {os.path.join(f.logdir, WEIGHTS_FILE)}"
    )


def define_flags() -> None:
    """One flag per `MetaTrainConfig` field, plus preset, strategy and logdir."""
    from absl import flags

    defaults = MetaTrainConfig()
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float}
    for field in dataclasses.fields(MetaTrainConfig):
        value = getattr(defaults, field.name)
        if isinstance(value, dict):
            flags.DEFINE_string(field.name, json.dumps(value), FLAG_HELP[field.name])
        else:
            define.get(type(value), flags.DEFINE_string)(field.name, value, FLAG_HELP[field.name])
    flags.DEFINE_string("preset", None, "A named config from trainers/presets.py.")
    flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
    flags.DEFINE_integer(
        "cpu_replicas", 0, "With --strategy=mirrored and no GPU: logical CPU replicas."
    )
    flags.DEFINE_string("logdir", None, "Directory for config, checkpoints, TensorBoard, weights.")
    flags.mark_flag_as_required("logdir")


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
