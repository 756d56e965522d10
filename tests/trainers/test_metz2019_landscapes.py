"""Metz et al. 2019 Fig. 2d–f and Fig. 4 (trainers/figures/metz2019_landscapes.py) at `--quick`
size: the files each figure writes, Adam's sensitivity to the learning rate, the outer-loss
slices against a direct unroll and their roughness growing with the unroll length, and the
estimator variances read back from the meta-training log."""


import numpy as np
import pytest

from problems.base import as_seed
from tests.trainers.quick_figures import assert_written, make_quick_figure
from trainers import figures
from trainers.figures import metz2019_landscapes as landscapes
from trainers.unroll import unroll_from_init


NAMES = ("metz2019_fig2d", "metz2019_fig2ef", "metz2019_fig4")


def _make(tmp_path_factory, name):
    return make_quick_figure(tmp_path_factory, name)[:3]


def test_registry_names_the_figures():
    assert set(NAMES) <= set(figures.names())
    assert all(figures.get(name).description for name in NAMES)


# --- Fig. 2d ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig2d(tmp_path_factory):
    return _make(tmp_path_factory, "metz2019_fig2d")


@pytest.mark.slow
def test_fig2d_nearly_equal_learning_rates_end_far_apart(fig2d):
    paths, data, arrays = fig2d
    assert_written(paths, "metz2019_fig2d", ("png", "json", "npz"))
    learning_rates, final = np.array(data["learning_rates"]), np.array(data["final_loss"])
    assert learning_rates.shape == final.shape == (100,)
    np.testing.assert_allclose(learning_rates[[0, -1]], [0.1469, 0.1484])
    np.testing.assert_allclose(np.diff(np.log(learning_rates)), np.log(0.1484 / 0.1469) / 99)
    assert arrays["projected"].shape == (100, landscapes.ADAM_STEPS + 1, 2)
    np.testing.assert_allclose(arrays["projected"][:, 0], arrays["projected"][:1, 0].repeat(100, 0))
    assert np.all(np.isfinite(final)) and np.all(np.isfinite(arrays["projected"]))
    assert np.ptp(final) > 1e-2, "the final losses are not all equal"
    sensitivity = data["sensitivity"]
    # A 0.015 % step in the learning rate moves the final loss by as much as ~0.1 (measured
    # 0.106; the final losses span 0.03-0.17) ...
    assert sensitivity["max_neighbour_final_loss_change"] > 0.3 * sensitivity["final_loss_range"]
    # ... because neighbouring runs drift apart: ~2 000x from step 1 to step 40 (measured).
    distance = np.array(sensitivity["neighbour_distance"])
    assert distance[0] == 0.0 and sensitivity["neighbour_distance_growth"] > 100
    assert np.all(np.diff(distance) > 0)


# --- Fig. 2e/f -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig2ef(tmp_path_factory):
    return _make(tmp_path_factory, "metz2019_fig2ef")


@pytest.mark.slow
def test_fig2ef_writes_the_slices(fig2ef):
    paths, data, arrays = fig2ef
    assert_written(paths, "metz2019_fig2ef", ("png", "json", "npz"))
    sizes = landscapes.SLICE_SIZES[True]
    k = len(landscapes.UNROLLS)
    assert arrays["line"].shape == (sizes.num_directions, sizes.num_points, k)
    assert arrays["plane"].shape == (sizes.grid, sizes.grid, k)
    assert np.all(np.isfinite(arrays["line"])) and np.all(np.isfinite(arrays["plane"]))
    assert np.all(arrays["line"] > 0) and np.all(arrays["plane"] > 0)
    assert set(data["roughness"]) == {str(k) for k in landscapes.UNROLLS}
    for summary in data["roughness"].values():
        assert len(summary["roughness_1d"]) == sizes.num_directions
        assert np.isfinite(summary["roughness_2d"]) and summary["num_nonfinite"] == 0


@pytest.mark.slow
def test_fig2ef_slices_at_zero_are_the_outer_loss_of_the_rule(fig2ef):
    """s = 0 of every slice is θ0: the mean training loss of a direct k-step unroll of the
    seeded MLP rule (and the rule's weights are restored after the slices)."""
    _, _, arrays = fig2ef
    s, line, plane = arrays["s"], arrays["line"], arrays["plane"]
    mid, centre = len(s) // 2, len(arrays["grid_s"]) // 2
    assert s[mid] == 0.0 and arrays["grid_s"][centre] == 0.0
    rule = landscapes.seeded_rule("mlp")
    np.testing.assert_array_equal(
        np.concatenate([v.numpy().ravel() for v in rule.trainable_variables]), arrays["theta0"]
    )
    problem = landscapes.landscape_problem()
    for j, k in enumerate(landscapes.UNROLLS):
        losses = unroll_from_init(rule, problem, problem.tensors, as_seed(0), k).losses
        direct = float(np.mean(losses.numpy()))
        np.testing.assert_allclose(line[:, mid, j], direct, rtol=1e-10)
        np.testing.assert_allclose(plane[centre, centre, j], direct, rtol=1e-10)
    landscape = landscapes.OuterLandscape(rule, problem)
    theta = landscape.theta()
    landscape.values(theta[None] + 1.0)
    np.testing.assert_array_equal(landscape.theta(), theta)


@pytest.mark.slow
def test_fig2ef_landscape_is_rougher_after_more_unrolls(fig2ef):
    """The 1-D roughness (mean |Δ² log L| / mean |Δ log L|, averaged over 4 directions) is
    larger for 20 unrolls than for 5. It held for all 10 rule seeds tried (seed 0: 0.20 →
    0.48); 10 vs 20 is not ordered for every seed, so only 5 < 20 is asserted."""
    _, data, _ = fig2ef
    roughness = {int(k): v["roughness_1d_mean"] for k, v in data["roughness"].items()}
    assert roughness[20] > roughness[5]


# --- Fig. 4 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig4(tmp_path_factory):
    return _make(tmp_path_factory, "metz2019_fig4")


@pytest.mark.slow
def test_fig4_logs_both_variances_every_outer_step(fig4):
    paths, data, _ = fig4
    assert_written(paths, "metz2019_fig4", ("png", "json"))
    steps = landscapes.VARIANCE_SIZES[True].steps
    assert data["num_steps"] == steps
    assert data["step"] == list(range(1, steps + 1))
    for name in ("log10_rp", "log10_es", "truncation_length", "outer_loss"):
        assert len(data[name]) == steps and np.all(np.isfinite(data[name]))
    assert data["config"]["estimator"] == "merged" and data["config"]["rule"] == "mlp"
    lengths = data["truncation_length"]
    assert lengths[-1] > lengths[0], "the truncation curriculum grows"
    # At the start of outer-training g_rp has far lower variance than g_es (Fig. 4, left end).
    assert data["log10_rp_minus_es_first"] < -1.0
