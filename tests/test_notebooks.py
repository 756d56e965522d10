"""Every notebook runs top to bottom (code cells executed in order, in one namespace)."""

import glob
import json
import os

import matplotlib
import pytest

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb")))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path):
    matplotlib.use("Agg")
    with open(path) as f:
        cells = json.load(f)["cells"]
    namespace = {"__name__": "__notebook__"}
    code_cells = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert code_cells, f"{path} has no code"
    for i, source in enumerate(code_cells):
        assert not source.lstrip().startswith(("!", "%")), f"cell {i}: shell/magic lines do not run outside Colab"
        exec(compile(source, f"{os.path.basename(path)}[{i}]", "exec"), namespace)


def test_there_is_a_notebook():
    assert NOTEBOOKS
