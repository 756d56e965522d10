"""Cost of one merged-estimator sample relative to one forward truncation, and its memory.

    ratio = time( AntitheticSampler(TruncatedBPTT(rule))(problem, task, T, seed) )
          / time( TruncatedBPTT(rule).forward_fn(problem)(tensors, *task, T) )

A sample of Metz et al. 2019's merged estimator runs the truncation twice (θ ± ε) forward and
backward, so the ideal is about 2 × (forward + backward); the issue's target is ≤ 5×. The two
sequences are independent subgraphs of one compiled function, which TensorFlow runs side by
side on two cores: the headline is wall-clock; the CPU-time columns (all threads) show the
work. The
headline uses second-order backward passes (the default); a first-order row (gradient
stopped at the inner gradient) is printed too. Both
functions start from the same mid-run `TaskState` and are timed in interleaved rounds after
compiling; medians are reported. Peak memory: each truncation length runs in a fresh
subprocess that draws one sample, and the table reports its peak resident set size minus
that of a subprocess doing the same for a 1-step truncation (so TensorFlow's own footprint
cancels out).

Usage:
    python benchmarks/estimators.py [--rule mlp] [--problem two_moons] [--batch_size 32]
                                     [--num_steps 100] [--memory_steps 100,1000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import problems  # noqa: E402
from l2o_tf import rules  # noqa: E402
from revision import source_revision  # noqa: E402
from trainers.estimators import (  # noqa: E402
    AntitheticSampler,
    TruncatedBPTT,
    start_task,
    truncation_length,
)


def build(args: argparse.Namespace):
    rule = rules.get(args.rule)
    kwargs = {"batch_size": args.batch_size} if args.problem == "two_moons" else {}
    problem = problems.get(args.problem, seed=1, **kwargs)
    estimator = TruncatedBPTT(rule)
    task = estimator(problem, start_task(problem, 2), 5).task  # a mid-run start
    return problem, estimator, AntitheticSampler(estimator), task


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of the process) of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    float(result[0])  # wait for the computation
    return time.perf_counter() - start, time.process_time() - start_cpu


def peak_memory_mb(args: argparse.Namespace, num_steps: int) -> float:
    """Peak RSS (MB) of a fresh process that draws one sample of `num_steps` steps."""
    command = [
        sys.executable, __file__, "--rule", args.rule, "--problem", args.problem,
        "--batch_size", str(args.batch_size), "--one_sample", str(num_steps),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def main() -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rule", default="mlp", choices=rules.names())
    parser.add_argument("--problem", default="two_moons", choices=problems.names())
    parser.add_argument("--batch_size", type=int, default=32, help="two_moons minibatch")
    parser.add_argument("--num_steps", type=int, default=100, help="truncation length timed")
    parser.add_argument("--memory_steps", default="100,1000", help="truncation lengths for memory")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--one_sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    problem, estimator, sampler, task = build(args)
    if args.one_sample:  # child process of peak_memory_mb
        sampler(problem, task, args.one_sample, seed=7)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB
        print(json.dumps({"peak_mb": peak}))
        return 0.0

    forward = estimator.forward_fn(problem)
    length = truncation_length(args.num_steps)
    first_order = AntitheticSampler(TruncatedBPTT(estimator.rule, second_order=False))
    runs = {
        "forward": lambda: forward(problem.tensors, *task, length),
        "merged sample": lambda: sampler(problem, task, args.num_steps, seed=7),
        "merged sample, first-order": lambda: first_order(problem, task, args.num_steps, seed=7),
    }
    first = {name: timed(fn)[0] for name, fn in runs.items()}
    times = {name: [] for name in runs}
    order = list(runs.items())
    for i in range(args.repeats):
        for name, fn in order[i % len(order) :] + order[: i % len(order)]:
            times[name].append(timed(fn))
    median = {name: statistics.median(t[0] for t in values) for name, values in times.items()}
    cpu = {name: statistics.median(t[1] for t in values) for name, values in times.items()}
    ratio = median["merged sample"] / median["forward"]

    print(
        f"# estimators: rule={args.rule}, problem={args.problem} "
        f"({problem.num_params} params), truncation T={args.num_steps}, σ²=0.01; "
        f"{args.repeats} interleaved rounds after compiling, medians"
    )
    print(
        f"{'what':<32}{'first call s':>13}{'median s':>10}{'× forward':>11}"
        f"{'CPU s':>9}{'CPU × forward':>15}"
    )
    print("-" * 90)
    for name in times:
        print(
            f"{name:<32}{first[name]:>13.3f}{median[name]:>10.4f}"
            f"{median[name] / median['forward']:>11.2f}{cpu[name]:>9.4f}"
            f"{cpu[name] / cpu['forward']:>15.2f}"
        )
    base = peak_memory_mb(args, 1)
    print(f"\n{'peak memory of one merged sample':<40}{'MB above a 1-step sample':>26}")
    print("-" * 66)
    for steps in (int(s) for s in args.memory_steps.split(",")):
        print(f"{'T = ' + str(steps):<40}{peak_memory_mb(args, steps) - base:>26.1f}")
    print(f"# 1-step sample process peak: {base:.1f} MB")
    print(f"# source: {source_revision()}")
    print(f"ratio {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
