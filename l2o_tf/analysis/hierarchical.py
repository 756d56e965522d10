"""The hierarchical RNN's Parameter RNN as a recurrent rule the toolkit can analyze.

The dynamics paper's tools (`l2o_tf.analysis`) take a component-wise optimizer
h(k+1) = F(h(k), g(k)), x(k+1) = x(k) + r(h(k+1)) (`protocol.py`). Per scalar parameter the
hierarchical RNN (`l2o_tf.rules.HierarchicalRNN`, seed 001 spec) is one, once what it shares
with the other elements of its tensor and with the levels above is held fixed:

    h = [h0 (H0), m_1..m_K (K > 1), v_1..v_K, γ (dynamic input scaling), β (learnable input
         decay, K > 1), log_lr (dynamic output scale)]      (H0 + 2K + 3 with every feature)

    F(h, g): steps 1–6 of the rule for this element: momentum, mean squares and ĝ, the
        features, the Parameter-RNN step, the readouts γ', β' and the new log_lr
    r(h'): −exp(s + c) d with d = (h0' W_d + ĝ' W_s) / `direction_rms` (eqs. 5–6, 9), or
        −2σ(Δ) d without the dynamic output scale (no normalization then, nor in App. D.3)

Held fixed (**choice**, the "chosen values" of `protocol.py`): the external bias of the
Parameter RNN, from the Tensor- and Global-RNN states `tensor_state` and `global_state`
(default: their initial states); the mean log learning rate the relative one is taken from,
`mean_log_lr` (default: log of the deployment learning rate, what every element starts at);
and the step normalization √(mean over the tensor of d² + 1e-16), `direction_rms` (default
1; `direction_rms_of` recorded new states gives the rule's). γ = 0 on an element whose v_i
is zero, as the rule does on the first step of a tensor. App. D.1 parameter noise does not
depend on g and is left out; with attention, r is the step of the parameter θ, whose
gradient the rule takes at the attended point.

r depends on the new state alone because the step's log step size is
s = clip(log_lr + Δ, ±33) with log_lr' = ρ log_lr + (1 − ρ) s, so
s = clip(log_lr' + ρ Δ, ±33) (Δ = h0' W_lr + b_lr; the same clip either way, checked case by
case). F and r reuse the rule's own step pieces, so the view follows the rule exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from l2o_tf.rules.hierarchical_rnn import (
    EPSILON,
    LOG_LR_CLIP,
    HierarchicalRNN,
    _scaled_momenta,
)


@dataclasses.dataclass(frozen=True)
class _Part:
    key: str  # the rule's per-tensor state entry
    width: int  # its columns in h; 1 for an entry stored as [n]


class ParameterRNNView:
    """One element of a `HierarchicalRNN` as a recurrent rule (module docstring).

    Args:
        rule: a `HierarchicalRNN` with momentum (its weights are read at every call).
        tensor_state: the Tensor-RNN state fed down, [H1] (2+ levels). Default: its
            initial state.
        global_state: the Global-RNN state fed down, [H2] (3 levels). Default: its initial
            state.
        mean_log_lr: the mean log learning rate of the element's tensor (or problem, with
            `problem_wide_lr_mean`). Default: log(`deployment_learning_rate`).
        direction_rms: the step normalization of the element's tensor (eqs. 5–6). Default 1.

    Usage (the rule's tensor i after a step, its states and means held):

    >>> tensor = state["tensors"][i]
    >>> view = ParameterRNNView(rule, tensor["h1"][0], state["h2"][0],
    ...                         mean_log_lr=float(tf.reduce_mean(tensor["log_lr"])))
    >>> h = view.hidden_states(state)            # [n_params, H0 + 2K + 3]
    >>> linearize(view, h[0]); update_function(view, g, h[0])
    """

    def __init__(
        self,
        rule: HierarchicalRNN,
        tensor_state: Any = None,
        global_state: Any = None,
        mean_log_lr: float | None = None,
        direction_rms: float = 1.0,
    ) -> None:
        if not isinstance(rule, HierarchicalRNN):
            raise TypeError(
                f"ParameterRNNView needs a HierarchicalRNN, got {type(rule).__name__}."
            )
        if not rule.has_momentum:
            raise ValueError(
                "With num_timescales=1 (no momentum) the step's ĝ = asinh(g / √v) needs g "
                "itself, which no state keeps, so r(h') is not a function of the new state; "
                "analyze a rule with num_timescales > 1."
            )
        if direction_rms <= 0:
            raise ValueError(f"direction_rms must be > 0, got {direction_rms}.")
        self.rule = rule
        above = []
        for level, given, name in (
            (rule.tensor_rnn, tensor_state, "tensor_state"),
            (rule.global_rnn, global_state, "global_state"),
        ):
            if level is None:
                if given is not None:
                    raise ValueError(f"{name} given, but the rule has no such level.")
                continue
            value = level.initial_state(1, tf.float64)[0] if given is None else given
            value = np.asarray(value, dtype=np.float64).reshape(-1)
            if value.shape != (level.units,):
                raise ValueError(f"{name} must have {level.units} values, got {value.shape}.")
            above.append(value)
        self.above = above
        if mean_log_lr is None:
            mean_log_lr = float(np.log(rule.deployment_learning_rate))
        self.mean_log_lr = float(mean_log_lr)
        self.direction_rms = float(direction_rms)
        k = rule.num_timescales
        parts = [_Part("h0", rule.parameter_units), _Part("m", k), _Part("v", k)]
        parts += [_Part("gamma", 1)] if rule.dynamic_input_scaling else []
        parts += [_Part("beta", 1)] if rule.has_input_decay else []
        parts += [_Part("log_lr", 1)] if rule.dynamic_output_scale else []
        self.parts = parts
        self.state_size = sum(p.width for p in parts)

    # -- the recurrent-rule protocol ------------------------------------------------------

    def initial_state(self, dtype: tf.DType = tf.float32) -> tf.Tensor:
        """h(0) of every element of a rule started without a seed (deployment), [N]."""
        k = self.rule.num_timescales
        log_lr = np.log(self.rule.deployment_learning_rate)
        entry = {
            "h0": tf.transpose(self.rule.parameter_rnn.initial_state(1, dtype)),
            "m": tf.zeros([k, 1], dtype),
            "v": tf.zeros([k, 1], dtype),
            "gamma": tf.zeros([1], dtype),
            "beta": tf.zeros([1], dtype),
            "log_lr": tf.fill([1], tf.constant(log_lr, dtype)),
        }
        return self._pack(entry)[0]

    def cell(self, h: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """F(h, g): states [..., N] and gradients [...] -> new states [..., N]."""
        rule, dtype = self.rule, h.dtype
        shape = tf.shape(h)
        old = self._unpack(tf.reshape(h, [-1, self.state_size]))
        g = tf.reshape(tf.cast(g, dtype), [-1])
        m = rule._momentum(g, old)
        first = tf.equal(old["v"], 0.0)  # this element's v_i: the tensor's, all alike
        v, g_hat = rule._scaled_gradients(g, m, old, first)
        mean_log_lr = tf.constant(self.mean_log_lr, dtype)
        columns = rule._features(g_hat, v, old.get("log_lr"), mean_log_lr)
        h0 = rule.parameter_rnn.next_state(
            tf.concat(columns, 0), old["h0"], self._bias(dtype), feature_axis=0
        )
        readout = rule._readouts(h0, g_hat)
        new = {"h0": h0, "m": m, "v": v, **readout}
        if rule.dynamic_output_scale:
            new["log_lr"] = rule._step_lengths(readout["lr"], old["log_lr"])[2]
        return tf.reshape(self._pack(new), shape)

    def readout(self, h: tf.Tensor) -> tf.Tensor:
        """r(h'): the parameter's step from new states [..., N] -> [...]."""
        rule, dtype = self.rule, h.dtype
        new = self._unpack(tf.reshape(h, [-1, self.state_size]))
        outputs = rule._readouts(new["h0"], self._g_hat(new))
        d = outputs["d"]
        if rule.normalizes_steps:
            d = d / tf.constant(self.direction_rms, dtype)
        if rule.dynamic_output_scale:
            rho = tf.sigmoid(tf.cast(rule.lr_momentum_logit, dtype))
            s = tf.clip_by_value(new["log_lr"] + rho * outputs["lr"], -LOG_LR_CLIP, LOG_LR_CLIP)
            length = tf.exp(s + tf.cast(rule.step_offset, dtype))
        else:
            length = 2.0 * tf.sigmoid(outputs["lr"])
        return tf.reshape(-length * d, tf.shape(h)[:-1])

    def hidden_states(self, state: dict[str, Any]) -> tf.Tensor:
        """Every element's h from a rule state, [n_params, N] (tensors in order)."""
        return tf.concat([self._pack(t) for t in state["tensors"]], 0)

    # -- the frozen tensor-wide quantities ------------------------------------------------

    def direction_rms_of(self, h: tf.Tensor) -> float:
        """√(mean d² + 1e-16) over new states h [n, N] of one tensor's elements: the step
        normalization the rule applied in the step that produced them (`direction_rms`)."""
        new = self._unpack(tf.reshape(h, [-1, self.state_size]))
        d = self.rule._readouts(new["h0"], self._g_hat(new))["d"]
        return float(tf.sqrt(tf.reduce_mean(tf.square(d)) + EPSILON))

    # -- helpers ----------------------------------------------------------------------------

    def _bias(self, dtype: tf.DType) -> tf.Tensor | None:
        above = [tf.constant(a[None], dtype) for a in self.above]
        bias = self.rule.parameter_rnn.external_bias(above)  # [1, 3H0]
        return None if bias is None else tf.transpose(bias)

    @staticmethod
    def _g_hat(state: dict[str, tf.Tensor]) -> tf.Tensor:
        """ĝ_i = asinh(m_i / √(v_i + 1e-16)) of a new state, as the step computed it."""
        return _scaled_momenta(state["m"], state["v"])

    def _pack(self, entry: dict[str, tf.Tensor]) -> tf.Tensor:
        """Element states h as rows [b, N] from the rule's feature-major entries ([·, b] or
        [b])."""
        blocks = []
        for p in self.parts:
            value = entry[p.key]
            blocks.append(value if value.shape.rank == 2 else value[None])
        return tf.transpose(tf.concat(blocks, 0))

    def _unpack(self, rows: tf.Tensor) -> dict[str, tf.Tensor]:
        """The rule's feature-major entries from element states h as rows [b, N]."""
        columns = tf.transpose(rows)  # [N, b]
        entry, start = {}, 0
        for p in self.parts:
            block = columns[start : start + p.width]
            entry[p.key] = block if p.key in ("h0", "m", "v") else block[0]
            start += p.width
        return entry

