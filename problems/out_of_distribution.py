"""The out-of-distribution inner problems of Metz et al. 2019 (§4.4 Fig. 7, App. F Figs. 12–16).

The learned optimizer is outer-trained on `conv_task` only and then tested on:

- Fig. 12: MLP, 2 hidden layers of 32 ReLU units, 14×14 MNIST: `mnist14_mlp()`;
- Fig. 13: MLP, 3 hidden layers of 128 ReLU units, 14×14 MNIST:
  `mnist14_mlp(hidden=(128, 128, 128))`;
- Figs. 7 and 14: 6 conv layers of 32 units, strides 2, 1, 2, 1, 1, 1, ReLU, 28×28 MNIST:
  `mnist_conv(strides=(2, 1, 2, 1, 1, 1))`;
- Fig. 15: 3 conv layers of 32 units, strides 2, 2, 1, ReLU, 28×28 MNIST: `mnist_conv()`;
- Fig. 16: 3 conv layers of 128 units, strides 2, 2, 1, ReLU, 10 held-out classes of 32×32
  ImageNet: `conv_task(channels=128, pool="test")` (300 042 parameters, 15× the 19 722 of
  `conv_task()`: App. F's "roughly 16x more parameters").

All five are the problem set `problems.get_set("metz2019_ood")`. MNIST comes from
tensorflow-datasets when prepared locally, else from the offline stand-in (scikit-learn's
8×8 digits resized, `problems.image_data`); "14×14 MNIST" is MNIST averaged over 2×2 blocks.

Where App. F is not specific, chosen here and the same for all five: the conv nets are the
in-distribution net of App. D.2 with another depth, width or input (3×3 kernels, SAME padding,
conv biases, global average pooling, a linear layer to 10 classes, `paper_conv_net`); every
net uses Glorot initialization (stated in App. D.2 only), softmax cross-entropy with
`Classifier`'s 1e-3 L2 term, minibatches of 128 and all the training images.
"""

from __future__ import annotations

from typing import Any, Sequence

from problems.conv_task import paper_conv_net
from problems.networks import ConvNet, FullyConnected

BATCH_SIZE = 128


class Mnist14MLP(FullyConnected):
    """A ReLU MLP on 14×14 MNIST (App. F, Figs. 12 and 13).

    Args:
        hidden: hidden layer widths. Default (32, 32) (Fig. 12); (128, 128, 128) is Fig. 13.
        num_examples: a random subset of the images; None (default) for all.
        batch_size: minibatch size. Default 128.
        **kwargs: `validation_examples`, `data_seed`, `seed`, `gradient_noise`, `dtype` (see
            `Classifier`).
    """

    name = "mnist14_mlp"

    def __init__(
        self,
        hidden: Sequence[int] = (32, 32),
        num_examples: int | None = None,
        batch_size: int | None = BATCH_SIZE,
        **kwargs: Any,
    ):
        super().__init__(
            num_features=14 * 14,
            num_classes=10,
            hidden=hidden,
            activation="relu",
            dataset="mnist14",
            num_examples=num_examples,
            init="glorot",
            batch_size=batch_size,
            **kwargs,
        )


class MnistConvNet(ConvNet):
    """The App. D.2 conv net on 28×28 MNIST (App. F, Figs. 7, 14 and 15).

    Args:
        channels: channels of every conv layer. Default 32.
        strides: one per conv layer. Default (2, 2, 1) (Fig. 15); (2, 1, 2, 1, 1, 1) is the
            6-layer net of Figs. 7 and 14.
        num_examples: a random subset of the images; None (default) for all.
        batch_size: minibatch size. Default 128.
        **kwargs: `validation_examples`, `data_seed`, `seed`, `gradient_noise`, `dtype` (see
            `Classifier`).
    """

    name = "mnist_conv"

    def __init__(
        self,
        channels: int = 32,
        strides: Sequence[int] = (2, 2, 1),
        num_examples: int | None = None,
        batch_size: int | None = BATCH_SIZE,
        **kwargs: Any,
    ):
        super().__init__(
            image_shape=(1, 28, 28),
            num_classes=10,
            dataset="mnist",
            num_examples=num_examples,
            batch_size=batch_size,
            **paper_conv_net(channels, strides),
            **kwargs,
        )
