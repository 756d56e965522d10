"""Image classification data: MNIST / CIFAR-10 when present locally, else an offline stand-in.

The test problems of Wichrowska et al. 2017 (§5, release `problem_sets.test_problems`)
train an MLP and a conv net on MNIST; the release's MNIST loader was stripped. Here:

1. tensorflow-datasets, only if the data set is already prepared in its data directory
   (`download=False`: nothing is ever fetched; a missing data set raises and we fall back);
2. otherwise scikit-learn's bundled 8×8 digits (1 797 images, 10 classes, no download),
   scaled to [0, 1] and resized bilinearly to the real data set's geometry:
   - "mnist":   8×8 → 20×20, zero-padded by 4 px to 28×28×1 (MNIST centres its digits in a
                20×20 box of a 28×28 frame);
   - "cifar10": 8×8 → 32×32, grey copied to 3 channels (32×32×3; a shape stand-in only).

"mnist14" is "mnist" (either source) averaged over 2×2 blocks to 14×14×1: the "14x14 MNIST"
of the out-of-distribution problems of Metz et al. 2019 (App. F; the paper does not say how
it downsamples).

`load(name)` returns an `ImageData` whose `source` says which one was used
("tfds:mnist" or "sklearn_digits"), and logs it (a warning for the stand-in). Images are
float32 in [0, 1], NHWC.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

logger = logging.getLogger(__name__)

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3), "mnist14": (14, 14, 1)}
DIGITS_SOURCE = "sklearn_digits"


class ImageData(NamedTuple):
    x: np.ndarray  # [N, H, W, C] float32 in [0, 1]
    y: np.ndarray  # [N] int64 class ids
    source: str


@functools.lru_cache(maxsize=8)
def load(name: str, split: str = "train", data_dir: str | None = None) -> ImageData:
    """The `split` of image data set `name` (one of `SHAPES`), never downloading.

    Cached per process (the arrays are shared: do not modify them in place); the source is
    logged once, at the first load.
    """
    if name not in SHAPES:
        raise ValueError(f"Unknown image data set {name!r}; use one of {', '.join(SHAPES)}.")
    if name == "mnist14":
        mnist = load("mnist", split, data_dir)
        x = mnist.x.reshape(-1, 14, 2, 14, 2, 1).mean(axis=(2, 4))  # 2×2 block means
        return mnist._replace(x=x)
    data = _from_tfds(name, split, data_dir)
    if data is None:
        data = _digits_stand_in(name)
        logger.warning(
            "%s %s: not prepared for tensorflow-datasets; using the offline stand-in %s "
            "(%d images resized to %s).",
            name,
            split,
            data.source,
            len(data.y),
            SHAPES[name],
        )
    else:
        logger.info("%s %s: %d images from %s.", name, split, len(data.y), data.source)
    return data


def tfds_arrays(
    name: str, split: str, data_dir: str | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Images (uint8, as stored) and int64 labels of a tensorflow-datasets data set, or None
    when it is not prepared in `data_dir` (`download=False`: nothing is ever fetched)."""
    try:
        import tensorflow_datasets as tfds

        images, labels = tfds.as_numpy(
            tfds.load(
                name,
                split=split,
                data_dir=data_dir,
                download=False,
                batch_size=-1,
                as_supervised=True,
            )
        )
    except (ImportError, AssertionError, OSError, ValueError) as error:
        logger.info("tensorflow-datasets has no local %s: %s", name, error)
        return None
    return images, labels.astype(np.int64)


def _from_tfds(name: str, split: str, data_dir: str | None) -> ImageData | None:
    arrays = tfds_arrays(name, split, data_dir)
    if arrays is None:
        return None
    images, labels = arrays
    return ImageData(images.astype(np.float32) / 255.0, labels, f"tfds:{name}")


def _digits_stand_in(name: str) -> ImageData:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # [1797, 8, 8, 1]
    height, width, channels = SHAPES[name]
    if name == "mnist":
        inner = tf.image.resize(images, (20, 20), method="bilinear")
        resized = tf.pad(inner, [[0, 0], [4, 4], [4, 4], [0, 0]])
    else:
        resized = tf.image.resize(images, (height, width), method="bilinear")
    x = np.clip(np.repeat(resized.numpy(), channels, axis=-1), 0.0, 1.0)
    return ImageData(x, digits.target.astype(np.int64), DIGITS_SOURCE)
