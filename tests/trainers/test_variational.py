"""Truncated BPTT, antithetic g_rp / g_es samples and their inverse-variance merge (eq. 1)."""

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np
import pytest
import tensorflow as tf

import problems
from l2o_tf import rules
from l2o_tf.rules.base import UpdateRule
from problems.base import fold_in, normal
from trainers.estimators import (
    AntitheticSampler,
    FullUnroll,
    TruncatedBPTT,
    merge_estimates,
    start_task,
)


@contextlib.contextmanager
def perturbed(rule: UpdateRule, epsilon: Sequence[tf.Tensor]) -> Iterator[None]:
    """The reference the sampler is checked against: the meta-parameters assigned θ + ε,
    restored afterwards."""
    saved = [tf.identity(v) for v in rule.trainable_variables]
    try:
        for v, e in zip(rule.trainable_variables, epsilon):
            v.assign(v + e)
        yield
    finally:
        for v, s in zip(rule.trainable_variables, saved):
            v.assign(s)


class SquaredShift(UpdateRule):
    """x ← x − θ⊙θ: over a 2-step unroll of a quadratic (losses recorded before each step)
    the meta-loss is quartic in θ, so the smoothed objective's gradient has a closed form."""

    rule_name = "squared_shift"

    def __init__(self, dim: int, **kwargs: Any) -> None:
        self.dim = dim
        super().__init__(**kwargs)

    def build(self, input_shape: Any = None) -> None:
        self.theta = self.add_weight(shape=(self.dim, 1), initializer="zeros")
        super().build(input_shape)

    def init(self, params, seed=None):
        return {}

    def step(self, params, grads, state):
        return [params[0] - tf.square(tf.cast(self.theta, params[0].dtype))], state


def _smoothed_gradient(problem, task, theta, sigma2):
    """∇θ E_ε L(θ + ε) for L = ½ f(x0) + ½ f(x0 − θ⊙θ), f(x) = ½‖Wx − y‖².

    With u = θ⊙θ, M = WᵀW, c = Wᵀ(Wx0 − y): ∂L/∂θ_i = −θ_i (c − M u)_i, whose expectation
    under θ + ε uses E[θ̃_i θ̃_j²] = θ_i (θ_j² + σ²) (j ≠ i) and E[θ̃_i³] = θ_i³ + 3θ_iσ².
    """
    w = problem.tensors["w"].numpy()
    c = w.T @ (w @ task.params[0].numpy() - problem.tensors["y"].numpy())[:, 0]
    m = w.T @ w
    t = theta[:, 0]
    cross = m @ (t**2 + sigma2) - np.diag(m) * (t**2 + sigma2)
    return -t * c + t * cross + np.diag(m) * (t**3 + 3 * t * sigma2)


def test_one_truncation_equals_full_bptt():
    rule = rules.get("mlp", dtype="float64")
    problem = problems.get("two_moons", seed=1, batch_size=16, dtype="float64")
    full_loss, full_grads = FullUnroll(rule, 12)(problem, 5)
    truncation = TruncatedBPTT(rule)(problem, start_task(problem, 5), 12)
    np.testing.assert_allclose(float(truncation.meta_loss), float(full_loss), rtol=1e-12)
    for a, b in zip(truncation.grads, full_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-14)
    assert int(truncation.task.step) == 12


def test_truncations_carry_the_inner_state():
    """Two truncations of 6 steps walk the same trajectory as one of 12 (mean meta-loss)."""
    rule = rules.get("adam", learning_rate=0.05, dtype="float64")
    problem = problems.get("two_moons", seed=2, batch_size=16, dtype="float64")
    estimator = TruncatedBPTT(rule, meta_loss="mean")
    whole = estimator(problem, start_task(problem, 3), 12)
    first = estimator(problem, start_task(problem, 3), 6)
    second = estimator(problem, first.task, 6)
    for a, b in zip(second.task.params, whole.task.params):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)
    mean_of_halves = 0.5 * (float(first.meta_loss) + float(second.meta_loss))
    np.testing.assert_allclose(mean_of_halves, float(whole.meta_loss), rtol=1e-10)
    assert one_trace(estimator)


def one_trace(estimator):
    """Different lengths and fresh/continued starts reuse the traces (2: fresh, continued)."""
    (fn,) = estimator._compiled.values()
    return fn.experimental_get_tracing_count() == 2


def test_antithetic_pair_shares_data_and_start_state():
    rule = rules.get("mlp", dtype="float64")
    problem = problems.get("two_moons", seed=0, batch_size=16, dtype="float64")
    estimator = TruncatedBPTT(rule)
    task = estimator(problem, start_task(problem, 1), 4).task  # mid-run start
    sampler = AntitheticSampler(estimator, sigma_squared=0.01)
    sample = sampler(problem, task, 5, seed=9)
    epsilon = [0.1 * normal(v.shape, fold_in(9, i), v.dtype) for i, v in enumerate(rule.trainable_variables)]
    with perturbed(rule, epsilon):
        plus = estimator(problem, task, 5)
    with perturbed(rule, [-e for e in epsilon]):
        minus = estimator(problem, task, 5)
    np.testing.assert_allclose(float(sample.meta_loss), 0.5 * float(plus.meta_loss + minus.meta_loss))
    for g_es, g_rp, e, p, m in zip(sample.g_es, sample.g_rp, epsilon, plus.grads, minus.grads):
        np.testing.assert_allclose(g_es.numpy(), (0.5 * (plus.meta_loss - minus.meta_loss) * e / 0.01).numpy())
        np.testing.assert_allclose(g_rp.numpy(), (0.5 * (p + m)).numpy())
    for a, b in zip(sample.task.params, plus.task.params):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_sampling_leaves_the_meta_parameters_untouched():
    rule = rules.get("mlp")
    problem = problems.get("two_moons", seed=0, batch_size=16)
    before = [w.numpy().copy() for w in rule.trainable_variables]
    sample = AntitheticSampler(TruncatedBPTT(rule))(problem, start_task(problem, 1), 3, seed=2)
    assert all(np.any(g.numpy() != 0) for g in sample.g_rp)
    for a, w in zip(before, rule.trainable_variables):
        np.testing.assert_array_equal(a, w.numpy())


@pytest.mark.slow
def test_estimators_are_unbiased_and_merging_lowers_variance():
    sigma2 = 0.01
    rule = SquaredShift(dim=6, dtype="float64")
    theta = np.linspace(-0.8, 0.9, 6)[:, None]
    rule.theta.assign(theta)
    problem = problems.get("quadratic", seed=4, dim=6, dtype="float64")
    task = start_task(problem, 0)
    truth = _smoothed_gradient(problem, task, theta, sigma2)
    sampler = AntitheticSampler(TruncatedBPTT(rule, meta_loss="mean"), sigma_squared=sigma2)
    samples = [sampler(problem, task, 2, seed=s) for s in range(1024)]
    assert sampler.pair_fn(problem).experimental_get_tracing_count() == 1
    g_rp = np.stack([s.g_rp[0].numpy()[:, 0] for s in samples])  # [S, 6]
    g_es = np.stack([s.g_es[0].numpy()[:, 0] for s in samples])
    for name, g in (("rp", g_rp), ("es", g_es)):
        standard_error = g.std(axis=0, ddof=1) / np.sqrt(len(g))
        assert np.all(np.abs(g.mean(axis=0) - truth) < 3 * standard_error), (name, g.mean(0), truth)
    # merged over batches of 32 samples: unbiased, and no noisier than the better estimator
    batches = [samples[i : i + 32] for i in range(0, 1024, 32)]
    estimates = [merge_estimates([s.g_rp for s in b], [s.g_es for s in b]) for b in batches]

    def across_batches(field):
        return np.stack([getattr(e, field)[0].numpy()[:, 0] for e in estimates])  # [32, 6]

    merged = across_batches("grads")
    assert np.all(np.abs(merged.mean(0) - truth) < 3 * merged.std(0, ddof=1) / np.sqrt(len(merged)))
    var_rp = across_batches("g_rp").var(0, ddof=1)
    var_es = across_batches("g_es").var(0, ddof=1)
    assert np.all(merged.var(0, ddof=1) <= 1.1 * np.minimum(var_rp, var_es)), (merged.var(0), var_rp, var_es)
    np.testing.assert_allclose(across_batches("variance_rp").mean(0), var_rp, rtol=0.6)  # as logged
    assert np.all(across_batches("variance_merged") <= np.minimum(across_batches("variance_rp"), across_batches("variance_es")))


def test_merge_weights_by_inverse_variance():
    # coordinate 0: rp exact (zero variance) -> merged = rp mean; coordinate 1: es exact
    g_rp = [[tf.constant([1.0, 5.0])], [tf.constant([1.0, 7.0])]]
    g_es = [[tf.constant([3.0, 2.0])], [tf.constant([5.0, 2.0])]]
    merged = merge_estimates(g_rp, g_es)
    np.testing.assert_allclose(merged.grads[0].numpy(), [1.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(merged.variance_es[0].numpy(), [1.0, 0.0])  # 2/(1)/2
    np.testing.assert_allclose(merge_estimates(g_rp, g_es, use="es").grads[0].numpy(), [4.0, 2.0])
    with pytest.raises(ValueError, match=">= 2"):
        merge_estimates(g_rp[:1], g_es[:1])
    with pytest.raises(ValueError, match="Unknown estimator"):
        merge_estimates(g_rp, g_es, use="pes")
