"""HierarchicalRNN (Wichrowska et al. 2017): the step against numpy, state layout, switches,
meta-gradients (second order, finite differences), loss-scale invariance and XLA."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.rules import HierarchicalRNN
from problems.base import as_seed
from trainers.estimators import FullUnroll
from trainers.unroll import unroll
from tests.finite_differences import central_difference

SHAPES = [(3, 2), (4,)]
SEED = tf.constant([5, 7], tf.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _gru(cell, x, h, e):
    """The spec's GRU with external bias e, from the weight matrix over [x, h]."""
    w = np.vstack([cell.input_kernel.numpy(), cell.recurrent_kernel.numpy()])
    b = cell.bias.numpy()
    units = h.shape[1]
    w_r, w_u, w_c = w[:, :units], w[:, units : 2 * units], w[:, 2 * units :]
    b_r, b_u, b_c = b[:units], b[units : 2 * units], b[2 * units :]
    e_r, e_u, e_c = e[..., :units], e[..., units : 2 * units], e[..., 2 * units :]
    r = _sigmoid(np.concatenate([x, h], 1) @ w_r + b_r + e_r)
    u = _sigmoid(np.concatenate([x, h], 1) @ w_u + b_u + e_u)
    c = np.tanh(np.concatenate([x, r * h], 1) @ w_c + b_c + e_c)
    return u * h + (1 - u) * c


def _affine(h, kernel, bias):
    """A one-output readout, [n]."""
    return (h @ kernel.numpy() + bias.numpy())[:, 0]


def _feed(level, name, h):
    weights = {w.name: w.numpy() for w in level.weights}
    return h @ weights[f"{name}_feed_kernel"] + weights[f"{name}_feed_bias"]


ELEMENT_ROWS = ("h0", "m", "v")  # stored feature-major ([·, n]); the numpy step uses rows


def _numpy_step(rule: HierarchicalRNN, params, grads, state):
    """The spec's "One step" for a 3-level rule with learnable decays and the dynamic output
    scale, written per tensor in numpy on rows ([n, ·]). Returns (params, state) as numpy,
    stored as the rule stores it."""
    k = rule.num_timescales
    appendix_d = rule.version == "appendix_d"
    h1 = np.concatenate([t["h1"] for t in state["tensors"]])
    h2 = state["h2"]
    all_log_lr = np.concatenate([t["log_lr"] for t in state["tensors"]])
    w_dir = rule.direction_kernel.numpy()
    rho = _sigmoid(rule.lr_momentum_logit.numpy())
    c = rule.step_offset.numpy()
    new_params, tensors, tensor_inputs = [], [], []
    for i, (p, g, old) in enumerate(zip(params, grads, state["tensors"])):
        old = {key: value.T if key in ELEMENT_ROWS else value for key, value in old.items()}
        g = g.ravel()
        # 1. momentum on K timescales
        betas = np.stack([old["beta"] ** (0.5**j) for j in range(k)], 1)
        m = (1 - betas) * g[:, None] + betas * old["m"]
        # 2. dynamic input scaling
        gamma = np.where(np.all(old["v"] == 0, axis=0), 0.0, old["gamma"][:, None])
        tracked = np.concatenate([g[:, None], m[:, :-1]], 1) if appendix_d else m
        v = (1 - gamma) * (tracked**2 + 1e-12) + gamma * old["v"]
        g_hat = np.arcsinh(m / np.sqrt(v + 1e-16))
        # 3. features
        log_v = np.log(v + 1e-16)
        lr_mean = all_log_lr.mean() if rule.problem_wide_lr_mean else old["log_lr"].mean()
        columns = [g_hat, log_v - log_v.mean(1, keepdims=True), (old["log_lr"] - lr_mean)[:, None]]
        if rule.gradient_products:
            columns.append(g_hat[:, :-1] * g_hat[:, 1:])
        x = np.concatenate(columns, 1)
        # 4. Parameter RNN with the bias fed down from t − 1
        level = rule.parameter_rnn
        bias = _feed(level, "tensor", h1[i]) + _feed(level, "global", h2[0])
        h0 = _gru(level.cell, x, old["h0"], bias[None])
        tensor_inputs.append(np.concatenate([h0, x], 1).mean(0))
        # 6. readouts
        directions = h0 @ w_dir + g_hat @ rule.shortcut_kernel.numpy()
        if not appendix_d:
            directions = directions / np.sqrt(np.mean(directions**2, 0) + 1e-16)
        gamma_new = _sigmoid(_affine(h0, rule.scale_decay_kernel, rule.scale_decay_bias))
        beta_new = _sigmoid(_affine(h0, rule.input_decay_kernel, rule.input_decay_bias))
        delta = _affine(h0, rule.lr_kernel, rule.lr_bias)
        s = np.clip(old["log_lr"] + delta, -33, 33)
        # 7. update
        theta_old = p.ravel()
        theta = theta_old - np.exp(s + c) * directions[:, 0]
        new_params.append(theta.reshape(p.shape))
        entry = {
            "h0": h0, "m": m, "v": v, "gamma": gamma_new, "beta": beta_new,
            "log_lr": rho * old["log_lr"] + (1 - rho) * s,
        }
        if rule.attention:
            attention_length = np.exp(s + c) if appendix_d else np.exp(s)
            entry["attention_offset"] = theta_old - attention_length * directions[:, 1] - theta
        tensors.append({key: entry[key].T if key in ELEMENT_ROWS else entry[key] for key in entry})
    # 5. Tensor RNN, then 8. Global RNN
    bias = _feed(rule.tensor_rnn, "global", h2)
    h1 = _gru(rule.tensor_rnn.cell, np.stack(tensor_inputs), h1, bias)
    for i, entry in enumerate(tensors):
        entry["h1"] = h1[i : i + 1]
    h2 = _gru(rule.global_rnn.cell, h1.mean(0, keepdims=True), h2, np.zeros(3 * h2.shape[1]))
    return new_params, {"tensors": tensors, "h2": h2}


def _numpy(nest):
    return tf.nest.map_structure(np.array, nest)


def _randomize(rule: HierarchicalRNN, seed: int = 0) -> None:
    """Non-trivial values for every meta-parameter, so that every term matters."""
    rng = np.random.default_rng(seed)
    for w in rule.weights:
        w.assign(rng.normal(0.0, 0.5, size=w.shape) + (0.3 if w.shape.rank <= 1 else 0.0))


def _problem_tensors(dtype: str = "float64", seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"preset": "release"},
        {"version": "appendix_d", "parameter_noise_range": (0, 0)},
        {"attention": False},
    ],
    ids=["paper", "release", "appendix_d", "no_attention"],
)
def test_two_steps_match_numpy(config):
    rule = HierarchicalRNN(dtype="float64", **config)
    _randomize(rule)
    params = _problem_tensors()
    assert_steps_match_numpy(rule, params, np.random.default_rng(1))


def assert_steps_match_numpy(
    rule: HierarchicalRNN, params: list[np.ndarray], rng: np.random.Generator, steps: int = 2
) -> None:
    """`steps` steps of `rule` from `params` with random gradients against `_numpy_step`:
    parameters, every state entry and the eval point (the second step uses γ, β and log_lr
    read out at the first)."""
    state = rule.init([tf.constant(p) for p in params], SEED)
    for _ in range(steps):
        grads = [rng.normal(size=p.shape) for p in params]
        expected_params, expected_state = _numpy_step(rule, params, grads, _numpy(state))
        new_params, state = rule.step(
            [tf.constant(p) for p in params], [tf.constant(g) for g in grads], state
        )
        for e, n in zip(expected_params, new_params):
            np.testing.assert_allclose(n.numpy(), e, rtol=1e-10, atol=1e-13)
        got = _numpy(state)
        assert sorted(got) == sorted(expected_state)
        np.testing.assert_allclose(got["h2"], expected_state["h2"], rtol=1e-10, atol=1e-13)
        for got_tensor, expected_tensor in zip(got["tensors"], expected_state["tensors"]):
            assert sorted(got_tensor) == sorted(expected_tensor)
            for key, value in expected_tensor.items():
                np.testing.assert_allclose(
                    got_tensor[key], value, rtol=1e-10, atol=1e-13, err_msg=key
                )
        eval_point = rule.eval_point(new_params, state)
        for p, e, t in zip(new_params, eval_point, got["tensors"]):
            offset = t.get("attention_offset", np.zeros(p.shape.num_elements()))
            expected = p.numpy() + np.reshape(offset, p.shape)
            np.testing.assert_allclose(e.numpy(), expected, rtol=1e-12)
        params = expected_params


def test_state_layout_and_floats_per_parameter():
    for attention in (True, False):
        rule = HierarchicalRNN(
            attention=attention, parameter_units=6, tensor_units=7, global_units=8, num_timescales=3
        )
        params = [tf.zeros(s) for s in SHAPES]
        state = rule.init(params)
        n_params = sum(int(np.prod(s)) for s in SHAPES)
        per_parameter = 0
        for shape, entry in zip(SHAPES, state["tensors"]):
            n = int(np.prod(shape))
            assert entry["h0"].shape == (6, n)
            assert entry["m"].shape == entry["v"].shape == (3, n)
            assert entry["h1"].shape == (1, 7)
            for key in ("gamma", "beta", "log_lr"):
                assert entry[key].shape == (n,)
            per_parameter += sum(int(np.prod(v.shape)) for key, v in entry.items() if key != "h1")
        assert state["h2"].shape == (1, 8)
        assert per_parameter == n_params * (6 + 2 * 3 + 3 + int(attention))  # H0 + 2K + 3 (+1)
        # Initial RNN states are the trainable vectors; decays and averages start at 0.
        initial = rule.parameter_rnn.initial_vector.numpy()
        np.testing.assert_array_equal(state["tensors"][0]["h0"].numpy().T, np.tile(initial, (6, 1)))
        for key in ("m", "v", "gamma", "beta"):
            assert not np.any(state["tensors"][1][key].numpy())


def test_initial_log_learning_rates():
    rule = HierarchicalRNN()
    params = [tf.zeros([400]), tf.zeros([300]), tf.zeros([5])]
    deployed = rule.init(params)
    for entry in deployed["tensors"]:
        np.testing.assert_allclose(entry["log_lr"].numpy(), np.log(1e-4), rtol=1e-6)
    drawn = rule.init(params, SEED)
    log_lr = [entry["log_lr"].numpy() for entry in drawn["tensors"]]
    low, high = np.log(1e-6), np.log(1e-2)
    assert all(np.all((x >= low) & (x <= high)) for x in log_lr)
    means = [x.mean() for x in log_lr[:2]]
    # u ~ U(log lo/2, log hi/2) per element: spread of a uniform of width (log hi − log lo)/2
    for x in log_lr[:2]:
        assert abs(x.std() - (high - low) / 2 / np.sqrt(12)) < 0.3
    assert abs(means[0] - means[1]) > 1e-3  # the per-tensor offsets differ
    again = rule.init(params, SEED)
    np.testing.assert_array_equal(again["tensors"][0]["log_lr"].numpy(), log_lr[0])
    clipped = HierarchicalRNN(learning_rate_range=(1e-30, 1e-20)).init(params, SEED)
    assert np.all(clipped["tensors"][0]["log_lr"].numpy() >= -33.0)


def _local_path(weight) -> str:
    """A weight's path inside its rule ("parameter_rnn/gru_cell/bias")."""
    return weight.path.split("/", 1)[1]


def _copy_shared_weights(source: HierarchicalRNN, target: HierarchicalRNN) -> None:
    """Gives `target` the values of `source`'s weights of the same path and shape."""
    by_path = {_local_path(w): w for w in source.weights}
    for w in target.weights:
        shared = by_path.get(_local_path(w))
        if shared is not None and shared.shape == w.shape:
            w.assign(shared)


def _run(rule: HierarchicalRNN, steps: int = 3) -> np.ndarray:
    """`steps` steps on ‖θ_i − y_i‖² per tensor with gradient noise N(0, 1); returns the
    final parameters and attended point minus the initial parameters, as one vector."""
    rng = np.random.default_rng(3)
    targets = [tf.constant(rng.normal(size=s)) for s in SHAPES]
    start = [tf.constant(p) for p in _problem_tensors()]
    params, state = start, rule.init(start, SEED)
    for _ in range(steps):
        at = rule.eval_point(params, state)
        grads = [2.0 * (a - y) + rng.normal(size=y.shape) for a, y in zip(at, targets)]
        params, state = rule.step(params, grads, state)
    moved = [p - s for p, s in zip(params + rule.eval_point(params, state), start + start)]
    return np.concatenate([m.numpy().ravel() for m in moved])


# name -> (constructor arguments, weights they remove, per-tensor state they remove, D).
SWITCHES: dict[str, tuple[dict[str, Any], set[str], set[str], int]] = {
    "attention": ({"attention": False}, set(), {"attention_offset"}, 9),
    "timescales": (
        {"num_timescales": 1}, {"input_decay_kernel", "input_decay_bias"}, {"m", "beta"}, 3
    ),
    "dynamic_input_scaling": (
        {"dynamic_input_scaling": False}, {"scale_decay_kernel", "scale_decay_bias"}, {"gamma"}, 9
    ),
    "multiscale_input_decay": ({"multiscale_input_decay": True}, set(), set(), 9),
    "input_decay": (
        {"learnable_input_decay": False}, {"input_decay_kernel", "input_decay_bias"}, {"beta"}, 9
    ),
    "relative_lr_input": ({"relative_lr_input": False}, set(), set(), 8),
    "dynamic_output_scale": (
        {"dynamic_output_scale": False, "relative_lr_input": False},
        {"lr_momentum_logit", "step_offset"},
        {"log_lr"},
        8,
    ),
    "initial_states": ({"trainable_initial_states": False}, {"initial_state"}, set(), 9),
    "two_levels": (
        {"num_levels": 2}, {"global_feed_kernel", "global_feed_bias", "global_rnn"}, set(), 9
    ),
    "one_level": (
        {"num_levels": 1},
        {"global_feed_kernel", "global_feed_bias", "global_rnn", "tensor_feed_kernel",
         "tensor_feed_bias", "tensor_rnn"},
        {"h1"},
        9,
    ),
    "shortcut": ({"gradient_shortcut": False}, {"shortcut_kernel"}, set(), 9),
    "gradient_products": ({"gradient_products": True}, set(), set(), 12),
    "problem_wide_lr_mean": ({"problem_wide_lr_mean": True}, set(), set(), 9),
    "global_input": ({"global_input": "last_tensor"}, set(), set(), 9),
    "sizes": ({"parameter_units": 5, "tensor_units": 10, "global_units": 10}, set(), set(), 9),
    "appendix_d": ({"version": "appendix_d"}, set(), set(), 9),
}


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_each_switch_removes_its_feature_and_changes_the_output(name):
    kwargs, removed_weights, removed_state, num_features = SWITCHES[name]
    base = HierarchicalRNN(dtype="float64")
    _randomize(base)  # weights far from their initialization make every path count
    rule = HierarchicalRNN(dtype="float64", **kwargs)
    _copy_shared_weights(base, rule)
    assert rule.num_features == num_features
    assert rule.parameter_rnn.cell.input_kernel.shape[0] == num_features

    def parts(r):
        return {part for w in r.weights for part in _local_path(w).split("/")}

    assert parts(base) - parts(rule) == removed_weights
    params = [tf.zeros(s, tf.float64) for s in SHAPES]
    base_keys = set(base.init(params)["tensors"][0])
    assert base_keys - set(rule.init(params)["tensors"][0]) == removed_state
    assert rule.uses_eval_point == (name != "attention")

    base_moved, moved = _run(base), _run(rule)
    assert np.all(np.isfinite(moved)) and np.max(np.abs(moved)) > 0
    # Relative change of the trajectory; float64 round-off is ~1e-15 (the smallest
    # effects, of the γ switches, are ~1e-3 on this 3-step run).
    change = np.max(np.abs(moved - base_moved)) / np.max(np.abs(base_moved))
    assert change > 1e-6, name
    config = rule.get_config()
    assert HierarchicalRNN.from_config(config).get_config() == config


def test_presets_and_appendix_d_noise():
    paper, release = HierarchicalRNN(preset="paper"), HierarchicalRNN(preset="release")
    assert paper.attention and paper.gradient_shortcut and not paper.gradient_products
    assert not release.attention and release.gradient_products and release.problem_wide_lr_mean
    assert HierarchicalRNN(preset="release", attention=True).attention  # explicit wins
    assert paper.parameter_noise_range == (0.0, 0.0)
    rule = HierarchicalRNN(version="appendix_d", dtype="float64")
    assert rule.parameter_noise_range == (1e-4, 1e-2)
    quiet = HierarchicalRNN(version="appendix_d", parameter_noise_range=(0, 0), dtype="float64")
    _copy_shared_weights(rule, quiet)
    params = [tf.zeros([3000], tf.float64), tf.zeros([2], tf.float64)]
    grads = [tf.ones([3000], tf.float64), tf.ones([2], tf.float64)]
    state = rule.init(params, SEED)
    sigma = float(state["noise_scale"])
    assert 1e-4 <= sigma <= 1e-2
    noisy, next_state = rule.step(params, grads, state)
    clean, _ = quiet.step(params, grads, quiet.init(params, SEED))
    eps = (noisy[0] - clean[0]).numpy() / sigma
    assert abs(eps.mean()) < 0.1 and abs(eps.std() - 1.0) < 0.1
    assert not np.array_equal(next_state["noise_seed"].numpy(), state["noise_seed"].numpy())
    deployed = rule.init(params)  # no seed: no noise
    assert float(deployed["noise_scale"]) == 0.0
    np.testing.assert_array_equal(
        rule.step(params, grads, deployed)[0][0].numpy(),
        quiet.step(params, grads, quiet.init(params))[0][0].numpy(),
    )


def test_registry_config_and_errors():
    rule = rules.get("hierarchical_rnn", preset="release", num_levels=2)
    assert isinstance(rule, HierarchicalRNN) and rule.num_levels == 2
    config = rule.get_config()
    clone = HierarchicalRNN.from_config(config)
    assert clone.get_config() == config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in rule.weights]
    for kwargs, match in [
        ({"preset": "icml"}, "Unknown preset"),
        ({"version": "2018"}, "Unknown version"),
        ({"num_levels": 4}, "num_levels"),
        ({"num_timescales": 0}, "num_timescales"),
        ({"dynamic_output_scale": False}, "relative_lr_input"),
        ({"global_input": "first"}, "global_input"),
        ({"learning_rate_range": (1e-2, 1e-6)}, "lo <= hi"),
        ({"parameter_noise_range": (0.0, 1.0)}, "parameter_noise_range"),
    ]:
        with pytest.raises(ValueError, match=match):
            HierarchicalRNN(**kwargs)


@pytest.mark.parametrize("preset", ["paper", "release"])
def test_second_order_meta_gradient_reaches_every_meta_parameter(preset):
    rule = HierarchicalRNN(preset=preset)
    # The learning-rate readout starts at zero (spec), which makes ∂L/∂ρ = −Δ ∂L/∂log_lr
    # exactly zero at initialization; move it off zero so that ρ's path is exercised.
    rule.lr_kernel.assign(np.full(rule.lr_kernel.shape, 0.05))
    problem = problems.get("two_moons", seed=0, hidden=(8,))
    loss, grads = FullUnroll(rule, num_steps=20, second_order=True)(problem, 1)
    assert np.isfinite(float(loss))
    assert len(grads) == len(rule.trainable_variables)
    for variable, grad in zip(rule.trainable_variables, grads):
        assert grad is not None, variable.path
        assert np.all(np.isfinite(grad.numpy())), variable.path
        assert np.any(grad.numpy() != 0), variable.path


def test_meta_gradient_matches_central_differences():
    # Learning rates large enough for the 8 steps to move, and a non-zero learning-rate
    # readout so that ∂L/∂ρ ≠ 0 (see the test above).
    rule = HierarchicalRNN(learning_rate_range=(1e-2, 1e-1), dtype="float64")
    rule.lr_kernel.assign(np.full(rule.lr_kernel.shape, 0.05))
    problem = problems.get("quadratic", seed=1, dim=5, dtype="float64")
    estimator = FullUnroll(rule, num_steps=8)  # losses at the attended points: a matters directly
    _, grads = estimator(problem, 3)
    by_path = {_local_path(v): (v, g) for v, g in zip(rule.trainable_variables, grads)}
    checked = [  # (meta-parameter, column or None for the largest entry anywhere)
        ("step_offset", None),
        ("lr_momentum_logit", None),
        ("direction_kernel", 0),  # d
        ("direction_kernel", 1),  # the attention direction a
        ("shortcut_kernel", 1),
        ("input_decay_bias", None),
        ("parameter_rnn/tensor_feed_kernel", None),
        ("tensor_rnn/gru_cell/recurrent_kernel", None),
        ("global_rnn/initial_state", None),
    ]
    for path, column in checked:
        variable, grad = by_path[path]
        grad = grad.numpy()
        if column is None:
            index = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        else:
            index = (int(np.argmax(np.abs(grad[:, column]))), column)
        fd = central_difference(estimator, problem, variable, index)
        assert abs(fd) > 1e-5, (path, index, fd)  # well above the differences' round-off
        assert abs(grad[index] - fd) <= 1e-4 * abs(fd), (path, index, grad[index], fd)


def test_trajectory_is_invariant_to_loss_scale():
    """Scaling the loss by 10⁴ scales every m_i by 10⁴ and v_i by 10⁸, which leaves ĝ_i, the
    relative log magnitudes and hence the whole trajectory unchanged, up to the 1e-12 added
    to m² and the 1e-16 in roots and logs. Those break the invariance only for elements whose
    averaged gradients are ≲ 1e-6 (none here, where gradients are O(1)); rtol 1e-9 covers
    the rest."""
    rule = HierarchicalRNN(dtype="float64")
    assert rule.dynamic_input_scaling and rule.relative_lr_input and rule.attention
    rng = np.random.default_rng(2)
    matrices = [tf.constant(rng.normal(size=(int(np.prod(s)), int(np.prod(s))))) for s in SHAPES]

    def trajectory(scale):
        params = [tf.constant(p) for p in _problem_tensors()]
        state = rule.init(params, SEED)
        path = []
        for _ in range(10):
            with tf.GradientTape() as tape:
                at = rule.eval_point(params, state)
                tape.watch(at)
                residuals = [w @ tf.reshape(a, [-1, 1]) - 1.0 for w, a in zip(matrices, at)]
                loss = scale * sum(tf.reduce_sum(tf.square(r)) for r in residuals)
            params, state = rule.step(params, tape.gradient(loss, at), state)
            path.append(np.concatenate([p.numpy().ravel() for p in params]))
        return np.stack(path)

    unscaled, scaled = trajectory(1.0), trajectory(1e4)
    assert np.max(np.abs(unscaled[-1] - unscaled[0])) > 1e-6  # the parameters do move
    np.testing.assert_allclose(scaled, unscaled, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("config", [{}, {"version": "appendix_d"}], ids=["paper", "appendix_d"])
def test_step_and_unroll_under_xla(config):
    rule = HierarchicalRNN(**config)
    params = [tf.constant(p) for p in _problem_tensors("float32")]
    grads = [tf.constant(g) for g in _problem_tensors("float32", seed=4)]
    xla_step = tf.function(rule.step, jit_compile=True)
    state = rule.init(params)  # no seed: no App. D.1 noise, whose draws differ under XLA
    eager_params, eager_state = rule.step(params, grads, state)
    xla_params, xla_state = xla_step(params, grads, state)
    eager = eager_params + tf.nest.flatten(eager_state)
    for a, b in zip(eager, xla_params + tf.nest.flatten(xla_state)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(params[0].numpy(), _problem_tensors("float32")[0])  # pure
    seeded_params, _ = xla_step(params, grads, rule.init(params, SEED))
    assert all(np.all(np.isfinite(p.numpy())) for p in seeded_params)

    problem = problems.get("quadratic", seed=0, dim=4)
    start = [tf.constant(np.linspace(-1, 1, 4).reshape(4, 1), tf.float32)]

    def losses():
        return unroll(rule, problem, problem.tensors, start, rule.init(start), as_seed(0), 6).losses

    np.testing.assert_allclose(
        tf.function(losses)().numpy(), tf.function(losses, jit_compile=True)().numpy(), rtol=1e-4
    )


def test_second_order_meta_gradient_under_xla():
    """~6 s, nearly all of it XLA compiling the second-order backward loop."""
    rule = HierarchicalRNN(dtype="float64")
    problem = problems.get("quadratic", seed=0, dim=4, dtype="float64")
    loss, grads = FullUnroll(rule, num_steps=5, jit_compile=True)(problem, 0)
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    variables = rule.trainable_variables
    zero = [_local_path(v) for v, g in zip(variables, grads) if not np.any(g.numpy())]
    assert zero == ["lr_momentum_logit"]  # ∂L/∂ρ ∝ Δ = 0 at initialization (see above)
