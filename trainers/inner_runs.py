"""The meta-trainer's inner runs, and how each goes on after a truncation.

A meta-step advances `count` inner runs by one truncation each (seed 002 Algorithm 1).
`InnerRuns` holds them and decides, per run, the next truncation's length and whether the
run goes on, starts its next meta-iteration, or gives way to a fresh problem sample:

- a truncation schedule (`partial=None`; seed 002): every run advances by the length the
  schedule draws for the meta-step, cut at `inner_length`; a run that has taken
  `inner_length` steps gives way to a fresh problem sample.
- partial unrolls (`partial=PartialUnrolls(...)`; seed 001 "Meta-training recipe"): each
  sampled problem runs `meta_iterations` meta-iterations; each re-initializes the problem's
  parameters (and, by default, the rule state) and runs its drawn partial unrolls one per
  meta-step, carrying parameters, rule state, step counter and f_init from one to the next
  (without gradient: `TruncatedBPTT`). With `reset_rule_state="problem"` the rule state is
  reset only when a problem starts (the release's quirk: later meta-iterations re-initialize
  the parameters and carry the rule state).

A run whose truncation did not end well (`truncation_status` other than "ok") gives way to
a fresh problem sample. Every draw is seeded: problem samples by `seed_of(step, index)`, the
partial unrolls of a meta-iteration by (run seed, sample seed, meta-iteration).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from problems.base import Problem
from trainers.curricula import PartialUnrolls
from trainers.estimators import TaskState, start_task

RESETS = ("meta_iteration", "problem")


@dataclasses.dataclass
class InnerRun:
    """One problem sample's inner run between truncations."""

    problem: Problem
    family: str  # the named set (or problem) it was drawn from, for per-family logs
    seed: int  # the sample's seed
    task: TaskState
    lengths: list[int]  # partial unrolls left in this meta-iteration (partial unrolls only)
    meta_iteration: int = 0
    ended: bool = False  # its last truncation did not end well


class InnerRuns:
    """The `count` inner runs of a meta-training run.

    Args:
        count: runs advanced per meta-step (the meta-batch).
        sample: `seed -> (problem, family)`, a fresh problem sample.
        seed_of: `(step, index) -> seed` of the sample that run `index` draws at meta-step
            `step`.
        truncation: `step -> length` of a truncation schedule (ignored with `partial`).
        inner_length: steps of a run before a fresh sample (ignored with `partial`).
        partial: seed 001's partial unrolls, or None for a truncation schedule.
        reset_rule_state: "meta_iteration" (default) or "problem" (see the module docstring).
        seed: the run's seed, mixed into the partial-unroll draws.
    """

    def __init__(
        self,
        count: int,
        sample: Callable[[int], tuple[Problem, str]],
        seed_of: Callable[[int, int], int],
        truncation: Callable[[int], int],
        inner_length: int,
        partial: PartialUnrolls | None = None,
        reset_rule_state: str = "meta_iteration",
        seed: int = 0,
    ) -> None:
        if reset_rule_state not in RESETS:
            raise ValueError(
                f"Unknown reset_rule_state {reset_rule_state!r}; use one of {', '.join(RESETS)}."
            )
        self.sample = sample
        self.seed_of = seed_of
        self.truncation = truncation
        self.inner_length = inner_length
        self.partial = partial
        self.reset_rule_state = reset_rule_state
        self.seed = seed
        self.runs: list[InnerRun | None] = [None] * count
        # The truncation length of the last `next`: the schedule's draw (before a run's end
        # cuts it), or the mean of the runs' partial unrolls.
        self.drawn_length = 0.0
        # Partial-unroll draws since `take_draws` was last called (TensorBoard histograms).
        self._draws: dict[str, list[int]] = {"num_partial_unrolls": [], "partial_unroll_length": []}

    def next(self, step: int) -> tuple[list[InnerRun], list[int]]:
        """The runs to advance at meta-step `step` and the length of each one's truncation:
        a run that has finished its meta-iteration starts the next one, and a finished run
        (or an empty slot) gives way to a fresh sample."""
        for i, run in enumerate(self.runs):
            if run is not None and not run.lengths and self.partial is not None:
                run = self._next_meta_iteration(run)
            if run is None or run.ended or int(run.task.step) >= self._length_of(run):
                seed = self.seed_of(step, i)
                problem, family = self.sample(seed)
                run = InnerRun(problem, family, seed, start_task(problem, seed), [])
                if self.partial is not None:
                    run.lengths = self._draw_meta_iteration(run)
            self.runs[i] = run
        runs = [run for run in self.runs if run is not None]
        if self.partial is not None:
            lengths = [run.lengths[0] for run in runs]
            self.drawn_length = float(np.mean(lengths))
            return runs, lengths
        self.drawn_length = length = self.truncation(step)
        return runs, [min(length, self.inner_length - int(run.task.step)) for run in runs]

    def advance(self, tasks: list[TaskState], statuses: list[str]) -> None:
        """Each run after its truncation: at `tasks[i]`, ended with `statuses[i]` (a run not
        "ok" is replaced by a fresh sample at the next `next`)."""
        for run, task, status in zip(self.runs, tasks, statuses):
            assert run is not None
            run.task = task
            run.ended = status != "ok"
            run.lengths = run.lengths[1:]

    def _length_of(self, run: InnerRun) -> float:
        """Inner steps after which `run` is finished (partial unrolls: by its meta-iterations)."""
        return float("inf") if self.partial is not None else self.inner_length

    def _next_meta_iteration(self, run: InnerRun) -> InnerRun | None:
        """`run` at the start of its next meta-iteration, or None after its last one."""
        assert self.partial is not None
        run.meta_iteration += 1
        if run.ended or run.meta_iteration >= self.partial.meta_iterations:
            return None
        fresh = start_task(run.problem, [run.seed, run.meta_iteration])
        if self.reset_rule_state == "problem":
            fresh = fresh._replace(rule_state=run.task.rule_state)
        run.task = fresh
        run.lengths = self._draw_meta_iteration(run)
        return run

    def _draw_meta_iteration(self, run: InnerRun) -> list[int]:
        assert self.partial is not None
        rng = np.random.default_rng([self.seed, run.seed, run.meta_iteration])
        lengths = self.partial.meta_iteration(rng)
        self._draws["num_partial_unrolls"].append(len(lengths))
        self._draws["partial_unroll_length"].extend(lengths)
        return lengths

    def take_draws(self) -> dict[str, list[int]]:
        """The partial-unroll draws (N_u, T) made since the last call."""
        draws = {name: values for name, values in self._draws.items() if values}
        self._draws = {name: [] for name in self._draws}
        return draws
