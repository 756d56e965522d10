"""The figure registry behind `python -m trainers.figures NAME --out DIR [--quick]`.

A figure is a function `make(out, quick, runs) -> paths` registered under a name with
`@register(name, description)`; one module per paper holds its figures (e.g.
`trainers/figures/dynamics.py`) and is imported by `trainers/figures/__init__.py`. A figure
writes `NAME.png` and the data behind it, `NAME.json` (and `NAME.npz` for arrays), with
`save`. `quick` asks for test sizes that finish in minutes on 2 CPU cores; the default is
the paper's sizes. `runs` is the directory where what a figure needs (meta-trained
optimizers, tuned baselines) is computed once and reused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

import numpy as np

Make = Callable[[str, bool, str], list[str]]


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    description: str
    make: Make


_FIGURES: dict[str, Figure] = {}


def register(name: str, description: str) -> Callable[[Make], Make]:
    """Decorator: registers `make` as figure `name`."""

    def decorator(make: Make) -> Make:
        if name in _FIGURES:
            raise ValueError(f"Figure {name!r} is registered twice.")
        _FIGURES[name] = Figure(name, description, make)
        return make

    return decorator


def names() -> list[str]:
    return sorted(_FIGURES)


def get(name: str) -> Figure:
    if name not in _FIGURES:
        raise ValueError(f"Unknown figure {name!r}; known figures: {', '.join(names())}.")
    return _FIGURES[name]


def jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    raise TypeError(f"Cannot write {type(value).__name__} to JSON.")


def pyplot() -> Any:
    """matplotlib.pyplot on the caller's backend: the command-line entry points choose the
    file-only Agg backend, library code never switches it (a notebook's plots still show)."""
    import matplotlib.pyplot as plt

    return plt


def save(
    out: str,
    name: str,
    figure: Any,
    data: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
) -> list[str]:
    """Writes `figure` (matplotlib) to NAME.png, `data` to NAME.json and `arrays` to
    NAME.npz in `out`; closes the figure and returns the paths."""
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, f"{name}.png"), os.path.join(out, f"{name}.json")]
    figure.savefig(paths[0], dpi=120)
    plt.close(figure)
    with open(paths[1], "w") as f:
        json.dump(data, f, indent=1, default=jsonable)
    if arrays:
        paths.append(os.path.join(out, f"{name}.npz"))
        np.savez(paths[-1], **arrays)
    return paths
