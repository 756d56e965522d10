"""Named problem sets, the release mixture, holding out, factories and `problems.describe`."""

import subprocess
import sys

import numpy as np
import pytest

import problems
from problems import Factory as F

SPEC_SETS = {
    "quadratic": 4,
    "quadratic_noisy": 4,
    "quadratic_large": 3,
    "bowl": 4,
    "bowl_noisy": 4,
    "sparse_softmax_2_class": 1,
    "one_hot_sparse_softmax_2_class": 1,
    "softmax_2_class": 4,
    "softmax_2_class_noisy": 4,
    "optimization_test": 9,
    "optimization_test_noisy": 9,
    "fully_connected_random_2_class": 12,
    "matmul": 10,
    "log_objective": 6,
    "sparse_gradient": 6,
    "sparse_gradient_mlp": 3,
    "rescale": 9,
    "norm": 3,
    "norm_noisy": 3,
    "sum": 6,
    "sum_noisy": 2,
    "dependency_chain": 10,
    "outward_snake": 10,
    "min_max_well": 5,
    "sum_of_quadratics": 10,
    "projection_quadratic": 10,
    "wichrowska2017_test": 12,
    "metz2019_ood": 5,
}
MIXTURE = {
    "quadratic_noisy": 4,
    "quadratic_large": 3,
    "bowl": 4,
    "bowl_noisy": 4,
    "softmax_2_class": 4,
    "softmax_2_class_noisy": 4,
    "optimization_test": 9,
    "optimization_test_noisy": 9,
    "fully_connected_random_2_class": 12,
    "matmul": 10,
    "log_objective": 6,
    "rescale": 9,
    "norm": 3,
    "norm_noisy": 3,
    "sum": 6,
    "sum_noisy": 2,
    "sparse_gradient": 6,
    "sparse_gradient_mlp": 3,
}


def test_every_spec_set_exists_with_its_size():
    assert set(problems.set_names()) == set(SPEC_SETS) | {"wichrowska2017"}
    for name, size in SPEC_SETS.items():
        assert len(problems.get_set(name)) == size, name


@pytest.mark.parametrize("name", sorted(SPEC_SETS))
def test_every_entry_builds_with_a_finite_loss(name):
    for entry in problems.get_set(name):
        problem = entry.factory(seed=1)
        assert np.isfinite(float(problem.loss(problem.init_params(0)))), entry.factory.label


def test_the_release_mixture_has_101_entries_uniformly_weighted():
    mixture = problems.get_set("wichrowska2017")
    assert len(mixture) == 101
    groups = [entry.group for entry in mixture]
    assert {g: groups.count(g) for g in set(groups)} == MIXTURE
    np.testing.assert_allclose(mixture.probabilities, np.full(101, 1 / 101))
    names = {entry.factory.name for entry in mixture}
    assert not names & {"saddle", "dependency_chain", "min_max_well", "outward_snake"}
    assert "conv_net" not in names and "conv_net" in {
        e.factory.name for e in problems.get_set("wichrowska2017_test")
    }


def test_noisy_sets_and_release_data_seeds():
    noises = [e.factory(seed=0).gradient_noise for e in problems.get_set("quadratic_noisy")]
    assert noises == [0.5, 0.0, 1.0, 2.0]
    sums = [e.factory(seed=0) for e in problems.get_set("sum_noisy")]
    assert [p.gradient_noise for p in sums[0].parts] == [0.1] * 7
    assert [p.gradient_noise for p in sums[1].parts][-2:] == [0.0, 0.5]
    softmax = [e.factory(seed=s) for s, e in enumerate(problems.get_set("softmax_2_class"))]
    assert [p.batch_size for p in softmax] == [100, 50, 20, 100]
    assert all(p.data_seed == 123 for p in softmax)
    sparse = problems.get_set("sparse_softmax_2_class").entries[0].factory(seed=0)
    assert len(sparse.tensors["y"].numpy()) == 5 and sparse.batch_size is None


def test_sets_can_hold_problems_out():
    mixture = problems.get_set("wichrowska2017")
    kept, held_out = mixture.split(0.2, seed=3)
    assert len(kept) + len(held_out) == 101 and len(held_out) == 20
    assert not {id(e) for e in kept} & {id(e) for e in held_out}
    assert mixture.split(0.2, seed=3) == (kept, held_out)
    no_matmul = mixture.exclude("matmul_algorithm", "rosenbrock")
    assert len(no_matmul) == 101 - 10 - 2
    assert len(mixture.exclude("sum_noisy")) == 99
    with pytest.raises(ValueError, match="fraction"):
        mixture.split(1.5)


def test_sampling_follows_the_weights():
    weighted = problems.ProblemSet(
        "two", (problems.Entry(F("booth"), 3.0), problems.Entry(F("matyas"), 1.0))
    )
    rng = np.random.default_rng(0)
    draws = [weighted.sample(rng).name for _ in range(2000)]
    assert draws.count("booth") / 2000 == pytest.approx(0.75, abs=0.03)


def test_factories_and_registry():
    factory = F("rescale", problem=F("norm", dim=18, p=2.5), scale=0.123)
    assert factory.label == "rescale(problem=norm(dim=18, p=2.5), scale=0.123)"
    assert factory == F("rescale", problem=F("norm", dim=18, p=2.5), scale=0.123)
    assert factory(seed=2, dtype="float64").dtype.name == "float64"
    with pytest.raises(ValueError, match="Unknown problem 'nrom'"):
        F("nrom")
    with pytest.raises(ValueError, match="Known sets: bowl, bowl_noisy"):
        problems.get_set("bowls")


def test_describe_lists_every_problem_and_set():
    result = subprocess.run(
        [sys.executable, "-m", "problems.describe"], capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    for name in problems.names():
        assert any(line.startswith(f"| {name} |") for line in lines), name
    for name in problems.set_names():
        assert any(line.startswith(f"| {name} | 0 |") for line in lines), name
    assert (
        "| quadratic_large | 2 | quadratic_large | 1 | quadratic(dim=2048) | 2048 |"
        in result.stdout
    )
