"""The update-rule seam: a learned optimizer as a pure function of tensors.

See `ARCHITECTURE.md`. A rule is a Keras layer whose weights are the meta-parameters θ.
It exposes pure functions, in the manner of optax's init/update split:

    state = rule.init(params, seed=None)
    params, state = rule.step(params, grads, state)
    eval_params = rule.eval_point(params, state)
    params = rule.true_params(eval_params, state)   # the inverse of eval_point

`params` and `grads` are flat lists of tensors in a fixed order; `state` is a nest (dicts,
lists, tuples) of tensors. None of them creates or mutates a variable, so the same code
runs inside an outer `tf.GradientTape` (second-order meta-gradients), under
`tf.function(jit_compile=True)`, and behind the Keras optimizer adapter.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import keras
import tensorflow as tf

Params = list[tf.Tensor]
State = Any  # a nest of tensors


class UpdateRule(keras.layers.Layer, abc.ABC):
    """Base class of every update rule.

    Subclasses create their meta-parameters in `build()` (called from `__init__`, since the
    meta-parameters do not depend on the problem) and implement `init` and `step`.

    Attributes:
        rule_name: the registry name of the rule (`"mlp"`, `"adam"`, ...).
        needs_meta_training: True when the rule's initial meta-parameters are random and
            only meta-training makes it an optimizer (the learned rules); False for the
            hand-designed rules, whose initial weights are their usual hyper-parameters.
        uses_eval_point: True when `eval_point` may differ from the parameters (attention);
            such a rule also implements `true_params`, its inverse, so that the Keras
            adapter can keep only the evaluation point (in the model variables).
    """

    rule_name: str = ""
    uses_eval_point: bool = False
    needs_meta_training: bool = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.build()

    @abc.abstractmethod
    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        """Returns the optimizer state for `params` (a nest of tensors, no variables).

        `seed` (shape [2]) is given during meta-training, for rules whose initial state is
        random (the hierarchical RNN's initial learning rates); None asks for the fixed,
        documented deployment state. Rules without random state ignore it.
        """

    @abc.abstractmethod
    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        """One update: returns the new parameters and the new state."""

    def eval_point(self, params: Sequence[tf.Tensor], state: State) -> Params:
        """Where the next gradient is taken. The parameters themselves by default."""
        del state
        return list(params)

    def true_params(self, eval_params: Sequence[tf.Tensor], state: State) -> Params:
        """The parameters whose `eval_point` under `state` is `eval_params` (its inverse).

        The identity for a rule without an evaluation point; a rule with `uses_eval_point`
        must implement it. In floating point the round trip need not be exact (the
        hierarchical RNN's (θ + o) − o is θ to within about one ulp of max(|θ|, |θ + o|)).
        """
        if self.uses_eval_point:
            raise NotImplementedError(
                f"{type(self).__name__} has uses_eval_point=True and must implement "
                "true_params(eval_params, state), the inverse of eval_point."
            )
        del state
        return list(eval_params)

    def call(self, inputs: Any) -> Any:
        raise TypeError(
            f"{type(self).__name__} is an update rule, not a layer to call on inputs: use "
            "rule.init(params), rule.step(params, grads, state) and rule.eval_point(...)."
        )

    def _check_lists(self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor]) -> None:
        if len(params) != len(grads):
            raise ValueError(
                f"{self.rule_name}: got {len(params)} parameter tensors but {len(grads)} "
                "gradients; pass one gradient per parameter tensor, in the same order."
            )
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                raise ValueError(
                    f"{self.rule_name}: gradient {i} is None; drop parameters without a "
                    "gradient before calling step, or pass zeros."
                )
            if not p.shape.is_compatible_with(g.shape):
                raise ValueError(
                    f"{self.rule_name}: gradient {i} has shape {g.shape} but its parameter "
                    f"has shape {p.shape}."
                )

