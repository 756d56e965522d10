"""The levels of the hierarchical RNN and the row layout they run on (Wichrowska et al.
2017 §3.1; seed 001 spec "The GRU cell with an external bias").

`ParameterRNN`, `TensorRNN` and `GlobalRNN` are one `RNNLevel`: a `gru_cell.GRUCell`, a
trainable initial state (Uniform(−1, 1)) and the affine maps that feed the states of the
levels above down as the cell's external bias. The Parameter RNN runs on groups of tensors
(`l2o_tf.rules.layout.Layout`).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

from l2o_tf.rules.gru_cell import GRUCell, scaled_normal

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
