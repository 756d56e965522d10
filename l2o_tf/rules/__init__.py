"""Update rules and their registry: `rules.get("mlp")`, `rules.names()`."""

from __future__ import annotations

from typing import Any

from l2o_tf.rules.base import UpdateRule
from l2o_tf.rules.gru import CoordinatewiseGRU
from l2o_tf.rules.hand_designed import AdamRule, MomentumRule, RMSPropRule, SGDRule
from l2o_tf.rules.hierarchical_rnn import HierarchicalRNN
from l2o_tf.rules.mlp import MLPRule

_REGISTRY: dict[str, type[UpdateRule]] = {
    cls.rule_name: cls
    for cls in (MLPRule, SGDRule, MomentumRule, RMSPropRule, AdamRule, CoordinatewiseGRU,
                HierarchicalRNN)
}


def names() -> list[str]:
    """Names accepted by `get`."""
    return sorted(_REGISTRY)


def rule_class(name: str) -> type[UpdateRule]:
    """The class registered under `name`; a ValueError listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown rule {name!r}. Known rules: {', '.join(names())}. "
            "Pass one of these names, or an UpdateRule instance."
        ) from None


def get(name: str, **kwargs: Any) -> UpdateRule:
    """A new rule of the registered `name`, built with `kwargs`."""
    return rule_class(name)(**kwargs)


__all__ = [
    "AdamRule",
    "CoordinatewiseGRU",
    "HierarchicalRNN",
    "MLPRule",
    "MomentumRule",
    "RMSPropRule",
    "SGDRule",
    "UpdateRule",
    "get",
    "names",
    "rule_class",
]
