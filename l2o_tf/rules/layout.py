"""Parameter tensors processed side by side: the groups per-parameter rules run on.

A per-parameter rule (the hierarchical RNN's Parameter RNN, the MLP rule of Metz et al. 2019
App. D.1) costs a fixed number of ops per tensor it touches, and in an unrolled inner loop
each op costs again in the backward pass (its gradient, and the loop's accumulators of its
inputs). `Layout.groups` batches small tensors into groups whose elements are concatenated
along one axis; `Layout` provides the per-tensor sums, means and broadcasts a rule needs
within a group, as static slices (no segment ops).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

try:  # TensorFlow's own test (its gradients use it to pick XLA forms); not public API
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - then always the form for running without XLA
    GraphOrParentsInXlaContext = None


def compiling_with_xla() -> bool:
    """Whether ops are being traced for XLA (`tf.function(jit_compile=True)`, also when
    called inside one). For picking the faster of two forms of the same computation."""
    if GraphOrParentsInXlaContext is None:
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


# Layout.groups: tensors smaller than this many elements are batched with others, at most
# this many per group (bounds the static slices of a group's per-tensor reductions). Measured
# for the hierarchical RNN against one group per tensor: without XLA the seed-002 CNN's step
# ~8% faster, the two-moons MLP's ~20%; under XLA the CNN's step equal, the MLP's forward
# unroll slower but its second-order meta-gradient ~15% faster and compiled in ~2/3 of the
# time. One group of all tensors was ~35% slower.
MAX_GROUP_ELEMENTS = 4096
MAX_GROUP_TENSORS = 16


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
                f"Per-parameter rules need static parameter shapes, got "
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
