"""Central finite differences of a meta-loss, the reference every meta-gradient test uses."""

import numpy as np


def central_difference(estimator, problem, variable, index, seed=3, eps=1e-6):
    """(L(θ + ε e_i) − L(θ − ε e_i)) / 2ε for meta-parameter `variable[index]`, where L is
    `estimator.meta_loss_value(problem, seed)`; the variable is restored afterwards."""
    original = np.array(variable.numpy(), copy=True)
    values = []
    for sign in (1, -1):
        shifted = original.copy()
        shifted[index] += sign * eps
        variable.assign(shifted)
        values.append(float(estimator.meta_loss_value(problem, seed)))
    variable.assign(original)
    return (values[0] - values[1]) / (2 * eps)
