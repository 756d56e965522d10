"""Logistic regression problems (Wichrowska et al. 2017 §4.1.2; seed 001 problem spec).

- `SoftmaxRegression(d, c)`: W (d, c), b (c,); logits x W + b on a generated data set
  ("random" by default: `make_classification`, "generally linearly separable", so the
  minimum is near 0 but > 0 unless separable).
- `SparseSoftmaxRegression(d, c)`: sparse inputs. Each example is a row of integer ids in
  [0, c) (`noisy_parity_class`); an embedding table (c, d) is looked up with
  `tf.gather` and summed over the row, then W (d, c), b (c,). The lookup's gradient with
  respect to a `tf.Variable` table is an `IndexedSlices` (only the looked-up rows);
  `Problem.transform_gradients` makes such gradients dense for the update rules. (The L2
  term touches every row, so the total gradient of the loss is dense, as in the release;
  gradients with respect to plain tensors, as in the inner loop, are always dense.)
- `OneHotSparseSoftmaxRegression(d, c)`: the same function through a one-hot matmul
  (dense table gradient).

Loss, L2 term and init (N(0, 1)·1.2/√shape[0]) are `problems.classifier.Classifier`'s.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import tensorflow as tf

from problems import datasets
from problems.classifier import Classifier


class SoftmaxRegression(Classifier):
    """Linear classifier x W + b.

    Args:
        num_features: d. Default 10.
        num_classes: c. Default 2.
        dataset: "random" (default) or another `load_features` data set.
        num_examples: size of the generated data set. Default 1000.
        dataset_kwargs: e.g. {"sep": 2.0}. Default none.
        **kwargs: `init`, `batch_size`, `data_seed`, `validation_examples`, `seed`,
            `gradient_noise`, `dtype` (see `Classifier`).
    """

    name = "softmax_regression"

    def __init__(
        self,
        num_features: int = 10,
        num_classes: int = 2,
        dataset: str = "random",
        num_examples: int | None = 1000,
        dataset_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_classes, dataset, num_examples, dataset_kwargs, **kwargs)
        self.num_features = int(num_features)
        self._set_data(*self._load_features(self.num_features))

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        return [(self.num_features, self.num_classes), (self.num_classes,)]

    def logits_fn(self, params: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
        w, b = params
        return x @ w + b


class SparseSoftmaxRegression(Classifier):
    """Summed embeddings of integer ids, then a linear classifier.

    Args:
        num_features: d, the embedding width. Default 5.
        num_classes: c; ids lie in [0, c). Default 2.
        num_examples: size of the `noisy_parity_class` data set. Default 5 (the release's).
        dataset_kwargs: `noisy_parity_class` options (`n_ids` = 5, `noise` = 0.25).
        **kwargs: `init`, `batch_size`, `data_seed`, `validation_examples`, `seed`,
            `gradient_noise`, `dtype` (see `Classifier`).
    """

    name = "sparse_softmax_regression"

    def __init__(
        self,
        num_features: int = 5,
        num_classes: int = 2,
        num_examples: int = 5,
        dataset_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_classes, "noisy_parity_class", num_examples, dataset_kwargs, **kwargs)
        self.num_features = int(num_features)
        ids, y = datasets.noisy_parity_class(
            self.data_rng,
            self._with_validation(num_examples),
            self.num_classes,
            **self.dataset_kwargs,
        )
        self._set_data(ids, y, "generated:noisy_parity_class")

    @property
    def param_shapes(self) -> list[tuple[int, ...]]:
        d, c = self.num_features, self.num_classes
        return [(c, d), (d, c), (c,)]

    def embed(self, table: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        """Rows of `table` [c, d] for `ids` [B, n_ids]: [B, n_ids, d]."""
        return tf.gather(table, ids)

    def logits_fn(self, params: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
        table, w, b = params
        embedding = tf.reduce_sum(self.embed(table, tf.cast(x, tf.int32)), axis=1)  # [B, d]
        return embedding @ w + b


class OneHotSparseSoftmaxRegression(SparseSoftmaxRegression):
    """`SparseSoftmaxRegression` with the lookup done as a one-hot matmul (dense gradient)."""

    name = "one_hot_sparse_softmax_regression"

    def embed(self, table: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        return tf.one_hot(ids, self.num_classes, dtype=table.dtype) @ table
