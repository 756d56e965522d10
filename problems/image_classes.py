"""Many-class 32×32×3 image data split by class into disjoint pools (Metz et al. 2019 §4.2).

The paper splits ImageNet by class into 700 training and 300 test classes and builds a task
from 10 classes drawn from one pool, with all images of each class. `sample_task` does this
on the first source found, never downloading:

1. tensorflow-datasets `imagenet_resized/32x32` (1 000 classes), if prepared locally;
2. tensorflow-datasets `cifar100` (100 fine classes, 500 training images each), if prepared;
3. otherwise the offline stand-in `problems.photo_classes` (320 classes cut from the two
   photos that ship with scikit-learn; read its docstring for what it is and is not).

Only the "train" split of a tfds data set is used. The source is chosen once per process and
data directory, logged (a warning for the stand-in) and named in `ClassTask.source`
("tfds:imagenet_resized/32x32", "tfds:cifar100" or "sklearn_sample_images"). A tfds source is
held in memory as uint8 (ImageNet 32×32: ~3.9 GB); a task's images become float32 in [0, 1].

Pools: the class ids of a source are permuted by a fixed generator (`POOL_SEED`) and the first
`TRAIN_FRACTION` = 70 % of them form the "train" pool (outer-training tasks), the rest the
"test" pool (outer-test tasks): 700 / 300 for ImageNet as in the paper, 70 / 30 for CIFAR-100,
224 / 96 for the stand-in. The permutation keeps the pools from following the sources' class
order (ImageNet's ids group related categories).
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, NamedTuple

import numpy as np

from problems import image_data, photo_classes

logger = logging.getLogger(__name__)

TFDS_SOURCES = ("imagenet_resized/32x32", "cifar100")
POOLS = ("train", "test")
TRAIN_FRACTION = 0.7
POOL_SEED = 0


class ClassSource(NamedTuple):
    name: str  # the data source, e.g. "tfds:cifar100"
    num_classes: int
    images: Callable[[int], np.ndarray]  # class id -> all its images [n, 32, 32, 3] float32


class ClassTask(NamedTuple):
    x: np.ndarray  # [N, 32, 32, 3] float32 in [0, 1]
    y: np.ndarray  # [N] int64 labels 0 … c−1, label i is class_ids[i]
    class_ids: np.ndarray  # [c] the source's class ids
    source: str


@functools.lru_cache(maxsize=4)
def source(data_dir: str | None = None) -> ClassSource:
    """The first available source (see the module docstring), cached per process."""
    for name in TFDS_SOURCES:
        arrays = image_data.tfds_arrays(name, "train", data_dir)
        if arrays is not None:
            found = _array_source(f"tfds:{name}", *arrays)
            logger.info("Class pools: %d classes from %s.", found.num_classes, found.name)
            return found
    logger.warning(
        "Class pools: neither %s is prepared for tensorflow-datasets; using the offline "
        "stand-in %s (%d classes cut from two photos, %d images each).",
        " nor ".join(TFDS_SOURCES),
        photo_classes.SOURCE,
        photo_classes.NUM_CLASSES,
        photo_classes.IMAGES_PER_CLASS,
    )
    return ClassSource(photo_classes.SOURCE, photo_classes.NUM_CLASSES, photo_classes.class_images)


def _array_source(name: str, images: np.ndarray, labels: np.ndarray) -> ClassSource:
    """A source over uint8 images [N, 32, 32, 3] with labels [N]."""
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(labels))])

    def class_images(class_id: int) -> np.ndarray:
        index = order[bounds[class_id] : bounds[class_id + 1]]
        return images[index].astype(np.float32) / 255.0

    return ClassSource(name, len(bounds) - 1, class_images)


def pool_classes(num_classes: int, pool: str) -> np.ndarray:
    """The sorted class ids of `pool` ("train" or "test") among `num_classes` classes."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}.")
    order = np.random.default_rng(POOL_SEED).permutation(num_classes)
    num_train = round(TRAIN_FRACTION * num_classes)
    return np.sort(order[:num_train] if pool == "train" else order[num_train:])


def sample_task(
    pool: str,
    num_classes: int,
    rng: np.random.Generator,
    examples_per_class: int | None = None,
    data_dir: str | None = None,
) -> ClassTask:
    """`num_classes` classes of `pool` drawn with `rng`, with all their images, or a random
    `examples_per_class` of them per class."""
    data = source(data_dir)
    candidates = pool_classes(data.num_classes, pool)
    if not 2 <= num_classes <= len(candidates):
        raise ValueError(
            f"num_classes must lie in [2, {len(candidates)}] for the {pool} pool of "
            f"{data.name}, got {num_classes}."
        )
    class_ids = rng.choice(candidates, num_classes, replace=False)
    xs = []
    for class_id in class_ids:
        images = data.images(int(class_id))
        if examples_per_class is not None:
            if not 1 <= examples_per_class <= len(images):
                raise ValueError(
                    f"examples_per_class must lie in [1, {len(images)}] for class {class_id} "
                    f"of {data.name}, got {examples_per_class}."
                )
            images = images[np.sort(rng.choice(len(images), examples_per_class, replace=False))]
        xs.append(images)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), [len(x) for x in xs])
    return ClassTask(np.concatenate(xs), y, class_ids, data.name)
