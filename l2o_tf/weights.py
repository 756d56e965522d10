"""Meta-parameter files: what the meta-trainer writes and `LearnedOptimizer` reads.

A `.npz` archive (numpy, loaded with `allow_pickle=False`: no pickle anywhere) holding
    __rule__    the registry name of the rule that wrote it,
    __config__  the rule's `get_config()` as JSON,
    NNN/name    one array per meta-parameter, in the rule's weight order.
"""

from __future__ import annotations

import json
import os

import numpy as np

from l2o_tf.rules.base import UpdateRule

_RULE_KEY = "__rule__"
_CONFIG_KEY = "__config__"


def _weight_key(index: int, name: str) -> str:
    return f"{index:03d}/{name}"


def save_rule_weights(rule: UpdateRule, path: str) -> str:
    """Writes the meta-parameters of `rule` to `path` (`.npz` is appended if missing)."""
    if not path.endswith(".npz"):
        path += ".npz"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    arrays = {_weight_key(i, w.name): np.asarray(w.numpy()) for i, w in enumerate(rule.weights)}
    config = {k: v for k, v in rule.get_config().items() if k not in ("name", "trainable", "dtype")}
    arrays[_RULE_KEY] = np.array(rule.rule_name)
    arrays[_CONFIG_KEY] = np.array(json.dumps(config))
    np.savez(path, **arrays)
    return path


def read_rule_name(path: str) -> str:
    """The rule name stored in a weights file."""
    with _open(path) as data:
        return str(data[_RULE_KEY])


def load_rule_weights(rule: UpdateRule, path: str) -> None:
    """Assigns the meta-parameters stored at `path` to `rule`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file was written by another rule, or for other shapes (e.g. another
            hidden size); the message names the mismatch and how to fix it.
    """
    with _open(path) as data:
        stored_rule = str(data[_RULE_KEY])
        if stored_rule != rule.rule_name:
            raise ValueError(
                f"{path} holds weights of rule {stored_rule!r}, not {rule.rule_name!r}. "
                f"Use LearnedOptimizer(rule={stored_rule!r}, weights=...) or a weights file "
                f"written for {rule.rule_name!r}."
            )
        keys = sorted(k for k in data.files if k not in (_RULE_KEY, _CONFIG_KEY))
        if len(keys) != len(rule.weights):
            raise ValueError(
                f"{path} holds {len(keys)} meta-parameter tensors but this {rule.rule_name!r} "
                f"rule has {len(rule.weights)}; it was written with config "
                f"{str(data[_CONFIG_KEY])}. Build the rule with that config."
            )
        for i, (key, weight) in enumerate(zip(keys, rule.weights)):
            value = data[key]
            if key != _weight_key(i, weight.name) or tuple(value.shape) != tuple(weight.shape):
                raise ValueError(
                    f"{path}: stored {key} has shape {tuple(value.shape)} but the rule expects "
                    f"{_weight_key(i, weight.name)} with shape {tuple(weight.shape)}; the file "
                    f"was written with config {str(data[_CONFIG_KEY])}. Build the rule with "
                    "that config."
                )
        for key, weight in zip(keys, rule.weights):
            weight.assign(data[key].astype(weight.dtype))


def _open(path: str) -> np.lib.npyio.NpzFile:
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No meta-parameter file at {path!r}. Write one with "
            "`python -m trainers.meta_train ... --logdir=DIR` (it saves DIR/rule_weights.npz) "
            "or l2o_tf.save_rule_weights(rule, path)."
        )
    return np.load(path, allow_pickle=False)
