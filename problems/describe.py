"""Lists every registered problem and every named problem set with parameter counts.

    python -m problems.describe                 # all problems and sets
    python -m problems.describe --sets bowl sum # only these sets (and the problems table)

Each problem and each set entry is built from seed 0 (generated data is drawn; image data
comes from tensorflow-datasets if prepared locally, else the offline stand-in, see the
"data" column). Output is a Markdown table per section, one problem per line.
"""

from __future__ import annotations

import argparse
from typing import Sequence

import problems
from problems.base import Problem
from problems.registry import Factory

# Problems that need arguments, described through an example.
EXAMPLES = {
    "rescale": Factory("rescale", problem=Factory("quadratic", dim=10), scale=10.0),
    "sparse_problem": Factory("sparse_problem", problem=Factory("quadratic", dim=10)),
    "log_objective": Factory("log_objective", problem=Factory("quadratic", dim=10)),
    "power": Factory("power", problem=Factory("quadratic", dim=10), k=2.0),
    "sum_task": Factory("sum_task", problems=[Factory("quadratic", dim=10), Factory("rosenbrock")]),
}


def _optimum(problem: Problem) -> str:
    return "" if problem.optimum is None else f"{problem.optimum:.6g}"


def problem_rows() -> list[list[str]]:
    rows = []
    for name in problems.names():
        factory = EXAMPLES.get(name, Factory(name))
        problem = factory(seed=0)
        rows.append(
            [
                name,
                factory.label,
                str(problem.num_params),
                _optimum(problem),
                getattr(problem, "data_source", ""),
            ]
        )
    return rows


def set_rows(set_names: Sequence[str]) -> list[list[str]]:
    rows = []
    for set_name in set_names:
        for index, entry in enumerate(problems.get_set(set_name)):
            problem = entry.factory(seed=0)
            rows.append(
                [
                    set_name,
                    str(index),
                    entry.group,
                    f"{entry.weight:g}",
                    entry.factory.label,
                    str(problem.num_params),
                    getattr(problem, "data_source", ""),
                ]
            )
    return rows


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets",
        nargs="*",
        default=None,
        choices=problems.set_names(),
        help="sets to list (default: all)",
    )
    args = parser.parse_args(argv)
    print(f"## Problems ({len(problems.names())})\n")
    print(table(["problem", "example", "params", "optimum", "data"], problem_rows()))
    set_names = problems.set_names() if args.sets is None else args.sets
    print(f"\n## Problem sets ({len(set_names)})\n")
    print(table(["set", "#", "group", "weight", "problem", "params", "data"], set_rows(set_names)))


if __name__ == "__main__":
    main()
