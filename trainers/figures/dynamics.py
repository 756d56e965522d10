"""Figures of the dynamics paper's appendix (Maheswaranathan et al.; spec "Figures").

- `dynamics_fig6`: update functions Δx(g) at the initial state (top) and the densities of
  the gradients met along trajectories (bottom), per task (App. A).
- `dynamics_fig7`: the linear-regression optimizer linearized at its convergence fixed point
  (App. B, C): (a) eigenvalues of J, (b) modes as (timescale |β_j|, learning rate lr_j) with
  the tuned momentum (β, α) as a star, (c) the reduced one-mode linear optimizer against the
  full one on the same test problems.
- `dynamics_linearity`: each learned optimizer against its linearization at the convergence
  fixed point with every mode kept, and tuned momentum and Adam, on the test problems: how
  much of what it learned is a linear (momentum) filter of the gradient (App. B, C).
- `dynamics_schedules`: the learned optimizers' effective learning rate −∂Δx/∂g over
  iterations (schedules) and at the fixed points of constant gradients g against |g|
  (adaptation to the gradient scale), per task (main text; spec "Analysis" 6).
- `dynamics_fig9`: meta-objective over the test problems, mean ± standard error, learned vs
  tuned momentum / RMSProp / Adam, per task (App. D.2); its data also says when
  meta-training first beat each tuned baseline on the run's held-out problems
  (`time_to_beat`: meta-step and meta-training seconds).
- `dynamics_fig10`, `_fig11`, `_fig12`: the baselines' random searches on linear
  regression, Rosenbrock and two moons (App. D.3): the meta-objective of every sampled
  combination over the grid, one color scale per figure.

What they need comes from `trainers.figures.dynamics_runs` (trained once, reused).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf

from l2o_tf.analysis import (
    FixedPoints,
    Linearization,
    ReducedLinearRule,
    effective_learning_rates,
    eigenmodes,
    find_fixed_points,
    gradient_density,
    learning_rate_adaptation,
    linearize,
    update_function,
    update_linear_range,
)
from trainers.figures.base import pyplot, register, save
from trainers.figures.dynamics_runs import (
    BASELINES,
    TASKS,
    DynamicsRuns,
    dynamics_runs,
    mean_and_error,
)

TITLES = {
    "linear_regression": "Linear regression",
    "rosenbrock": "Rosenbrock",
    "two_moons": "Two moons",
}


@register("dynamics_fig6", "update functions at the initial state and gradient densities (App. A)")
def fig6(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
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


def _visited_states(states: np.ndarray, count: int) -> np.ndarray:
    """`count` states drawn (seeded) from recorded trajectory states [P, T, c, N]."""
    visited = states.reshape(-1, states.shape[-1])
    rng = np.random.default_rng(0)
    return visited[rng.choice(len(visited), min(len(visited), count), replace=False)]


def _convergence_linearization(
    r: DynamicsRuns, task: str
) -> tuple[FixedPoints, int, Linearization]:
    """The learned rule of `task` linearized at its convergence fixed point: the fixed points
    at g* = 0 found from states visited along the recorded trajectories, the index of the one
    nearest to the mean final state, and the linearization there."""
    rule, states = r.learned(task), r.trajectories(task).states
    starts = _visited_states(states, r.sizes.fixed_point_starts)
    final_states = states[:, -1].reshape(-1, rule.state_size)
    points = find_fixed_points(rule, np.concatenate([starts, final_states]))
    nearest = points.nearest(final_states.mean(axis=0))
    return points, nearest, linearize(rule, points.states[nearest])


@register(
    "dynamics_schedules",
    "effective learning rate over iterations (schedules) and against a constant gradient's "
    "size at its fixed points (adaptation), per task",
)
def schedules(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    r = dynamics_runs(runs, quick)
    magnitudes = np.geomspace(1e-4, 1e1, 11 if quick else 31)
    fig, axes = plt.subplots(2, len(TASKS), figsize=(4 * len(TASKS), 6.5), squeeze=False)
    data = {}
    for col, task in enumerate(TASKS):
        rule, states = r.learned(task), r.trajectories(task).states  # [P, T, c, N]
        # The state before step k is h(k): the initial state, then the recorded h(1) … h(T−1).
        initial = np.broadcast_to(rule.initial_state(tf.float64).numpy(), states[:, :1].shape)
        before = np.concatenate([initial, states[:, :-1]], axis=1)
        rates = effective_learning_rates(rule, before)  # [P, T, c]
        per_step = rates.transpose(1, 0, 2).reshape(rates.shape[1], -1)
        quartiles = np.percentile(per_step, [25, 50, 75], axis=1)
        starts = _visited_states(states, r.sizes.fixed_point_starts)
        adaptation = {
            sign: learning_rate_adaptation(rule, sign * magnitudes, starts)
            for sign in (1.0, -1.0)
        }
        top, bottom = axes[0, col], axes[1, col]
        steps = np.arange(rates.shape[1])
        top.fill_between(steps, quartiles[0], quartiles[2], alpha=0.3, label="25–75 %")
        top.plot(steps, quartiles[1], lw=2, label="median")
        top.set_title(TITLES[task])
        top.set_xlabel("inner step k")
        top.set_ylabel("lr(h(k), 0)")
        for sign, found in adaptation.items():
            g = np.concatenate([np.full(len(v), m) for v, m in zip(found, magnitudes)])
            top_rates = np.concatenate(found)
            bottom.scatter(g, top_rates, s=12, label=f"g {'>' if sign > 0 else '<'} 0")
        bottom.set_xscale("log")
        bottom.set_xlabel("constant gradient |g|")
        bottom.set_ylabel("lr(h*(g), g)")
        data[task] = {
            "median": quartiles[1],
            "quartile_25": quartiles[0],
            "quartile_75": quartiles[2],
            "magnitudes": magnitudes,
            "adaptation_positive": [v.tolist() for v in adaptation[1.0]],
            "adaptation_negative": [v.tolist() for v in adaptation[-1.0]],
            "learned": r.provenance(task),
        }
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=8)
    fig.suptitle(
        "Effective learning rate −∂Δx/∂g: over iterations (top), "
        "at the fixed points of a constant gradient (bottom)"
    )
    fig.tight_layout()
    return save(out, "dynamics_schedules", fig, data)


@register(
    "dynamics_fig7",
    "linear regression: eigenvalues, (timescale, learning rate) of the modes vs tuned "
    "momentum, reduced one-mode optimizer vs full (App. B, C)",
)
def fig7(out: str, quick: bool, runs: str) -> list[str]:
    plt = pyplot()
    r = dynamics_runs(runs, quick)
    task = "linear_regression"
    rule = r.learned(task)
    points, nearest, linearization = _convergence_linearization(r, task)
    h_star = linearization.h_star
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


SCALE_CURVES = ("learned", "momentum", "adam")  # what sets the y range


@register(
    "dynamics_linearity",
    "each learned optimizer against its linearization at the convergence fixed point (every "
    "mode kept) and tuned momentum and Adam: how much of it is a linear (momentum) filter",
)
def linearity(out: str, quick: bool, runs: str) -> list[str]:
    """The reduced optimizer of App. B with every mode kept is the learned rule with F
    replaced by its tangent at (h*, 0): if it scores like the full rule on the test problems,
    what was learned is a linear filter of the gradient, i.e. momentum at several timescales,
    whatever the GRU could express. The data also give the range of |g| where the update
    function at h* is linear (`update_linear_range`) and the share of the gradients met there."""
    plt = pyplot()
    r = dynamics_runs(runs, quick)
    fig, axes = plt.subplots(1, len(TASKS), figsize=(4.5 * len(TASKS), 4), squeeze=False)
    data = {}
    for ax, task in zip(axes[0], TASKS):
        rule = r.learned(task)
        _, _, linearization = _convergence_linearization(r, task)
        modes = eigenmodes(linearization)
        every_mode = np.arange(rule.state_size)
        initial = rule.initial_state(tf.float64).numpy()
        contenders = {
            "learned": rule,
            "linearized": ReducedLinearRule(
                linearization, modes, every_mode, initial, dtype=rule.dtype
            ),
            "momentum": r.tuned(task, "momentum"),
            "adam": r.tuned(task, "adam"),
        }
        curves = {label: r.curves(c, task) for label, c in contenders.items()}
        scores = {label: np.mean(c, axis=1, dtype=np.float64) for label, c in curves.items()}
        gap = scores["linearized"] - scores["learned"]  # paired: the same test problems
        gradients = np.abs(r.trajectories(task).gradients)
        gradients = gradients[np.isfinite(gradients)]
        linear_range = update_linear_range(rule, float(gradients.max()), linearization.h_star)
        for label, c in curves.items():
            mean = np.mean(scores[label])
            ax.plot(
                np.mean(c, axis=0),
                lw=2 if label == "learned" else 1.2,
                ls="--" if label == "linearized" else "-",
                label=f"{label} ({mean:.4g})",
            )
        ax.set_yscale("log")
        shown = np.concatenate([np.mean(curves[k], axis=0) for k in SCALE_CURVES])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        ax.set_ylim(shown.min() / 2, shown.max() * 10)  # a diverging linearization leaves it
        ax.set_xlabel("inner step")
        ax.set_ylabel("loss (mean over test problems)")
        ax.set_title(TITLES[task])
        ax.legend(fontsize=8, title="(meta-objective)", title_fontsize=8)
        data[task] = {
            "meta_objective": {
                label: {**mean_and_error(v), "diverged": int(np.sum(~np.isfinite(v)))}
                for label, v in scores.items()
            },
            "linearized_minus_learned": mean_and_error(gap),
            "linear_range": linear_range,
            "share_of_gradients_in_linear_range": float(np.mean(gradients <= linear_range)),
            "gradient_percentiles_50_90_99": np.percentile(gradients, [50, 90, 99]),
            "learned": r.provenance(task),
        }
    fig.suptitle("Learned optimizers vs their linearization at the convergence fixed point")
    fig.tight_layout()
    return save(out, "dynamics_linearity", fig, data)


def fig9_bars(comparisons: dict[str, dict], num_test_problems: int) -> Any:
    """Fig. 9's bars (mean ± standard error of the meta-objective over the test problems,
    learned vs tuned baselines) for the tasks of `comparisons` (`DynamicsRuns.comparison`)."""
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(comparisons), figsize=(4 * len(comparisons), 3.8), squeeze=False
    )
    for ax, (task, comparison) in zip(axes[0], comparisons.items()):
        entries = comparison["optimizers"]
        ax.bar(
            range(len(entries)),
            [entries[k]["mean"] for k in entries],
            yerr=[entries[k]["standard_error"] for k in entries],
            capsize=4,
            color=["C3"] + ["C0"] * len(BASELINES),
        )
        ax.set_xticks(range(len(entries)), list(entries), rotation=20)
        ax.set_ylabel("meta-objective (mean training loss)")
        ax.set_title(f"{TITLES[task]} ({num_test_problems} test problems)")
    fig.tight_layout()
    return fig


@register(
    "dynamics_fig9", "meta-objective over test problems, learned vs tuned baselines (App. D.2)"
)
def fig9(out: str, quick: bool, runs: str) -> list[str]:
    r = dynamics_runs(runs, quick)
    data = {task: r.comparison(task) for task in TASKS}
    return save(out, "dynamics_fig9", fig9_bars(data, r.sizes.test_problems), data)


_PANELS = (("momentum", "momentum"), ("rmsprop", "rho"), ("adam", "beta_1"), ("adam", "beta_2"))


def tuning_heatmaps(task: str, name: str, out: str, quick: bool, runs: str) -> list[str]:
    """The random searches of the three baselines on `task` (App. D.3): every sampled
    combination at its grid point, colored by log10 of its meta-objective on one scale (the
    darkest is the best); diverged runs in gray; the best of each optimizer starred."""
    plt = pyplot()
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
