r"""Fig. 9's comparison (dynamics paper App. D.2) for chosen tasks, without the figure.

    python -m trainers.dynamics_report --runs DIR --tasks linear_regression,rosenbrock

Trains each task's GRU first if its run in DIR is unfinished (resumable; `--notrain` compares
a run in progress as it is, with its best held-out weights so far, and says at which
meta-step), tunes the baselines (cached), and prints per optimizer the meta-objective over
the 64 test problems (mean ± standard error) and when meta-training first beat each tuned
baseline on the run's held-out problems (meta-step and seconds of meta-training). The same
runs directory serves `python -m trainers.figures dynamics_fig9 --runs DIR`.
"""

from __future__ import annotations

import json
import os

import matplotlib

from trainers.figures.base import jsonable, pyplot
from trainers.figures.dynamics import fig9_bars
from trainers.figures.dynamics_runs import TASKS, dynamics_runs


def comparison_table(task: str, comparison: dict) -> str:
    """Fig. 9's numbers of one task as a Markdown table."""
    rows = [
        f"### {task}: meta-objective over the test problems (mean ± standard error)",
        "",
        "| optimizer | meta-objective | baseline − learned (paired) "
        "| first beaten by meta-training (step, seconds) |",
        "|---|---|---|---|",
    ]
    for name, entry in comparison["optimizers"].items():
        mean = f"{entry['mean']:.4g} ± {entry['standard_error']:.2g}"
        gap = entry.get("gap_to_learned")
        paired = f"{gap['mean']:+.3g} ± {gap['standard_error']:.2g}" if gap else "–"
        rows.append(f"| {name} | {mean} | {paired} | {_first_beaten(entry)} |")
    learned = comparison["learned"]
    rows += ["", f"best: {comparison['best']} (learned: {learned['meta_steps']} meta-steps of "
             f"{learned['config']['steps']})"]
    return "\n".join(rows)


def _first_beaten(entry: dict) -> str:
    if "time_to_beat" not in entry:  # the learned rule itself
        return "–"
    first = entry["time_to_beat"]["first_beaten"]
    return f"step {first['step']}, {first['train_seconds']:.0f} s" if first else "not yet"


def main(argv: list[str]) -> None:
    """Fig. 9's comparison for the named tasks only, as tables on stdout,
    `RUNS/comparison_TASK.json` and its bars in `RUNS/fig9_TASK1_TASK2….png`."""
    from absl import flags

    del argv
    matplotlib.use("Agg")  # written to files, never shown
    f = flags.FLAGS
    unknown = [task for task in f.tasks if task not in TASKS]
    if unknown:
        raise ValueError(f"Unknown tasks {unknown}; the tasks are {', '.join(TASKS)}.")
    r = dynamics_runs(f.runs, f.quick, f.train)
    comparisons = {}
    for task in f.tasks:
        comparisons[task] = r.comparison(task)
        with open(os.path.join(r.runs, f"comparison_{task}.json"), "w") as out:
            json.dump(comparisons[task], out, indent=1, default=jsonable)
        print(comparison_table(task, comparisons[task]), flush=True)
    figure = fig9_bars(comparisons, r.sizes.test_problems)
    figure.savefig(os.path.join(r.runs, f"fig9_{'_'.join(f.tasks)}.png"), dpi=120)
    pyplot().close(figure)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("runs", None, "Directory of trained optimizers and tuned baselines.")
    flags.DEFINE_list("tasks", list(TASKS), "Tasks to compare.")
    flags.DEFINE_bool("quick", False, "Test sizes instead of the paper's.")
    flags.DEFINE_bool(
        "train", True, "Train unfinished runs to their meta-steps first (--notrain: as they are)."
    )
    flags.mark_flag_as_required("runs")
    app.run(main)
