"""Inner problems and their registry: `problems.get("quadratic", seed=3, dim=20)`."""

from __future__ import annotations

from typing import Any

from problems.base import DatasetProblem, Problem
from problems.quadratic import Quadratic
from problems.rosenbrock import Rosenbrock
from problems.two_moons import TwoMoons

_REGISTRY: dict[str, type[Problem]] = {
    cls.name: cls for cls in (Quadratic, Rosenbrock, TwoMoons)
}


def names() -> list[str]:
    """Names accepted by `get`."""
    return sorted(_REGISTRY)


def get(name: str, seed: int = 0, **kwargs: Any) -> Problem:
    """A sample of problem `name` drawn from `seed`; kwargs go to its constructor."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown problem {name!r}. Known problems: {', '.join(names())}."
        ) from None
    return cls(seed=seed, **kwargs)


__all__ = ["DatasetProblem", "Problem", "Quadratic", "Rosenbrock", "TwoMoons", "get", "names"]
