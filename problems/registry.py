"""The problem registry and problem factories.

`get(name, seed=..., **kwargs)` builds a sample of a registered problem; `names()` lists
them. A `Factory` is a problem family member with fixed arguments, called with a seed:
`Factory("quadratic", dim=20)(seed=3)`; problem sets are weighted lists of factories and
transforms accept factories for the problems they wrap.
"""

from __future__ import annotations

from typing import Any

from problems.base import Problem
from problems.conv_task import ConvTask
from problems.linear_regression import LinearRegression
from problems.matmul_algorithm import MatMulAlgorithm
from problems.minibatch_quadratics import ProjectionQuadratic, SumOfQuadratics
from problems.networks import ConvNet, FullyConnected
from problems.norm import Norm
from problems.out_of_distribution import Mnist14MLP, MnistConvNet
from problems.quadratic import Bowl, IsotropicQuadratic, Quadratic
from problems.rosenbrock import Rosenbrock
from problems.slow_convergence import DependencyChain, MinMaxWell, OutwardSnake
from problems.softmax_regression import (
    OneHotSparseSoftmaxRegression,
    SoftmaxRegression,
    SparseSoftmaxRegression,
)
from problems.test_functions import FUNCTIONS_2D, Saddle
from problems.transforms import LogObjective, Power, Rescale, SparseProblem, SumTask
from problems.two_minima import TwoMinima
from problems.two_moons import TwoMoons

PROBLEMS: tuple[type[Problem], ...] = (
    Quadratic,
    Rosenbrock,
    TwoMoons,
    LinearRegression,
    *FUNCTIONS_2D,
    Saddle,
    Bowl,
    IsotropicQuadratic,
    Norm,
    ProjectionQuadratic,
    SumOfQuadratics,
    SoftmaxRegression,
    SparseSoftmaxRegression,
    OneHotSparseSoftmaxRegression,
    FullyConnected,
    ConvNet,
    DependencyChain,
    MinMaxWell,
    OutwardSnake,
    MatMulAlgorithm,
    TwoMinima,
    ConvTask,
    Mnist14MLP,
    MnistConvNet,
)
TRANSFORMS: tuple[type[Problem], ...] = (Rescale, SparseProblem, LogObjective, Power, SumTask)
_REGISTRY: dict[str, type[Problem]] = {cls.name: cls for cls in PROBLEMS + TRANSFORMS}


def names() -> list[str]:
    """Names accepted by `get`."""
    return sorted(_REGISTRY)


def problem_class(name: str) -> type[Problem]:
    """The class registered under `name`; a ValueError listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown problem {name!r}. Known problems: {', '.join(names())}."
        ) from None


def get(name: str, seed: int = 0, **kwargs: Any) -> Problem:
    """A sample of problem `name` drawn from `seed`; kwargs go to its constructor. A
    transform (`TRANSFORMS`) needs the problem it wraps (`problem=`, or `problems=` for
    `sum_task`), as a Problem or a `Factory`."""
    cls = problem_class(name)
    if cls in TRANSFORMS and not {"problem", "problems"} & set(kwargs):
        wraps = "problems=[...]" if name == SumTask.name else "problem=..."
        raise ValueError(
            f"{name!r} is a transform of another problem, not a problem of its own: give it "
            f"what it wraps, e.g. problems.get({name!r}, {wraps}) with "
            "problems.Factory('quadratic', dim=20)."
        )
    return cls(seed=seed, **kwargs)


class Factory:
    """A registered problem with fixed constructor arguments; called with a seed.

    `Factory("rescale", problem=Factory("norm", dim=18, p=2.5), scale=0.123)(seed=4)` builds
    sample 4; keyword overrides at call time win (`factory(seed, dtype="float64")`).
    """

    def __init__(self, name: str, **kwargs: Any):
        problem_class(name)  # fail early on unknown names
        self.name = name
        self.kwargs = kwargs

    def __call__(self, seed: int = 0, **overrides: Any) -> Problem:
        return get(self.name, seed=seed, **{**self.kwargs, **overrides})

    @property
    def label(self) -> str:
        """`name(key=value, ...)`, nested factories by their labels."""
        arguments = ", ".join(f"{k}={_format(v)}" for k, v in self.kwargs.items())
        return f"{self.name}({arguments})"

    def __repr__(self) -> str:
        return f"Factory<{self.label}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Factory) and (self.name, self.kwargs) == (other.name, other.kwargs)

    def __hash__(self) -> int:
        return hash(self.label)


def _format(value: Any) -> str:
    if isinstance(value, Factory):
        return value.label
    if isinstance(value, (list, tuple)) and any(isinstance(v, Factory) for v in value):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)
