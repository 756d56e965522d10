"""Problems: seeded, finite, minima where known, batches from explicit seeds."""

import numpy as np
import pytest
import tensorflow as tf

import problems
from problems.base import as_seed

ALL = [("quadratic", {"dim": 6}), ("rosenbrock", {}), ("two_moons", {"batch_size": 32})]


@pytest.mark.parametrize("name, kwargs", ALL)
def test_deterministic_given_seed_and_finite(name, kwargs):
    a, b, c = (problems.get(name, seed=s, **kwargs) for s in (3, 3, 4))
    pa, pb = a.init_params(7), b.init_params(7)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert float(a.loss(pa)) == float(b.loss(pb))
    assert [tuple(p.shape) for p in pa] == [tuple(s) for s in a.param_shapes]
    with tf.GradientTape() as tape:
        tape.watch(pa)
        loss = a.loss(pa)
    grads = tape.gradient(loss, pa)
    assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g.numpy())) for g in grads)
    if a.tensors:  # another seed draws another sample
        k = next(iter(a.tensors))
        assert not np.array_equal(a.tensors[k].numpy(), c.tensors[k].numpy())


def test_quadratic_minimum_is_zero():
    p = problems.get("quadratic", seed=1, dim=5, dtype="float64")
    x_star = np.linalg.solve(p.tensors["w"].numpy(), p.tensors["y"].numpy())
    assert float(p.loss([tf.constant(x_star)])) < 1e-12
    assert p.optimum == 0.0


def test_rosenbrock_minimum_and_init_box():
    p = problems.get("rosenbrock", low=(-2, -1), high=(2, 3))
    assert float(p.loss([tf.constant([1.0, 1.0])])) == 0.0
    inits = np.stack([p.init_params(s)[0].numpy() for s in range(200)])
    assert inits[:, 0].min() >= -2 and inits[:, 0].max() <= 2
    assert inits[:, 1].min() >= -1 and inits[:, 1].max() <= 3
    with pytest.raises(ValueError, match="low < high"):
        problems.get("rosenbrock", low=1.0, high=0.0)


def test_two_moons_batches_walk_epochs_without_repeats():
    p = problems.get("two_moons", seed=0, num_examples=100, batch_size=25)
    seed = as_seed(5)
    seen = np.concatenate([p.batch_fn(p.tensors, tf.constant(s), seed)[0].numpy() for s in range(4)])
    assert len(np.unique(seen, axis=0)) == 100  # one epoch covers every example once
    first_again = p.batch_fn(p.tensors, tf.constant(0), seed)[0].numpy()
    np.testing.assert_array_equal(first_again, seen[:25])
    next_epoch = p.batch_fn(p.tensors, tf.constant(4), seed)[0].numpy()
    assert not np.array_equal(next_epoch, seen[:25])  # reshuffled
    small = problems.get("two_moons", num_examples=10, batch_size=20)
    with pytest.raises(ValueError, match="exceeds"):
        small.batch_fn(small.tensors, 0, seed)


def test_samples_of_one_family_share_a_signature():
    a, b = problems.get("quadratic", seed=1, dim=4), problems.get("quadratic", seed=2, dim=4)
    assert a.signature == b.signature
    assert a.signature != problems.get("quadratic", seed=1, dim=5).signature


def test_registry_and_argument_errors():
    with pytest.raises(ValueError, match="Known problems: ackley, .*rosenbrock, .*two_moons"):
        problems.get("rosenbrok")
    with pytest.raises(ValueError, match="gradient_noise"):
        problems.get("quadratic", gradient_noise=-1.0)
    with pytest.raises(ValueError, match="expected 1 parameter tensors"):
        problems.get("quadratic").loss([tf.ones([10, 1]), tf.ones([2])])
