"""The hierarchical RNN's Parameter RNN as a recurrent rule: the view reproduces the rule's
own step element by element, and the toolkit's linearization of it matches finite
differences."""

import numpy as np
import pytest
import tensorflow as tf

from l2o_tf.analysis import ParameterRNNView, eigenmodes, linearize, update_function
from l2o_tf.rules import HierarchicalRNN
from problems.base import as_seed
from tests.analysis.rules_for_tests import LinearMomentumCell

SHAPES = [(3, 4), (5,)]
CONFIGS = {
    "paper": {},
    "release": {"preset": "release"},
    "appendix_d": {"version": "appendix_d", "parameter_noise_range": (0, 0)},
    "bare": {
        "num_levels": 1,
        "dynamic_output_scale": False,
        "relative_lr_input": False,
        "dynamic_input_scaling": False,
        "learnable_input_decay": False,
    },
}


def _rule(config: dict) -> HierarchicalRNN:
    rule = HierarchicalRNN(dtype="float64", **config)
    rng = np.random.default_rng(0)
    for w in rule.weights:  # every term matters
        w.assign(rng.normal(0.0, 0.5, size=w.shape) + (0.3 if w.shape.rank <= 1 else 0.0))
    return rule


def _two_steps(rule: HierarchicalRNN):
    """Parameters and states before and after the second of two steps (γ, β, log_lr of the
    first read out), and the second step's gradients."""
    rng = np.random.default_rng(1)
    params = [tf.constant(rng.normal(size=s)) for s in SHAPES]
    state = rule.init(params, as_seed(3))
    for _ in range(2):
        before, old = params, state
        grads = [tf.constant(rng.normal(size=s)) for s in SHAPES]
        params, state = rule.step(params, grads, state)
    return before, old, grads, params, state


def _view_of(rule: HierarchicalRNN, state, tensor: int, new_rows=None) -> ParameterRNNView:
    """The view with the tensor-wide quantities of `state`'s tensor `tensor` frozen."""
    entries = state["tensors"]
    log_lr = [entries[tensor]["log_lr"]] if rule.dynamic_output_scale else None
    if rule.problem_wide_lr_mean and log_lr is not None:
        log_lr = [t["log_lr"] for t in entries]
    view = ParameterRNNView(
        rule,
        tensor_state=entries[tensor]["h1"][0] if rule.tensor_rnn is not None else None,
        global_state=state["h2"][0] if rule.global_rnn is not None else None,
        mean_log_lr=None if log_lr is None else float(np.mean(np.concatenate(log_lr))),
    )
    if new_rows is None:
        return view
    return ParameterRNNView(
        rule,
        tensor_state=view.above[0] if rule.tensor_rnn is not None else None,
        global_state=view.above[-1] if rule.global_rnn is not None else None,
        mean_log_lr=view.mean_log_lr,
        direction_rms=view.direction_rms_of(new_rows),
    )


@pytest.mark.parametrize("name", list(CONFIGS))
def test_view_reproduces_the_rules_step_element_by_element(name):
    rule = _rule(CONFIGS[name])
    before, old, grads, after, new = _two_steps(rule)
    view = _view_of(rule, old, 0)
    old_rows = tf.split(view.hidden_states(old), [int(np.prod(s)) for s in SHAPES])
    new_rows = tf.split(view.hidden_states(new), [int(np.prod(s)) for s in SHAPES])
    for i in range(len(SHAPES)):
        view = _view_of(rule, old, i, new_rows[i])
        stepped = view.cell(old_rows[i], tf.reshape(grads[i], [-1]))
        np.testing.assert_allclose(stepped.numpy(), new_rows[i].numpy(), rtol=1e-10, atol=1e-12)
        step = (after[i] - before[i]).numpy().ravel()
        np.testing.assert_allclose(view.readout(new_rows[i]).numpy(), step, rtol=1e-9, atol=1e-15)


def test_state_size_is_the_per_parameter_state_of_the_rule():
    rule = _rule({})
    view = ParameterRNNView(rule)
    assert view.state_size == 10 + 2 * 4 + 3  # H0 + 2K + 3 (the attention offset aside)
    _, _, _, _, state = _two_steps(rule)
    assert view.hidden_states(state).shape == (17, view.state_size)
    h0 = view.initial_state(tf.float64).numpy()
    np.testing.assert_allclose(h0[:10], rule.parameter_rnn.initial_vector.numpy())
    np.testing.assert_allclose(h0[-1], np.log(rule.deployment_learning_rate))
    assert ParameterRNNView(_rule(CONFIGS["bare"])).state_size == 10 + 2 * 4


def test_linearization_of_the_view_matches_finite_differences():
    rule = _rule({})
    _, _, _, _, state = _two_steps(rule)
    view = _view_of(rule, state, 1)
    h = view.hidden_states(state).numpy()[14]  # an element of the second tensor
    g = 0.3
    linearization = linearize(view, h, g)
    eps = 1e-6
    columns = []
    for j in range(view.state_size):
        dh = np.zeros_like(h)
        dh[j] = eps
        plus = view.cell(tf.constant(h + dh), tf.constant(g, tf.float64)).numpy()
        minus = view.cell(tf.constant(h - dh), tf.constant(g, tf.float64)).numpy()
        columns.append((plus - minus) / (2 * eps))
    np.testing.assert_allclose(linearization.jacobian, np.stack(columns, 1), rtol=1e-5, atol=1e-7)
    plus = view.cell(tf.constant(h), tf.constant(g + eps, tf.float64)).numpy()
    minus = view.cell(tf.constant(h), tf.constant(g - eps, tf.float64)).numpy()
    np.testing.assert_allclose(
        linearization.input_vector, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-7
    )
    modes = eigenmodes(linearization)
    assert modes.eigenvalues.shape == (view.state_size,)
    sweep = update_function(view, np.linspace(-1, 1, 5), h)
    assert sweep.shape == (5,) and np.all(np.isfinite(sweep))


def test_bad_views_name_the_problem():
    with pytest.raises(TypeError, match="needs a HierarchicalRNN"):
        ParameterRNNView(LinearMomentumCell(0.9, 0.1))
    with pytest.raises(ValueError, match="num_timescales > 1"):
        ParameterRNNView(_rule({"num_timescales": 1}))
    with pytest.raises(ValueError, match="tensor_state must have 20 values"):
        ParameterRNNView(_rule({}), tensor_state=np.zeros(3))
    with pytest.raises(ValueError, match="global_state given"):
        ParameterRNNView(_rule({"num_levels": 2}), global_state=np.zeros(20))
