"""Tests of `l2o_tf.LearnedOptimizer`, the Keras adapter around an update rule.

Most checks use rule="sgd" (known learning rate: the exact update is predictable), the
learned "mlp" rule (the one users train with) and "adam" where a run is cheap. The MLP rule
with random meta-parameters (weights=None) does not reliably lower a loss (it is an
untrained optimizer), so the lowers-the-loss test uses "adam" and the MLP is only required
to train finitely and move every parameter. The hierarchical RNN runs with attention (its
"paper" preset: the model variables hold the attended point and the optimizer recovers the
true parameters from them) and without (`HRNN_NO_ATTENTION`); it keeps no step counter `t`.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import l2o_tf
from l2o_tf import optimizer as optimizer_module
from l2o_tf.optimizer import PACK_BELOW, LearnedOptimizer, PackedState, _dense
from l2o_tf.rules.base import UpdateRule

SEED = 1234
SGD_LR = 0.1
HRNN = "hierarchical_rnn"
HRNN_NO_ATTENTION = "hierarchical_rnn/no_attention"  # test-local name, see make_optimizer


# ---------------------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """512 scikit-learn digits, pixels in [0, 1], integer labels."""
    x, y = load_digits(return_X_y=True)
    return (x[:512] / 16.0).astype("float32"), y[:512].astype("int32")


def make_classifier(seed: int = SEED) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def compile_classifier(model: keras.Model, optimizer: Any, **kwargs: Any) -> keras.Model:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **kwargs,
    )
    return model


def make_optimizer(rule: str, **kwargs: Any) -> LearnedOptimizer:
    """A rule with a deterministic initialization (weights=None) and a usable step size."""
    if rule == HRNN_NO_ATTENTION:
        rule = HRNN
        kwargs.setdefault("rule_config", {"attention": False})
    if rule == "sgd":
        kwargs.setdefault("rule_config", {"learning_rate": SGD_LR})
    elif rule == "adam":
        kwargs.setdefault("rule_config", {"learning_rate": 1e-2})
    keras.utils.set_random_seed(SEED)
    return LearnedOptimizer(rule=rule, weights=kwargs.pop("weights", None), **kwargs)


def snapshot(variables) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def state_of(opt: LearnedOptimizer) -> Any:
    """The rule state held by the optimizer, as a nest of numpy arrays."""
    return tf.nest.map_structure(np.array, opt._rule_state())


def rule_steps(opt: LearnedOptimizer) -> float | None:
    """The rule's step counter `t`, or None for a rule without one (hierarchical RNN)."""
    state = state_of(opt)
    return float(state["t"]) if "t" in state else None


def true_params(opt: LearnedOptimizer, variables=None) -> list[np.ndarray]:
    """The true parameters as the optimizer recovers them from the model variables."""
    values = [tf.convert_to_tensor(v) for v in variables or opt._trainable_variables]
    return snapshot(opt._true_params(values, opt._rule_state(), opt._holds_eval_point()))


def per_parameter_floats(opt: LearnedOptimizer, num_params: int, per_tensor: int) -> float:
    """Floats in the optimizer's non-scalar variables per model parameter, after removing
    `per_tensor` floats of each tensor-level state (the HRNN's Tensor- and Global-RNN)."""
    floats = sum(v.shape.num_elements() for v in opt.variables if len(v.shape) > 0)
    return (floats - per_tensor) / num_params


def changed(before: list[np.ndarray], after_vars) -> list[bool]:
    return [not np.array_equal(b, a.numpy()) for b, a in zip(before, after_vars)]


def toy_variables() -> list[keras.Variable]:
    return [
        keras.Variable(np.zeros(2, "float32"), name="a"),
        keras.Variable(np.zeros(3, "float32"), name="b"),
    ]


TOY_GRADS = [np.array([3.0, 4.0], "float32"), np.array([0.0, 0.0, 12.0], "float32")]


def toy_grads(scale: float = 1.0) -> list[tf.Tensor]:
    return [tf.constant(g * scale) for g in TOY_GRADS]


@pytest.fixture(scope="module")
def fitted_mlp(digits) -> dict[str, Any]:
    """A classifier trained for 2 epochs (16 steps) by the randomly initialized MLP rule."""
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer("mlp"))
    initial = snapshot(model.trainable_variables)
    history = model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
    return {
        "model": model,
        "initial": initial,
        "trained": snapshot(model.trainable_variables),
        "history": history.history,
    }


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ---------------------------------------------------------------------------------------
# 1. model.fit
# ---------------------------------------------------------------------------------------


def test_fit_with_adam_rule_lowers_digits_loss(digits):
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer("adam"))
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert after < 0.6 * before, (before, after)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(model.optimizer.skipped_updates.numpy()) == 0


def test_fit_with_random_mlp_rule_is_finite_and_moves_every_parameter(fitted_mlp):
    model = fitted_mlp["model"]
    assert np.isfinite(fitted_mlp["history"]["loss"]).all()
    assert all(np.isfinite(w).all() for w in fitted_mlp["trained"])
    for before, after in zip(fitted_mlp["initial"], fitted_mlp["trained"]):
        assert not np.array_equal(before, after)
    opt = model.optimizer
    assert int(opt.iterations.numpy()) == 16
    assert float(state_of(opt)["t"]) == 16.0  # the rule was stepped once per batch
    assert int(opt.skipped_updates.numpy()) == 0


@pytest.mark.parametrize("rule", [HRNN, HRNN_NO_ATTENTION])
def test_fit_with_hierarchical_rnn_rule(rule, digits):
    """The untrained hierarchical RNN trains finitely and moves every parameter; with
    attention fit() ends on the true parameters and swap_to_train/swap_to_eval go back and
    forth between them and the attended point."""
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer(rule))
    initial = snapshot(model.trainable_variables)
    history = model.fit(x[:256], y[:256], batch_size=64, epochs=1, shuffle=False, verbose=0)
    opt = model.optimizer
    assert np.isfinite(history.history["loss"]).all()
    assert all(changed(initial, model.trainable_variables))
    assert int(opt.skipped_updates.numpy()) == 0
    if rule == HRNN_NO_ATTENTION:
        assert opt.holds_eval_point is None
        return
    assert not opt.holds_eval_point.numpy()  # fit() ended with finalize_variable_values
    final = snapshot(model.trainable_variables)
    opt.swap_to_train()
    assert opt.holds_eval_point.numpy()
    assert all(changed(final, model.trainable_variables))
    attended = snapshot(model.trainable_variables)
    opt.swap_to_train()  # idempotent
    assert not any(changed(attended, model.trainable_variables))
    opt.swap_to_eval()
    opt.swap_to_eval()
    for v, f in zip(model.trainable_variables, final):  # (θ + o) − o: round-off only
        np.testing.assert_allclose(v.numpy(), f, rtol=0, atol=2 * np.spacing(np.abs(f).max()))


@pytest.mark.parametrize(
    "rule_config, floats", [({}, 10 + 2 * 4 + 3 + 1), ({"attention": False}, 10 + 2 * 4 + 3)]
)
def test_hierarchical_rnn_optimizer_state_per_parameter(rule_config, floats):
    """Spec "State": H0 + 2K + 3 floats per parameter, +1 with attention (H0 = 10, K = 4);
    besides, each tensor has a Tensor-RNN state (H1 = 20) and the problem a Global-RNN state
    (H2 = 20). No copy of the parameters: the whole state is the rule's."""
    model = make_classifier()
    opt = make_optimizer(HRNN, rule_config=rule_config)
    opt.build(model.trainable_variables)
    rule = opt.rule
    assert floats == rule.parameter_units + 2 * rule.num_timescales + 3 + rule.attention
    num_params = sum(v.shape.num_elements() for v in model.trainable_variables)
    per_tensor = rule.tensor_units * len(model.trainable_variables) + rule.global_units
    assert per_parameter_floats(opt, num_params, per_tensor) == floats
    # 4 tensors with 7 leaves (8 with attention) and h2, in two variables (`PackedState`):
    # the 64x32 kernel's h0 [H0, 2048] apart, the rest in one vector.
    assert len(tf.nest.flatten(opt._rule_state())) == 4 * (7 + rule.attention) + 1
    rest = num_params * floats + per_tensor - 2048 * 10
    assert [tuple(v.shape) for v in opt._state_variables] == [(10, 2048), (rest,)]


def test_packed_state_round_trip():
    """Leaves of PACK_BELOW elements or more stay apart in their shapes; the others are
    concatenated, one vector per dtype, in their order in the nest."""
    state = {
        "big": tf.reshape(tf.range(PACK_BELOW, dtype=tf.float32), [PACK_BELOW // 4, 4]),
        "rows": [tf.fill([3, 2], 1.0), tf.fill([5], 2.0)],
        "seed": tf.constant([7, 8], tf.int64),
        "t": tf.constant(3.0),
    }
    layout = PackedState(state)
    packed = layout.pack(state)
    assert [(p.shape, p.dtype) for p in packed] == [
        ((PACK_BELOW // 4, 4), tf.float32),
        ((12,), tf.float32),
        ((2,), tf.int64),
    ]
    np.testing.assert_array_equal(packed[1], [1.0] * 6 + [2.0] * 5 + [3.0])
    unpacked = layout.unpack(packed)
    tf.nest.assert_same_structure(unpacked, state)
    for a, b in zip(tf.nest.flatten(unpacked), tf.nest.flatten(state)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# 2. model.save / keras.models.load_model
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["mlp", "adam", HRNN, HRNN_NO_ATTENTION])
def test_save_and_load_model_restores_state_and_next_step(rule, digits, tmp_path):
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer(rule))
    model.fit(x[:128], y[:128], batch_size=32, epochs=1, shuffle=False, verbose=0)
    opt = model.optimizer
    # Meta-parameters a fresh rule cannot reproduce: only the archive can restore them.
    for w in opt.rule.weights:
        w.assign(w * 1.5 + 0.01)
    path = str(tmp_path / "model.keras")
    model.save(path)

    loaded = keras.models.load_model(path)  # no custom_objects: the class is registered
    new = loaded.optimizer
    assert isinstance(new, LearnedOptimizer)
    assert type(new.rule) is type(opt.rule)
    assert new.get_config() == opt.get_config()
    assert [v.path for v in new.variables] == [v.path for v in opt.variables]
    for a, b in zip(opt.variables, new.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip(opt.rule.weights, new.rule.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)

    xb, yb = x[128:160], y[128:160]
    model.train_on_batch(xb, yb)
    loaded.train_on_batch(xb, yb)
    for a, b in zip(model.trainable_variables, loaded.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip(opt.variables, new.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_load_model_when_weights_file_was_removed(digits, tmp_path):
    x, y = digits
    weights_path = str(tmp_path / "rule_weights.npz")
    rule = l2o_tf.rules.get("mlp")
    for w in rule.weights:
        w.assign(w + 0.05)
    l2o_tf.save_rule_weights(rule, weights_path)
    model = compile_classifier(make_classifier(), make_optimizer("mlp", weights=weights_path))
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    os.remove(weights_path)

    with pytest.warns(UserWarning, match="does not exist"):
        loaded = keras.models.load_model(path)
    assert loaded.optimizer.weights_source == weights_path
    for a, b in zip(rule.weights, loaded.optimizer.rule.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The constructor itself still refuses a missing file.
    with pytest.raises(FileNotFoundError):
        LearnedOptimizer(rule="mlp", weights=weights_path)


# ---------------------------------------------------------------------------------------
# 3. get_config / from_config
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rule": "mlp", "weights": None},
        {"rule": "mlp", "weights": None, "rule_config": {"hidden_units": 16, "exp_scale": 0.01}},
        {"rule": "adam", "weights": None, "rule_config": {"learning_rate": 0.05, "beta_1": 0.8}},
        {"rule": "sgd", "weights": None, "learning_rate": 0.5, "clipnorm": 2.0, "use_ema": True},
        {"rule": "momentum"},
        {"rule": "rmsprop", "gradient_accumulation_steps": 3, "jit_compile_rule": False},
        {"rule": HRNN, "weights": None},
        {
            "rule": HRNN,
            "weights": None,
            "rule_config": {
                "preset": "release", "num_levels": 2, "learning_rate_range": [1e-5, 1e-3]
            },
        },
    ],
)
def test_config_round_trip(kwargs):
    opt = LearnedOptimizer(**kwargs)
    config = opt.get_config()
    new = LearnedOptimizer.from_config(config)
    assert new.get_config() == config
    assert type(new.rule) is type(opt.rule)
    rule_config = {k: v for k, v in opt.rule.get_config().items() if k != "name"}
    new_rule_config = {k: v for k, v in new.rule.get_config().items() if k != "name"}
    assert new_rule_config == rule_config
    for k, v in kwargs.get("rule_config", {}).items():
        assert config["rule_config"][k] == v
    # Through the Keras registry as well (what compile(optimizer=dict) and saving use).
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, LearnedOptimizer)
    assert again.get_config() == config


def test_from_config_loads_weights_file(tmp_path):
    path = str(tmp_path / "w.npz")
    rule = l2o_tf.rules.get("mlp", hidden_units=8)
    for w in rule.weights:
        w.assign(tf.fill(w.shape, 0.25))
    l2o_tf.save_rule_weights(rule, path)
    opt = LearnedOptimizer(rule="mlp", weights=path, rule_config={"hidden_units": 8})
    new = LearnedOptimizer.from_config(opt.get_config())
    for w in new.rule.weights:
        np.testing.assert_array_equal(w.numpy(), np.full(w.shape, 0.25, "float32"))


# ---------------------------------------------------------------------------------------
# Learning rate and clipping (the rule must see the clipped gradient)
# ---------------------------------------------------------------------------------------


def apply_once(opt: LearnedOptimizer, grads=None) -> list[np.ndarray]:
    variables = toy_variables()
    opt.apply(grads if grads is not None else toy_grads(), variables)
    return [v.numpy() for v in variables]


@pytest.mark.parametrize("rule", ["mlp", HRNN])
def test_xla_compiled_rule_step_matches_the_plain_step(rule):
    opts = [make_optimizer(rule, jit_compile_rule=jit) for jit in (True, False)]
    assert [o.get_config()["jit_compile_rule"] for o in opts] == [True, False]
    for o in opts[1:]:
        o.rule.set_weights(opts[0].rule.get_weights())
    compiled, plain = (apply_once(o) for o in opts)
    for a, b in zip(compiled, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert any(np.any(a != 0) for a in compiled)


def test_sgd_rule_step_is_exact_and_scaled_by_learning_rate():
    new = apply_once(make_optimizer("sgd"))
    for n, g in zip(new, TOY_GRADS):
        np.testing.assert_allclose(n, -SGD_LR * g, rtol=1e-6)
    new = apply_once(make_optimizer("sgd", learning_rate=0.5))
    for n, g in zip(new, TOY_GRADS):
        np.testing.assert_allclose(n, -0.5 * SGD_LR * g, rtol=1e-6)


def test_clipnorm_clips_each_gradient():
    new = apply_once(make_optimizer("sgd", clipnorm=1.0))
    for n, g in zip(new, TOY_GRADS):
        np.testing.assert_allclose(np.linalg.norm(n), SGD_LR, rtol=1e-5)
        np.testing.assert_allclose(n, -SGD_LR * g / np.linalg.norm(g), rtol=1e-5)


def test_global_clipnorm_clips_the_global_norm():
    new = apply_once(make_optimizer("sgd", global_clipnorm=1.0))
    global_norm = np.sqrt(sum(np.sum(g**2) for g in TOY_GRADS))  # 13
    np.testing.assert_allclose(np.sqrt(sum(np.sum(n**2) for n in new)), SGD_LR, rtol=1e-5)
    for n, g in zip(new, TOY_GRADS):
        np.testing.assert_allclose(n, -SGD_LR * g / global_norm, rtol=1e-5)


def test_clipvalue_clips_each_entry():
    new = apply_once(make_optimizer("sgd", clipvalue=3.5))
    # [3, 4] -> [3, 3.5]; [0, 0, 12] -> [0, 0, 3.5]
    np.testing.assert_allclose(new[0], -SGD_LR * np.array([3.0, 3.5]), rtol=1e-5)
    np.testing.assert_allclose(new[1], -SGD_LR * np.array([0.0, 0.0, 3.5]), rtol=1e-5)


# ---------------------------------------------------------------------------------------
# 5. Gradient accumulation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["sgd", "mlp", HRNN])
def test_gradient_accumulation_updates_every_second_step(rule):
    opt = make_optimizer(rule, gradient_accumulation_steps=2)
    variables = toy_variables()
    previous = snapshot(variables)
    for step in range(1, 5):
        opt.apply(toy_grads(float(step)), variables)
        moved = changed(previous, variables)
        if step % 2:
            assert not any(moved), f"variables changed on accumulation step {step}"
        else:
            assert all(moved), f"variables did not change on update step {step}"
        previous = snapshot(variables)
        assert rule_steps(opt) in (step // 2, None)
    if rule == "sgd":  # the rule saw the mean gradients: (1 + 2) / 2 and (3 + 4) / 2
        for v, g in zip(variables, TOY_GRADS):
            np.testing.assert_allclose(v.numpy(), -SGD_LR * (1.5 + 3.5) * g, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# 6. Exponential moving average of the weights
# ---------------------------------------------------------------------------------------


def test_ema_averages_and_finalize_writes_the_average():
    opt = make_optimizer("sgd", use_ema=True, ema_momentum=0.5)
    variables = toy_variables()
    opt.apply(toy_grads(), variables)  # θ = -0.1 g, average = θ (first step)
    opt.apply(toy_grads(), variables)  # θ = -0.2 g, average = -0.15 g
    averages = opt._model_variables_moving_average
    assert len(averages) == len(variables)
    for v, avg, g in zip(variables, averages, TOY_GRADS):
        np.testing.assert_allclose(v.numpy(), -2 * SGD_LR * g, rtol=1e-5)
        np.testing.assert_allclose(avg.numpy(), -1.5 * SGD_LR * g, rtol=1e-5)
    opt.finalize_variable_values(variables)
    for v, g in zip(variables, TOY_GRADS):
        np.testing.assert_allclose(v.numpy(), -1.5 * SGD_LR * g, rtol=1e-5)


def test_ema_overwrite_frequency():
    opt = make_optimizer("sgd", use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    variables = toy_variables()
    opt.apply(toy_grads(), variables)
    for v, g in zip(variables, TOY_GRADS):  # not overwritten yet
        np.testing.assert_allclose(v.numpy(), -SGD_LR * g, rtol=1e-5)
    opt.apply(toy_grads(), variables)
    for v, g in zip(variables, TOY_GRADS):  # overwritten by the average
        np.testing.assert_allclose(v.numpy(), -1.5 * SGD_LR * g, rtol=1e-5)


def test_ema_with_mlp_rule_in_fit(digits):
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer("mlp", use_ema=True))
    initial = snapshot(model.trainable_variables)
    model.fit(x[:128], y[:128], batch_size=32, epochs=1, verbose=0)
    averages = model.optimizer._model_variables_moving_average
    assert len(averages) == len(model.trainable_variables)
    # fit() ends with finalize_variable_values: the model holds the averages.
    for v, avg in zip(model.trainable_variables, averages):
        np.testing.assert_array_equal(v.numpy(), avg.numpy())
    assert all(changed(initial, model.trainable_variables))


# ---------------------------------------------------------------------------------------
# 7. Mixed precision
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["mlp", "adam", HRNN])
def test_mixed_float16_fit(rule, digits, mixed_precision):
    x, y = digits
    model = compile_classifier(make_classifier(), make_optimizer(rule))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, LearnedOptimizer)
    assert model.layers[0].compute_dtype == "float16"
    initial = snapshot(model.trainable_variables)
    history = model.fit(x[:256], y[:256], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(changed(initial, model.trainable_variables))
    assert all(np.isfinite(v.numpy()).all() for v in model.trainable_variables)
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    inner = model.optimizer.inner_optimizer
    assert rule_steps(inner) is None or rule_steps(inner) > 0  # loss scaling may skip a few


def test_mixed_precision_policy_is_restored():
    assert keras.mixed_precision.global_policy().name == "float32"


# ---------------------------------------------------------------------------------------
# 8. IndexedSlices (Embedding)
# ---------------------------------------------------------------------------------------


def test_dense_sums_duplicate_indices():
    variable = keras.Variable(np.zeros((4, 2), "float32"))
    slices = tf.IndexedSlices(
        values=tf.constant([[1.0, 2.0], [10.0, 20.0], [5.0, 5.0]]),
        indices=tf.constant([2, 0, 2]),
        dense_shape=tf.constant([4, 2]),
    )
    dense = _dense(slices, variable)
    np.testing.assert_array_equal(
        dense.numpy(), [[10.0, 20.0], [0.0, 0.0], [6.0, 7.0], [0.0, 0.0]]
    )
    assert dense.dtype == tf.float32
    np.testing.assert_array_equal(_dense(tf.ones((4, 2), tf.float64), variable).numpy(), 1.0)
    assert _dense(tf.ones((4, 2), tf.float64), variable).dtype == tf.float32


@pytest.mark.parametrize("rule", ["mlp", "sgd", HRNN])
def test_embedding_fit_with_indexed_slices(rule, monkeypatch):
    seen: list[type] = []

    def spy(gradient, variable):
        seen.append(type(gradient))
        return _dense(gradient, variable)

    monkeypatch.setattr(optimizer_module, "_dense", spy)
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 10, size=(64, 5)).astype("int32")  # rows 10..19 never used
    y = (x.sum(axis=1, keepdims=True) / 50.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(20, 4),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=make_optimizer(rule), loss="mse")
    table = model.layers[0].embeddings
    before = table.numpy().copy()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert tf.IndexedSlices in seen  # the sparse path was exercised
    assert np.isfinite(history.history["loss"]).all()
    after = table.numpy()
    assert not np.array_equal(before[:10], after[:10])
    if rule == "sgd":  # a dense zero gradient leaves unused rows where they were
        np.testing.assert_array_equal(before[10:], after[10:])


# ---------------------------------------------------------------------------------------
# 9. Variables without gradients
# ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("rule", ["mlp", "adam", HRNN, HRNN_NO_ATTENTION])
def test_variables_without_gradient_stay_unchanged(rule):
    keras.utils.set_random_seed(SEED)
    used, unused = keras.layers.Dense(3), keras.layers.Dense(3)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)).astype("float32"))
    used.build((None, 4))
    unused.build((None, 4))
    variables = used.trainable_variables + unused.trainable_variables
    opt = make_optimizer(rule)
    initial = snapshot(variables)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(used(x) - 1.0))
            unused(x)  # computed but not part of the loss
        grads = tape.gradient(loss, variables)
        assert grads[2] is None and grads[3] is None
        before = snapshot(variables)
        opt.apply(grads, variables)
        moved = changed(before, variables)
        # The MLP rule takes the parameter itself as a feature: without the filter it
        # would move the unused kernel even with a zero gradient.
        assert moved[:2] == [True, True]
        if rule != HRNN:
            assert moved[2:] == [False, False]
    # With attention the unused variables hold their attended point, which follows the
    # rule's state; their true parameters stay (to the round-off of (θ + o) − o).
    opt.swap_to_eval(variables)
    for v, start in zip(variables[2:], initial[2:]):
        np.testing.assert_allclose(v.numpy(), start, rtol=0, atol=3 * np.spacing(1.0))


# ---------------------------------------------------------------------------------------
# 10. Non-finite gradients
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["mlp", "adam", HRNN])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradients_skip_the_step(rule, bad):
    opt = make_optimizer(rule)
    variables = toy_variables()
    opt.apply(toy_grads(), variables)  # one finite step: non-trivial state
    params = snapshot(variables)
    state = snapshot(opt._state_variables)
    grads = toy_grads()
    grads[1] = tf.constant([1.0, bad, 2.0])  # one bad entry in one tensor
    opt.apply(grads, variables)
    assert int(opt.skipped_updates.numpy()) == 1
    assert not any(changed(params, variables))
    assert not any(changed(state, opt._state_variables))
    opt.apply(toy_grads(), variables)  # a finite step afterwards works
    assert int(opt.skipped_updates.numpy()) == 1
    assert all(changed(params, variables))
    assert all(np.isfinite(v.numpy()).all() for v in variables)
    assert rule_steps(opt) in (2.0, None)


# ---------------------------------------------------------------------------------------
# 11. XLA
# ---------------------------------------------------------------------------------------


def test_fit_with_jit_compile_matches_eager_graph(digits):
    x, y = digits
    results = []
    for jit in (False, True):
        model = compile_classifier(make_classifier(), make_optimizer("mlp"), jit_compile=jit)
        history = model.fit(x[:128], y[:128], batch_size=32, epochs=1, shuffle=False, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        results.append(snapshot(model.trainable_variables))
    initial = snapshot(make_classifier().trainable_variables)
    for plain, xla, init in zip(*results, initial):
        assert not np.array_equal(xla, init)
        np.testing.assert_allclose(xla, plain, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rule", ["mlp", "adam", HRNN, HRNN_NO_ATTENTION])
def test_apply_under_tf_function_jit_compile(rule):
    eager_opt, xla_opt = make_optimizer(rule), make_optimizer(rule)
    xla_opt.rule.set_weights(eager_opt.rule.get_weights())
    eager_vars, xla_vars = toy_variables(), toy_variables()
    xla_opt.build(xla_vars)

    @tf.function(jit_compile=True)
    def xla_apply(grads):
        xla_opt.apply(grads, xla_vars)

    for step in range(3):
        grads = toy_grads(1.0 + step)
        eager_opt.apply(grads, eager_vars)
        xla_apply(grads)
    bad = toy_grads()
    bad[0] = tf.constant([np.nan, 1.0])
    xla_apply(bad)
    assert int(xla_opt.skipped_updates.numpy()) == 1
    for a, b in zip(eager_vars, xla_vars):
        assert not np.array_equal(b.numpy(), 0.0)
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------
# 12. Weights files and errors
# ---------------------------------------------------------------------------------------


def test_weights_file_round_trip(tmp_path):
    rule = l2o_tf.rules.get("mlp")
    for i, w in enumerate(rule.weights):
        w.assign(tf.fill(w.shape, 0.1 * (i + 1)))
    path = l2o_tf.save_rule_weights(rule, str(tmp_path / "meta"))
    assert path.endswith(".npz")
    opt = LearnedOptimizer(rule="mlp", weights=path)
    for a, b in zip(rule.weights, opt.rule.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt.get_config()["weights"] == path


def test_pretrained_default():
    opt = LearnedOptimizer()
    assert opt.rule.rule_name == "mlp"
    assert opt.weights_source == "pretrained"
    shipped = optimizer_module.pretrained_path("mlp")
    if shipped is not None:
        reference = l2o_tf.rules.get("mlp")
        l2o_tf.load_rule_weights(reference, shipped)
        for a, b in zip(reference.weights, opt.rule.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert optimizer_module.pretrained_path("no_such_rule") is None


def test_unknown_rule_name():
    with pytest.raises(ValueError, match="Unknown rule 'nope'") as info:
        LearnedOptimizer(rule="nope")
    for name in ("mlp", "sgd", "momentum", "rmsprop", "adam"):
        assert name in str(info.value)


@pytest.mark.parametrize("bad", [3, None, keras.layers.Dense(2)])
def test_rule_of_wrong_type(bad):
    with pytest.raises(TypeError, match="rule must be"):
        LearnedOptimizer(rule=bad, weights=None)


def test_rule_config_with_rule_instance():
    with pytest.raises(ValueError, match="rule_config"):
        LearnedOptimizer(rule=l2o_tf.rules.get("sgd"), rule_config={"learning_rate": 1.0})


def test_weights_file_of_another_rule(tmp_path):
    path = l2o_tf.save_rule_weights(l2o_tf.rules.get("sgd"), str(tmp_path / "sgd.npz"))
    with pytest.raises(ValueError, match="'sgd'.*'mlp'"):
        LearnedOptimizer(rule="mlp", weights=path)


def test_weights_file_of_another_shape(tmp_path):
    path = l2o_tf.save_rule_weights(
        l2o_tf.rules.get("mlp", hidden_units=16), str(tmp_path / "mlp16.npz")
    )
    with pytest.raises(ValueError, match="shape.*hidden_units.*16"):
        LearnedOptimizer(rule="mlp", weights=path)
    # The matching config loads it.
    LearnedOptimizer(rule="mlp", weights=path, rule_config={"hidden_units": 16})


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No meta-parameter file"):
        LearnedOptimizer(rule="mlp", weights=str(tmp_path / "missing.npz"))


# ---------------------------------------------------------------------------------------
# 13. Attention rules (gradients taken at an evaluation point)
# ---------------------------------------------------------------------------------------


class LookaheadRule(UpdateRule):
    """Heavy-ball momentum whose gradient is taken at θ − ½·lr·m (Nesterov-like)."""

    rule_name = "test_lookahead"
    uses_eval_point = True

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.9, **kwargs: Any):
        self.lr = learning_rate
        self.momentum = momentum
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:
        super().build(input_shape)

    def init(self, params):
        return {"m": [tf.zeros_like(p) for p in params]}

    def step(self, params, grads, state):
        m = [self.momentum * m + g for m, g in zip(state["m"], grads)]
        return [p - self.lr * mi for p, mi in zip(params, m)], {"m": m}

    def eval_point(self, params, state):
        return [p - 0.5 * self.lr * m for p, m in zip(params, state["m"])]

    def true_params(self, eval_params, state):
        return [e + 0.5 * self.lr * m for e, m in zip(eval_params, state["m"])]


def test_attention_rule_without_true_params_is_refused():
    class NoInverse(LookaheadRule):
        true_params = UpdateRule.true_params

    variables = toy_variables()
    with pytest.raises(NotImplementedError, match="must implement"):
        NoInverse().true_params(variables, {})
    assert l2o_tf.rules.get("sgd").true_params(variables, {}) == variables


def test_attention_rule_recovers_true_parameters_and_evaluation_point():
    rule = LookaheadRule()
    opt = LearnedOptimizer(rule=rule, weights=None)
    variables = toy_variables()
    g1, g2 = toy_grads(), toy_grads(-0.5)
    opt.apply(g1, variables)
    opt.apply(g2, variables)

    # Expected: the rule run by hand from θ0 = 0 on the *true* parameters.
    params = [tf.zeros_like(g) for g in g1]
    state = rule.init(params)
    params, state = rule.step(params, g1, state)
    params, state = rule.step(params, g2, state)
    eval_point = rule.eval_point(params, state)

    assert opt.holds_eval_point.numpy()
    for t, p in zip(true_params(opt, variables), params):
        np.testing.assert_allclose(t, p.numpy(), rtol=1e-6)
    for v, e, p in zip(variables, eval_point, params):
        np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-6)
        assert not np.allclose(e.numpy(), p.numpy())  # the two points differ

    opt.swap_to_eval()
    for v, p in zip(variables, params):
        np.testing.assert_allclose(v.numpy(), p.numpy(), rtol=1e-6)
    opt.swap_to_train()
    for v, e in zip(variables, eval_point):
        np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-6)
    opt.finalize_variable_values(variables)
    for v, p in zip(variables, params):
        np.testing.assert_allclose(v.numpy(), p.numpy(), rtol=1e-6)

    # A step after finalizing (a second fit()) starts from the true parameters it finds in
    # the model variables; the gradient was taken there.
    opt.apply(g1, variables)
    params, state = rule.step(params, g1, state)
    for t, p in zip(true_params(opt, variables), params):
        np.testing.assert_allclose(t, p.numpy(), rtol=1e-6)
    for v, e in zip(variables, rule.eval_point(params, state)):
        np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-6)


def test_hierarchical_rnn_true_parameters_drift_by_round_off_only():
    """The adapter keeps no copy of θ: it recovers θ = (θ + o) − o from the attended point
    every step. Over 300 steps on a quadratic (gradients at the attended point) the result
    stays within a few float32 ulps of θ from the rule run by hand on exact θ (measured:
    1 ulp; 1 ulp after 1 000 steps on a digits MLP, where float32 and float64 runs of the
    rule differ by 600 ulps)."""
    opt = make_optimizer(HRNN, learning_rate=1.0)
    rng = np.random.default_rng(SEED)
    start = [rng.normal(size=s).astype("float32") for s in [(32, 8), (8,)]]
    curvature = [rng.uniform(0.1, 2.0, size=v.shape).astype("float32") for v in start]

    def grads_at(points):
        return [c * p for c, p in zip(curvature, points)]  # ½ Σ c θ²

    variables = [keras.Variable(v) for v in start]
    opt.build(variables)
    apply = tf.function(lambda: opt.apply(grads_at([v.value for v in variables]), variables))

    @tf.function(jit_compile=True)
    def by_hand(params, state):  # the adapter's arithmetic, on θ itself
        stepped, state = opt.rule.step(params, grads_at(opt.rule.eval_point(params, state)), state)
        return [p + 1.0 * (q - p) for p, q in zip(params, stepped)], state

    params = [tf.constant(v) for v in start]
    state = opt.rule.init(params)
    for _ in range(300):
        apply()
        params, state = by_hand(params, state)
    assert not np.allclose(params[0].numpy(), start[0], atol=1e-3)  # θ moved
    ulp = np.spacing(np.float32(max(np.abs(p.numpy()).max() for p in params)))
    for t, p in zip(true_params(opt, variables), params):
        np.testing.assert_allclose(t, p.numpy(), rtol=0, atol=4 * ulp)


def test_attention_rule_in_fit_ends_on_true_parameters(digits):
    x, y = digits
    model = make_classifier()
    opt = LearnedOptimizer(rule=LookaheadRule(learning_rate=0.05), weights=None)
    compile_classifier(model, opt)
    history = model.fit(x[:128], y[:128], batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    # fit() finalizes: the model holds the true parameters, not the evaluation point.
    assert not opt.holds_eval_point.numpy()
    final = snapshot(model.trainable_variables)
    opt.swap_to_train()
    assert any(changed(final, model.trainable_variables))


@keras.saving.register_keras_serializable(package="l2o_tf_tests")
class HalfSGD(l2o_tf.rules.SGDRule):
    """A rule outside the registry: SGD at half the learning rate."""

    rule_name = "half_sgd"

    def step(self, params, grads, state):
        return super().step(params, [0.5 * g for g in grads], state)


def test_a_registered_custom_rule_round_trips_through_save_and_load(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=l2o_tf.LearnedOptimizer(rule=HalfSGD(learning_rate=0.1)), loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.train_on_batch(x, y)
    config = model.optimizer.get_config()
    assert isinstance(config["rule"], dict)
    clone = l2o_tf.LearnedOptimizer.from_config(config)
    assert type(clone.rule) is HalfSGD and clone.rule.learning_rate == 0.1
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer.rule) is HalfSGD
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_a_learned_rule_without_shipped_weights_warns_that_it_is_untrained():
    import warnings as _warnings

    assert l2o_tf.optimizer.pretrained_path("gru") is None  # nothing ships for the GRU rule
    with pytest.warns(UserWarning, match="rule='gru'.*random initial meta-parameters"):
        l2o_tf.LearnedOptimizer(rule="gru")
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        l2o_tf.LearnedOptimizer(rule="gru", weights=None)  # on purpose
        l2o_tf.LearnedOptimizer(rule="sgd")  # hand-designed: its weights are hyper-parameters
        l2o_tf.LearnedOptimizer(rule="mlp")  # shipped weights
        l2o_tf.LearnedOptimizer(rule=l2o_tf.rules.get("gru"))  # the caller's own instance
