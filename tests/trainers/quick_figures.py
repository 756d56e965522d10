"""Shared by the figure tests: one figure made at `--quick` size and what it wrote."""

import json
import os
from typing import Any, NamedTuple

import numpy as np

from trainers import figures


class QuickFigure(NamedTuple):
    paths: list[str]
    data: dict[str, Any]  # NAME.json
    arrays: dict[str, np.ndarray]  # NAME.npz ({} when the figure writes none)
    runs: str  # the runs directory it trained or read its runs in


def assert_written(paths: list[str], name: str, extensions: tuple[str, ...]) -> None:
    """`paths` are exactly NAME.EXT for `extensions`, none of them empty."""
    assert sorted(os.path.basename(p) for p in paths) == sorted(f"{name}.{e}" for e in extensions)
    assert all(os.path.getsize(p) > 0 for p in paths)


def make_quick_figure(tmp_path_factory: Any, name: str) -> QuickFigure:
    out = str(tmp_path_factory.mktemp(name))
    runs = os.path.join(out, "runs")
    paths = figures.get(name).make(out, True, runs)
    with open(os.path.join(out, f"{name}.json")) as f:
        data = json.load(f)
    npz = os.path.join(out, f"{name}.npz")
    arrays = dict(np.load(npz)) if os.path.exists(npz) else {}
    return QuickFigure(paths, data, arrays, runs)
