"""Named meta-training configs: `python -m trainers.meta_train --preset=NAME --logdir=...`.

A preset is a full `MetaTrainConfig`; flags given on the command line override its fields.
"""

from __future__ import annotations

import dataclasses

from trainers.meta_train import MetaTrainConfig

PRESETS: dict[str, MetaTrainConfig] = {
    # The README's main job: the MLP rule on 10-D random quadratics (the embedded defaults).
    "quickstart": MetaTrainConfig(),
}


def get_preset(name: str) -> MetaTrainConfig:
    """A copy of preset `name` (so callers may change it)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}.")
    return dataclasses.replace(PRESETS[name])
