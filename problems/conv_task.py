"""The inner problem of Metz et al. 2019: a 3-layer conv net on 10 image classes (§4.2, App. D.2).

Model (App. D.2): three 3×3 SAME convolutions of 32 channels with strides 2, 2, 1, each with a
bias and a ReLU, Glorot initialization (Glorot-uniform kernels, zero biases), global average
pooling, a linear layer to 10 classes; softmax cross-entropy. It is `ConvNet` with the
arguments of `paper_conv_net` (≈ 20k parameters: 19 722, the paper's "20k"). The loss adds
`Classifier`'s 1e-3 L2 term, as every classifier of this package does.

Tasks (§4.2): 10 classes drawn from the problem's seed out of one of two disjoint class pools,
"train" for outer-training tasks and "test" for outer-test tasks (the paper: 700 / 300 classes
of 32×32 ImageNet), with all images of each class; the data source is 32×32 ImageNet or
CIFAR-100 when prepared for tensorflow-datasets, else an offline stand-in
(`problems.image_classes`, `problems.photo_classes`), named in `data_source`.

Choices where the paper is silent, said here: the inner batch size (default 128); biases in
the conv layers and the output layer (zero at init); SAME padding; a validation split, when asked for (`validation_examples`, for the L_valid outer
objective), is held out of the task's images of the same 10 classes. With ImageNet the classes
have different numbers of images, so tasks differ in shape (one trace each); fix
`examples_per_class` for tasks of one signature.

Loop form (ARCHITECTURE.md asks to measure it for conv problems): on the 2 shared CPU cores of
the development machine an Adam inner step at batch 128 took 9.4 ms in the rolled
`tf.while_loop` of `trainers/unroll.py` and 10.6 ms as a compiled single step called from
Python; with `jit_compile=True` XLA:CPU took over a second per step even at batch 8, so
unroll this problem without XLA.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from problems import image_classes
from problems.networks import ConvNet


def paper_conv_net(channels: int = 32, strides: Sequence[int] = (2, 2, 1)) -> dict[str, Any]:
    """`ConvNet` arguments of the conv nets of App. D.2 and App. F: 3×3 kernels of `channels`
    channels with `strides`, conv biases, ReLU, Glorot init, global average pooling."""
    return dict(
        filters=[(3, 3, int(channels))] * len(strides),
        strides=strides,
        conv_biases=True,
        activation="relu",
        init="glorot",
        pooling="mean",
    )


class ConvTask(ConvNet):
    """The App. D.2 conv net on a 10-class task of 32×32×3 images.

    Args:
        pool: "train" (default) for outer-training tasks or "test" for held-out classes.
        num_classes: classes per task. Default 10.
        channels: channels of every conv layer. Default 32 (App. F, Fig. 16 uses 128).
        strides: per conv layer. Default (2, 2, 1).
        examples_per_class: images per class, a random subset; None (default) for all.
        data_dir: tensorflow-datasets data directory (None: its default).
        batch_size: minibatch size. Default 128.
        **kwargs: `validation_examples`, `data_seed`, `seed`, `gradient_noise`, `dtype` (see
            `Classifier`); the task's classes and images are drawn from the data generator.

    Usage:
        problem = problems.get("conv_task", seed=3, pool="train")
        problem.class_ids, problem.data_source   # the 10 source classes, e.g. "tfds:cifar100"
    """

    name = "conv_task"
    class_ids: np.ndarray  # [num_classes] the source's class ids, drawn by `_load_images`

    def __init__(
        self,
        pool: str = "train",
        num_classes: int = 10,
        channels: int = 32,
        strides: Sequence[int] = (2, 2, 1),
        examples_per_class: int | None = None,
        data_dir: str | None = None,
        batch_size: int | None = 128,
        **kwargs: Any,
    ):
        self.pool = pool
        self.examples_per_class = examples_per_class
        self.data_dir = data_dir
        super().__init__(
            image_shape=(3, 32, 32),
            num_classes=num_classes,
            dataset="image_classes",
            num_examples=None,
            batch_size=batch_size,
            **paper_conv_net(channels, strides),
            **kwargs,
        )

    def _load_images(self) -> tuple[np.ndarray, np.ndarray, str]:
        task = image_classes.sample_task(
            self.pool, self.num_classes, self.data_rng, self.examples_per_class, self.data_dir
        )
        self.class_ids = task.class_ids
        return task.x, task.y, task.source
