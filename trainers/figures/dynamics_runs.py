"""What the dynamics-paper figures share, computed once per `runs` directory and reused.

For each task of App. D.1 (`trainers.presets.DYNAMICS_TASKS`):
- the meta-trained GRU: `MetaTrainer` with the preset `dynamics_TASK` (`dynamics_TASK_quick`
  with `--quick`) in `RUNS/dynamics_TASK[_quick]`, trained (or resumed) up to the preset's
  meta-steps the first time it is needed, or with `train=False` taken as it is (a run in
  progress, compared with its best held-out weights so far);
- the tuned baselines: `trainers.baselines.random_search`, cached in `RUNS/baselines`;
- when meta-training first beat each tuned baseline (its logged held-out meta-loss against
  the baseline's on the same held-out problems, with the meta-training seconds spent);
- the test problems: fresh samples of the task (`trainers.evaluate.TEST_STREAM`, disjoint
  from training, held-out and tuning seeds), 64 as in Fig. 9 (4 with `--quick`);
- Fig. 9's comparison of one task (`comparison`; `python -m trainers.dynamics_report
  --runs DIR --tasks linear_regression` prints it for the named tasks alone);
- loss curves of any rule on them, and recorded trajectories (gradients and GRU states) of
  the learned rule (`l2o_tf.analysis.Recorder`), all through the one inner loop.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.analysis import Recorder
from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import load_rule_weights
from problems.base import Problem, as_seed
from trainers.baselines import OPTIMIZERS, QUICK_SEARCH, SearchConfig, SearchResult, random_search
from trainers.evaluate import TEST_STREAM, CurveRunner
from trainers.logs import first_below, read_scalars
from trainers.meta_train import (
    BEST_WEIGHTS_FILE,
    WEIGHTS_FILE,
    MetaTrainConfig,
    MetaTrainer,
    problem_seed,
    sample_problem,
)
from trainers.presets import DYNAMICS_TASKS, get_preset
from trainers.unroll import unroll_from_init

TASKS = tuple(DYNAMICS_TASKS)
BASELINES = OPTIMIZERS


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How large the figures' computations are.

    Args:
        test_problems: fresh problems per task (Fig. 9: 64).
        search: the baselines' random search.
        trajectory_problems: test problems whose trajectories are recorded (Fig. 6
            densities, fixed-point starts).
        recorded_coordinates: parameters per trajectory whose GRU states are kept.
        fixed_point_starts: states the fixed-point search starts from (Fig. 7).
    """

    test_problems: int
    search: SearchConfig
    trajectory_problems: int
    recorded_coordinates: int
    fixed_point_starts: int


PAPER_SIZES = Sizes(64, SearchConfig(), 16, 64, 1024)
QUICK_SIZES = Sizes(4, QUICK_SEARCH, 2, 16, 64)


@dataclasses.dataclass
class Trajectories:
    losses: np.ndarray  # [P, T]
    gradients: np.ndarray  # every coordinate, [P, T, n]
    states: np.ndarray  # GRU states h(k+1) of `recorded_coordinates` coordinates, [P, T, c, N]


def mean_and_error(values: np.ndarray) -> dict[str, float]:
    """Mean and standard error of per-test-problem values (inf and NaN where a run
    diverged)."""
    with np.errstate(invalid="ignore"):  # inf − inf in the spread of a diverged run
        error = np.std(values, ddof=1) / np.sqrt(len(values))
    return {"mean": float(np.mean(values)), "standard_error": float(error)}


class DynamicsRuns:
    """The trained optimizers, tuned baselines and test runs of one `runs` directory."""

    def __init__(self, runs: str, quick: bool, train: bool = True) -> None:
        self.runs = runs
        self.quick = quick
        self.train = train
        self.sizes = QUICK_SIZES if quick else PAPER_SIZES
        self._runners: dict[int, CurveRunner] = {}

    def preset(self, task: str) -> str:
        return f"dynamics_{task}" + ("_quick" if self.quick else "")

    def config(self, task: str) -> MetaTrainConfig:
        return get_preset(self.preset(task))

    def logdir(self, task: str) -> str:
        return os.path.join(self.runs, self.preset(task))

    @functools.cache
    def trainer(self, task: str) -> MetaTrainer:
        """The meta-training run of `task`, trained (or resumed) here up to its meta-steps,
        or as it is without `train` (then it must have taken a meta-step)."""
        config, logdir = self.config(task), self.logdir(task)
        if not self.train and not os.path.exists(self.weights(task)):
            raise ValueError(
                f"{logdir} holds no meta-training run to compare as it is; start one with "
                f"`python -m trainers.meta_train --preset={self.preset(task)} "
                f"--logdir={logdir}` or let the report train it (without --notrain)."
            )
        trainer = MetaTrainer(config, logdir)
        if self.train and int(trainer.step) < config.steps:
            trainer.train(verbose=not self.quick)
        return trainer

    def learned(self, task: str) -> UpdateRule:
        """The meta-trained GRU of `task`, with its weights from `weights(task)`."""
        rule = self.trainer(task).rule
        load_rule_weights(rule, self.weights(task))
        return rule

    def weights(self, task: str) -> str:
        """The weights of the lowest held-out meta-loss of the run (`BEST_WEIGHTS_FILE`, model
        selection on the run's held-out problems, disjoint from the test problems), or the
        last weights for a run saved before the trainer kept the best."""
        best = os.path.join(self.logdir(task), BEST_WEIGHTS_FILE)
        return best if os.path.exists(best) else os.path.join(self.logdir(task), WEIGHTS_FILE)

    def comparison(self, task: str) -> dict:
        """Fig. 9 of one task: the meta-objective (mean training loss) of the learned rule and
        each tuned baseline per test problem, mean ± standard error, which is best, and for
        each baseline its search summary, its paired gap to the learned rule (baseline −
        learned on the same problems, mean ± standard error) and when meta-training first
        beat it."""
        contenders = {"learned": self.learned(task)}
        contenders.update({o: self.tuned(task, o) for o in BASELINES})
        entries = {}
        for label, rule in contenders.items():
            per_problem = np.mean(self.curves(rule, task), axis=1)
            entries[label] = {**mean_and_error(per_problem), "per_problem": per_problem}
        learned = entries["learned"]["per_problem"]
        for o in BASELINES:
            gap = entries[o]["per_problem"] - learned  # paired: the same test problems
            entries[o].update(
                self.search(task, o).summary(),
                time_to_beat=self.time_to_beat(task, o),
                gap_to_learned=mean_and_error(gap),
            )
        best = min(entries, key=lambda k: entries[k]["mean"])
        return {
            "optimizers": entries,
            "best": best,
            "learned_is_best": best == "learned",
            "learned": self.provenance(task),
        }

    def time_to_beat(self, task: str, optimizer: str) -> dict:
        """When meta-training first beat tuned `optimizer`: the baseline's mean meta-loss on
        the run's held-out problems (scored by the run's own evaluator) and the first logged
        held-out evaluation below it (step and meta-training seconds), or None."""
        trainer = self.trainer(task)
        baseline = trainer.held_out_meta_loss(self.tuned(task, optimizer))
        first = first_below(self.scalars(task), "meta_loss/held_out", baseline)
        return {"baseline_held_out": baseline, "first_beaten": first}

    @functools.cache
    def scalars(self, task: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The TensorBoard scalars of the run of `task` (read once it has trained)."""
        self.trainer(task)
        return read_scalars(self.logdir(task))

    def provenance(self, task: str) -> dict:
        """The checkpoint and config a figure used (ARCHITECTURE.md, reproducibility)."""
        return {
            "preset": self.preset(task),
            "meta_steps": int(self.trainer(task).step),
            "weights": self.weights(task),
            "config": dataclasses.asdict(self.config(task)),
        }

    @functools.cache
    def search(self, task: str, optimizer: str) -> SearchResult:
        return random_search(
            self.config(task),
            optimizer,
            self.sizes.search,
            os.path.join(self.runs, "baselines"),
            verbose=not self.quick,  # progress of a full search (minutes to an hour)
        )

    @functools.cache
    def tuned(self, task: str, optimizer: str) -> UpdateRule:
        """`optimizer` with the best hyper-parameters of its search."""
        best = self.search(task, optimizer).best
        return rules.get(optimizer, dtype=self.config(task).dtype, **best)

    @functools.cache
    def test_problems(self, task: str) -> list[Problem]:
        config = self.config(task)
        return [
            sample_problem(config, problem_seed(config, TEST_STREAM, i, held_out=True))
            for i in range(self.sizes.test_problems)
        ]

    def curves(self, rule: UpdateRule, task: str) -> np.ndarray:
        """Per-step losses of `rule` on every test problem, [P, T] (inf where diverged)."""
        steps = self.config(task).unroll_steps
        runner = self._runners.setdefault(steps, CurveRunner(steps))
        return runner.curves(rule, self.test_problems(task))

    @functools.cache
    def trajectories(self, task: str) -> Trajectories:
        """The learned rule's runs on the first `trajectory_problems` test problems (the same
        runs as `curves`): losses, all gradients, and the states of a random subset of
        coordinates."""
        rule, steps = self.learned(task), self.config(task).unroll_steps
        recorder = Recorder(rule, steps)
        rng = np.random.default_rng(0)
        problems = self.test_problems(task)[: self.sizes.trajectory_problems]
        run = _recorded_run(recorder, problems[0], steps)  # one trace: one family signature
        losses, gradients, states = [], [], []
        for problem in problems:
            result = run(problem.tensors, as_seed(problem.seed))
            losses.append(result[0].numpy())
            gradients.append(result[1].numpy())
            n = problem.num_params
            keep = np.sort(rng.choice(n, min(n, self.sizes.recorded_coordinates), replace=False))
            states.append(result[2].numpy()[:, keep])
        return Trajectories(np.stack(losses), np.stack(gradients), np.stack(states))


def _recorded_run(recorder: Recorder, problem: Problem, steps: int):
    @tf.function
    def run(tensors, seed):
        result = unroll_from_init(recorder, problem, tensors, seed, steps)
        trajectory = recorder.trajectory(result.state)
        return result.losses, trajectory.gradients, trajectory.states

    return run


@functools.cache
def dynamics_runs(runs: str, quick: bool, train: bool = True) -> DynamicsRuns:
    """One `DynamicsRuns` per (directory, size, training) and process, so figures share
    their work."""
    return DynamicsRuns(os.path.abspath(runs), quick, train)

