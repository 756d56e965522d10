"""`LearnedOptimizer`: any update rule as a `keras.optimizers.Optimizer`.

The optimizer is an adapter (see `ARCHITECTURE.md`), not a second implementation: it keeps
the rule's state in a few optimizer variables (`PackedState`) and, with attention, no copy of
the parameters (`rule.true_params`), gathers every gradient, calls `rule.step` once for
all variables (the hierarchical RNN needs every tensor before any update) and assigns the
results. The standard Keras machinery around `update_step` (clipping, weight decay,
gradient accumulation, EMA, loss scaling) is inherited unchanged.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Sequence

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


# Leaves of the rule's state with fewer elements are packed together (see `PackedState`).
PACK_BELOW = 16384


class PackedState:
    """A rule's state nest held in few tensors: each leaf of at least `PACK_BELOW` elements
    as it is, the smaller leaves flattened and concatenated into one vector per dtype.

    The Keras adapter stores the state this way so that a step passes a handful of state
    tensors in and out of the XLA-compiled rule step and assigns a handful of variables:
    each tensor costs a fixed few microseconds there, and the hierarchical RNN's state has
    eight leaves per parameter tensor. Large leaves stay apart because flattening them into
    the vector cost more than it saved (the MLP rule's apply step on the benchmark CNN:
    +3 to +7 % with every leaf packed, −4 % with leaves of 16 384 elements or more apart;
    `benchmarks/RESULTS.md`). `pack` and `unpack` are each other's inverse for nests with
    the structure, shapes and dtypes of `example`.
    """

    def __init__(self, example: Any) -> None:
        leaves = tf.nest.flatten(example)
        self._structure = tf.nest.map_structure(lambda _: None, example)
        self._shapes = [leaf.shape for leaf in leaves]
        small = [i for i, leaf in enumerate(leaves) if leaf.shape.num_elements() < PACK_BELOW]
        dtypes = dict.fromkeys(leaves[i].dtype for i in small)
        self._groups = [  # leaf indices per packed tensor; a single leaf keeps its shape
            [i] for i in range(len(leaves)) if i not in small
        ] + [[i for i in small if leaves[i].dtype == dtype] for dtype in dtypes]

    def pack(self, state: Any) -> list[tf.Tensor]:
        """The packed tensors: a lone leaf itself, else the group's leaves concatenated."""
        leaves = tf.nest.flatten(state)
        return [
            leaves[group[0]]
            if len(group) == 1
            else tf.concat([tf.reshape(leaves[i], [-1]) for i in group], 0)
            for group in self._groups
        ]

    def unpack(self, packed: Sequence[tf.Tensor]) -> Any:
        """The state nest whose leaves `packed` holds."""
        leaves: list[Any] = [None] * len(self._shapes)
        for tensor, group in zip(packed, self._groups):
            if len(group) == 1:
                leaves[group[0]] = tensor
                continue
            parts = tf.split(tensor, [self._shapes[i].num_elements() for i in group])
            for i, part in zip(group, parts):
                leaves[i] = tf.reshape(part, self._shapes[i])
        return tf.nest.pack_sequence_as(self._structure, leaves)


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
            meta-trainer (`rule_weights.npz`); None keeps the rule's initialization. A
            learned rule named without shipped weights and without `weights=` warns that
            it is untrained (`l2o_tf/pretrained/README.md` lists what ships).
        rule_config: keyword arguments for the rule when `rule` is a name.
        learning_rate: multiplies the rule's step: θ ← θ + lr · (rule(θ) − θ). The default
            1.0 applies the rule exactly; a schedule or `ReduceLROnPlateau` scales it.
        jit_compile_rule: compile the update with XLA inside the train step (default True):
            the finite-gradient check, the reads of the model and state variables,
            `rule.step` and the assigns, as one call. Keras does not XLA-compile
            `model.fit` on CPU-only machines; compiling the update alone fuses its
            per-element work and lets XLA write the variables in place (measured in
            `benchmarks/RESULTS.md`). Set False for a rule with ops XLA cannot compile.
        **kwargs: the standard Keras optimizer arguments (`clipnorm`, `global_clipnorm`,
            `clipvalue`, `weight_decay`, `use_ema`, `ema_momentum`,
            `gradient_accumulation_steps`, `loss_scale_factor`, `name`).

    A step whose gradients contain NaN or Inf is skipped: neither the variables nor the
    rule's state change, and `skipped_updates` counts it. Variables that receive no
    gradient keep their values; the rule's state sees a zero gradient for them.

    With attention (`rule.uses_eval_point`, e.g. the hierarchical RNN's "paper" preset) the
    model variables hold the point where the next gradient is taken, `rule.eval_point(θ, s)`,
    from the first step on; the optimizer keeps no copy of θ but recovers it as
    `rule.true_params(variables, s)` (for the hierarchical RNN (θ + o) − o: float32 round-off
    of at most about one ulp per step, see `HierarchicalRNN.true_params`), so its state is
    the rule's alone. `swap_to_eval()` and `finalize_variable_values()` (the end of `fit`)
    write θ into the variables, `swap_to_train()` the attended point again; the boolean
    `holds_eval_point` records which one they hold, so a second `fit` starts from θ. A
    variable without a gradient keeps its θ while its attended point follows the rule's
    state. Weight decay and `ema_overwrite_frequency` act on the attended point.

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
        self.rule_named = isinstance(rule, str)
        if self.rule_named:
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
            tf.function(self._guarded_update, jit_compile=True)
            if self.jit_compile_rule
            else self._guarded_update
        )
        path = pretrained_path(rule.rule_name) if weights == PRETRAINED else weights
        if path is not None:
            load_rule_weights(rule, path)
        elif weights == PRETRAINED and self.rule_named and rule.needs_meta_training:
            warnings.warn(
                f"LearnedOptimizer(rule={rule.rule_name!r}): no meta-trained weights ship for "
                "this rule, so it runs on its random initial meta-parameters, which barely "
                "train a model. Pass weights='LOGDIR/rule_weights.npz' from `python -m "
                "trainers.meta_train`, or weights=None to use the initialization on purpose.",
                stacklevel=2,
            )

    def build(self, var_list: Sequence[keras.Variable]) -> None:
        """Creates the optimizer variables holding `rule.init(var_list)`, packed into few
        tensors (`PackedState`)."""
        if self.built:
            return
        super().build(var_list)
        self.skipped_updates = self.add_variable(
            shape=(), dtype="int64", name="skipped_updates"
        )
        params = [tf.convert_to_tensor(v.value) for v in var_list]
        state = self.rule.init(params)
        self._state_layout = PackedState(state)
        self._state_variables = [
            self.add_variable(
                shape=packed.shape,
                dtype=packed.dtype,
                initializer=lambda shape, dtype, value=packed: value,
                name=f"state_{i}",
            )
            for i, packed in enumerate(self._state_layout.pack(state))
        ]
        self.holds_eval_point = None
        if self.rule.uses_eval_point:
            # No copy of the parameters: the model variables hold the evaluation point from
            # the first step until `swap_to_eval`, and `rule.true_params` recovers θ.
            self.holds_eval_point = self.add_variable(
                shape=(), dtype="bool", name="holds_eval_point"
            )

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
        self._update(full_grads, tf.cast(learning_rate, all_vars[0].dtype), tuple(sorted(given)))

    def _guarded_update(
        self, grads: list[tf.Tensor], learning_rate: tf.Tensor, updated: tuple[int, ...]
    ) -> None:
        """One rule step on all variables, or none if a gradient in `updated` is not finite
        (then `skipped_updates` counts it). XLA-compiled with `jit_compile_rule`."""
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(grads[i])) for i in updated])

        def apply_rule() -> tf.Tensor:
            self._apply_rule(grads, updated, learning_rate)
            return tf.constant(0, tf.int64)

        skipped = tf.cond(finite, apply_rule, lambda: tf.constant(1, tf.int64))
        self.skipped_updates.assign_add(skipped)

    def _apply_rule(
        self, grads: list[tf.Tensor], updated: tuple[int, ...], learning_rate: tf.Tensor
    ) -> None:
        all_vars = self._trainable_variables
        values = [tf.convert_to_tensor(v.value) for v in all_vars]
        new_values, new_state = self._rule_update(
            values,
            grads,
            [v.value for v in self._state_variables],
            learning_rate,
            self._holds_eval_point(),
            updated,
        )
        for variable, value in zip(self._state_variables, new_state):
            variable.assign(value)
        for variable, value in zip(all_vars, new_values):
            self.assign(variable, value)
        if self.holds_eval_point is not None:
            self.holds_eval_point.assign(True)

    def _rule_update(
        self,
        values: list[tf.Tensor],
        grads: list[tf.Tensor],
        packed_state: list[tf.Tensor],
        learning_rate: tf.Tensor,
        holds_eval_point: tf.Tensor,
        updated: tuple[int, ...],
    ) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        """The adapter's pure part.

        Unpacks the rule's state (`PackedState`), recovers the true parameters θ from the
        model variables' `values` (`rule.true_params` when they hold the evaluation point),
        takes one rule step scaled by the learning rate, θ ← θ + lr · (rule(θ) − θ), for the
        tensors in `updated` (the others keep their θ), and returns what the model
        variables hold next, the point where the next gradient is taken (`rule.eval_point`;
        θ itself without attention), and the new state packed again.
        """
        state = self._state_layout.unpack(packed_state)
        params = self._true_params(values, state, holds_eval_point)
        stepped, new_state = self.rule.step(params, grads, state)
        new_params = [
            p + learning_rate * (q - p) if i in updated else p
            for i, (p, q) in enumerate(zip(params, stepped))
        ]
        return self.rule.eval_point(new_params, new_state), self._state_layout.pack(new_state)

    def _true_params(
        self, values: list[tf.Tensor], state: Any, holds_eval_point: tf.Tensor
    ) -> list[tf.Tensor]:
        """θ from the model variables' values: `rule.true_params` of them once they hold the
        evaluation point, the values themselves before the first step and after
        `swap_to_eval` (and always without attention)."""
        if self.holds_eval_point is None:
            return list(values)
        return tf.cond(
            holds_eval_point,
            lambda: self.rule.true_params(values, state),
            lambda: list(values),
        )

    def _holds_eval_point(self) -> tf.Tensor:
        """Whether the model variables hold the evaluation point (never without attention)."""
        if self.holds_eval_point is None:
            return tf.constant(False)
        return tf.convert_to_tensor(self.holds_eval_point.value)

    def swap_to_eval(self, var_list: Sequence[keras.Variable] | None = None) -> None:
        """Writes the true parameters into the model variables (no-op without attention)."""
        self._swap(var_list, self.rule.true_params, to_eval_point=False)

    def swap_to_train(self, var_list: Sequence[keras.Variable] | None = None) -> None:
        """Writes the point where gradients are taken into the model variables."""
        self._swap(var_list, self.rule.eval_point, to_eval_point=True)

    def _swap(
        self,
        var_list: Sequence[keras.Variable] | None,
        convert: Callable[[list[tf.Tensor], Any], list[tf.Tensor]],
        to_eval_point: bool,
    ) -> None:
        """Converts the model variables' values with `convert` (`rule.true_params` or
        `rule.eval_point`) unless they already hold the wanted point; idempotent."""
        if self.holds_eval_point is None:
            return
        variables = var_list or self._trainable_variables
        values = [tf.convert_to_tensor(v.value) for v in variables]
        state = self._rule_state()
        new_values = tf.cond(
            tf.equal(self.holds_eval_point, to_eval_point),
            lambda: list(values),
            lambda: convert(values, state),
        )
        for variable, value in zip(variables, new_values):
            variable.assign(value)
        self.holds_eval_point.assign(to_eval_point)

    def _rule_state(self) -> Any:
        """The rule's state nest, read from the optimizer variables that hold it."""
        return self._state_layout.unpack([v.value for v in self._state_variables])

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
