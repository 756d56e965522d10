"""Inner problems, their registry and named problem sets (Wichrowska et al. 2017 §4.1).

`problems.get("quadratic", seed=3, dim=20)` builds a sample; `problems.names()` lists the
problems, `problems.get_set("wichrowska2017")` returns a named `ProblemSet` (a weighted
list of `Factory`s) and `problems.set_names()` lists the sets. `python -m problems.describe`
prints every problem and set with parameter counts.
"""

from __future__ import annotations

from problems.base import DatasetProblem, Problem
from problems.problem_sets import Entry, ProblemSet, get_set, set_names
from problems.quadratic import Quadratic
from problems.registry import Factory, get, names, problem_class
from problems.rosenbrock import Rosenbrock
from problems.two_moons import TwoMoons

__all__ = [
    "DatasetProblem",
    "Entry",
    "Factory",
    "Problem",
    "ProblemSet",
    "Quadratic",
    "Rosenbrock",
    "TwoMoons",
    "get",
    "get_set",
    "names",
    "problem_class",
    "set_names",
]
