"""`LearnedOptimizer` judged as a Keras user would judge it: `model.fit` on nine small Keras
models it never saw in meta-training, against `keras.optimizers.Adam()` and against Adam at a
learning rate tuned per model.

Models (`TASKS`; data shipped with scikit-learn or generated here, nothing downloaded; each
data set is split once, 75 % training / 25 % test, `random_state=0`, stratified for
classifiers; where marked, inputs and regression targets are standardized with the training
split's statistics). Budgets are batch size x epochs over the training split, in steps:

    model        data, network                                               batch x epochs
    mlp          digits 8x8 (sklearn, pixels / 16), Dense 128-64-10 ReLU      32 x 50 = 2 150
    cnn          digits as 8x8x1 images: Conv2D 16 3x3, Conv2D 32 3x3, max    32 x 20 =   860
                 pool 2x2, Dense 10
    deep_bn      make_classification (3 000 x 20, 3 classes; standardized),   64 x 40 = 1 440
                 6 x (Dense 64, BatchNormalization, ReLU), Dense 3
    regression   diabetes (sklearn; inputs and targets standardized),        16 x 100 = 2 100
                 Dense 64-64-1 ReLU, MSE
    gru          generated: 20 N(0, 1) values; is the first half's sum        64 x 15 =   540
                 above the second's? GRU(32), Dense 2
    logistic     breast_cancer (sklearn, standardized), one Dense(2):        32 x 150 = 2 100
                 logistic regression
    autoencoder  digits, Dense 32-8-32-64 (ReLU), MSE reconstruction          32 x 50 = 2 150
    embedding    generated: 40 tokens of 1-499; are tokens 1-50 more          32 x 10 =   940
                 frequent than tokens 51-100? Embedding(500, 16), global
                 average pooling, Dense 2 (the embedding's gradients are
                 IndexedSlices)
    attention    generated: sets of 6 one-hot symbols of 20; is a symbol      32 x 12 =   852
                 repeated? Dense 32, MultiHeadAttention(2 heads, key_dim
                 16) + residual, LayerNorm, per-token Dense 32 ReLU, global
                 average pooling, Dense 2

Classifiers output logits (softmax cross-entropy, accuracy). `--quick` cuts every budget to
2 epochs of at most 15 batches (tests only).

Optimizers per model: `LearnedOptimizer(rule=--rule, weights=--weights)` (default: the
shipped `l2o_tf/pretrained/mlp.npz`), `keras.optimizers.Adam()` (learning rate 1e-3) and
Adam at the learning rate that does best on a held-out part of the TRAINING split (the
training split divided 80/20 with `random_state=100`; trained with seed 100 on the 80 %
with the model's batch size and epochs, scored by the 20 %'s accuracy, or MSE, ties broken
by its loss) over the grid 1e-4 ... 1e-1 (7 points, 2 per decade). The test split and the
reported seeds never enter tuning; the result is cached as JSON under `--cache`, so reruns
do not retune. When the tuned rate is 1e-3 the default-Adam runs stand for it; a tuned rate
at an end of the grid is starred in the table.

A run: `keras.utils.set_random_seed(seed)`, build the model, compile, build the optimizer,
`keras.utils.set_random_seed(seed)` again, `model.fit(..., shuffle=True)`: every optimizer
starts from the same weights and sees the same batch order for a seed (the second reset
makes the order independent of any random draw the optimizer makes). Seeds 0, 1, 2; the
optimizers alternate their order from seed to seed, so they share the machine's load.

Per run: the final training loss (the last epoch's mean `fit` loss), the best epoch loss,
stable (final <= 1.2 x best, or final - best < 1e-3 for losses that reach ~0), the test
metric from `model.evaluate` on the test split after `fit` (accuracy for classifiers, MSE
for regression and the autoencoder; BatchNorm's moving statistics count), the wall time of
the first epoch (tracing, XLA compiling of the rule) and the mean of the later ones (with
`LearnedOptimizer` the second epoch also pays once, before its first batch, for `fit`'s new
tf.data iterator: seconds on a loaded machine, so on short runs "steady" includes it). Per
model: medians over seeds (a non-finite value counts as the worst). The learned optimizer
beats an Adam on a model when its median test metric is strictly better; the table also
says whether its median final training loss is lower. A model counts as stable when all of
the learned optimizer's runs are. Time ratios are learned / default Adam (medians). Last
line: `beats default Adam on A of N models; beats tuned Adam on B of N models; stable on S of
N models`. `--json PATH` writes every run's record (tuning runs too), the per-model summaries
and the drift, atomically; progress goes to stderr.

Also printed: zero-gradient drift, |θ_T − θ_0| after `optimizer.apply([zeros], [θ])` T =
1 000 times (100 with `--quick`) on a variable of ones, for both optimizers.

Usage:
    python benchmarks/keras_models.py [--models mlp,embedding] [--seeds 0,1,2] [--quick]
        [--rule mlp] [--weights pretrained|none|PATH] [--cache runs/keras_models]
        [--json PATH]
    (`--quick --models embedding,deep_bn`: tests/test_keras_models_benchmark.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from l2o_tf import LearnedOptimizer, rules  # noqa: E402
from revision import source_revision  # noqa: E402
from trainers.logs import quiet_tensorflow_logs  # noqa: E402

SEEDS = (0, 1, 2)
DATA_SEED = 0  # generated data and the train/test split; fixed, not a run seed
TEST_FRACTION = 0.25
TUNING_SEED = 100  # the held-out part of the training split, and the tuning runs' seed
TUNING_FRACTION = 0.2
ADAM_GRID = tuple(float(10.0**e) for e in np.linspace(-4.0, -1.0, 7))  # 1e-4 ... 1e-1, 1e-3 exact
DEFAULT_ADAM_LR = 1e-3
STABLE_FACTOR = 1.2  # a run is stable when final <= 1.2 x best ...
STABLE_ABSOLUTE = 1e-3  # ... or final - best < 1e-3 (losses that reach ~0)
CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runs",
                     "keras_models")
DRIFT_STEPS = 1000
DRIFT_SIZE = 16
QUICK = {"epochs": 2, "batches": 15, "grid": (1e-3, 1e-2), "seeds": (0,), "drift_steps": 100}
TUNING_VERSION = 1  # bump when a task's data, model or budget changes: invalidates the cache

# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

SEQUENCE_LENGTH = 20  # gru
VOCAB, TEXT_LENGTH = 500, 40  # embedding
SET_SIZE, SYMBOLS = 6, 20  # attention


def digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1 797 digits, 64 pixels in [0, 1], labels 0-9."""
    x, y = datasets.load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int32")


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    x, y = digits_data()
    return x.reshape(-1, 8, 8, 1), y


def digit_reconstruction() -> tuple[np.ndarray, np.ndarray]:
    x, _ = digits_data()
    return x, x


def classification_data() -> tuple[np.ndarray, np.ndarray]:
    """make_classification: 3 000 examples, 20 features (10 informative, 4 redundant), 3
    classes of 2 clusters each, 2 % flipped labels."""
    x, y = datasets.make_classification(
        n_samples=3000,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=3,
        n_clusters_per_class=2,
        flip_y=0.02,
        random_state=DATA_SEED,
    )
    return x.astype("float32"), y.astype("int32")


def diabetes_data() -> tuple[np.ndarray, np.ndarray]:
    x, y = datasets.load_diabetes(return_X_y=True)
    return x.astype("float32"), y.reshape(-1, 1).astype("float32")


def breast_cancer_data() -> tuple[np.ndarray, np.ndarray]:
    x, y = datasets.load_breast_cancer(return_X_y=True)
    return x.astype("float32"), y.astype("int32")


def half_sums_data(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of N(0, 1) values; label 1 when the first half sums higher than the second."""
    x = np.random.default_rng(DATA_SEED).standard_normal((n, SEQUENCE_LENGTH, 1))
    half = SEQUENCE_LENGTH // 2
    y = x[:, :half, 0].sum(1) > x[:, half:, 0].sum(1)
    return x.astype("float32"), y.astype("int32")


def token_count_data(n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences, uniform over 1 ... VOCAB - 1; label 1 when tokens 1-50 ("set A")
    occur more often than tokens 51-100 ("set B"); sequences with equal counts are drawn
    again."""
    rng = np.random.default_rng(DATA_SEED)
    tokens = rng.integers(1, VOCAB, (3 * n, TEXT_LENGTH))
    count_a = ((tokens >= 1) & (tokens <= 50)).sum(1)
    count_b = ((tokens >= 51) & (tokens <= 100)).sum(1)
    keep = np.flatnonzero(count_a != count_b)[:n]
    return tokens[keep].astype("int32"), (count_a > count_b)[keep].astype("int32")


def repeated_symbol_data(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Sets of SET_SIZE one-hot symbols out of SYMBOLS; label 1 when a symbol repeats
    (P = 0.56 for 6 of 20)."""
    symbols = np.random.default_rng(DATA_SEED).integers(0, SYMBOLS, (n, SET_SIZE))
    repeated = np.array([len(set(row)) < SET_SIZE for row in symbols])
    return np.eye(SYMBOLS, dtype="float32")[symbols], repeated.astype("int32")


# ---------------------------------------------------------------------------------------
# Models (uncompiled; `fresh_model` sets the seed first)
# ---------------------------------------------------------------------------------------


def mlp_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="mlp",
    )


def cnn_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name="cnn",
    )


def deep_bn_model() -> keras.Model:
    layers: list[keras.layers.Layer] = [keras.Input((20,))]
    for _ in range(6):
        layers += [
            keras.layers.Dense(64, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ]
    return keras.Sequential(layers + [keras.layers.Dense(3)], name="deep_bn")


def regression_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="regression",
    )


def gru_model() -> keras.Model:
    return keras.Sequential(
        [keras.Input((SEQUENCE_LENGTH, 1)), keras.layers.GRU(32), keras.layers.Dense(2)],
        name="gru",
    )


def logistic_model() -> keras.Model:
    return keras.Sequential([keras.Input((30,)), keras.layers.Dense(2)], name="logistic")


def autoencoder_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(64),
        ],
        name="autoencoder",
    )


def embedding_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((TEXT_LENGTH,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 16),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ],
        name="embedding",
    )


def attention_model() -> keras.Model:
    inputs = keras.Input((SET_SIZE, SYMBOLS))
    x = keras.layers.Dense(32)(inputs)  # [batch, SET_SIZE, 32]
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=16)(x, x)
    x = keras.layers.LayerNormalization()(x + attended)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x), name="attention")


@dataclasses.dataclass(frozen=True)
class Task:
    """One model, its data and its budget."""

    name: str
    data: str  # where the data comes from, for the table
    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # every example, unsplit
    build: Callable[[], keras.Model]
    classifier: bool  # accuracy (higher is better) or MSE (lower is better)
    batch_size: int
    epochs: int
    standardize_x: bool = False
    standardize_y: bool = False

    @property
    def metric(self) -> str:
        return "accuracy" if self.classifier else "mse"

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        if self.classifier:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        else:
            loss = keras.losses.MeanSquaredError()
            metric = keras.metrics.MeanSquaredError(name="mse")
        model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


TASKS = {
    t.name: t
    for t in [
        Task("mlp", "sklearn digits", digits_data, mlp_model, True, 32, 50),
        Task("cnn", "sklearn digits 8x8x1", digit_images, cnn_model, True, 32, 20),
        Task(
            "deep_bn", "make_classification", classification_data, deep_bn_model, True, 64, 40,
            standardize_x=True,
        ),
        Task(
            "regression", "sklearn diabetes", diabetes_data, regression_model, False, 16, 100,
            standardize_x=True, standardize_y=True,
        ),
        Task("gru", "generated sequences", half_sums_data, gru_model, True, 64, 15),
        Task(
            "logistic", "sklearn breast_cancer", breast_cancer_data, logistic_model, True, 32,
            150, standardize_x=True,
        ),
        Task("autoencoder", "sklearn digits", digit_reconstruction, autoencoder_model, False,
             32, 50),
        Task("embedding", "generated tokens", token_count_data, embedding_model, True, 32, 10),
        Task("attention", "generated sets", repeated_symbol_data, attention_model, True, 32, 12),
    ]
}


@dataclasses.dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def steps(self, task: Task, epochs: int) -> int:
        return math.ceil(len(self.x_train) / task.batch_size) * epochs


def partition(
    task: Task, x: np.ndarray, y: np.ndarray, fraction: float, random_state: int
) -> Split:
    """Raw (unstandardized) split, `fraction` held out, stratified for classifiers."""
    stratify = y if task.classifier else None
    x_a, x_b, y_a, y_b = train_test_split(
        x, y, test_size=fraction, random_state=random_state, stratify=stratify
    )
    return Split(x_a, y_a, x_b, y_b)


def standardized(task: Task, split: Split, max_train: int | None = None) -> Split:
    """The split with at most `max_train` training examples, standardized (where the task
    says so) by the statistics of its training part alone."""
    x_train, y_train = split.x_train[:max_train], split.y_train[:max_train]
    x_test, y_test = split.x_test, split.y_test

    def scale(train, test):
        mean, std = train.mean(0), train.std(0) + 1e-8
        return (train - mean) / std, (test - mean) / std

    if task.standardize_x:
        x_train, x_test = scale(x_train, x_test)
    if task.standardize_y:
        y_train, y_test = scale(y_train, y_test)
    return Split(x_train, y_train, x_test, y_test)


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------


class EpochTimes(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch of `fit`."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for value in (logs or {}).values():
            float(value)  # reading a result waits for the epoch's last step
        self.seconds.append(time.perf_counter() - self._start)


def fresh_model(task: Task, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return task.build()


def stable(final: float, best: float) -> bool:
    """Whether a run ended within 20 % of its best epoch loss (or within 1e-3 of it)."""
    if not math.isfinite(final):
        return False
    return final <= STABLE_FACTOR * best or final - best < STABLE_ABSOLUTE


def train_once(
    task: Task,
    split: Split,
    optimizer: keras.optimizers.Optimizer,
    learning_rate: float,
    seed: int,
    epochs: int,
    role: str,
) -> dict[str, Any]:
    """One `fit` from seed `seed` and its record (`learning_rate`: the one `optimizer` was
    built with, exactly); the test metric on `split`'s test part."""
    model = fresh_model(task, seed)
    task.compile(model, optimizer)
    optimizer.build(model.trainable_variables)
    keras.utils.set_random_seed(seed)  # the batch order: the same for every optimizer
    timer = EpochTimes()
    history = model.fit(
        split.x_train,
        split.y_train,
        batch_size=task.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    test = model.evaluate(split.x_test, split.y_test, batch_size=256, verbose=0, return_dict=True)
    losses = [float(v) for v in history.history["loss"]]
    final = losses[-1]
    best = min((v for v in losses if math.isfinite(v)), default=math.nan)
    skipped = getattr(optimizer, "skipped_updates", None)
    return {
        "model": task.name,
        "role": role,
        "optimizer": type(optimizer).__name__,
        "learning_rate": learning_rate,
        "seed": seed,
        "steps": split.steps(task, epochs),
        "final_loss": final,
        "best_loss": best,
        "stable": stable(final, best),
        "test_metric": float(test[task.metric]),
        "test_loss": float(test["loss"]),
        "metric": task.metric,
        "first_epoch_s": timer.seconds[0],
        "steady_epoch_s": statistics.mean(timer.seconds[1:]) if epochs > 1 else math.nan,
        "epoch_seconds": timer.seconds,
        "skipped_updates": None if skipped is None else int(np.asarray(skipped)),
        "epoch_losses": losses,
    }


def _score(task: Task, record: dict[str, Any]) -> tuple[float, float]:
    """Sort key of a tuning run, lower is better: (metric, loss); non-finite last."""
    metric = record["test_metric"] * (-1.0 if task.classifier else 1.0)
    loss = record["test_loss"]
    return (
        metric if math.isfinite(metric) else math.inf,
        loss if math.isfinite(loss) else math.inf,
    )


def tune_adam(
    task: Task, train: Split, grid: tuple[float, ...], epochs: int, max_train: int | None,
    cache_dir: str,
) -> dict[str, Any]:
    """The best Adam learning rate on a held-out part of the training split `train` (raw),
    from the cache in `cache_dir` when this exact tuning ran before."""
    config = {
        "model": task.name,
        "batch_size": task.batch_size,
        "epochs": epochs,
        "max_train": max_train,
        "grid": list(grid),
        "seed": TUNING_SEED,
        "fraction": TUNING_FRACTION,
        "version": TUNING_VERSION,
    }
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    path = os.path.join(cache_dir, f"adam_lr_{task.name}_{key}.json")
    if os.path.exists(path):
        with open(path) as f:
            return {**json.load(f), "cached": True}
    held_out = partition(task, train.x_train, train.y_train, TUNING_FRACTION, TUNING_SEED)
    split = standardized(task, held_out, max_train)
    records = []
    for lr in grid:
        record = train_once(
            task, split, keras.optimizers.Adam(lr), lr, TUNING_SEED, epochs, role="tuning"
        )
        records.append(record)
        _progress(record)
    best = min(records, key=lambda r: _score(task, r))
    result = {
        "config": config,
        "learning_rate": best["learning_rate"],
        "edge": best["learning_rate"] in (min(grid), max(grid)),
        "records": records,
    }
    write_json_atomically(path, result)
    return {**result, "cached": False}


def zero_gradient_drift(optimizer: keras.optimizers.Optimizer, steps: int) -> np.ndarray:
    """|θ_T − θ_0| per element after `steps` applications of an exactly zero gradient to a
    variable of ones."""
    variable = keras.Variable(np.ones(DRIFT_SIZE, "float32"), name="theta")
    optimizer.build([variable])
    zeros = tf.zeros(DRIFT_SIZE)
    for _ in range(steps):
        optimizer.apply([zeros], [variable])
    return np.abs(np.asarray(variable) - 1.0)


# ---------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------


def _median(values: list[float], worst: float) -> float:
    """Median with non-finite values counted as `worst` (+inf or -inf)."""
    return float(np.median([v if math.isfinite(v) else worst for v in values]))


def summarize(task: Task, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds of one optimizer's runs on one model."""
    worst_metric = -math.inf if task.classifier else math.inf
    return {
        "final_loss": _median([r["final_loss"] for r in records], math.inf),
        "best_loss": _median([r["best_loss"] for r in records], math.inf),
        "test_metric": _median([r["test_metric"] for r in records], worst_metric),
        "first_epoch_s": _median([r["first_epoch_s"] for r in records], math.inf),
        "steady_epoch_s": _median([r["steady_epoch_s"] for r in records], math.inf),
        "stable_runs": sum(r["stable"] for r in records),
        "runs": len(records),
    }


def better(a: float, b: float, higher: bool) -> bool:
    """Strictly better; a non-finite value (the worst, see `_median`) never is."""
    if not math.isfinite(a):
        return False
    return a > b if higher else a < b


def compare(task: Task, learned: dict, adam: dict, tuned: dict) -> dict[str, Any]:
    return {
        "beats_adam": better(learned["test_metric"], adam["test_metric"], task.classifier),
        "beats_tuned": better(learned["test_metric"], tuned["test_metric"], task.classifier),
        "lower_loss_than_adam": better(learned["final_loss"], adam["final_loss"], False),
        "lower_loss_than_tuned": better(learned["final_loss"], tuned["final_loss"], False),
        "stable": learned["stable_runs"] == learned["runs"],
        "steady_ratio": learned["steady_epoch_s"] / adam["steady_epoch_s"],
        "first_epoch_ratio": learned["first_epoch_s"] / adam["first_epoch_s"],
    }


def result_line(models: list[dict[str, Any]]) -> str:
    n = len(models)
    a = sum(m["beats_adam"] for m in models)
    b = sum(m["beats_tuned"] for m in models)
    s = sum(m["stable"] for m in models)
    return (
        f"beats default Adam on {a} of {n} models; beats tuned Adam on {b} of {n} models; "
        f"stable on {s} of {n} models"
    )


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def write_json_atomically(path: str, data: Any) -> None:
    """Writes strict JSON (non-finite numbers as null) to a temporary file, then renames."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_finite_or_none(data), f, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _progress(record: dict[str, Any]) -> None:
    print(
        f"# {record['model']:<11} {record['role']:<8} lr {record['learning_rate']:.1e} "
        f"seed {record['seed']:>3}: loss {record['final_loss']:.4g} (best "
        f"{record['best_loss']:.4g}) test {record['metric']} {record['test_metric']:.4f}, "
        f"epochs {record['first_epoch_s']:.2f} s then {record['steady_epoch_s']:.3f} s",
        file=sys.stderr,
        flush=True,
    )


def _fmt(value: float, spec: str = ".4f") -> str:
    return format(value, spec) if math.isfinite(value) else "nan"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'model':<11} {'data':<21} {'train/test':>10} {'steps':>6} | "
        f"{'loss learned':>12} {'Adam':>8} {'tuned Adam (lr)':>19} | "
        f"{'test':<4} {'learned':>7} {'Adam':>7} {'tuned':>7} | "
        f"{'>Adam':>5} {'>tuned':>6} | {'stable':>6} {'Adam':>4} | {'steady':>6} {'1st ep':>6}"
    )
    print(
        f"{'':<52}| {'final training loss (median)':<42}| {'test metric (median)':<31}"
        f"| {'test/loss':<12} | {'runs ok':<11} | learned/Adam"
    )
    print(header)
    print("-" * len(header))
    for m in rows:
        learned, adam, tuned = m["learned"], m["adam"], m["tuned"]
        lr = f"{m['tuned_lr']:.0e}" + ("*" if m["tuned_lr_edge"] else "")
        yes = {True: "y", False: "n"}
        print(
            f"{m['model']:<11} {m['data']:<21} {m['train_test']:>10} {m['steps']:>6} | "
            f"{_fmt(learned['final_loss'], '.4g'):>12} {_fmt(adam['final_loss'], '.4g'):>8} "
            f"{_fmt(tuned['final_loss'], '.4g'):>10} ({lr:>6}) | "
            f"{m['metric'][:4]:<4} {_fmt(learned['test_metric']):>7} "
            f"{_fmt(adam['test_metric']):>7} {_fmt(tuned['test_metric']):>7} | "
            f"{yes[m['beats_adam']] + '/' + yes[m['lower_loss_than_adam']]:>5} "
            f"{yes[m['beats_tuned']] + '/' + yes[m['lower_loss_than_tuned']]:>6} | "
            f"{learned['stable_runs']}/{learned['runs']:<4} "
            f"{adam['stable_runs']}/{adam['runs']:<2} | "
            f"{_fmt(m['steady_ratio'], '.2f'):>6} {_fmt(m['first_epoch_ratio'], '.2f'):>6}"
        )


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(TASKS), help="comma list; default all")
    parser.add_argument("--seeds", default=None, help="comma list (default 0,1,2; --quick: 0)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets, for tests only")
    parser.add_argument("--rule", default="mlp", choices=rules.names())
    parser.add_argument(
        "--weights", default="pretrained", help='"pretrained" (default), "none" or a .npz path'
    )
    parser.add_argument("--cache", default=CACHE, help="tuned learning rates (JSON)")
    parser.add_argument("--json", default=None, help="write every run's record here")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in TASKS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(TASKS)}")
    if args.seeds is None:
        args.seeds = QUICK["seeds"] if args.quick else SEEDS
    else:
        args.seeds = tuple(int(s) for s in args.seeds.split(","))
    if TUNING_SEED in args.seeds:
        parser.error(f"seed {TUNING_SEED} is the tuning seed; report other seeds")
    return args


def main(argv=None) -> dict[str, Any]:
    args = parse_args(argv)
    quiet_tensorflow_logs()
    weights = None if args.weights.lower() == "none" else args.weights
    learned_name = f"LearnedOptimizer(rule={args.rule}, weights={weights})"
    epochs_override = QUICK["epochs"] if args.quick else None
    max_batches = QUICK["batches"] if args.quick else None
    grid = QUICK["grid"] if args.quick else ADAM_GRID
    drift_steps = QUICK["drift_steps"] if args.quick else DRIFT_STEPS
    start = time.perf_counter()

    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    tunings: dict[str, Any] = {}
    for name in args.models:
        task = TASKS[name]
        epochs = epochs_override or task.epochs
        max_train = None if max_batches is None else max_batches * task.batch_size
        x, y = task.load()
        raw = partition(task, x, y, TEST_FRACTION, DATA_SEED)
        split = standardized(task, raw, max_train)
        tuning = tune_adam(task, raw, grid, epochs, max_train, args.cache)
        tunings[name] = tuning
        records += [{**r, "cached": tuning["cached"]} for r in tuning["records"]]
        tuned_lr = tuning["learning_rate"]
        reuse_default = math.isclose(tuned_lr, DEFAULT_ADAM_LR, rel_tol=1e-6)
        makers = {  # role: (a fresh optimizer, its learning rate)
            "learned": (lambda: LearnedOptimizer(rule=args.rule, weights=weights), 1.0),
            "adam": (keras.optimizers.Adam, DEFAULT_ADAM_LR),
        }
        if not reuse_default:
            makers["tuned"] = (lambda: keras.optimizers.Adam(tuned_lr), tuned_lr)
        runs: dict[str, list[dict[str, Any]]] = {role: [] for role in ("learned", "adam", "tuned")}
        for k, seed in enumerate(args.seeds):
            order = list(makers) if k % 2 == 0 else list(makers)[::-1]
            for role in order:
                make, lr = makers[role]
                record = train_once(task, split, make(), lr, seed, epochs, role)
                runs[role].append(record)
                _progress(record)
        if reuse_default:
            runs["tuned"] = [{**r, "role": "tuned", "same_run_as": "adam"} for r in runs["adam"]]
        for role in runs:
            records += runs[role]
        summaries = {role: summarize(task, rs) for role, rs in runs.items()}
        rows.append(
            {
                "model": name,
                "data": task.data,
                "train_test": f"{len(split.x_train)}/{len(split.x_test)}",
                "steps": split.steps(task, epochs),
                "batch_size": task.batch_size,
                "epochs": epochs,
                "metric": task.metric,
                "tuned_lr": tuned_lr,
                "tuned_lr_edge": tuning["edge"],
                **summaries,
                **compare(task, summaries["learned"], summaries["adam"], summaries["tuned"]),
            }
        )

    drift = {}
    for label, optimizer in [
        (learned_name, LearnedOptimizer(rule=args.rule, weights=weights)),
        ("keras Adam", keras.optimizers.Adam()),
    ]:
        d = zero_gradient_drift(optimizer, drift_steps)
        drift[label] = {"steps": drift_steps, "mean": float(d.mean()), "max": float(d.max())}

    last = result_line(rows)
    elapsed = time.perf_counter() - start
    load = os.getloadavg()
    print(
        f"# keras_models: {learned_name} vs keras Adam (lr 1e-3) vs Adam at a tuned lr "
        f"(grid {', '.join(f'{lr:.0e}' for lr in grid)}; held-out 20 % of the training split, "
        f"seed {TUNING_SEED}); seeds {','.join(map(str, args.seeds))}"
        f"{'; --quick budgets' if args.quick else ''}"
    )
    print(
        f"# model.fit with shuffle=True; medians over seeds; test metric from model.evaluate on "
        f"the test split (accuracy: higher is better, mse: lower); stable: final <= "
        f"{STABLE_FACTOR} x best epoch loss or within {STABLE_ABSOLUTE}"
    )
    print(
        f"# tf {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}, load average {load[0]:.1f}; {elapsed / 60:.1f} min"
    )
    print_table(rows)
    print("# >Adam, >tuned: learned optimizer's median test metric better / median final "
          "training loss lower (y/n); * tuned lr at the grid's edge")
    print("# a tuned lr of 1e-3 reuses the default-Adam runs")
    print()
    header = (
        f"{'zero gradient, variable of ones':<46} {'steps T':>7} {'mean |θ_T-θ_0|':>15} "
        f"{'max':>10} {'per step':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, d in drift.items():
        print(
            f"{label:<46} {d['steps']:>7} {d['mean']:>15.4g} {d['max']:>10.4g} "
            f"{d['mean'] / d['steps']:>10.3g}"
        )
    print(f"# source: {source_revision()}")
    print(last)

    summary = {
        "argv": list(argv) if argv is not None else sys.argv[1:],
        "learned": learned_name,
        "source": source_revision(),
        "models": rows,
        "records": records,
        "tuning": {
            name: {k: v for k, v in tuning.items() if k != "records"}
            for name, tuning in tunings.items()
        },
        "drift": drift,
        "seconds": elapsed,
        "last_line": last,
    }
    if args.json:
        write_json_atomically(args.json, summary)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
