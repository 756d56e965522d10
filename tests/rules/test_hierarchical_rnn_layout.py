"""The computation layout of the per-parameter rules: tensor groups (`Layout`), the XLA test
that picks between two forms of a computation, and the hierarchical RNN's feature-major GRU
and asinh, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from l2o_tf.rules import HierarchicalRNN
from l2o_tf.rules.gru_cell import GRUCell
from l2o_tf.rules.layout import Layout, compiling_with_xla
from l2o_tf.rules.hierarchical_rnn import _asinh
from tests.rules.test_hierarchical_rnn import (
    SEED,
    SWITCHES,
    _randomize,
    assert_steps_match_numpy,
)

CNN_SIZES = [864, 32, 9216, 32, 9216, 32, 320, 10]  # benchmarks/keras_step.py's CNN


def test_groups_put_large_tensors_alone_and_batch_small_ones():
    assert Layout.groups(CNN_SIZES) == [[2], [4], [0, 1, 3, 5, 6, 7]]
    assert Layout.groups([4096, 4095, 1, 1]) == [[0], [1, 2], [3]]  # at most 4096 elements
    assert Layout.groups([1] * 20) == [list(range(16)), list(range(16, 20))]  # 16 tensors
    assert Layout.groups([7]) == [[0]]


@pytest.mark.parametrize("sizes", [[3, 1, 4], [5]])
def test_layout_reductions_and_broadcasts_match_numpy(sizes):
    layout = Layout(sizes)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(sum(sizes), 3))
    bounds = np.cumsum([0] + sizes)
    parts = [rows[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    means = np.stack([p.mean(0) for p in parts])  # [T, 3]
    for axis, x in ((0, rows), (1, rows.T)):
        got_means = layout.mean(tf.constant(x), axis).numpy()
        got_sums = layout.sum(tf.constant(x), axis).numpy()
        np.testing.assert_allclose(got_means, means if axis == 0 else means.T, rtol=1e-12)
        np.testing.assert_allclose(
            got_sums, np.stack([p.sum(0) for p in parts], axis), rtol=1e-12
        )
        spread = layout.broadcast(tf.constant(got_means), axis).numpy()
        expected = np.repeat(means, sizes, 0)
        expected = expected if axis == 0 else expected.T
        np.testing.assert_allclose(spread + np.zeros_like(x), expected, rtol=1e-12)
        split = layout.split(tf.constant(x), axis)
        np.testing.assert_array_equal(layout.join(split, axis).numpy(), x)


def test_large_and_small_tensors_match_numpy():
    """A tensor of ≥ 4096 elements takes the one-tensor path (no concatenation, per-tensor
    values broadcast); the others are batched. Both must follow the spec exactly."""
    shapes = [(70, 60), (3,), (2, 2)]
    assert Layout.groups([int(np.prod(s)) for s in shapes]) == [[0], [1, 2]]
    rule = HierarchicalRNN(dtype="float64")
    _randomize(rule)
    rng = np.random.default_rng(0)
    params = [rng.normal(size=s) for s in shapes]
    assert_steps_match_numpy(rule, params, rng)


def test_compiling_with_xla_exactly_under_xla():
    seen = []

    def probe(x):
        seen.append(compiling_with_xla())
        return x

    x = tf.constant(1.0)
    probe(x)
    tf.function(probe)(x)
    tf.function(probe, jit_compile=True)(x)
    inner = tf.function(probe, jit_compile=True)
    tf.function(lambda x: inner(x))(x)  # as in the Keras adapter
    assert seen == [False, False, True, True]


def test_feature_major_gru_equals_row_gru():
    cell = GRUCell(units=4, input_size=3, dtype="float64")
    rng = np.random.default_rng(1)
    x, h, e = rng.normal(size=(6, 3)), rng.normal(size=(6, 4)), rng.normal(size=(1, 12))
    rows = cell.next_state(tf.constant(x), tf.constant(h), tf.constant(e)).numpy()
    columns = cell.next_state(tf.constant(x.T), tf.constant(h.T), tf.constant(e.T), 0)
    np.testing.assert_allclose(columns.numpy().T, rows, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_asinh_is_accurate_everywhere_with_a_finite_gradient(dtype):
    huge = 1e30 if dtype == "float32" else 1e200  # x² overflows
    x = np.array([0.0, -0.0, 1e-30, -1e-8, 3e-4, 0.5, -1.0, 7.0, -1e4, 1e10, huge, -huge])
    x = x.astype(dtype)
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        y = _asinh(tx)
    grad = tape.gradient(y, tx).numpy()
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(y.numpy(), np.arcsinh(x.astype(np.float64)), rtol=rtol)
    # 1/√(1 + x²); it underflows to 0 where x² overflows (|x| ≳ 1e19 in float32).
    expected_grad = 1.0 / np.hypot(1.0, x.astype(np.float64))
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=1e-19)
    assert grad[0] == grad[1] == 1.0


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_every_switch_gives_the_same_step_in_any_grouping(name, monkeypatch):
    """The default grouping and one group of all tensors agree for every switch."""
    kwargs = SWITCHES[name][0]
    rule = HierarchicalRNN(dtype="float64", **kwargs)
    _randomize(rule)
    shapes = [(70, 60), (3,), (2, 2)]
    rng = np.random.default_rng(0)
    params = [tf.constant(rng.normal(size=s)) for s in shapes]
    grads = [[tf.constant(rng.normal(size=s)) for s in shapes] for _ in range(2)]

    def two_steps():
        p, state = params, rule.init(params, SEED)
        for g in grads:
            p, state = rule.step(p, g, state)
        return [x.numpy() for x in p + tf.nest.flatten(state)]

    default = two_steps()
    monkeypatch.setattr(
        Layout, "groups", staticmethod(lambda sizes, **_: [list(range(len(sizes)))])
    )
    batched = two_steps()
    for a, b in zip(default, batched):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
