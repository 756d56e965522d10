"""Figures of the papers: `python -m trainers.figures NAME --out DIR [--quick]`, `--list`.

The registry is `trainers/figures/base.py`; each paper's figures live in one module imported
here, which registers them.
"""

from trainers.figures import dynamics  # noqa: F401  (registers the dynamics-paper figures)
from trainers.figures import metz2019  # noqa: F401  (registers the Metz et al. 2019 figures)
from trainers.figures import metz2019_ablations  # noqa: F401  (Metz et al. 2019 Fig. 8)
from trainers.figures import metz2019_curves  # noqa: F401  (Metz et al. 2019 Fig. 6)
from trainers.figures import metz2019_landscapes  # noqa: F401  (Metz et al. 2019 Fig. 2d-f, 4)
from trainers.figures import wichrowska2017  # noqa: F401  (Wichrowska et al. 2017 Figs. 3-5)
from trainers.figures import wichrowska2017_ablations  # noqa: F401  (Wichrowska et al. 2017 Fig. 6)
from trainers.figures.base import Figure, get, names, register, save

__all__ = ["Figure", "get", "names", "register", "save"]
