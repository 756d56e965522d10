"""The hierarchical RNN optimizer of Wichrowska et al. 2017 (§3, App. B.1, App. D).

Implements the seed 001 spec `spec/hierarchical_rnn.md`, which restores the equations the
paper's text lost from the authors' release. Three GRUs (`hierarchical_levels.py`) form a hierarchy:
a Parameter RNN (level 0) runs on every scalar of every tensor, a Tensor RNN (level 1) takes
one step per tensor, a Global RNN (level 2) one step per problem; each level's previous state
is fed down as an external bias of the levels below (§3.1).

One step, per tensor with n elements and gradient g (taken at the attended point):

    1. momentum (§3.2.2)   β_1 = β (previous step), β_{i+1} = √β_i
                           m_i ← (1 − β_i) g + β_i m_i                     (m_1 = g if K = 1)
    2. scaling (§3.2.3)    γ = previous γ, or 0 while this tensor's v_i is all zero
                           v_i ← (1 − γ)(m_i² + 1e-12) + γ v_i
                           ĝ_i = asinh(m_i / √(v_i + 1e-16))
    3. features (§3.3)     [ĝ_1..ĝ_K, ℓ_i − mean_j ℓ_j (eq. 4, ℓ_i = log(v_i + 1e-16)),
                            log_lr − mean_tensor(log_lr)]                              # [D, n]
    4. Parameter RNN       h0 ← GRU0(features, h0, A_T(h1) + A_G(h2))
    5. Tensor RNN          h1 ← GRU1(mean_n [h0, features], h1, A_1(h2))
    6. readouts            d = h0 W_d, a = h0 W_a (+ [ĝ] W_s, App. B.1)
                           d ← d / √(mean_tensor(d²) + 1e-16), same for a        (eqs. 5–6)
                           γ' = σ(h0 W_γ + b_γ), β' = σ(h0 W_β + b_β)
                           s = clip(log_lr + h0 W_lr + b_lr, ±33), straight-through (eqs. 7–8)
                           log_lr ← ρ log_lr + (1 − ρ) s,   ρ = σ(ρ_logit)
    7. update              θ ← θ − exp(s + c) d;   attended point θ_old − exp(s) a     (eq. 9)
    8. Global RNN          h2 ← GRU2(mean over tensors of h1)

Where the spec and the paper differ, this follows the spec: the asinh of step 2 (the paper
omits it, the release has it); the step lengths of step 7 (the offset c is on the parameter
step, the attention step is exp(s)); the Global RNN input is the paper's mean over tensors
(the release's last-tensor input, a bug, is `global_input="last_tensor"`). The spec's
Normal(0, σ) initializers are read as standard deviations. Choices the spec leaves open:
without trainable initial states the RNNs start at zero; with the dynamic output scale off
the attention step length equals the parameter step length 2σ(h0 W_lr + b_lr).

`version="appendix_d"` applies App. D: D.1 parameter noise θ ← θ + σ ε after each step, σ
log-uniform per problem sample in `parameter_noise_range` (the paper's range was lost;
default (1e-4, 1e-2)); D.2 v_i tracks m_{i−1}² with m_0 = g; D.3 no step normalization and
the attended point θ_old − exp(s + c) a. D.4 (meta-optimizer decay 0.999) is the trainer's.

State: per tensor a dict of per-element values stored feature-major, one column per element
("h0" [H0, n], "m" and "v" [K, n], the rest [n]; see `HierarchicalRNN.init`), and its
Tensor-RNN state [1, H1]; globally the Global-RNN state [1, H2]. Per parameter H0 + 2K + 3
floats, +1 with attention: the offset o of the attended point from the parameter, which also
stands in for the spec's copy of the true parameter, since θ = attended point − o
(`true_params`).

Layout of the computation (results do not depend on it beyond float round-off; it is tested
against numpy). Steps 1–7 run on groups of tensors (`Layout.groups`): every tensor of 4096 or
more elements alone, the smaller ones batched, so that per-tensor means are plain reductions
over static slices and no [N, ·] array of all N parameters is assembled. Everything is
feature-major, as the state is stored: the features [D, n], the gates [3H0, n], the readouts
[outputs, n], so every feature, gate and readout is a contiguous row and the elementwise work
runs along n, which XLA vectorizes. Until 2026-11-25 the state was stored as rows ([n, H0],
[n, K]) and transposed for the GRU under XLA: `step` on the seed-002 CNN's shapes took 1.70
ms under XLA and 3.42 ms without, against 1.62 and 2.82 ms now (interleaved A/B runs).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

from l2o_tf.random import fold_in, normal, uniform
from l2o_tf.rules.base import Params, State, UpdateRule
from l2o_tf.rules.gru_cell import scaled_normal
from l2o_tf.rules.hierarchical_levels import GlobalRNN, ParameterRNN, TensorRNN
from l2o_tf.rules.layout import Layout

LOG_LR_CLIP = 33.0
SQUARE_EPSILON = 1e-12  # added to m² in the mean square
EPSILON = 1e-16  # inside roots and logs
CONSTANT_SCALE_DECAY = 0.93  # γ when dynamic input scaling is off
CONSTANT_INPUT_DECAY = 0.89  # β when the input decay is not learnable
SCALE_DECAY_BIAS = 3.2
INPUT_DECAY_BIAS = 2.2
LR_MOMENTUM_LOGIT = 3.2
STEP_OFFSET = -1.0
SHORTCUT_STDDEV = 0.1
APPENDIX_D_NOISE_RANGE = (1e-4, 1e-2)
NO_NOISE = (0.0, 0.0)
VERSIONS = ("2017", "appendix_d")
GLOBAL_INPUTS = ("mean", "last_tensor")

# Switches that differ between the presets (spec "Meta-training recipe"); every other switch
# has the same default in both.
PRESETS: dict[str, dict[str, bool]] = {
    "paper": {
        "attention": True,
        "gradient_shortcut": True,
        "gradient_products": False,
        "problem_wide_lr_mean": False,
    },
    "release": {
        "attention": False,
        "gradient_shortcut": True,
        "gradient_products": True,
        "problem_wide_lr_mean": True,
    },
}


def _repeated_column(initializer: keras.initializers.Initializer, columns: int):
    """An initializer drawing one column and repeating it (the attention readout starts as a
    copy of the update readout)."""

    def initialize(shape: Sequence[int], dtype: Any = None) -> tf.Tensor:
        return tf.tile(initializer((shape[0], 1), dtype), [1, columns])

    return initialize


def _asinh(x: tf.Tensor) -> tf.Tensor:
    """asinh(x) = sign(x) log1p(a + a² / (1 + √(1 + a²))), a = |x|, with a² / (1 + √(1 + a²))
    written as a / (1/a + √(1/a² + 1)) so that nothing overflows: accurate to float round-off
    for every x (0, tiny, huge). Without XLA it costs about half of `tf.asinh`, whose CPU
    kernel is a scalar loop (under XLA both compile to the same kind of loop). The gradient
    1/√(1 + x²) is given explicitly (the formula's own is NaN at x = 0).
    """

    @tf.custom_gradient
    def forward(x: tf.Tensor) -> tuple[tf.Tensor, Any]:
        a = tf.abs(x)
        inverse = 1.0 / a  # inf at 0, where the fraction below is then 0
        y = tf.math.log1p(a + a / (inverse + tf.sqrt(tf.square(inverse) + 1.0)))

        def grad(dy: tf.Tensor) -> tf.Tensor:
            return dy / tf.sqrt(1.0 + tf.square(x))

        return tf.sign(x) * y, grad

    return forward(x)


def _scaled_momenta(m: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """ĝ_i = asinh(m_i / √(v_i + 1e-16)), the momenta scaled by their mean squares (step 2,
    §3.2.3)."""
    return _asinh(m / tf.sqrt(v + EPSILON))


def _root_mean_square(layout: Layout, directions: tf.Tensor) -> tf.Tensor:
    """√(mean over each tensor of d² + 1e-16) of directions [·, n], broadcast to [·, n] (the
    step normalization of eqs. 5–6)."""
    mean_square = layout.mean(tf.square(directions), axis=1)
    return tf.sqrt(layout.broadcast(mean_square, axis=1) + EPSILON)


def _decays(first: tf.Tensor, count: int, halving: bool) -> tf.Tensor:
    """[first, √first, √√first, ...] as [count, n] when `halving`, else first as [1, n];
    a scalar `first` (a constant decay) gives one column."""
    decays = [tf.reshape(first, [-1])]
    if halving:
        for _ in range(count - 1):
            decays.append(tf.sqrt(decays[-1]))
    return tf.stack(decays, axis=0)


class HierarchicalRNN(UpdateRule):
    """The hierarchical RNN learned optimizer (Wichrowska et al. 2017); see the module
    docstring for the equations.

    Args:
        preset: "paper" (default; attention on as in §5.5, and the App. B.1 shortcut the
            paper says it included) or "release" (the original release's run script:
            attention off; shortcut, gradient products and the problem-wide log-lr mean on).
            Supplies the four switches below that are left at None.
        version: "2017" (default, the paper's main text) or "appendix_d" (App. D.1–D.3).
        attention: take gradients at an attended point (§3.2.1). Default from the preset.
        gradient_shortcut: add a linear map of [ĝ_1..ĝ_K] to d and a (App. B.1), weights
            Normal(1/K, 0.1/√K). Default from the preset.
        gradient_products: extra features ĝ_i ĝ_{i+1}, i < K (the release). Default from
            the preset.
        problem_wide_lr_mean: the relative log learning rate subtracts the mean over all
            parameters instead of over the tensor (the release). Default from the preset.
        num_timescales: K, gradient averages on timescales doubling from β (§3.2.2). Default
            4; 1 switches momentum off (m_1 = g).
        dynamic_input_scaling: γ read out by the RNN (§3.2.3); off uses the constant 0.93.
            Default True.
        multiscale_input_decay: γ_{i+1} = √γ_i instead of one γ for all timescales. Default
            False.
        learnable_input_decay: β read out by the RNN; off uses the constant 0.89. Default True.
        relative_lr_input: the relative log learning rate feature. Default True. Needs
            `dynamic_output_scale`.
        dynamic_output_scale: relative log learning rate with momentum ρ, offset c and step
            normalization (eqs. 5–9). Off: step length 2σ(h0 W_lr + b_lr), no log-lr state,
            no normalization. Default True.
        trainable_initial_states: learn the RNNs' initial states (Uniform(−1, 1) init);
            off starts them at zero. Default True.
        num_levels: 1 (Parameter RNN only), 2 (+ Tensor RNN) or 3 (+ Global RNN). Default 3.
        parameter_units, tensor_units, global_units: H0, H1, H2. Defaults 10, 20, 20.
        global_input: "mean" over tensors of the new Tensor-RNN states (paper, default) or
            "last_tensor" (the release's behaviour).
        learning_rate_range: (lo, hi) of the initial learning rates drawn by
            `init(params, seed)` during meta-training. Default (1e-6, 1e-2).
        deployment_learning_rate: the initial learning rate of every parameter when `init`
            gets no seed (deployment, the Keras optimizer). Default 1e-4, the geometric
            centre of the default meta-training range.
        parameter_noise_range: (lo, hi) of the App. D.1 noise scale σ, drawn log-uniform per
            `init(params, seed)`; no noise without a seed. Default (1e-4, 1e-2) with
            `version="appendix_d"`, off otherwise; (0, 0) switches it off.
        **kwargs: Keras layer arguments (`name`, `dtype`).

    Usage:

    >>> rule = HierarchicalRNN(preset="paper")
    >>> state = rule.init(params)
    >>> params, state = rule.step(params, grads, state)
    """

    rule_name = "hierarchical_rnn"

    def __init__(
        self,
        preset: str = "paper",
        version: str = "2017",
        attention: bool | None = None,
        gradient_shortcut: bool | None = None,
        gradient_products: bool | None = None,
        problem_wide_lr_mean: bool | None = None,
        num_timescales: int = 4,
        dynamic_input_scaling: bool = True,
        multiscale_input_decay: bool = False,
        learnable_input_decay: bool = True,
        relative_lr_input: bool = True,
        dynamic_output_scale: bool = True,
        trainable_initial_states: bool = True,
        num_levels: int = 3,
        parameter_units: int = 10,
        tensor_units: int = 20,
        global_units: int = 20,
        global_input: str = "mean",
        learning_rate_range: Sequence[float] = (1e-6, 1e-2),
        deployment_learning_rate: float = 1e-4,
        parameter_noise_range: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
        if version not in VERSIONS:
            raise ValueError(f"Unknown version {version!r}; use one of {', '.join(VERSIONS)}.")
        if global_input not in GLOBAL_INPUTS:
            raise ValueError(
                f"Unknown global_input {global_input!r}; use one of {', '.join(GLOBAL_INPUTS)}."
            )
        if num_levels not in (1, 2, 3):
            raise ValueError(f"num_levels must be 1, 2 or 3, got {num_levels}.")
        if num_timescales < 1:
            raise ValueError(f"num_timescales must be >= 1, got {num_timescales}.")
        if relative_lr_input and not dynamic_output_scale:
            raise ValueError(
                "relative_lr_input needs the log learning rate of dynamic_output_scale; "
                "pass relative_lr_input=False with dynamic_output_scale=False."
            )
        lo, hi = (float(x) for x in learning_rate_range)
        if not 0 < lo <= hi or deployment_learning_rate <= 0:
            raise ValueError(
                f"Learning rates must be positive with lo <= hi, got learning_rate_range="
                f"{learning_rate_range}, deployment_learning_rate={deployment_learning_rate}."
            )
        if parameter_noise_range is None:
            parameter_noise_range = (
                APPENDIX_D_NOISE_RANGE if version == "appendix_d" else NO_NOISE
            )
        noise_lo, noise_hi = (float(x) for x in parameter_noise_range)
        if (noise_lo, noise_hi) != NO_NOISE and not 0 < noise_lo <= noise_hi:
            raise ValueError(
                f"parameter_noise_range must be (0, 0) or 0 < lo <= hi, got "
                f"{parameter_noise_range}."
            )

        def from_preset(name: str, value: bool | None) -> bool:
            return bool(PRESETS[preset][name] if value is None else value)

        self.attention = from_preset("attention", attention)
        self.gradient_shortcut = from_preset("gradient_shortcut", gradient_shortcut)
        self.gradient_products = from_preset("gradient_products", gradient_products)
        self.problem_wide_lr_mean = from_preset("problem_wide_lr_mean", problem_wide_lr_mean)
        self.preset = preset
        self.version = version
        self.num_timescales = int(num_timescales)
        self.dynamic_input_scaling = bool(dynamic_input_scaling)
        self.multiscale_input_decay = bool(multiscale_input_decay)
        self.learnable_input_decay = bool(learnable_input_decay)
        self.relative_lr_input = bool(relative_lr_input)
        self.dynamic_output_scale = bool(dynamic_output_scale)
        self.trainable_initial_states = bool(trainable_initial_states)
        self.num_levels = int(num_levels)
        self.parameter_units = int(parameter_units)
        self.tensor_units = int(tensor_units)
        self.global_units = int(global_units)
        self.global_input = global_input
        self.learning_rate_range = (lo, hi)
        self.deployment_learning_rate = float(deployment_learning_rate)
        self.parameter_noise_range = (noise_lo, noise_hi)
        self.uses_eval_point = self.attention
        super().__init__(**kwargs)

    # -- structure ------------------------------------------------------------------------

    @property
    def num_features(self) -> int:
        """D: ĝ_1..ĝ_K, K relative log magnitudes, [relative log lr], [K − 1 products]."""
        k = self.num_timescales
        return 2 * k + int(self.relative_lr_input) + (k - 1) * int(self.gradient_products)

    @property
    def num_directions(self) -> int:
        """Direction readouts: d, and a with attention."""
        return 2 if self.attention else 1

    @property
    def has_momentum(self) -> bool:
        return self.num_timescales > 1

    @property
    def has_input_decay(self) -> bool:
        """β is read out (and stored) only when it is learnable and momentum is on."""
        return self.learnable_input_decay and self.has_momentum

    @property
    def has_parameter_noise(self) -> bool:
        return self.parameter_noise_range != NO_NOISE

    @property
    def normalizes_steps(self) -> bool:
        """Eqs. 5–6; dropped by App. D.3 and without the dynamic output scale."""
        return self.version == "2017" and self.dynamic_output_scale

    def build(self, input_shape: Any = None) -> None:
        h0, h1, h2 = self.parameter_units, self.tensor_units, self.global_units
        k, levels = self.num_timescales, self.num_levels
        trainable_states = self.trainable_initial_states
        level_feeds = [("tensor", h1), ("global", h2)][: levels - 1]
        self.parameter_rnn = ParameterRNN(
            self.num_features,
            h0,
            feeds=dict(level_feeds),
            trainable_initial_state=trainable_states,
            dtype=self.dtype_policy,
            name="parameter_rnn",
        )
        self.tensor_rnn = self.global_rnn = None
        if levels >= 2:
            self.tensor_rnn = TensorRNN(
                h0 + self.num_features,
                h1,
                feeds=dict(level_feeds[1:]),
                trainable_initial_state=trainable_states,
                dtype=self.dtype_policy,
                name="tensor_rnn",
            )
        if levels == 3:
            self.global_rnn = GlobalRNN(
                h1,
                h2,
                trainable_initial_state=trainable_states,
                dtype=self.dtype_policy,
                name="global_rnn",
            )
        readout = scaled_normal(h0)
        self.direction_kernel = self.add_weight(  # [W_d, W_a]
            shape=(h0, self.num_directions),
            initializer=_repeated_column(readout, self.num_directions),
            name="direction_kernel",
        )
        self.shortcut_kernel = None
        if self.gradient_shortcut:
            shortcut = keras.initializers.RandomNormal(
                mean=1.0 / k, stddev=SHORTCUT_STDDEV / math.sqrt(k)
            )
            self.shortcut_kernel = self.add_weight(
                shape=(k, self.num_directions),
                initializer=_repeated_column(shortcut, self.num_directions),
                name="shortcut_kernel",
            )
        self.scale_decay_kernel = self.scale_decay_bias = None
        if self.dynamic_input_scaling:
            self.scale_decay_kernel, self.scale_decay_bias = self._readout(
                "scale_decay", readout, SCALE_DECAY_BIAS
            )
        self.input_decay_kernel = self.input_decay_bias = None
        if self.has_input_decay:
            self.input_decay_kernel, self.input_decay_bias = self._readout(
                "input_decay", readout, INPUT_DECAY_BIAS
            )
        self.lr_kernel, self.lr_bias = self._readout("lr", "zeros", 0.0)
        self.lr_momentum_logit = self.step_offset = None
        if self.dynamic_output_scale:
            self.lr_momentum_logit = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(LR_MOMENTUM_LOGIT),
                name="lr_momentum_logit",
            )
            self.step_offset = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(STEP_OFFSET), name="step_offset"
            )
        super().build(input_shape)

    def _readout(self, name: str, initializer: Any, bias: float) -> tuple[Any, Any]:
        kernel = self.add_weight(
            shape=(self.parameter_units, 1), initializer=initializer, name=f"{name}_kernel"
        )
        bias_weight = self.add_weight(
            shape=(1,), initializer=keras.initializers.Constant(bias), name=f"{name}_bias"
        )
        return kernel, bias_weight

    # -- state ----------------------------------------------------------------------------

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        """The initial state.

        Per tensor (n elements), a dict of per-element values, stored feature-major (one
        column per element): "h0" [H0, n] (the Parameter RNN's initial vector in every
        column), "m" [K, n] (K > 1), "v" [K, n], "gamma" [n] (dynamic input scaling), "beta"
        [n] (learnable input decay, K > 1), "log_lr" [n] (dynamic output scale),
        "attention_offset" [n] (attention: attended point − parameter); and "h1" [1, H1]
        (2+ levels). Globally "h2" [1, H2] (3 levels) and, with parameter noise,
        "noise_seed" [2] and "noise_scale" [].

        With a `seed` (meta-training) the log learning rates are u + o, u per element and o
        per tensor, both U(log lo / 2, log hi / 2), clipped to ±33, and the noise scale is
        log-uniform in `parameter_noise_range`; without one every log learning rate is
        log(`deployment_learning_rate`) and there is no noise.
        """
        dtype = params[0].dtype
        layout = Layout(Layout.static_sizes(params))
        k = self.num_timescales
        log_lr = self._initial_log_lr(layout, seed, dtype)
        tensors = []
        for n, log_lr_values in zip(layout.sizes, layout.split(log_lr)):
            entry = {
                "h0": tf.transpose(self.parameter_rnn.initial_state(n, dtype)),
                "v": tf.zeros([k, n], dtype),
            }
            if self.has_momentum:
                entry["m"] = tf.zeros([k, n], dtype)
            if self.dynamic_input_scaling:
                entry["gamma"] = tf.zeros([n], dtype)
            if self.has_input_decay:
                entry["beta"] = tf.zeros([n], dtype)
            if self.dynamic_output_scale:
                entry["log_lr"] = log_lr_values
            if self.attention:
                entry["attention_offset"] = tf.zeros([n], dtype)
            if self.tensor_rnn is not None:
                entry["h1"] = self.tensor_rnn.initial_state(1, dtype)
            tensors.append(entry)
        state: dict[str, Any] = {"tensors": tensors}
        if self.global_rnn is not None:
            state["h2"] = self.global_rnn.initial_state(1, dtype)
        if self.has_parameter_noise:
            state.update(self._initial_noise(seed, dtype))
        return state

    def _initial_log_lr(
        self, layout: Layout, seed: tf.Tensor | None, dtype: tf.DType
    ) -> tf.Tensor:
        total = sum(layout.sizes)
        if seed is None:
            return tf.fill([total], tf.constant(math.log(self.deployment_learning_rate), dtype))
        half_lo, half_hi = (0.5 * math.log(x) for x in self.learning_rate_range)
        seed = tf.cast(seed, tf.int64)
        u = uniform([total], fold_in(seed, 0), dtype, half_lo, half_hi)
        o = uniform([layout.num_tensors], fold_in(seed, 1), dtype, half_lo, half_hi)
        return tf.clip_by_value(u + layout.broadcast(o), -LOG_LR_CLIP, LOG_LR_CLIP)

    def _initial_noise(self, seed: tf.Tensor | None, dtype: tf.DType) -> dict[str, tf.Tensor]:
        if seed is None:
            return {"noise_seed": tf.zeros([2], tf.int64), "noise_scale": tf.zeros([], dtype)}
        seed = tf.cast(seed, tf.int64)
        log_lo, log_hi = (math.log(x) for x in self.parameter_noise_range)
        log_scale = uniform([], fold_in(seed, 2), dtype, log_lo, log_hi)
        return {"noise_seed": fold_in(seed, 3), "noise_scale": tf.exp(log_scale)}

    # -- one step -------------------------------------------------------------------------

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        """One step (module docstring), computed as described there under "Layout"."""
        self._check_lists(params, grads)
        dtype = params[0].dtype
        sizes = Layout.static_sizes(params)
        tensors = state["tensors"]
        h1 = h2 = None
        if self.tensor_rnn is not None:
            h1 = tf.concat([t["h1"] for t in tensors], 0)  # [T, H1]
        if self.global_rnn is not None:
            h2 = state["h2"]  # [1, H2]
        above = [s for s in (h1, h2) if s is not None]
        parameter_bias = self.parameter_rnn.external_bias(above)  # [T, 3H0]
        problem_lr_mean = None
        if self.relative_lr_input and self.problem_wide_lr_mean:
            problem_lr_mean = tf.add_n([tf.reduce_sum(t["log_lr"]) for t in tensors]) / sum(sizes)
        noise: list[tf.Tensor | None] = [None] * len(params)
        global_state: dict[str, tf.Tensor] = {}
        if self.has_parameter_noise:  # App. D.1, drawn for all N parameters at once
            draw = normal([sum(sizes)], fold_in(state["noise_seed"], 0), dtype)
            noise = [state["noise_scale"] * rows for rows in tf.split(draw, sizes)]
            global_state["noise_seed"] = fold_in(state["noise_seed"], 1)
            global_state["noise_scale"] = state["noise_scale"]

        new_params: list[Any] = [None] * len(params)
        new_tensors: list[Any] = [None] * len(params)
        tensor_inputs: list[Any] = [None] * len(params)
        for group in Layout.groups(sizes):
            bias = None if parameter_bias is None else tf.gather(parameter_bias, group)
            thetas, entries, inputs = self._group_step(
                Layout([sizes[i] for i in group]),
                [params[i] for i in group],
                [tf.cast(grads[i], dtype) for i in group],
                [tensors[i] for i in group],
                bias,
                problem_lr_mean,
                [noise[i] for i in group],
            )
            for i, theta, entry, tensor_input in zip(group, thetas, entries, inputs):
                new_params[i], new_tensors[i], tensor_inputs[i] = theta, entry, tensor_input

        if self.tensor_rnn is not None:
            h1 = self.tensor_rnn.next_state(
                tf.stack(tensor_inputs), h1, self.tensor_rnn.external_bias(above[1:])
            )  # [T, H1] from [T, H0 + D]
            for i, entry in enumerate(new_tensors):
                entry["h1"] = h1[i : i + 1]
        if self.global_rnn is not None:
            global_input = (
                tf.reduce_mean(h1, 0, keepdims=True) if self.global_input == "mean" else h1[-1:]
            )
            global_state["h2"] = self.global_rnn.next_state(global_input, h2)
        return new_params, {"tensors": new_tensors, **global_state}

    def _group_step(
        self,
        layout: Layout,
        params: list[tf.Tensor],
        grads: list[tf.Tensor],
        old_state: list[dict[str, tf.Tensor]],
        parameter_bias: tf.Tensor | None,
        problem_lr_mean: tf.Tensor | None,
        noise: list[tf.Tensor | None],
    ) -> tuple[list[tf.Tensor], list[dict[str, tf.Tensor]], list[tf.Tensor | None]]:
        """Steps 1–7 for a group of tensors with n elements in all (parameter_bias: theirs,
        [T_g, 3H0]): per tensor, its new parameters, its new per-element state and its Tensor
        RNN input [H0 + D] (None with one level).

        Everything is feature-major, one column per element ([·, n], as the state is
        stored): every feature, gate and readout is a contiguous row and the elementwise
        work runs along n, which XLA vectorizes; no transposes.
        """
        old = {  # the group's per-element state, [·, n] or [n]
            key: layout.join([t[key] for t in old_state], axis=-1)
            for key in old_state[0]
            if key not in ("h1", "attention_offset")
        }
        g = layout.join([tf.reshape(g, [-1]) for g in grads])  # [n]
        theta = layout.join([tf.reshape(p, [-1]) for p in params])  # [n]

        m = self._momentum(g, old)  # [K, n]
        first = layout.broadcast(tf.equal(layout.sum(old["v"], 1), 0.0), 1)  # v_i all 0
        v, g_hat = self._scaled_gradients(g, m, old, first)  # [K, n] each
        mean_log_lr = None
        if self.relative_lr_input:
            mean_log_lr = problem_lr_mean
            if mean_log_lr is None:
                mean_log_lr = layout.broadcast(layout.mean(old["log_lr"]))  # [n]
        features = tf.concat(self._features(g_hat, v, old.get("log_lr"), mean_log_lr), 0)
        if parameter_bias is not None:  # [3H0, n or 1]
            parameter_bias = layout.broadcast(tf.transpose(parameter_bias), 1)
        h0 = self.parameter_rnn.next_state(features, old["h0"], parameter_bias, 0)  # [H0, n]
        tensor_inputs: list[tf.Tensor | None] = [None] * layout.num_tensors
        if self.tensor_rnn is not None:  # step 5's input: means over each tensor's elements
            means = [layout.mean(h0, 1), layout.mean(features, 1)]  # [H0, T], [D, T]
            tensor_inputs = tf.unstack(tf.concat(means, 0), axis=1)

        scale = functools.partial(_root_mean_square, layout) if self.normalizes_steps else None
        readout = self._readouts(h0, g_hat, scale)
        new: dict[str, tf.Tensor] = {"h0": h0, "v": v}
        if self.has_momentum:
            new["m"] = m
        if self.dynamic_input_scaling:
            new["gamma"] = readout["gamma"]
        if self.has_input_decay:
            new["beta"] = readout["beta"]
        step_length, attention_length, log_lr = self._step_lengths(readout["lr"], old.get("log_lr"))
        if log_lr is not None:
            new["log_lr"] = log_lr
        theta_new = theta - step_length * readout["d"]
        if self.attention:  # the attended point θ_old − exp(s) a, relative to θ_new
            new["attention_offset"] = step_length * readout["d"] - attention_length * readout["a"]

        per_tensor = {key: layout.split(values, axis=-1) for key, values in new.items()}
        entries = [
            {key: values[i] for key, values in per_tensor.items()}
            for i in range(layout.num_tensors)
        ]
        thetas = []
        for p, values, eps in zip(params, layout.split(theta_new), noise):
            if eps is not None:  # App. D.1
                values = values + eps
            thetas.append(tf.reshape(values, tf.shape(p)))
        return thetas, entries, tensor_inputs

    def _momentum(self, g: tf.Tensor, old: dict[str, tf.Tensor]) -> tf.Tensor:
        """Step 1 (§3.2.2): m_i ← (1 − β_i) g + β_i m_i with β_{i+1} = √β_i; [K, n]."""
        if not self.has_momentum:
            return g[None]
        if self.has_input_decay:
            beta = old["beta"]
        else:
            beta = tf.constant(CONSTANT_INPUT_DECAY, g.dtype)
        betas = _decays(beta, self.num_timescales, halving=True)  # [K, n or 1]
        return (1.0 - betas) * g[None] + betas * old["m"]

    def _scaled_gradients(
        self, g: tf.Tensor, m: tf.Tensor, old: dict[str, tf.Tensor], first: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Step 2 (§3.2.3; App. D.2): the mean squares v_i and ĝ_i = asinh(m_i / √v_i);
        `first` ([K, n], bool): the tensor's v_i are all zero, so γ_i = 0. [K, n] each."""
        dtype = g.dtype
        if self.dynamic_input_scaling:
            gamma = old["gamma"]
        else:
            gamma = tf.constant(CONSTANT_SCALE_DECAY, dtype)
        # [K or 1, n or 1]
        gammas = _decays(gamma, self.num_timescales, self.multiscale_input_decay)
        v_old = old["v"]
        gammas = tf.where(first, tf.zeros([], dtype), gammas)  # [K, n]
        tracked = m
        if self.version == "appendix_d":  # v_i tracks m_{i−1}², m_0 = g
            tracked = tf.concat([g[None], m[:-1]], 0)
        v = (1.0 - gammas) * (tf.square(tracked) + SQUARE_EPSILON) + gammas * v_old
        return v, _scaled_momenta(m, v)

    def _features(
        self,
        g_hat: tf.Tensor,
        v: tf.Tensor,
        log_lr: tf.Tensor | None,
        mean_log_lr: tf.Tensor | None,
    ) -> list[tf.Tensor]:
        """Step 3 (§3.3): the Parameter RNN's D inputs as blocks of rows ([·, n] each):
        ĝ_1..ĝ_K, the relative log magnitudes, [the relative log learning rate, given the
        mean it is relative to ([n] or a scalar)], [the products ĝ_i ĝ_{i+1}]."""
        log_v = tf.math.log(v + EPSILON)
        blocks = [g_hat, log_v - tf.reduce_mean(log_v, 0, keepdims=True)]  # eq. 4
        if self.relative_lr_input:
            blocks.append((log_lr - mean_log_lr)[None])
        if self.gradient_products:
            blocks.append(g_hat[:-1] * g_hat[1:])
        return blocks

    def _readouts(
        self,
        h0: tf.Tensor,
        g_hat: tf.Tensor,
        direction_scale: Callable[[tf.Tensor], tf.Tensor] | None = None,
    ) -> dict[str, tf.Tensor]:
        """Step 6: d, a, γ', β' and Δ ([n] each) from h0 ([H0, n]) and ĝ ([K, n]); d and a
        divided by `direction_scale` of the [directions, n] block (eqs. 5–6: the root mean
        square over each tensor) if given.

        The linear readouts share one [H0, outputs] product, computed as [outputs, n] so
        that each readout is a contiguous row; d and a have no bias.
        """
        dtype = h0.dtype
        heads = [
            (name, kernel, bias)
            for name, kernel, bias in (
                ("gamma", self.scale_decay_kernel, self.scale_decay_bias),
                ("beta", self.input_decay_kernel, self.input_decay_bias),
                ("lr", self.lr_kernel, self.lr_bias),
            )
            if kernel is not None
        ]
        kernels = [self.direction_kernel] + [kernel for _, kernel, _ in heads]
        biases = [tf.zeros([self.num_directions], dtype)]  # d and a have no bias
        biases += [tf.cast(bias, dtype) for _, _, bias in heads]
        kernel = tf.concat([tf.cast(k, dtype) for k in kernels], 1)  # [H0, outputs]
        bias = tf.concat(biases, 0)[:, None]
        outputs = tf.matmul(kernel, h0, transpose_a=True)
        outputs = outputs + bias  # [outputs, n]
        directions = outputs[: self.num_directions]
        if self.shortcut_kernel is not None:  # App. B.1
            shortcut = tf.cast(self.shortcut_kernel, dtype)  # [K, directions]
            directions = directions + tf.matmul(shortcut, g_hat, transpose_a=True)
        if direction_scale is not None:
            directions = directions / direction_scale(directions)
        readout = dict(zip(["d", "a"], tf.unstack(directions)))
        for i, (name, _, _) in enumerate(heads):
            value = outputs[self.num_directions + i]
            readout[name] = value if name == "lr" else tf.sigmoid(value)
        return readout

    def _step_lengths(
        self, delta: tf.Tensor, log_lr: tf.Tensor | None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """Steps 6–7 (eqs. 7–9; App. D.3): the parameter and attention step lengths and the
        new running log learning rate (None without the dynamic output scale), [N] each."""
        if not self.dynamic_output_scale:
            length = 2.0 * tf.sigmoid(delta)
            return length, length, None
        dtype = delta.dtype
        unclipped = log_lr + delta
        s = unclipped + tf.stop_gradient(
            tf.clip_by_value(unclipped, -LOG_LR_CLIP, LOG_LR_CLIP) - unclipped
        )  # straight-through clip
        rho = tf.sigmoid(tf.cast(self.lr_momentum_logit, dtype))
        c = tf.cast(self.step_offset, dtype)
        length = tf.exp(s + c)
        attention_length = length if self.version == "appendix_d" else tf.exp(s)
        return length, attention_length, rho * log_lr + (1.0 - rho) * s

    def eval_point(self, params: Sequence[tf.Tensor], state: State) -> Params:
        """The attended point θ + offset with attention (§3.2.1), else θ."""
        if not self.attention:
            return list(params)
        return [p + o for p, o in zip(params, self._attention_offsets(params, state))]

    def true_params(self, eval_params: Sequence[tf.Tensor], state: State) -> Params:
        """θ = attended point − offset with attention, else the attended point itself.

        The Keras adapter keeps no copy of θ (spec "State": H0 + 2K + 4 floats per
        parameter with attention) and recovers it with this every step. Round-off: (θ + o) − o
        differs from θ by at most about one ulp of max(|θ|, |θ + o|) (measured ≤ 1.0 ulp per
        step over 1 000 steps of a digits MLP); the errors do not pile up there: the
        adapter's θ stayed within 1 ulp of that of an adapter that kept θ, while both
        differed from a float64 run of the rule by 7.7e-5 (about 600 ulps). A step test is
        `test_hierarchical_rnn_true_parameters_drift_by_round_off_only`.
        """
        if not self.attention:
            return list(eval_params)
        return [p - o for p, o in zip(eval_params, self._attention_offsets(eval_params, state))]

    def _attention_offsets(self, params: Sequence[tf.Tensor], state: State) -> Params:
        """Each tensor's "attention_offset" row in the shape and dtype of its parameter."""
        return [
            tf.reshape(tf.cast(t["attention_offset"], p.dtype), tf.shape(p))
            for p, t in zip(params, state["tensors"])
        ]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "preset": self.preset,
                "version": self.version,
                "attention": self.attention,
                "gradient_shortcut": self.gradient_shortcut,
                "gradient_products": self.gradient_products,
                "problem_wide_lr_mean": self.problem_wide_lr_mean,
                "num_timescales": self.num_timescales,
                "dynamic_input_scaling": self.dynamic_input_scaling,
                "multiscale_input_decay": self.multiscale_input_decay,
                "learnable_input_decay": self.learnable_input_decay,
                "relative_lr_input": self.relative_lr_input,
                "dynamic_output_scale": self.dynamic_output_scale,
                "trainable_initial_states": self.trainable_initial_states,
                "num_levels": self.num_levels,
                "parameter_units": self.parameter_units,
                "tensor_units": self.tensor_units,
                "global_units": self.global_units,
                "global_input": self.global_input,
                "learning_rate_range": list(self.learning_rate_range),
                "deployment_learning_rate": self.deployment_learning_rate,
                "parameter_noise_range": list(self.parameter_noise_range),
            }
        )
        return config

