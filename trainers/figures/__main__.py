r"""Regenerates figures: `python -m trainers.figures NAME [NAME ...] --out DIR [--quick]`.

`--list` prints the names with their descriptions. `--quick` uses test sizes (minutes on 2
CPU cores); without it a figure uses the paper's sizes, which may mean hours of
meta-training (resumable: what is computed goes to `--runs` and is reused).
"""

from __future__ import annotations

import os

import matplotlib
from absl import app, flags

from trainers import figures

flags.DEFINE_string("out", None, "Directory for NAME.png and NAME.json / NAME.npz.")
flags.DEFINE_bool("quick", False, "Test sizes instead of the paper's.")
flags.DEFINE_bool("list", False, "List the figure names and exit.")
flags.DEFINE_string(
    "runs", None, "Directory of trained optimizers and tuned baselines; default OUT/runs."
)


def main(argv: list[str]) -> None:
    matplotlib.use("Agg")  # figures are written to files, never shown
    f = flags.FLAGS
    names = argv[1:]
    if f.list:
        for name in figures.names():
            print(f"{name}: {figures.get(name).description}")
        return
    if not names or not f.out:
        raise app.UsageError(
            "Give figure names and --out, e.g. `python -m trainers.figures dynamics_fig9 "
            "--out figs --quick`; `--list` shows the names."
        )
    runs = f.runs or os.path.join(f.out, "runs")
    for name in names:
        for path in figures.get(name).make(f.out, f.quick, runs):
            print(path)


if __name__ == "__main__":
    app.run(main)
