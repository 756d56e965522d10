"""Cost of a meta-gradient relative to the forward unroll it differentiates.

    ratio = time( FullUnroll(rule, T, second_order=True)(problem, seed) )   # loss + meta-grads
          / time( forward(tensors, seed) )                                  # no tape at all

`forward` is `FullUnroll.meta_loss_value`: a `tf.function` (same `jit_compile` setting) that
does exactly what `FullUnroll` differentiates -- initial parameters and rule state from the
seed, `trainers.unroll.unroll(...)` for T steps, the meta-loss of the per-step losses --
without any `tf.GradientTape`. The script checks that its value equals the meta-loss that
`FullUnroll` returns. Both are compiled (traced) and
warmed up first; then the functions are timed in interleaved rounds (forward, second-order,
first-order, in an order that rotates each round), each sample being `--calls` back-to-back
calls, and the median per call is reported. Other processes may share the CPU: interleaving
keeps all three measured under the same load and the median drops outliers.

The first-order estimator (`second_order=False`, gradient stopped at the inner gradient) is
an extra row; the last line, `ratio <x>`, is the second-order ratio.

Default problem: `two_moons` (2-32-32-1 ReLU MLP, 128 examples, full batch); `--problem
quadratic` (dim 10) or `rosenbrock` for the tiny ones.

Usage:
    python benchmarks/meta_gradient.py [--rule mlp] [--problem two_moons] [--num_steps 50]
                                       [--repeats 21] [--calls N] [--jit_compile]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import problems  # noqa: E402
from l2o_tf import rules  # noqa: E402
from problems.base import as_seed  # noqa: E402
from trainers.estimators import FullUnroll  # noqa: E402
from revision import source_revision  # noqa: E402


def timed(fn, calls) -> float:
    """Seconds per call over `calls` back-to-back calls (outputs fetched at the end)."""
    start = time.perf_counter()
    out = None
    for _ in range(calls):
        out = fn()
    for t in tf.nest.flatten(out):
        np.asarray(t)
    return (time.perf_counter() - start) / calls


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rule", default="mlp", choices=rules.names())
    parser.add_argument("--problem", default="two_moons", choices=problems.names())
    parser.add_argument("--num_steps", type=int, default=50, help="unroll length T")
    parser.add_argument("--meta_loss", default="log", choices=("log", "mean"))
    parser.add_argument("--repeats", type=int, default=21, help="interleaved timing rounds")
    parser.add_argument(
        "--calls", type=int, default=None,
        help="calls per timing sample (default: enough for ~0.25 s of forward unrolls)",
    )
    parser.add_argument("--jit_compile", action="store_true", help="XLA for all three")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    rule = rules.get(args.rule)
    problem = problems.get(args.problem, seed=args.seed)  # two_moons: full batch by default
    seed = as_seed(args.seed)

    estimators = {
        order: FullUnroll(
            rule, args.num_steps, meta_loss=args.meta_loss, second_order=order,
            jit_compile=args.jit_compile,
        )
        for order in (True, False)
    }
    fns = {
        "forward": lambda: estimators[True].meta_loss_value(problem, seed),
        "second_order": lambda: estimators[True](problem, seed),
        "first_order": lambda: estimators[False](problem, seed),
    }

    compile_s = {}
    for name, fn in fns.items():  # trace + compile, then warm up
        start = time.perf_counter()
        out = fn()
        tf.nest.map_structure(np.asarray, out)
        compile_s[name] = time.perf_counter() - start
        for _ in range(3):
            fn()

    loss_fwd = float(fns["forward"]())
    loss_est, grads = fns["second_order"]()
    same = math.isclose(loss_fwd, float(loss_est), rel_tol=1e-5, abs_tol=1e-6) or (
        not math.isfinite(loss_fwd) and not math.isfinite(float(loss_est))
    )
    if not same:
        raise RuntimeError(
            f"forward meta-loss {loss_fwd} != FullUnroll meta-loss {float(loss_est)}: the "
            "forward benchmark no longer matches what FullUnroll differentiates."
        )
    grad_norm = float(tf.linalg.global_norm(grads))

    calls = args.calls or max(1, math.ceil(0.25 / timed(fns["forward"], 3)))
    samples = {name: [] for name in fns}
    names = list(fns)
    for k in range(args.repeats):
        for name in names[k % 3:] + names[: k % 3]:  # rotate the order each round
            samples[name].append(timed(fns[name], calls))
    med = {name: statistics.median(s) for name, s in samples.items()}
    ratio = {
        order: med[order] / med["forward"] for order in ("second_order", "first_order")
    }
    paired = {
        order: statistics.median(a / b for a, b in zip(samples[order], samples["forward"]))
        for order in ("second_order", "first_order")
    }

    num_meta = sum(int(np.prod(w.shape)) for w in rule.trainable_weights)
    print(
        f"# meta_gradient: rule={args.rule} ({num_meta} meta-params), problem={args.problem} "
        f"({problem.num_params} params, "
        f"{'full batch' if getattr(problem, 'batch_size', None) is None else 'minibatch'}), "
        f"T={args.num_steps}, meta_loss={args.meta_loss}, jit_compile={args.jit_compile}"
    )
    print(
        f"# median of {args.repeats} interleaved samples x {calls} calls each; "
        f"tf {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}"
    )
    print(
        f"# meta-loss {loss_fwd:.6f} (forward == FullUnroll), |meta-grad| {grad_norm:.3e}; "
        f"first call (trace+compile) s: "
        + ", ".join(f"{n} {c:.2f}" for n, c in compile_s.items())
    )
    header = (
        f"{'estimator':<31} {'forward s':>10} {'meta-gradient s':>16} {'ratio':>7} "
        f"{'paired ratio':>13}"
    )
    print(header)
    print("-" * len(header))
    for order, label in (("second_order", "FullUnroll second_order=True"),
                         ("first_order", "FullUnroll second_order=False")):
        print(
            f"{label:<31} {med['forward']:>10.4f} {med[order]:>16.4f} {ratio[order]:>7.2f} "
            f"{paired[order]:>13.2f}"
        )
    print(f"# source: {source_revision()}")
    print(f"ratio {ratio['second_order']:.3f}")
    return ratio["second_order"]


if __name__ == "__main__":
    main(sys.argv[1:])
