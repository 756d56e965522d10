"""Hand-designed optimizers as update rules with trainable hyper-parameters.

SGD, momentum, RMSProp and Adam written on the rule seam so that (a) they serve as
baselines through the very same inner loop as the learned rules and (b) a meta-trainer can
learn their hyper-parameters (the truncation-bias study of Metz et al. 2019 §2.4 outer-learns
Adam's learning rate). Hyper-parameters live in unconstrained coordinates: the learning rate
as log α, decays as logits (β = σ(logit)); ε is a fixed constant.

Equations (t counts from 1):
    SGD       θ ← θ − α g
    momentum  m ← β m + g;                         θ ← θ − α m
    RMSProp   v ← ρ v + (1 − ρ) g²;                θ ← θ − α g / (√v + ε)
    Adam      m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²
              θ ← θ − α (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.base import Params, State, UpdateRule


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _root(v: tf.Tensor) -> tf.Tensor:
    """√v with a finite derivative at v = 0 (zero-gradient coordinates of dead units would
    otherwise give 0 · ∞ = NaN in the meta-gradient); the 1e-30 is far below ε."""
    return tf.sqrt(v + 1e-30)


class HandDesignedRule(UpdateRule):
    """Shared machinery: scalar hyper-parameter weights and a per-tensor update.

    Args (common to every hand-designed rule):
        learning_rate: initial α. Default 1e-3 (1e-2 for momentum).
        epsilon: the fixed ε. Default 1e-8.
        learn: names of the hyper-parameter weights a meta-trainer may change (e.g.
            `("log_learning_rate",)` to outer-learn only the learning rate, as in the
            truncation-bias study of Metz et al. 2019 §2.4); None (default) learns all.

    Subclasses list their slots in `slot_names` and implement `update_tensor`.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float = 1e-3,
        epsilon: float = 1e-8,
        learn: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
        self.learning_rate = float(learning_rate)
        self.epsilon = float(epsilon)
        self.learn = None if learn is None else tuple(learn)
        super().__init__(**kwargs)
        if self.learn is not None:
            names = [w.name for w in self.weights]
            unknown = sorted(set(self.learn) - set(names))
            if unknown:
                raise ValueError(
                    f"{self.rule_name}: cannot learn {unknown}; its hyper-parameters are {names}."
                )

    def _scalar(self, name: str, value: float) -> keras.Variable:
        return self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(value),
            name=name,
            trainable=self.learn is None or name in self.learn,
        )

    def build(self, input_shape: Any = None) -> None:
        self.log_learning_rate = self._scalar("log_learning_rate", math.log(self.learning_rate))
        super().build(input_shape)

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
        alpha = tf.exp(tf.cast(self.log_learning_rate, t.dtype))
        hyper = self.hyper_parameters(t)  # once per step, shared by every tensor
        new_params, new_slots = [], []
        for p, g, slots in zip(params, grads, state["slots"]):
            direction, slots = self.update_tensor(tf.cast(g, p.dtype), slots, hyper)
            new_params.append(p - alpha * direction)
            new_slots.append(slots)
        return new_params, {"t": t, "slots": new_slots}

    def hyper_parameters(self, t: tf.Tensor) -> dict[str, tf.Tensor]:
        """The constrained hyper-parameters at step t (decays, bias corrections)."""
        del t
        return {}

    def update_tensor(
        self, g: tf.Tensor, slots: dict[str, tf.Tensor], hyper: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Returns the direction to scale by α and the new slots of one tensor."""
        raise NotImplementedError

    def _sigmoid(self, logit: keras.Variable, dtype: tf.DType) -> tf.Tensor:
        return tf.sigmoid(tf.cast(logit, dtype))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "learning_rate": self.learning_rate,
                "epsilon": self.epsilon,
                "learn": None if self.learn is None else list(self.learn),
            }
        )
        return config


class SGDRule(HandDesignedRule):
    """Plain gradient descent, θ ← θ − α g, with trainable log α."""

    rule_name = "sgd"

    def update_tensor(self, g, slots, hyper):
        return g, slots


class MomentumRule(HandDesignedRule):
    """Heavy-ball momentum, m ← β m + g, θ ← θ − α m; trainable log α and logit β."""

    rule_name = "momentum"
    slot_names = ("m",)

    def __init__(self, learning_rate: float = 1e-2, momentum: float = 0.9, **kwargs: Any):
        self.momentum = float(momentum)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.momentum_logit = self._scalar("momentum_logit", _logit(self.momentum))
        super().build(input_shape)

    def hyper_parameters(self, t):
        return {"momentum": self._sigmoid(self.momentum_logit, t.dtype)}

    def update_tensor(self, g, slots, hyper):
        m = hyper["momentum"] * slots["m"] + g
        return m, {"m": m}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}


class RMSPropRule(HandDesignedRule):
    """RMSProp, v ← ρ v + (1 − ρ) g², θ ← θ − α g / (√v + ε); trainable log α, logit ρ."""

    rule_name = "rmsprop"
    slot_names = ("v",)

    def __init__(self, learning_rate: float = 1e-3, rho: float = 0.9, **kwargs: Any):
        self.rho = float(rho)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.rho_logit = self._scalar("rho_logit", _logit(self.rho))
        super().build(input_shape)

    def hyper_parameters(self, t):
        return {"rho": self._sigmoid(self.rho_logit, t.dtype)}

    def update_tensor(self, g, slots, hyper):
        rho = hyper["rho"]
        v = rho * slots["v"] + (1.0 - rho) * tf.square(g)
        return g / (_root(v) + self.epsilon), {"v": v}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho}


class AdamRule(HandDesignedRule):
    """Adam (Kingma & Ba 2015) with bias correction; trainable log α, logit β1, logit β2."""

    rule_name = "adam"
    slot_names = ("m", "v")

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
        self.beta_1_logit = self._scalar("beta_1_logit", _logit(self.beta_1))
        self.beta_2_logit = self._scalar("beta_2_logit", _logit(self.beta_2))
        super().build(input_shape)

    def hyper_parameters(self, t):
        beta_1 = self._sigmoid(self.beta_1_logit, t.dtype)
        beta_2 = self._sigmoid(self.beta_2_logit, t.dtype)
        return {
            "beta_1": beta_1,
            "beta_2": beta_2,
            "correction_1": 1.0 - tf.pow(beta_1, t),
            "correction_2": 1.0 - tf.pow(beta_2, t),
        }

    def update_tensor(self, g, slots, hyper):
        beta_1, beta_2 = hyper["beta_1"], hyper["beta_2"]
        m = beta_1 * slots["m"] + (1.0 - beta_1) * g
        v = beta_2 * slots["v"] + (1.0 - beta_2) * tf.square(g)
        m_hat = m / hyper["correction_1"]
        v_hat = v / hyper["correction_2"]
        return m_hat / (_root(v_hat) + self.epsilon), {"m": m, "v": v}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
