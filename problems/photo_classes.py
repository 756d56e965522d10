"""Offline stand-in for a many-class 32×32×3 image data set: classes are regions of two photos.

The conv task family of Metz et al. 2019 (§4.2, App. D.2; `problems.conv_task`) draws 10
classes of 32×32 ImageNet. When neither ImageNet 32×32 nor CIFAR-100 is prepared for
tensorflow-datasets (`problems.image_classes`), this module makes the classes from the two
photographs that ship inside scikit-learn (`sklearn/datasets/images/china.jpg` and
`flower.jpg`, 427×640×3 each, CC BY 2.0, see the README.txt next to them), so it works on a
fresh machine with no network. The JPEGs are decoded by TensorFlow (no Pillow needed) once per
process.

- Classes: each photo is cut into a grid of 40×40-pixel cells, 10 rows × 16 columns; a cell is
  a class: 2 × 160 = `NUM_CLASSES` = 320 classes (class k: photo k // 160, row-major cell).
- Images: an image of a class is a square crop inside its cell (side uniform in [24, 40] px,
  position uniform), resized bilinearly to 32×32, flipped left-right with probability ½, and
  shifted in brightness by U(−0.1, 0.1) (clipped to [0, 1]).
- A fixed data set: class k has `IMAGES_PER_CLASS` = 500 images (as many as a CIFAR-100
  class), drawn from a generator seeded by (`IMAGES_SEED`, k), so a class shows the same
  images in every task that draws it, and a validation split held out of them is disjoint
  from the training images.

Limits, so that nobody mistakes it for ImageNet: the classes are textures and colours of two
scenes (temple and sky; a flower on a blurred background), not object categories; many cells
are nearly flat (sky, out-of-focus background) and differ only in mean colour, which the
brightness jitter partly masks, so some class pairs are close to indistinguishable while
others are trivial; neighbouring cells share content at their borders; crops of one cell
overlap, so its 500 images are strongly correlated (far less diversity than ~1 300 ImageNet
images); held-out classes come from the same two photos, so the outer-test pool tests new
regions, not new kinds of images. It exercises the code paths, shapes and the scale of the
paper's task; numbers measured on it are not the paper's.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import tensorflow as tf

SOURCE = "sklearn_sample_images"
PHOTOS = ("china.jpg", "flower.jpg")
CELL = 40  # pixels per side of a class's cell
ROWS, COLUMNS = 10, 16  # cells per photo (427 // 40, 640 // 40)
NUM_CLASSES = len(PHOTOS) * ROWS * COLUMNS
IMAGES_PER_CLASS = 500
IMAGE_SIZE = 32
MIN_CROP = 24
BRIGHTNESS = 0.1
IMAGES_SEED = 2019


@functools.lru_cache(maxsize=1)
def _photos() -> tf.Tensor:
    """The two photos, [2, 427, 640, 3] float32 in [0, 1] (cached per process)."""
    folder = resources.files("sklearn.datasets.images")
    decoded = [tf.io.decode_jpeg(folder.joinpath(name).read_bytes()) for name in PHOTOS]
    return tf.cast(tf.stack(decoded), tf.float32) / 255.0


def class_images(class_id: int) -> np.ndarray:
    """The `IMAGES_PER_CLASS` images of class `class_id`: [500, 32, 32, 3] float32 in [0, 1]."""
    if not 0 <= class_id < NUM_CLASSES:
        raise ValueError(f"class_id must lie in [0, {NUM_CLASSES}), got {class_id}.")
    photos = _photos()
    photo, cell = divmod(class_id, ROWS * COLUMNS)
    top, left = (CELL * v for v in divmod(cell, COLUMNS))
    rng = np.random.default_rng([IMAGES_SEED, class_id])
    n = IMAGES_PER_CLASS
    side = rng.uniform(MIN_CROP, CELL, n)
    y0 = top + rng.uniform(0.0, 1.0, n) * (CELL - side)
    x0 = left + rng.uniform(0.0, 1.0, n) * (CELL - side)
    height, width = photos.shape[1:3]
    # Pixel centres y0 … y0 + side − 1 (inside the cell), as crop_and_resize's (y1, x1, y2, x2)
    # with pixel i at i / (size − 1).
    corners = np.stack([y0, x0, y0 + side - 1, x0 + side - 1], axis=1)  # [n, 4]
    boxes = corners / np.array([height - 1, width - 1, height - 1, width - 1])
    flip = rng.uniform(size=n) < 0.5
    boxes[flip] = boxes[flip][:, [0, 3, 2, 1]]  # x2 < x1 crops mirrored
    crops = tf.image.crop_and_resize(
        photos, boxes.astype(np.float32), np.full(n, photo, np.int32), (IMAGE_SIZE, IMAGE_SIZE)
    )  # [n, 32, 32, 3]
    brightness = rng.uniform(-BRIGHTNESS, BRIGHTNESS, (n, 1, 1, 1)).astype(np.float32)
    return np.clip(crops.numpy() + brightness, 0.0, 1.0)
