"""Reverse-engineering recurrent learned optimizers (Maheswaranathan et al., App. A-C).

Works on any rule implementing the recurrent-rule protocol (`protocol.py`: `cell`,
`readout`, `initial_state`, `hidden_states`), e.g. `CoordinatewiseGRU` or the hierarchical
RNN through `ParameterRNNView`:

- `find_fixed_points`, `fixed_point_line`: states with F(h*, g) = h* (`fixed_points.py`);
- `linearize`: J = ∂F/∂h, b = ∂F/∂g, w = ∂r/∂h at a state (`linearization.py`);
- `eigenmodes`: modes as (momentum timescale |β_j|, learning rate lr_j) (`eigenmodes.py`);
- `ReducedLinearRule`: the optimizer of k modes alone, an update rule (`reduced.py`);
- `update_function`, `update_linear_range`, `gradient_density`: Δx(g) at a state, the
  range of g where it is linear, gradient histograms (`update_function.py`);
- `effective_learning_rates`, `learning_rate_adaptation`: −∂Δx/∂g along trajectories
  (schedules) and at the fixed points of constant gradients (adaptation) (`adaptation.py`);
- `ParameterRNNView`: the hierarchical RNN's Parameter RNN as such a rule, its upper levels
  and tensor-wide quantities held fixed (`hierarchical.py`);
- `Recorder`: gradients and states along trajectories of the inner loop (`trajectories.py`).
"""

from l2o_tf.analysis.adaptation import effective_learning_rates, learning_rate_adaptation
from l2o_tf.analysis.eigenmodes import Eigenmodes, eigenmodes
from l2o_tf.analysis.fixed_points import FixedPoints, find_fixed_points, fixed_point_line
from l2o_tf.analysis.hierarchical import ParameterRNNView
from l2o_tf.analysis.linearization import Linearization, linearize
from l2o_tf.analysis.protocol import RecurrentRule, check_recurrent
from l2o_tf.analysis.reduced import ReducedLinearRule
from l2o_tf.analysis.trajectories import Recorder, Trajectory
from l2o_tf.analysis.update_function import (
    gradient_density,
    update_function,
    update_linear_range,
)

__all__ = [
    "Eigenmodes",
    "FixedPoints",
    "Linearization",
    "ParameterRNNView",
    "RecurrentRule",
    "Recorder",
    "ReducedLinearRule",
    "Trajectory",
    "check_recurrent",
    "effective_learning_rates",
    "eigenmodes",
    "find_fixed_points",
    "fixed_point_line",
    "gradient_density",
    "learning_rate_adaptation",
    "linearize",
    "update_function",
    "update_linear_range",
]
