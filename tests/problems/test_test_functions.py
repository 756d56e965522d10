"""2-D test functions: minima 0 at the known minimizers (paper offsets), init boxes."""

import math

import numpy as np
import pytest
import tensorflow as tf

import problems
from problems.test_functions import STYBLINSKI_TANG_X

KNOWN_MINIMA = [
    ("rosenbrock", (1.0, 1.0)),
    ("ackley", (0.0, 0.0)),
    ("beale", (3.0, 0.5)),
    ("booth", (1.0, 3.0)),
    ("matyas", (0.0, 0.0)),
    ("styblinski_tang", (-2.903534, -2.903534)),
    ("branin", (-math.pi, 12.275)),
    ("branin", (math.pi, 2.275)),
    ("branin", (3 * math.pi, 2.475)),
    ("michalewicz", (2.185311961844348, math.pi / 2)),
    ("log_sum_exp", (-0.5 * math.log(2.0), 0.0)),
]


def _loss(name, point, dtype="float64"):
    return float(problems.get(name, dtype=dtype).loss([tf.constant(point, dtype)]))


@pytest.mark.parametrize("name, point", KNOWN_MINIMA)
def test_loss_at_the_known_minimizer_is_the_optimum(name, point):
    problem = problems.get(name)
    assert point in problem.minimizers or name == "styblinski_tang"
    assert abs(_loss(name, point) - problem.optimum) < 1e-5
    assert abs(_loss(name, point, "float32") - problem.optimum) < 1e-4
    expected = 0.0 if name != "log_sum_exp" else math.log(1 + 2 * math.sqrt(2) * math.exp(-0.1))
    assert problem.optimum == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["styblinski_tang", "michalewicz", "branin", "log_sum_exp"])
def test_no_lower_value_on_a_fine_grid_of_the_init_box(name):
    """The documented minima (offsets found once numerically) are the minima of the box."""
    problem = problems.get(name, dtype="float64")
    low, high = problem.box if problem.box else ((-3.0, -3.0), (3.0, 3.0))
    xs, ys = (np.linspace(low[i], high[i], 601) for i in range(2))
    grid = tf.constant(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2))
    values = problem.f(grid[:, 0], grid[:, 1]).numpy() - problem.offset
    assert values.min() >= problem.optimum - 1e-9
    assert values.min() < problem.optimum + 0.05


def test_styblinski_tang_follows_the_paper_offset_not_the_release():
    x = STYBLINSKI_TANG_X
    assert 4 * x**3 - 32 * x + 5 == pytest.approx(0.0, abs=1e-9)  # stationary point
    release_minimum = (
        _loss("styblinski_tang", (x, x)) + 80.0 + problems.get("styblinski_tang").offset
    )
    assert release_minimum == pytest.approx(80.0 - 78.33233140754282, abs=1e-9)


@pytest.mark.parametrize(
    "name, low, high",
    [
        ("ackley", -32.768, 32.768),
        ("beale", -4.5, 4.5),
        ("booth", -10, 10),
        ("styblinski_tang", -5, 5),
        ("matyas", -10, 10),
        ("branin", (-5, 0), (10, 15)),
        ("michalewicz", 0, math.pi),
        ("rosenbrock", -5, 10),
    ],
)
def test_uniform_init_boxes(name, low, high):
    problem = problems.get(name)
    inits = np.stack([problem.init_params(s)[0].numpy() for s in range(100)])
    low, high = np.broadcast_to(low, 2), np.broadcast_to(high, 2)
    assert np.all(inits >= low) and np.all(inits <= high)
    assert np.all(inits.min(0) < low + 0.1 * (high - low))
    assert np.all(inits.max(0) > high - 0.1 * (high - low))


@pytest.mark.parametrize("name", ["log_sum_exp", "saddle"])
def test_normal_init_without_a_box(name):
    inits = np.stack([problems.get(name).init_params(s)[0].numpy() for s in range(200)])
    assert abs(inits.mean()) < 0.15 and abs(inits.std() - 1.0) < 0.1


def test_saddle_is_unbounded_and_has_no_optimum():
    saddle = problems.get("saddle")
    assert saddle.optimum is None
    assert float(saddle.loss([tf.constant([0.0, 100.0])])) == -10000.0


def test_ackley_gradient_is_finite_at_its_minimum():
    ackley = problems.get("ackley")
    params = [tf.zeros([2])]
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = ackley.loss(params)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(tape.gradient(loss, params)[0].numpy(), [0.0, 0.0])


def test_init_box_is_part_of_the_signature():
    a, b = problems.get("rosenbrock"), problems.get("rosenbrock", low=-1.0, high=1.0)
    assert a.signature != b.signature
    with pytest.raises(ValueError, match="both low and high"):
        problems.get("saddle", low=0.0)
