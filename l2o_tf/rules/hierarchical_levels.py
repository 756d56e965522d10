"""The levels of the hierarchical RNN and the row layout they run on (Wichrowska et al.
2017 §3.1; seed 001 spec "The GRU cell with an external bias").

`ParameterRNN`, `TensorRNN` and `GlobalRNN` are one `RNNLevel`: a `gru_cell.GRUCell`, a
trainable initial state (Uniform(−1, 1)) and the affine maps that feed the states of the
levels above down as the cell's external bias. `Layout` groups the parameter tensors whose
scalars the Parameter RNN processes side by side (a large tensor alone, small ones batched)
and provides per-tensor sums, means and broadcasts within a group as static slices.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.gru_cell import GRUCell, scaled_normal

# Layout.groups: tensors smaller than this many elements are batched with others, at most
# this many per group (bounds the static slices of a group's per-tensor reductions). Measured
# against one group per tensor: without XLA the seed-002 CNN's step ~8% faster, the two-moons
# MLP's ~20%; under XLA the CNN's step equal, the MLP's forward unroll slower but its
# second-order meta-gradient ~15% faster and compiled in ~2/3 of the time. One group of all
# tensors was ~35% slower.
MAX_GROUP_ELEMENTS = 4096
MAX_GROUP_TENSORS = 16


class RNNLevel(keras.layers.Layer):
    """One level of the hierarchy: a GRU cell, its initial state, and the affine maps that
    turn the states of the levels above into the cell's external bias.

    Args:
        input_size: width of the level's input.
        units: H, the state size.
        feeds: {name: state size} of the levels above whose previous states are fed down,
            each through an affine map to width 3H (weights Normal(0, 0.5/√fan_in), bias 0).
        trainable_initial_state: learn the initial state (Uniform(−1, 1) init); otherwise it
            is zero.
        **kwargs: Keras layer arguments (`name`, `dtype`).
    """

    def __init__(
        self,
        input_size: int,
        units: int,
        feeds: dict[str, int] | None = None,
        trainable_initial_state: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_size = int(input_size)
        self.units = int(units)
        self.feeds = {str(k): int(v) for k, v in (feeds or {}).items()}
        self.trainable_initial_state = bool(trainable_initial_state)
        self.build()

    def build(self, input_shape: Any = None) -> None:
        self.cell = GRUCell(
            self.units, self.input_size, dtype=self.dtype_policy, name="gru_cell"
        )
        self.initial_vector = None
        if self.trainable_initial_state:
            self.initial_vector = self.add_weight(
                shape=(self.units,),
                initializer=keras.initializers.RandomUniform(-1.0, 1.0),
                name="initial_state",
            )
        self.feed_kernels, self.feed_biases = [], []
        for name, size in self.feeds.items():
            self.feed_kernels.append(
                self.add_weight(
                    shape=(size, 3 * self.units),
                    initializer=scaled_normal(size),
                    name=f"{name}_feed_kernel",
                )
            )
            self.feed_biases.append(
                self.add_weight(
                    shape=(3 * self.units,), initializer="zeros", name=f"{name}_feed_bias"
                )
            )
        super().build(input_shape)

    def initial_state(self, rows: int, dtype: tf.DType) -> tf.Tensor:
        """The initial state of `rows` units, [rows, H]."""
        if self.initial_vector is None:
            return tf.zeros([rows, self.units], dtype)
        return tf.tile(tf.cast(self.initial_vector, dtype)[None], [rows, 1])

    def external_bias(self, above: Sequence[tf.Tensor]) -> tf.Tensor | None:
        """Σ_k A_k(above_k): the previous states of the levels above ([rows_k, H_k], rows
        broadcast), mapped to width 3H."""
        if not self.feeds:
            return None
        maps = [
            h @ tf.cast(w, h.dtype) + tf.cast(b, h.dtype)
            for h, w, b in zip(above, self.feed_kernels, self.feed_biases)
        ]
        return sum(maps[1:], maps[0])

    def next_state(
        self,
        x: tf.Tensor,
        h: tf.Tensor,
        external_bias: tf.Tensor | None = None,
        feature_axis: int = 1,
    ) -> tf.Tensor:
        """h' = GRU(x, h, external_bias) for a batch of rows (`GRUCell.next_state`)."""
        return self.cell.next_state(x, h, external_bias, feature_axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "input_size": self.input_size,
                "units": self.units,
                "feeds": dict(self.feeds),
                "trainable_initial_state": self.trainable_initial_state,
            }
        )
        return config


class ParameterRNN(RNNLevel):
    """Level 0: one GRU (10 units by default) run on every scalar parameter at once as an
    [N, features] batch, every row starting from the same initial vector; fed the previous
    Tensor- and Global-RNN states as bias."""

    def __init__(self, input_size: int, units: int = 10, **kwargs: Any) -> None:
        super().__init__(input_size, units, **kwargs)


class TensorRNN(RNNLevel):
    """Level 1: one GRU step (20 units by default) per parameter tensor, on the mean over
    the tensor of [Parameter-RNN state, features]; fed the previous Global-RNN state."""

    def __init__(self, input_size: int, units: int = 20, **kwargs: Any) -> None:
        super().__init__(input_size, units, **kwargs)


class GlobalRNN(RNNLevel):
    """Level 2: one GRU step (20 units by default) per problem, on the mean over tensors of
    the new Tensor-RNN states."""

    def __init__(self, input_size: int, units: int = 20, **kwargs: Any) -> None:
        super().__init__(input_size, units, **kwargs)


class Layout:
    """A group of parameter tensors whose elements are processed side by side, concatenated
    in tensor order along one axis (n = Σ n_i elements), with per-tensor sums, means and
    broadcasts along that axis as static slices.

    A group of one tensor needs no concatenation: its per-tensor values keep a length-1 axis
    that broadcasts against the n elements, so nothing is copied.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        self.sizes = [int(n) for n in sizes]
        self.num_tensors = len(self.sizes)

    @staticmethod
    def static_sizes(params: Sequence[tf.Tensor]) -> list[int]:
        """The number of elements of each tensor; a ValueError unless all are static."""
        sizes = [p.shape.num_elements() for p in params]
        if None in sizes:
            raise ValueError(
                f"hierarchical_rnn: parameter shapes must be static, got "
                f"{[p.shape for p in params]}."
            )
        return sizes

    @staticmethod
    def groups(
        sizes: Sequence[int],
        max_elements: int = MAX_GROUP_ELEMENTS,
        max_tensors: int = MAX_GROUP_TENSORS,
    ) -> list[list[int]]:
        """Tensor indices in groups: a tensor of `max_elements` elements or more alone, smaller
        ones packed in order into groups of at most `max_elements` elements and `max_tensors`
        tensors. A group costs a fixed number of ops whatever its size, so small tensors are
        batched; a large tensor alone needs no concatenation."""
        groups: list[list[int]] = []
        current: list[int] = []
        current_size = 0
        for i, n in enumerate(sizes):
            if n >= max_elements:
                groups.append([i])
                continue
            if current and (current_size + n > max_elements or len(current) == max_tensors):
                groups.append(current)
                current, current_size = [], 0
            current.append(i)
            current_size += n
        if current:
            groups.append(current)
        return groups

    def join(self, tensors: Sequence[tf.Tensor], axis: int = 0) -> tf.Tensor:
        """The tensors' elements side by side along `axis`."""
        return tensors[0] if self.num_tensors == 1 else tf.concat(tensors, axis)

    def split(self, rows: tf.Tensor, axis: int = 0) -> list[tf.Tensor]:
        return [rows] if self.num_tensors == 1 else tf.split(rows, self.sizes, axis)

    def mean(self, rows: tf.Tensor, axis: int = 0) -> tf.Tensor:
        """Per-tensor means along `axis`, which then has length T."""
        means = [tf.reduce_mean(part, axis, keepdims=True) for part in self.split(rows, axis)]
        return self.join(means, axis)

    def sum(self, rows: tf.Tensor, axis: int = 0) -> tf.Tensor:
        """Per-tensor sums along `axis`, which then has length T."""
        sums = [tf.reduce_sum(part, axis, keepdims=True) for part in self.split(rows, axis)]
        return self.join(sums, axis)

    def broadcast(self, per_tensor: tf.Tensor, axis: int = 0) -> tf.Tensor:
        """Each tensor's value (length T along `axis`) over its elements; in a group of one
        tensor the value itself, which broadcasts."""
        if self.num_tensors == 1:
            return per_tensor
        shape = per_tensor.shape.as_list()
        parts = []
        for value, n in zip(tf.split(per_tensor, self.num_tensors, axis), self.sizes):
            shape[axis] = n
            parts.append(tf.broadcast_to(value, shape))
        return tf.concat(parts, axis)
