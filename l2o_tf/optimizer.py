"""`LearnedOptimizer`: any update rule as a `keras.optimizers.Optimizer`.

The optimizer is an adapter (see `ARCHITECTURE.md`), not a second implementation: it keeps
the rule's state in optimizer variables, gathers every gradient, calls `rule.step` once for
all variables (the hierarchical RNN needs every tensor before any update) and assigns the
results. The standard Keras machinery around `update_step` (clipping, weight decay,
gradient accumulation, EMA, loss scaling) is inherited unchanged.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from l2o_tf.weights import load_rule_weights

PRETRAINED = "pretrained"
_PRETRAINED_DIR = os.path.join(os.path.dirname(__file__), "pretrained")


def pretrained_path(rule_name: str) -> str | None:
    """The meta-parameter file shipped for `rule_name`, or None if none ships."""
    path = os.path.join(_PRETRAINED_DIR, f"{rule_name}.npz")
    return path if os.path.exists(path) else None


def _dense(gradient: tf.Tensor | tf.IndexedSlices, variable: keras.Variable) -> tf.Tensor:
    """A dense gradient in the variable's dtype (an Embedding gives IndexedSlices)."""
    if isinstance(gradient, tf.IndexedSlices):
        rows = tf.math.unsorted_segment_sum(
            gradient.values, gradient.indices, variable.shape[0]
        )
        gradient = tf.reshape(rows, variable.shape)
    return tf.cast(gradient, variable.dtype)


@keras.saving.register_keras_serializable(package="l2o_tf")
class LearnedOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer that applies a (learned) update rule to all variables at once.

    Args:
        rule: a registered rule name (`"mlp"`, `"hierarchical_rnn"`, `"gru"`, `"sgd"`,
            `"momentum"`, `"rmsprop"`, `"adam"`; see `l2o_tf.rules.names()`) or an
            `UpdateRule` instance. A rule of your own round-trips through `get_config` and
            `model.save` when its class is registered with
            `@keras.saving.register_keras_serializable()`. Default `"mlp"`.
        weights: where the meta-parameters come from: `"pretrained"` (default) loads the file
            shipped in `l2o_tf/pretrained/` for this rule when there is one and keeps the
            rule's own initialization otherwise; a path loads a file written by the
            meta-trainer (`rule_weights.npz`); None keeps the rule's initialization.
        rule_config: keyword arguments for the rule when `rule` is a name.
        learning_rate: multiplies the rule's step: θ ← θ + lr · (rule(θ) − θ). The default
            1.0 applies the rule exactly; a schedule or `ReduceLROnPlateau` scales it.
        jit_compile_rule: compile `rule.step` with XLA inside the train step (default True).
            Keras does not XLA-compile `model.fit` on CPU-only machines; compiling the
            rule's step alone fuses its per-element work (measured in
            `benchmarks/RESULTS.md`). Set False for a rule with ops XLA cannot compile.
        **kwargs: the standard Keras optimizer arguments (`clipnorm`, `global_clipnorm`,
            `clipvalue`, `weight_decay`, `use_ema`, `ema_momentum`,
            `gradient_accumulation_steps`, `loss_scale_factor`, `name`).

    A step whose gradients contain NaN or Inf is skipped: neither the variables nor the
    rule's state change, and `skipped_updates` counts it. Variables that receive no
    gradient keep their values; the rule's state sees a zero gradient for them.

    Usage:

    >>> model.compile(optimizer=l2o_tf.LearnedOptimizer(), loss="mse")
    >>> model.fit(x, y)
    >>> opt = l2o_tf.LearnedOptimizer(rule="mlp", weights="runs/quad/rule_weights.npz")
    """

    def __init__(
        self,
        rule: str | UpdateRule | dict[str, Any] = "mlp",
        weights: str | None = PRETRAINED,
        rule_config: dict[str, Any] | None = None,
        learning_rate: float = 1.0,
        jit_compile_rule: bool = True,
        name: str = "learned_optimizer",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if isinstance(rule, dict):  # a rule outside the registry, as `get_config` wrote it
            rule = keras.saving.deserialize_keras_object(rule)
        if isinstance(rule, str):
            rule = rules.get(rule, **(rule_config or {}))
        elif not isinstance(rule, UpdateRule):
            raise TypeError(
                f"rule must be a rule name ({', '.join(rules.names())}) or an UpdateRule, "
                f"got {type(rule).__name__}."
            )
        elif rule_config:
            raise ValueError("rule_config is only used with a rule name, not a rule instance.")
        self.rule = rule
        self.weights_source = weights
        self.jit_compile_rule = bool(jit_compile_rule)
        self._update = (
            tf.function(self._rule_update, jit_compile=True)
            if self.jit_compile_rule
            else self._rule_update
        )
        path = pretrained_path(rule.rule_name) if weights == PRETRAINED else weights
        if path is not None:
            load_rule_weights(rule, path)

    def build(self, var_list: Sequence[keras.Variable]) -> None:
        """Creates one optimizer variable per leaf of `rule.init(var_list)`."""
        if self.built:
            return
        super().build(var_list)
        self.skipped_updates = self.add_variable(
            shape=(), dtype="int64", name="skipped_updates"
        )
        params = [tf.convert_to_tensor(v.value) for v in var_list]
        state = self.rule.init(params)
        self._state_structure = tf.nest.map_structure(lambda _: None, state)
        self._state_variables = [
            self.add_variable(
                shape=leaf.shape,
                dtype=leaf.dtype,
                initializer=lambda shape, dtype, value=leaf: value,
                name=f"state_{i}",
            )
            for i, leaf in enumerate(tf.nest.flatten(state))
        ]
        self._true_params = []
        if self.rule.uses_eval_point:
            # Named by index like the state: a name taken from the model variable's path
            # would differ between a model and its reloaded copy (Sequential paths differ).
            self._true_params = [
                self.add_variable(shape=var.shape, dtype=var.dtype, name=f"true_param_{i}")
                for i, var in enumerate(var_list)
            ]
            for slot, var in zip(self._true_params, var_list):
                slot.assign(var)

    def _backend_update_step(
        self,
        grads: Sequence[tf.Tensor | tf.IndexedSlices],
        trainable_variables: Sequence[keras.Variable],
        learning_rate: tf.Tensor,
    ) -> None:
        if self._distribution_strategy.num_replicas_in_sync > 1:
            raise NotImplementedError(
                "LearnedOptimizer applies its rule to all variables at once and does not yet "
                "run under a multi-replica tf.distribute strategy in model.fit; train with "
                "one replica, or meta-train with trainers.meta_train (which distributes)."
            )
        given = {
            self._get_variable_index(v): _dense(g, v) for g, v in zip(grads, trainable_variables)
        }
        all_vars = self._trainable_variables
        full_grads = [given.get(i, tf.zeros(v.shape, v.dtype)) for i, v in enumerate(all_vars)]
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in given.values()])

        def apply_rule() -> tf.Tensor:
            self._apply_rule(full_grads, sorted(given), learning_rate)
            return tf.constant(0, tf.int64)

        skipped = tf.cond(finite, apply_rule, lambda: tf.constant(1, tf.int64))
        self.skipped_updates.assign_add(skipped)

    def _apply_rule(
        self, grads: list[tf.Tensor], updated: list[int], learning_rate: tf.Tensor
    ) -> None:
        all_vars = self._trainable_variables
        params = [tf.convert_to_tensor(v.value) for v in (self._true_params or all_vars)]
        new_params, eval_params, new_state = self._update(
            params, grads, self._rule_state(), tf.cast(learning_rate, params[0].dtype)
        )
        for variable, value in zip(self._state_variables, tf.nest.flatten(new_state)):
            variable.assign(value)
        for i in updated:
            if self._true_params:
                self._true_params[i].assign(new_params[i])
            self.assign(all_vars[i], eval_params[i])

    def _rule_update(
        self, params: list[tf.Tensor], grads: list[tf.Tensor], state: Any, learning_rate: tf.Tensor
    ) -> tuple[list[tf.Tensor], list[tf.Tensor], Any]:
        """The adapter's pure part (XLA-compiled with `jit_compile_rule`): one rule step
        scaled by the learning rate, θ ← θ + lr · (rule(θ) − θ), and the point where the next
        gradient is taken (`rule.eval_point`; θ itself without attention)."""
        new_params, new_state = self.rule.step(params, grads, state)
        new_params = [p + learning_rate * (q - p) for p, q in zip(params, new_params)]
        eval_params = (
            self.rule.eval_point(new_params, new_state) if self.rule.uses_eval_point else new_params
        )
        return new_params, eval_params, new_state

    def swap_to_eval(self, var_list: Sequence[keras.Variable] | None = None) -> None:
        """Writes the true parameters into the model variables (no-op without attention)."""
        if self._true_params:
            for var, true in zip(var_list or self._trainable_variables, self._true_params):
                var.assign(true)

    def swap_to_train(self, var_list: Sequence[keras.Variable] | None = None) -> None:
        """Writes the point where gradients are taken back into the model variables."""
        if self._true_params:
            params = [tf.convert_to_tensor(t.value) for t in self._true_params]
            for var, value in zip(
                var_list or self._trainable_variables,
                self.rule.eval_point(params, self._rule_state()),
            ):
                var.assign(value)

    def _rule_state(self) -> Any:
        """The rule's state nest, read from the optimizer variables that hold it."""
        return tf.nest.pack_sequence_as(
            self._state_structure, [v.value for v in self._state_variables]
        )

    def finalize_variable_values(self, var_list: Sequence[keras.Variable]) -> None:
        self.swap_to_eval(var_list)
        super().finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.rule.rule_name in rules.names() and type(self.rule) is rules.rule_class(
            self.rule.rule_name
        ):
            rule_config = {
                k: v
                for k, v in self.rule.get_config().items()
                if k not in ("name", "trainable", "dtype")
            }
            config.update({"rule": self.rule.rule_name, "rule_config": rule_config})
        else:
            config.update(
                {"rule": keras.saving.serialize_keras_object(self.rule), "rule_config": None}
            )
        config["weights"] = self.weights_source
        config["jit_compile_rule"] = self.jit_compile_rule
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> "LearnedOptimizer":
        """Rebuilds the optimizer; tolerates a weights file that no longer exists.

        `keras.models.load_model` rebuilds the optimizer from its config and then restores
        the rule's meta-parameters from the `.keras` archive, so a file that was moved or
        deleted since training must not make loading fail: the rule then keeps its
        initialization here (with a warning) until the archive's values are assigned.
        """
        weights = config.get("weights", PRETRAINED)
        if weights in (None, PRETRAINED) or os.path.exists(weights):
            return super().from_config(config, custom_objects)
        warnings.warn(
            f"Meta-parameter file {weights!r} does not exist; the rebuilt optimizer keeps "
            "the rule's initialization unless its weights are restored afterwards "
            "(keras.models.load_model restores them from the .keras file).",
            stacklevel=2,
        )
        optimizer = super().from_config({**config, "weights": None}, custom_objects)
        optimizer.weights_source = weights
        return optimizer
