"""The `Problem` interface: one sampled inner optimization problem.

A problem is data, not a code path (ARCHITECTURE.md): everything random about a sample
(matrices, data sets) is drawn from its `seed` once, with an explicit numpy generator, and
kept in `tensors`. Its loss and batches are pure functions of those tensors,

    loss_fn(tensors, params, batch) -> scalar
    batch_fn(tensors, step, seed)   -> batch nest, or None for data-free problems

so a compiled inner loop takes `tensors` as an argument and serves every sample of the same
family and shapes with one trace (`signature` is its cache key). Parameter initialization is
stateless (`init_params(seed)` with a tensor seed runs inside a graph). The inner loop
turns the raw gradient into what the optimizer sees in two steps (seed 001 problem spec):

    g = problem.transform_gradients(tensors, g, step, seed)   # identity unless overridden
    g = g + σ N(0, 1)                                          # `gradient_noise`

`transform_gradients` is where a problem changes its gradients (the sparse-gradient
transform zeroes entries, Wichrowska et al. 2017 §4.1.5) and where IndexedSlices (embedding
lookups) become dense tensors for the update rules.

Validation data (the L_valid outer objective of Metz et al. 2019, Fig. 1 and §4.4: the inner
training uses D_train, the outer loss is measured on D_valid of the same task): a
`DatasetProblem` built with `validation_examples=n > 0` holds out n of its examples, chosen
with its data generator, as `tensors["x_valid"], tensors["y_valid"]`, disjoint from the
training examples; `validation_batch_fn` minibatches them like the training data.
"""

from __future__ import annotations

import abc
import logging
from typing import Any, Iterator, Sequence

import numpy as np
import tensorflow as tf

from l2o_tf.random import as_seed, fold_in, normal, uniform  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)
_reported_sources: set[str] = set()


def report_source(message: str) -> None:
    """Logs where a problem's data came from, once per distinct message in a process: a
    meta-training run builds the same problem from a new seed for every run it starts."""
    if message not in _reported_sources:
        _reported_sources.add(message)
        logger.info(message)


Batch = Any  # a nest of tensors, or None


class Problem(abc.ABC):
    """One sample of an inner problem.

    Args:
        seed: draws everything random about this sample (matrices, data). Default 0.
        gradient_noise: σ of Gaussian noise added to every gradient element. Default 0.
        dtype: dtype of parameters, data and loss. Default "float32".

    Subclasses set `name`, define `param_shapes`, build `self.tensors` in `__init__` and
    implement `loss_fn`; data-driven problems also implement `batch_fn` / `full_batch`.
    """

    name: str = ""

    def __init__(self, seed: int = 0, gradient_noise: float = 0.0, dtype: str = "float32"):
        if gradient_noise < 0:
            raise ValueError(f"gradient_noise must be >= 0, got {gradient_noise}.")
        self.seed = int(seed)
        self.gradient_noise = float(gradient_noise)
        self.dtype = tf.as_dtype(dtype)
        self.rng = np.random.default_rng(self.seed)
        self.tensors: dict[str, tf.Tensor] = {}

    @property
    @abc.abstractmethod
    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the parameter tensors, in order."""

    @property
    def optimum(self) -> float | None:
        """The known minimum of the loss, or None when it is not known."""
        return None

    @property
    def num_params(self) -> int:
        return int(sum(np.prod(s, dtype=np.int64) for s in self.param_shapes))

    @property
    def signature(self) -> tuple:
        """Samples with equal signatures share one compiled inner loop."""
        return (
            type(self).__name__,
            tuple(self.param_shapes),
            tuple(sorted((k, tuple(v.shape)) for k, v in self.tensors.items())),
            self.dtype.name,
            self.gradient_noise,
        ) + self._static_config()

    def _static_config(self) -> tuple:
        """Python-level settings that change the traced graph (e.g. batch size)."""
        return ()

    def _constant(self, value: np.ndarray) -> tf.Tensor:
        return tf.constant(value, self.dtype)

    def init_params(self, seed: int | tf.Tensor = 0) -> list[tf.Tensor]:
        """Initial parameters: N(0, 1) for every tensor, drawn statelessly from `seed`."""
        return [
            normal(shape, fold_in(seed, i), self.dtype)
            for i, shape in enumerate(self.param_shapes)
        ]

    @abc.abstractmethod
    def loss_fn(
        self, tensors: dict[str, tf.Tensor], params: Sequence[tf.Tensor], batch: Batch
    ) -> tf.Tensor:
        """The scalar loss of `params` on `batch`, using only `tensors` (pure)."""

    def batch_fn(self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor) -> Batch:
        """The minibatch of inner step `step` (None for data-free problems)."""
        del step, seed
        return self.full_batch(tensors)

    def full_batch(self, tensors: dict[str, tf.Tensor]) -> Batch:
        """All the training data at once (None for data-free problems)."""
        del tensors
        return None

    def validation_batch_fn(
        self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor
    ) -> Batch:
        """The validation minibatch of inner step `step`, for the L_valid outer objective of
        Metz et al. 2019 (the inner training still uses `batch_fn`)."""
        del tensors, step, seed
        raise ValueError(
            f"{self.name} has no validation data, which the validation meta-objective "
            "(record='validation_loss') needs; use a problem with a validation split, e.g. "
            "two_moons(validation_examples=256)."
        )

    def transform_gradients(
        self,
        tensors: dict[str, tf.Tensor],
        grads: Sequence[tf.Tensor | tf.IndexedSlices],
        step: tf.Tensor,
        seed: tf.Tensor,
    ) -> list[tf.Tensor]:
        """The gradients the optimizer sees at inner step `step`, before gradient noise.

        Called by the inner loop right after `tape.gradient`, with the minibatch/noise `seed`
        of the unroll. The default returns the gradients unchanged as dense tensors
        (IndexedSlices are scattered into zeros). Must stay differentiable in `grads`.
        """
        del tensors, step, seed
        return [tf.convert_to_tensor(g) for g in grads]

    def loss(self, params: Sequence[tf.Tensor], batch: Batch = None) -> tf.Tensor:
        """The loss of `params` on `batch`, or on the full batch when `batch` is None."""
        if len(params) != len(self.param_shapes):
            raise ValueError(
                f"{self.name}: expected {len(self.param_shapes)} parameter tensors of shapes "
                f"{self.param_shapes}, got {len(params)}."
            )
        if batch is None:
            batch = self.full_batch(self.tensors)
        return self.loss_fn(self.tensors, params, batch)

    def batches(self, seed: int = 0) -> Iterator[Batch]:
        """An endless iterator over the minibatches of inner steps 0, 1, 2, ..."""
        step = 0
        while True:
            yield self.batch_fn(self.tensors, tf.constant(step), as_seed(seed))
            step += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, seed={self.seed}, params={self.num_params})"


class DatasetProblem(Problem):
    """A problem on a fixed data set `tensors["x"]`, `tensors["y"]`.

    Minibatches follow the seed 001 release: shuffle, walk in order, reshuffle at each epoch's
    end, drop the partial tail; the shuffle of epoch e is drawn statelessly from (seed, e).
    `batch_size=None` uses the full data set every step. Subclasses draw their data from
    `self.data_rng`: the sample's own generator, or a fixed `data_seed` for families whose
    samples share one data set (the release fixes e.g. `random(10, 1000, seed 123)`), and
    store it with `_set_data(x, y, source)`, which names it in `data_source` (e.g.
    "generated:random", "tfds:mnist") and holds out the validation split.

    Args:
        batch_size: minibatch size, or None for the full batch (default).
        data_seed: fixed seed of the data set; None draws it from `seed` (default).
        validation_examples: number of examples held out as the validation split (see the
            module docstring); 0 (default) for none. Where the problem's size is a number of
            examples to draw (generated sets, image subsets) that many extra examples are
            drawn (`_with_validation`), so the training set keeps its size; where it takes
            all the images there are, the validation examples come out of them.
        **kwargs: `seed`, `gradient_noise`, `dtype` (see `Problem`).
    """

    data_source: str = ""

    def __init__(
        self,
        batch_size: int | None = None,
        data_seed: int | None = None,
        validation_examples: int = 0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}.")
        if validation_examples < 0:
            raise ValueError(f"validation_examples must be >= 0, got {validation_examples}.")
        self.batch_size = batch_size
        self.data_seed = data_seed
        self.validation_examples = int(validation_examples)
        self.data_rng = self.rng if data_seed is None else np.random.default_rng(data_seed)

    def _static_config(self) -> tuple:
        return (self.batch_size,)

    def _with_validation(self, num_examples: int | None) -> int | None:
        """How many examples to generate for `num_examples` training examples (None: all)."""
        return None if num_examples is None else num_examples + self.validation_examples

    def _set_data(self, x: np.ndarray, y: np.ndarray, source: str) -> None:
        """Stores the examples x [N, ...], y [N] in `tensors`, minus a held-out validation
        split of `validation_examples` random examples (drawn from `data_rng`)."""
        self.data_source = source
        if not self.validation_examples:
            self.tensors = {"x": self._constant(x), "y": self._constant(y)}
            report_source(f"{self.name}: {len(x)} examples from {source}.")
            return
        if self.validation_examples >= len(x):
            raise ValueError(
                f"{self.name}: validation_examples={self.validation_examples} leaves no "
                f"training data of the {len(x)} examples from {source}."
            )
        order = self.data_rng.permutation(len(x))
        valid, train = order[: self.validation_examples], order[self.validation_examples :]
        self.tensors = {
            "x": self._constant(x[train]),
            "y": self._constant(y[train]),
            "x_valid": self._constant(x[valid]),
            "y_valid": self._constant(y[valid]),
        }
        report_source(
            f"{self.name}: {len(train)} training and {len(valid)} validation examples "
            f"from {source}."
        )

    def full_batch(self, tensors: dict[str, tf.Tensor]) -> Batch:
        return tensors["x"], tensors["y"]

    def batch_fn(self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor) -> Batch:
        return self._minibatch(tensors["x"], tensors["y"], step, seed)

    def validation_batch_fn(
        self, tensors: dict[str, tf.Tensor], step: tf.Tensor, seed: tf.Tensor
    ) -> Batch:
        """A minibatch of `tensors["x_valid"], tensors["y_valid"]` (own shuffle order)."""
        if "x_valid" not in tensors:
            return super().validation_batch_fn(tensors, step, seed)
        return self._minibatch(tensors["x_valid"], tensors["y_valid"], step, fold_in(seed, -2))

    def _minibatch(self, x: tf.Tensor, y: tf.Tensor, step: tf.Tensor, seed: tf.Tensor) -> Batch:
        if self.batch_size is None:
            return x, y
        n = x.shape[0]
        per_epoch = n // self.batch_size
        if per_epoch < 1:
            raise ValueError(
                f"{self.name}: batch_size {self.batch_size} exceeds the {n} examples; "
                "use a smaller batch_size or batch_size=None."
            )
        step = tf.cast(step, tf.int64)
        order = tf.argsort(uniform([n], fold_in(seed, step // per_epoch), tf.float32))
        start = (step % per_epoch) * self.batch_size
        index = order[start : start + self.batch_size]
        return tf.gather(x, index), tf.gather(y, index)
