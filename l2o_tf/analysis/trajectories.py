"""Recording what a recurrent rule sees along an optimization trajectory.

The analysis needs the gradients an optimizer meets (their density, Fig. 6) and the states
it visits (starts for the fixed-point search, App. C). `Recorder` wraps a recurrent rule as
an update rule that behaves exactly like it and also writes, at each step k, the gradient
g(k) of every coordinate and the state h(k+1) into its own state; so trajectories come from
the one inner loop (`trainers.unroll`) like every other run:

    recorder = Recorder(rule, num_steps)
    result = unroll_from_init(recorder, problem, problem.tensors, seed, num_steps)
    trajectory = recorder.trajectory(result.state)      # inside the same tf.function
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import tensorflow as tf

from l2o_tf.analysis.protocol import check_recurrent
from l2o_tf.rules.base import Params, State, UpdateRule
from l2o_tf.rules.gru import flat_coordinates


class Trajectory(NamedTuple):
    gradients: tf.Tensor  # g(k) of every coordinate, [T, n]
    states: tf.Tensor  # h(k+1) of every coordinate, [T, n, N]


class Recorder(UpdateRule):
    """`rule`, recording gradients and states for `num_steps` steps (module docstring).

    Args:
        rule: a recurrent rule (`l2o_tf.analysis.protocol`).
        num_steps: T, the number of steps recorded (the unroll length).
    """

    rule_name = "recorder"

    def __init__(self, rule: UpdateRule, num_steps: int, **kwargs: Any) -> None:
        self.rule = check_recurrent(rule)
        self.num_steps = int(num_steps)
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:  # the wrapped rule holds the weights
        super().build(input_shape)

    def init(self, params: Sequence[tf.Tensor], seed: tf.Tensor | None = None) -> State:
        dtype = params[0].dtype
        return {
            "inner": self.rule.init(params, seed),
            "k": tf.constant(0),
            "gradients": tf.TensorArray(dtype, size=self.num_steps),
            "states": tf.TensorArray(dtype, size=self.num_steps),
        }

    def step(
        self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], state: State
    ) -> tuple[Params, State]:
        params, inner = self.rule.step(params, grads, state["inner"])
        k = state["k"]
        return params, {
            "inner": inner,
            "k": k + 1,
            "gradients": state["gradients"].write(k, flat_coordinates(grads, params[0].dtype)),
            "states": state["states"].write(k, self.rule.hidden_states(inner)),
        }

    def eval_point(self, params: Sequence[tf.Tensor], state: State) -> Params:
        return self.rule.eval_point(params, state["inner"])

    def trajectory(self, state: State) -> Trajectory:
        """The recorded gradients and states of a final recorder state."""
        return Trajectory(state["gradients"].stack(), state["states"].stack())
