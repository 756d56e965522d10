"""Training steps per second: `LearnedOptimizer` vs `keras.optimizers.Adam`, side by side.

The model is the seed-002 3-layer CNN: input 32x32x3, three Conv2D 3x3 with 32 channels and
strides 2, 2, 1 (ReLU, Glorot-uniform kernels, zero biases, "valid" padding), global average
pooling, Dense(10); softmax cross-entropy on random labels. Both optimizers train a fresh copy
of the same model with the same initial weights on the same random batches, in one process.

Measurement (the table header states it):
  * path "tf_function" (default): one `tf.function` train step per optimizer,
        forward -> loss -> tape.gradient -> optimizer.apply_gradients(...)
    called once per step from Python with the batch already in memory (no input pipeline);
    path "train_on_batch": `model.compile(optimizer, loss)` + `model.train_on_batch` loop
    (what `model.fit` runs per step, plus its per-call Python overhead).
  * warm-up (tracing/compiling and a few steps) for both, then `--rounds` rounds; in each
    round both optimizers run `--steps` steps, and the order alternates between rounds so
    that neither one always runs first. Other processes may share the CPU: interleaving
    keeps both measured under the same load, and the median over rounds discards outliers.
  * reported: median steps/s for each, and ratio = ours / Adam (last line: `ratio <x>`).

Also printed: optimizer-state floats per model parameter (floats in `optimizer.variables`
other than scalar variables such as iteration / learning_rate, divided by the number of model
parameters; a rule's own scalars, e.g. the MLP rule's step counter, are packed with its small
state tensors (`PackedState`) and so counted, 1 float in all); the rule's meta-parameters
(kept in the rule, not in `optimizer.variables`) are listed separately.

Usage:
    python benchmarks/keras_step.py [--rule mlp] [--batch_size 128] [--steps 200] [--rounds 10]
                                    [--jit_compile] [--path tf_function|train_on_batch]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from l2o_tf import LearnedOptimizer, rules  # noqa: E402
from revision import source_revision  # noqa: E402

NUM_CLASSES = 10
NUM_BATCHES = 4  # distinct random batches, cycled


def build_cnn() -> keras.Model:
    """The seed-002 3-layer CNN (32x32x3 -> 3 x Conv2D(32, 3x3) -> GAP -> Dense(10))."""
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for i, stride in enumerate((2, 2, 1)):
        x = keras.layers.Conv2D(
            32,
            3,
            strides=stride,
            activation="relu",
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name=f"conv{i}",
        )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(NUM_CLASSES, kernel_initializer="glorot_uniform", name="logits")(x)
    return keras.Model(inputs, logits, name="seed002_cnn")


def state_floats(optimizer: keras.optimizers.Optimizer) -> tuple[int, int]:
    """(floats in non-scalar optimizer variables, number of scalar optimizer variables)."""
    tensors = scalars = 0
    for v in optimizer.variables:
        if len(v.shape) == 0:
            scalars += 1
        else:
            tensors += int(np.prod(v.shape))
    return tensors, scalars


class Runner:
    """One model copy + one optimizer + a compiled train step."""

    def __init__(self, name, optimizer, init_weights, path, jit_compile):
        self.name = name
        self.optimizer = optimizer
        self.model = build_cnn()
        self.model.set_weights(init_weights)
        self.path = path
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if path == "train_on_batch":
            self.model.compile(optimizer=optimizer, loss=self.loss_fn, jit_compile=jit_compile)
        else:
            self.optimizer.build(self.model.trainable_variables)
            self._step = tf.function(self._train_step, jit_compile=jit_compile)

    def _train_step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = self.loss_fn(y, logits)
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss

    def step(self, x, y):
        if self.path == "train_on_batch":
            return self.model.train_on_batch(x, y)
        return self._step(x, y)

    def run(self, batches, num_steps, offset=0) -> float:
        """Runs `num_steps` steps; returns the elapsed wall time (s)."""
        start = time.perf_counter()
        loss = None
        for i in range(num_steps):
            x, y = batches[(offset + i) % len(batches)]
            loss = self.step(x, y)
        float(np.asarray(loss))  # make sure the last step has finished
        return time.perf_counter() - start


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rule", default="mlp", choices=rules.names())
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200, help="steps per optimizer per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20, help="steps after compiling")
    parser.add_argument("--jit_compile", action="store_true", help="XLA-compile the train step")
    parser.add_argument(
        "--path", default="tf_function", choices=("tf_function", "train_on_batch")
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    init_weights = build_cnn().get_weights()
    num_params = int(sum(np.prod(w.shape) for w in init_weights))

    rng = np.random.default_rng(args.seed)
    batches = [
        (
            tf.constant(rng.standard_normal((args.batch_size, 32, 32, 3)), tf.float32),
            tf.constant(rng.integers(0, NUM_CLASSES, (args.batch_size,)), tf.int32),
        )
        for _ in range(NUM_BATCHES)
    ]
    if args.path == "train_on_batch":  # train_on_batch converts its inputs; give it numpy
        batches = [(x.numpy(), y.numpy()) for x, y in batches]

    ours = LearnedOptimizer(rule=args.rule, weights=None)
    runners = [
        Runner(f"LearnedOptimizer({args.rule})", ours, init_weights, args.path, args.jit_compile),
        Runner("keras Adam", keras.optimizers.Adam(), init_weights, args.path, args.jit_compile),
    ]

    compile_s = []
    for r in runners:  # trace / compile, then warm up
        compile_s.append(r.run(batches, 1))
        r.run(batches, args.warmup)

    times = {r.name: [] for r in runners}
    for k in range(args.rounds):
        order = runners if k % 2 == 0 else runners[::-1]
        for r in order:
            times[r.name].append(r.run(batches, args.steps, offset=k * args.steps))

    rates = {name: [args.steps / t for t in ts] for name, ts in times.items()}
    median = {name: statistics.median(rs) for name, rs in rates.items()}
    ratio = median[runners[0].name] / median[runners[1].name]
    paired = statistics.median(
        a / b for a, b in zip(rates[runners[0].name], rates[runners[1].name])
    )

    print(
        f"# keras_step: seed-002 CNN ({num_params} params), batch {args.batch_size}, "
        f"path={args.path} (forward+tape.gradient+apply_gradients in one "
        f"{'XLA-compiled ' if args.jit_compile else ''}"
        f"{'tf.function' if args.path == 'tf_function' else 'compiled train_function'}), "
        f"jit_compile={args.jit_compile}"
    )
    print(
        f"# {args.rounds} interleaved rounds x {args.steps} steps after {args.warmup} warm-up "
        f"steps; tf {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}"
    )
    header = (
        f"{'optimizer':<26} {'median steps/s':>14} {'min':>8} {'max':>8} "
        f"{'1st step s':>10} {'state floats/param':>18}  meta-params"
    )
    print(header)
    print("-" * len(header))
    for r, c in zip(runners, compile_s):
        floats, scalars = state_floats(r.optimizer)
        if isinstance(r.optimizer, LearnedOptimizer):
            meta = sum(int(np.prod(w.shape)) for w in r.optimizer.rule.trainable_weights)
            meta_s = f"{meta} (rule weights, not in optimizer.variables)"
        else:
            meta_s = "-"
        rs = rates[r.name]
        print(
            f"{r.name:<26} {median[r.name]:>14.2f} {min(rs):>8.2f} {max(rs):>8.2f} {c:>10.2f} "
            f"{floats / num_params:>18.3f}  {meta_s}"
        )
        print(f"{'':<26} (+{scalars} scalar optimizer variables excluded)")
    for r in runners:
        print(f"# per-round steps/s {r.name}: " + ", ".join(f"{x:.1f}" for x in rates[r.name]))
    print(f"# median of per-round ratios (paired): {paired:.3f}")
    print(f"# source: {source_revision()}")
    print(f"ratio {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
