"""Figures of the dynamics paper's appendix (Maheswaranathan et al.; spec "Figures").

- `dynamics_fig6`: update functions Δx(g) at the initial state (top) and the densities of
  the gradients met along trajectories (bottom), per task (App. A).
- `dynamics_fig7`: the linear-regression optimizer linearized at its convergence fixed point
  (App. B, C): (a) eigenvalues of J, (b) modes as (timescale |β_j|, learning rate lr_j) with
  the tuned momentum (β, α) as a star, (c) the reduced one-mode linear optimizer against the
  full one on the same test problems.
- `dynamics_fig9`: meta-objective over the test problems, mean ± standard error, learned vs
  tuned momentum / RMSProp / Adam, per task (App. D.2).
- `dynamics_fig10`, `_fig11`, `_fig12`: the baselines' random searches on linear
  regression, Rosenbrock and two moons (App. D.3): the meta-objective of every sampled
  combination over the grid, one color scale per figure.

What they need comes from `trainers.figures.dynamics_runs` (trained once, reused).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from l2o_tf.analysis import (
    ReducedLinearRule,
    eigenmodes,
    find_fixed_points,
    gradient_density,
    linearize,
    update_function,
)
from trainers.figures.base import register, save
from trainers.figures.dynamics_runs import BASELINES, TASKS, dynamics_runs

TITLES = {
    "linear_regression": "Linear regression",
    "rosenbrock": "Rosenbrock",
    "two_moons": "Two moons",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@register("dynamics_fig6", "update functions at the initial state and gradient densities (App. A)")
def fig6(out: str, quick: bool, runs: str) -> list[str]:
    plt = _pyplot()
    r = dynamics_runs(runs, quick)
    fig, axes = plt.subplots(2, len(TASKS), figsize=(4 * len(TASKS), 6), squeeze=False)
    data = {}
    for col, task in enumerate(TASKS):
        gradients = r.trajectories(task).gradients
        limit = float(np.max(np.abs(gradients[np.isfinite(gradients)]), initial=0.0)) or 1.0
        g = np.linspace(-limit, limit, 401)
        delta = update_function(r.learned(task), g)
        slope = (delta[201] - delta[199]) / (g[201] - g[199])  # Δx'(0): the linear regime
        linear = delta[200] + slope * g
        centers, density = gradient_density(gradients, bins=101, limit=limit)
        top, bottom = axes[0, col], axes[1, col]
        top.plot(g, delta, lw=2, label="learned Δx(g)")
        top.plot(g, linear, "k--", lw=1, label="linear at g = 0")
        pad = 0.1 * (delta.max() - delta.min()) + 1e-12
        top.set_ylim(delta.min() - pad, delta.max() + pad)  # the dashed line may leave it
        top.set_title(TITLES[task])
        top.set_ylabel("update Δx")
        bottom.bar(centers, density, width=centers[1] - centers[0], color="gray")
        bottom.set_yscale("log")
        bottom.set_xlabel("gradient g")
        bottom.set_ylabel("density")
        data[task] = {
            "gradients": g,
            "update": delta,
            "slope_at_zero": slope,
            "density_centers": centers,
            "density": density,
            "num_gradients": int(gradients.size),
            "learned": r.provenance(task),
        }
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Update functions at the initial state (top), gradient densities (bottom)")
    fig.tight_layout()
    return save(out, "dynamics_fig6", fig, data)


@register(
    "dynamics_fig7",
    "linear regression: eigenvalues, (timescale, learning rate) of the modes vs tuned "
    "momentum, reduced one-mode optimizer vs full (App. B, C)",
)
def fig7(out: str, quick: bool, runs: str) -> list[str]:
    plt = _pyplot()
    r = dynamics_runs(runs, quick)
    task = "linear_regression"
    rule = r.learned(task)
    trajectories = r.trajectories(task)
    n = rule.state_size
    # Fixed points at g* = 0 from states visited along the trajectories; the convergence
    # fixed point is the one nearest to the mean final state.
    visited = trajectories.states.reshape(-1, n)
    rng = np.random.default_rng(0)
    starts = visited[
        rng.choice(len(visited), min(len(visited), r.sizes.fixed_point_starts), replace=False)
    ]
    final_states = trajectories.states[:, -1].reshape(-1, n)
    points = find_fixed_points(rule, np.concatenate([starts, final_states]))
    nearest = points.nearest(final_states.mean(axis=0))
    h_star = points.states[nearest]
    linearization = linearize(rule, h_star)
    modes = eigenmodes(linearization)
    kept = modes.select(1)
    reduced = ReducedLinearRule(
        linearization, modes, kept, rule.initial_state(tf.float64).numpy(), dtype=rule.dtype
    )
    momentum = r.search(task, "momentum").best
    optimum = np.array([[p.optimum] for p in r.test_problems(task)])
    full_curve = np.mean(r.curves(rule, task) - optimum, axis=0)
    reduced_curve = np.mean(r.curves(reduced, task) - optimum, axis=0)

    beta, lr = modes.eigenvalues, modes.learning_rates
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(14, 4.2))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax_a.plot(circle.real, circle.imag, "k:", lw=1)
    ax_a.scatter(beta.real, beta.imag, s=18, label="eigenvalues of J")
    ax_a.scatter(
        beta[kept].real,
        beta[kept].imag,
        s=60,
        facecolors="none",
        edgecolors="C3",
        label="kept mode",
    )
    ax_a.set_aspect("equal")
    ax_a.set_xlabel("Re β")
    ax_a.set_ylabel("Im β")
    ax_a.set_title("(a) eigenvalues at the fixed point")
    ax_a.legend(fontsize=8, loc="lower left")
    ax_b.scatter(np.abs(beta), lr.real, s=18, label="modes")
    ax_b.scatter(np.abs(beta[kept]), lr[kept].real, s=60, facecolors="none", edgecolors="C3")
    ax_b.scatter(
        [momentum["momentum"]],
        [momentum["learning_rate"]],
        marker="*",
        s=250,
        color="gold",
        edgecolors="k",
        label="tuned momentum",
    )
    ax_b.set_xlabel("momentum timescale |β_j|")
    ax_b.set_ylabel("learning rate Re lr_j")
    ax_b.set_title("(b) modes as momentum")
    ax_b.legend(fontsize=8)
    ax_c.plot(full_curve, lw=2, label="full (nonlinear) optimizer")
    ax_c.plot(reduced_curve, "--", lw=2, label=f"reduced: {len(kept)} mode(s)")
    ax_c.set_yscale("log")
    ax_c.set_xlabel("inner step")
    ax_c.set_ylabel("loss − optimum (mean over test problems)")
    ax_c.set_title("(c) reduced vs full")
    ax_c.legend(fontsize=8)
    fig.tight_layout()
    data = {
        "fixed_points_found": len(points),
        "fixed_point_residual": points.residuals[nearest],
        "drift": linearization.drift,
        "kept_modes": kept,
        "eigenvalues_real": beta.real,
        "eigenvalues_imag": beta.imag,
        "timescales": np.abs(beta),
        "learning_rates_real": lr.real,
        "learning_rates_imag": lr.imag,
        "tuned_momentum": momentum,
        "full_curve": full_curve,
        "reduced_curve": reduced_curve,
        "learned": r.provenance(task),
    }
    arrays = {"h_star": h_star, "jacobian": linearization.jacobian, "fixed_points": points.states}
    return save(out, "dynamics_fig7", fig, data, arrays)


@register(
    "dynamics_fig9", "meta-objective over test problems, learned vs tuned baselines (App. D.2)"
)
def fig9(out: str, quick: bool, runs: str) -> list[str]:
    plt = _pyplot()
    r = dynamics_runs(runs, quick)
    fig, axes = plt.subplots(1, len(TASKS), figsize=(4 * len(TASKS), 3.8), squeeze=False)
    data = {}
    for ax, task in zip(axes[0], TASKS):
        contenders = {"learned": r.learned(task), **{o: r.tuned(task, o) for o in BASELINES}}
        entries = {}
        for label, rule in contenders.items():
            per_problem = np.mean(r.curves(rule, task), axis=1)  # the mean-loss meta-objective
            entries[label] = {
                "mean": float(np.mean(per_problem)),
                "standard_error": float(np.std(per_problem, ddof=1) / np.sqrt(len(per_problem))),
                "per_problem": per_problem,
            }
        for o in BASELINES:
            entries[o].update(r.search(task, o).summary())
        best = min(entries, key=lambda k: entries[k]["mean"])
        means = [entries[k]["mean"] for k in entries]
        errors = [entries[k]["standard_error"] for k in entries]
        ax.bar(
            range(len(entries)),
            means,
            yerr=errors,
            capsize=4,
            color=["C3"] + ["C0"] * len(BASELINES),
        )
        ax.set_xticks(range(len(entries)), list(entries), rotation=20)
        ax.set_ylabel("meta-objective (mean training loss)")
        ax.set_title(f"{TITLES[task]} ({len(r.test_problems(task))} test problems)")
        data[task] = {
            "optimizers": entries,
            "best": best,
            "learned_is_best": best == "learned",
            "learned": r.provenance(task),
        }
    fig.tight_layout()
    return save(out, "dynamics_fig9", fig, data)


_PANELS = (("momentum", "momentum"), ("rmsprop", "rho"), ("adam", "beta_1"), ("adam", "beta_2"))


def tuning_heatmaps(task: str, name: str, out: str, quick: bool, runs: str) -> list[str]:
    """The random searches of the three baselines on `task` (App. D.3): every sampled
    combination at its grid point, colored by log10 of its meta-objective on one scale (the
    darkest is the best); diverged runs in gray; the best of each optimizer starred."""
    plt = _pyplot()
    r = dynamics_runs(runs, quick)
    results = {o: r.search(task, o) for o in BASELINES}
    finite = np.concatenate(
        [np.asarray(res.scores)[np.isfinite(res.scores)] for res in results.values()]
    )
    vmin, vmax = np.log10(finite.min()), np.log10(np.quantile(finite, 0.75))
    fig, axes = plt.subplots(
        1, len(_PANELS), figsize=(4.2 * len(_PANELS), 3.8), layout="constrained"
    )
    for ax, (optimizer, decay) in zip(axes, _PANELS):
        result = results[optimizer]
        values, scores = result.values(), np.asarray(result.scores)
        alpha, gap = (
            values[:, result.names.index("learning_rate")],
            1.0 - values[:, result.names.index(decay)],
        )
        ok = np.isfinite(scores)
        ax.scatter(alpha[~ok], gap[~ok], s=8, color="lightgray", marker="x")
        order = np.argsort(-scores[ok])  # the best drawn last, on top
        image = ax.scatter(
            alpha[ok][order],
            gap[ok][order],
            c=np.log10(scores[ok][order]),
            s=14,
            marker="s",
            cmap="viridis",
            vmin=vmin,
            vmax=vmax,
        )
        best = result.best
        ax.scatter(
            [best["learning_rate"]],
            [1.0 - best[decay]],
            marker="*",
            s=300,
            facecolors="none",
            edgecolors="red",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate α")
        ax.set_ylabel(f"1 − {decay}")
        edge = f" (edge: {', '.join(result.edge)})" if result.edge else ""
        ax.set_title(f"{optimizer}: α vs {decay}{edge}", fontsize=10)
    fig.colorbar(image, ax=axes, label="log10 meta-objective", fraction=0.03)
    fig.suptitle(f"{TITLES[task]}: random search of the baselines")
    data = {
        "task": task,
        "searches": {
            o: {**res.summary(), "search": res.search, "num_samples": len(res.scores)}
            for o, res in results.items()
        },
        "color_range_log10": [vmin, vmax],
    }
    arrays = {}
    for o, res in results.items():
        arrays[f"{o}_values"] = res.values()
        arrays[f"{o}_scores"] = np.asarray(res.scores)
    return save(out, name, fig, data, arrays)


for _number, _task in zip((10, 11, 12), TASKS):
    register(
        f"dynamics_fig{_number}",
        f"baseline hyper-parameter searches on {TITLES[_task].lower()} (App. D.3)",
    )(functools.partial(tuning_heatmaps, _task, f"dynamics_fig{_number}"))
