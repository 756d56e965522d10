"""Hand-designed optimizers as update rules with trainable hyper-parameters.

SGD, momentum, RMSProp and Adam written on the rule seam so that (a) they serve as
baselines through the very same inner loop as the learned rules and (b) a meta-trainer can
learn their hyper-parameters (the truncation-bias study of Metz et al. 2019 §2.4 outer-learns
Adam's learning rate). Hyper-parameters live in unconstrained coordinates: positive scalars
as logs (log α, log ε, log λ_exp, log λ_lin, log l1, log l2), decays as logits (β = σ(logit)).

Equations (t counts from 1):
    SGD       θ ← θ − α_t g
    momentum  m ← β m + g;                         θ ← θ − α_t m
              (Nesterov: θ ← θ − α_t (g + β m), with the new m)
    RMSProp   v ← ρ v + (1 − ρ) g²;                θ ← θ − α_t g / (√v + ε)
    Adam      m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²
              θ ← θ − α_t (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
with the optional terms of the Adam+Reg+Decay baselines (Metz et al. 2019 §4.4, App. E),
each absent unless its constructor argument is given (so the plain rules are unchanged):
    regularization  g ← g + l2 θ + l1 sign(θ)                  (before the update above)
    schedule        α_t = α · exp(−λ_exp (t − 1)) · max(0, 1 − λ_lin (t − 1))
The paper names these hyper-parameters (learning rate, β1, β2, ε, exponential and linear
decay coefficients, l1 and l2 multipliers) but gives no formula: the two above are a
**choice**, in the spirit of the eight-hyper-parameter Adam baseline of learned_optimization
(the first step uses α; the linear factor reaches 0 at t = 1 + 1/λ_lin and stays there). ε is
a fixed constant unless `tune_epsilon`. A coefficient given as 0 is log 0 = −∞: the term is
off, and stays off under meta-training (its gradient there is 0).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.base import Params, State, UpdateRule


def _unconstrained(value: float, coordinate: str) -> float:
    """`value` in its weight's coordinate: "log" (log 0 = −∞) or "logit"."""
    if coordinate == "logit":
        return math.log(value / (1.0 - value))
    return math.log(value) if value > 0 else -math.inf


def _root(v: tf.Tensor) -> tf.Tensor:
    """√v with a finite derivative at v = 0 (zero-gradient coordinates of dead units would
    otherwise give 0 · ∞ = NaN in the meta-gradient); the 1e-30 is far below ε."""
    return tf.sqrt(v + 1e-30)


class HandDesignedRule(UpdateRule):
    """Shared machinery: scalar hyper-parameter weights and a per-tensor update.

    Args (common to every hand-designed rule):
        learning_rate: initial α. Default 1e-3 (1e-2 for momentum).
        epsilon: ε of RMSProp and Adam. Default 1e-8.
        tune_epsilon: make ε the hyper-parameter weight `log_epsilon` (searchable, and
            trainable unless `learn` leaves it out) instead of a fixed constant. Default
            False. Only for rules that use ε.
        exponential_decay, linear_decay: λ_exp, λ_lin ≥ 0 of the learning-rate schedule
            (module docstring), weights `log_exponential_decay`, `log_linear_decay`.
            Default None: no schedule term, α_t = α.
        l1, l2: regularization multipliers ≥ 0 added to the gradient, weights `log_l1`,
            `log_l2`. Default None: no regularization term.
        learn: names of the hyper-parameter weights a meta-trainer may change (e.g.
            `("log_learning_rate",)` to outer-learn only the learning rate, as in the
            truncation-bias study of Metz et al. 2019 §2.4); None (default) learns all.

    Subclasses list their slots in `slot_names`, create their own hyper-parameters with
    `_hyper` in `build` and implement `update_tensor`.

    Example (Adam+Reg+Decay, every term on):
        rule = rules.get("adam", tune_epsilon=True, exponential_decay=1e-4,
                         linear_decay=0.0, l1=0.0, l2=1e-4)
        rule.set_hyper_parameters({"learning_rate": 3e-3, "l1": 1e-6})
    """

    needs_meta_training = False

    slot_names: tuple[str, ...] = ()
    uses_epsilon: bool = False

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epsilon: float = 1e-8,
        tune_epsilon: bool = False,
        exponential_decay: float | None = None,
        linear_decay: float | None = None,
        l1: float | None = None,
        l2: float | None = None,
        learn: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
        if tune_epsilon and not self.uses_epsilon:
            raise ValueError(f"{self.rule_name} has no ε to tune; drop tune_epsilon.")
        self.learning_rate = float(learning_rate)
        self.epsilon = float(epsilon)
        self.tune_epsilon = bool(tune_epsilon)
        # The optional hyper-parameters (Adam+Reg+Decay); None: the term is left out.
        self.optional = {
            name: None if value is None else float(value)
            for name, value in (
                ("exponential_decay", exponential_decay),
                ("linear_decay", linear_decay),
                ("l1", l1),
                ("l2", l2),
            )
        }
        for name, value in self.optional.items():
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0 (None leaves the term out), got {value}.")
        self.learn = None if learn is None else tuple(learn)
        self.coordinates: dict[str, str] = {}  # hyper-parameter -> "log" or "logit"
        super().__init__(**kwargs)
        if self.learn is not None:
            names = [w.name for w in self.weights]
            unknown = sorted(set(self.learn) - set(names))
            if unknown:
                raise ValueError(
                    f"{self.rule_name}: cannot learn {unknown}; its hyper-parameters are {names}."
                )

    @staticmethod
    def weight_name(name: str, coordinate: str) -> str:
        """The weight of hyper-parameter `name`: `log_<name>` or `<name>_logit`."""
        return f"log_{name}" if coordinate == "log" else f"{name}_logit"

    def _hyper(self, name: str, value: float, coordinate: str) -> keras.Variable:
        """Creates the scalar weight of hyper-parameter `name` at `value` (constrained)."""
        weight_name = self.weight_name(name, coordinate)
        self.coordinates[name] = coordinate
        return self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(_unconstrained(value, coordinate)),
            name=weight_name,
            trainable=self.learn is None or weight_name in self.learn,
        )

    def _weight(self, name: str) -> keras.Variable:
        return getattr(self, self.weight_name(name, self.coordinates[name]))

    def build(self, input_shape: Any = None) -> None:
        self.log_learning_rate = self._hyper("learning_rate", self.learning_rate, "log")
        if self.tune_epsilon:
            self.log_epsilon = self._hyper("epsilon", self.epsilon, "log")
        for name, value in self.optional.items():
            if value is not None:
                setattr(self, f"log_{name}", self._hyper(name, value, "log"))
        super().build(input_shape)

    @property
    def hyper_parameter_names(self) -> list[str]:
        """The hyper-parameters held as weights, by constructor argument name."""
        return list(self.coordinates)

    def set_hyper_parameters(self, values: dict[str, float]) -> None:
        """Assigns hyper-parameters (constructor names, constrained values) to their weights,
        e.g. `{"learning_rate": 1e-2, "beta_1": 0.5}`; a sampled baseline needs no retrace."""
        unknown = sorted(set(values) - set(self.coordinates))
        if unknown:
            raise ValueError(
                f"{self.rule_name}: {unknown} are not hyper-parameter weights of this rule; "
                f"it has {self.hyper_parameter_names}."
            )
        for name, value in values.items():
            self._weight(name).assign(_unconstrained(float(value), self.coordinates[name]))

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        return {
            "t": tf.zeros([], params[0].dtype),
            "slots": [{k: tf.zeros_like(p) for k in self.slot_names} for p in params],
        }

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        self._check_lists(params, grads)
        t = state["t"] + 1.0
        alpha = self.learning_rate_at(t)
        hyper = self.hyper_parameters(t)  # once per step, shared by every tensor
        new_params, new_slots = [], []
        for p, g, slots in zip(params, grads, state["slots"]):
            g = self.regularized(tf.cast(g, p.dtype), p)
            direction, slots = self.update_tensor(g, slots, hyper)
            new_params.append(p - alpha * direction)
            new_slots.append(slots)
        return new_params, {"t": t, "slots": new_slots}

    def _positive(self, name: str, dtype: tf.DType) -> tf.Tensor:
        return tf.exp(tf.cast(self._weight(name), dtype))

    def learning_rate_at(self, t: tf.Tensor) -> tf.Tensor:
        """α_t = α · exp(−λ_exp (t − 1)) · max(0, 1 − λ_lin (t − 1)); absent factors left out."""
        alpha = self._positive("learning_rate", t.dtype)
        if self.optional["exponential_decay"] is not None:
            alpha = alpha * tf.exp(-self._positive("exponential_decay", t.dtype) * (t - 1.0))
        if self.optional["linear_decay"] is not None:
            linear = 1.0 - self._positive("linear_decay", t.dtype) * (t - 1.0)
            alpha = alpha * tf.maximum(linear, 0.0)
        return alpha

    def regularized(self, g: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """g + l2 θ + l1 sign(θ); absent terms left out."""
        if self.optional["l2"] is not None:
            g = g + self._positive("l2", p.dtype) * p
        if self.optional["l1"] is not None:
            g = g + self._positive("l1", p.dtype) * tf.sign(p)
        return g

    def epsilon_value(self, dtype: tf.DType) -> tf.Tensor | float:
        """ε: the weight exp(log ε) when tuned, the fixed constant otherwise."""
        return self._positive("epsilon", dtype) if self.tune_epsilon else self.epsilon

    def hyper_parameters(self, t: tf.Tensor) -> dict[str, tf.Tensor]:
        """The constrained hyper-parameters at step t (decays, bias corrections)."""
        del t
        return {}

    def update_tensor(
        self, g: tf.Tensor, slots: dict[str, tf.Tensor], hyper: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Returns the direction to scale by α_t and the new slots of one tensor."""
        raise NotImplementedError

    def _sigmoid(self, logit: keras.Variable, dtype: tf.DType) -> tf.Tensor:
        return tf.sigmoid(tf.cast(logit, dtype))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "learning_rate": self.learning_rate,
                "epsilon": self.epsilon,
                "tune_epsilon": self.tune_epsilon,
                **self.optional,
                "learn": None if self.learn is None else list(self.learn),
            }
        )
        return config


class SGDRule(HandDesignedRule):
    """Plain gradient descent, θ ← θ − α_t g, with trainable log α."""

    rule_name = "sgd"

    def update_tensor(self, g, slots, hyper):
        return g, slots


class MomentumRule(HandDesignedRule):
    """Heavy-ball momentum, m ← β m + g, θ ← θ − α_t m; trainable log α and logit β.

    Args:
        momentum: β. Default 0.9.
        nesterov: step along g + β m (the new m) instead of m, Nesterov's look-ahead in
            the form of Sutskever et al. 2013 (Keras' SGD(nesterov=True) for a constant α).
            A discrete choice, not a weight. Default False.
    """

    rule_name = "momentum"
    slot_names = ("m",)

    def __init__(
        self,
        learning_rate: float = 1e-2,
        momentum: float = 0.9,
        nesterov: bool = False,
        **kwargs: Any,
    ):
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.momentum_logit = self._hyper("momentum", self.momentum, "logit")
        super().build(input_shape)

    def hyper_parameters(self, t):
        return {"momentum": self._sigmoid(self.momentum_logit, t.dtype)}

    def update_tensor(self, g, slots, hyper):
        m = hyper["momentum"] * slots["m"] + g
        direction = g + hyper["momentum"] * m if self.nesterov else m
        return direction, {"m": m}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSPropRule(HandDesignedRule):
    """RMSProp, v ← ρ v + (1 − ρ) g², θ ← θ − α_t g / (√v + ε); trainable log α, logit ρ
    (and log ε with `tune_epsilon`)."""

    rule_name = "rmsprop"
    slot_names = ("v",)
    uses_epsilon = True

    def __init__(self, learning_rate: float = 1e-3, rho: float = 0.9, **kwargs: Any):
        self.rho = float(rho)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.rho_logit = self._hyper("rho", self.rho, "logit")
        super().build(input_shape)

    def hyper_parameters(self, t):
        return {
            "rho": self._sigmoid(self.rho_logit, t.dtype),
            "epsilon": self.epsilon_value(t.dtype),
        }

    def update_tensor(self, g, slots, hyper):
        rho = hyper["rho"]
        v = rho * slots["v"] + (1.0 - rho) * tf.square(g)
        return g / (_root(v) + hyper["epsilon"]), {"v": v}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho}


class AdamRule(HandDesignedRule):
    """Adam (Kingma & Ba 2015) with bias correction; trainable log α, logit β1, logit β2
    (and log ε with `tune_epsilon`)."""

    rule_name = "adam"
    slot_names = ("m", "v")
    uses_epsilon = True

    def __init__(
        self,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        **kwargs: Any,
    ):
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.beta_1_logit = self._hyper("beta_1", self.beta_1, "logit")
        self.beta_2_logit = self._hyper("beta_2", self.beta_2, "logit")
        super().build(input_shape)

    def hyper_parameters(self, t):
        beta_1 = self._sigmoid(self.beta_1_logit, t.dtype)
        beta_2 = self._sigmoid(self.beta_2_logit, t.dtype)
        return {
            "beta_1": beta_1,
            "beta_2": beta_2,
            "correction_1": 1.0 - tf.pow(beta_1, t),
            "correction_2": 1.0 - tf.pow(beta_2, t),
            "epsilon": self.epsilon_value(t.dtype),
        }

    def update_tensor(self, g, slots, hyper):
        beta_1, beta_2 = hyper["beta_1"], hyper["beta_2"]
        m = beta_1 * slots["m"] + (1.0 - beta_1) * g
        v = beta_2 * slots["v"] + (1.0 - beta_2) * tf.square(g)
        m_hat = m / hyper["correction_1"]
        v_hat = v / hyper["correction_2"]
        return m_hat / (_root(v_hat) + hyper["epsilon"]), {"m": m, "v": v}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
