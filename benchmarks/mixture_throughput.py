"""Inner steps per second of meta-training on a problem-set mixture, in steady state.

Seed 001 meta-trains on a mixture whose problems have many signatures (parameter shapes,
data, batch sizes); each signature's truncation function is traced once per process and
reused (`TruncatedBPTT`). This benchmark measures what the mixture costs beyond its problems'
own cost: `--problems` samples of the set are drawn as the meta-trainer draws them, every
signature is compiled (timed: the compile seconds), and then the same truncations (`--rounds`
of T = `--num_steps` steps per sample, second-order meta-gradients from carried state, the
preset's log objective over the full-batch loss) are timed in two orders:

    mixture   round-robin over the samples, as meta-training meets them (p1, p2, …, p1, …)
    grouped   the same truncations one fixed problem at a time (p1 × rounds, p2 × rounds, …)

Both orders alternate over `--repeats` samples (median kept), so they share the machine's
load. `ratio` = mixture inner steps/s ÷ grouped inner steps/s (1.0: switching problems costs
nothing once compiled). The compile share is compile seconds ÷ (compile seconds + one
mixture pass), and the table projects it for the preset's run (`--hours` of meta-training).

Usage:
    python benchmarks/mixture_throughput.py [--problem_set wichrowska2017] [--problems 12]
        [--num_steps 50] [--rounds 3] [--repeats 3] [--rule hierarchical_rnn]
"""

from __future__ import annotations

import argparse
import dataclasses
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
from revision import source_revision  # noqa: E402
from trainers.estimators import TruncatedBPTT, start_task  # noqa: E402
from trainers.logs import quiet_tensorflow_logs  # noqa: E402
from trainers.meta_train import initial_rule, problem_seed, sample_family  # noqa: E402
from trainers.presets import get_preset  # noqa: E402


def run_truncations(estimator: TruncatedBPTT, order: list, tasks: dict, num_steps: int) -> float:
    """Seconds for one truncation of each (index, problem) in `order`, each from the task
    its sample reached; outputs fetched at the end."""
    start = time.perf_counter()
    out = None
    for i, problem in order:
        out = estimator(problem, tasks[i], num_steps)
        tasks[i] = out.task
    np.asarray(out.meta_loss)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem_set", default="wichrowska2017")
    parser.add_argument("--rule", default="hierarchical_rnn")
    parser.add_argument("--problems", type=int, default=12, help="samples of the set")
    parser.add_argument("--num_steps", type=int, default=50, help="truncation length T")
    parser.add_argument("--rounds", type=int, default=3, help="truncations per sample")
    parser.add_argument("--repeats", type=int, default=3, help="timed samples per order")
    parser.add_argument("--hours", type=float, default=4.0, help="run length for the projection")
    args = parser.parse_args(argv)
    quiet_tensorflow_logs()

    config = dataclasses.replace(
        get_preset("wichrowska2017_cpu"), problem_set=args.problem_set, rule=args.rule,
        rule_kwargs={} if args.rule != "hierarchical_rnn" else {"preset": "paper"},
    )
    keras.utils.set_random_seed(config.seed)
    rule = initial_rule(config)
    estimator = TruncatedBPTT(  # as the meta-trainer builds it from the preset
        rule,
        config.meta_loss,
        config.second_order,
        config.record,
        config.jit_compile,
        config.divergence_factor,
    )
    samples = []
    for i in range(args.problems):
        seed = problem_seed(config, i, 0, held_out=False)
        factory, family = sample_family(config, seed)
        samples.append((factory(seed=seed, dtype=config.dtype), family, seed))

    tasks = {i: start_task(p, seed) for i, (p, _, seed) in enumerate(samples)}
    compile_seconds = 0.0
    for i, (problem, _, _) in enumerate(samples):  # fresh and carried state: every trace
        for _ in range(2):
            traces = estimator.trace_count()
            seconds = run_truncations(estimator, [(i, problem)], tasks, args.num_steps)
            if estimator.trace_count() > traces:
                compile_seconds += seconds

    indexed = [(i, p) for i, (p, _, _) in enumerate(samples)]
    orders = {
        "mixture": indexed * args.rounds,
        "grouped": [pair for pair in indexed for _ in range(args.rounds)],
    }
    times: dict[str, list[float]] = {name: [] for name in orders}
    for k in range(args.repeats):
        for name in list(orders)[k % 2 :] + list(orders)[: k % 2]:
            times[name].append(run_truncations(estimator, orders[name], tasks, args.num_steps))
    median = {name: statistics.median(t) for name, t in times.items()}
    steps = len(orders["mixture"]) * args.num_steps
    rate = {name: steps / median[name] for name in orders}
    share = compile_seconds / (compile_seconds + median["mixture"])
    signatures = len({p.signature for p, _, _ in samples})
    per_signature = compile_seconds / signatures
    entries = problems.get_set(config.problem_set).entries
    all_signatures = len({e.factory(seed=0, dtype=config.dtype).signature for e in entries})
    projected = all_signatures * per_signature / (args.hours * 3600)

    print(
        f"# mixture_throughput: {args.problem_set}, rule={args.rule}, {args.problems} samples "
        f"({signatures} signatures), T={args.num_steps}, {args.rounds} truncations per sample, "
        f"second-order, log objective over the full-batch loss"
    )
    print(
        f"# median of {args.repeats} alternating samples per order; tf {tf.__version__}, "
        f"keras {keras.__version__}, {os.cpu_count()} CPU cores, {platform.machine()}"
    )
    print(f"# families: {', '.join(sorted({f for _, f, _ in samples}))}")
    header = f"{'order':<10} {'seconds':>9} {'inner steps/s':>14}"
    print(header)
    print("-" * len(header))
    for name in orders:
        print(f"{name:<10} {median[name]:>9.2f} {rate[name]:>14.1f}")
    print(
        f"# compile: {compile_seconds:.1f} s for {signatures} signatures ({per_signature:.1f} s "
        f"each, fresh + carried state), {share:.1%} of compile + one mixture pass; the "
        f"{all_signatures} signatures of the whole set at this rate: {projected:.1%} of a "
        f"{args.hours:g} h run"
    )
    print(f"# source: {source_revision()}")
    ratio = rate["mixture"] / rate["grouped"]
    print(f"ratio {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
