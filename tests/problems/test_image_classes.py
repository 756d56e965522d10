"""Class pools and sources of the conv task family: tfds when prepared, else the photo stand-in."""

import logging

import numpy as np
import pytest

from problems import image_classes, image_data, photo_classes


@pytest.fixture
def fresh_source():
    image_classes.source.cache_clear()
    yield
    image_classes.source.cache_clear()


@pytest.mark.parametrize("num_classes, num_train", [(1000, 700), (100, 70), (320, 224)])
def test_pools_split_the_classes_70_30_and_are_disjoint(num_classes, num_train):
    train = image_classes.pool_classes(num_classes, "train")
    test = image_classes.pool_classes(num_classes, "test")
    assert len(train) == num_train and len(test) == num_classes - num_train
    assert not set(train) & set(test)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(num_classes))
    np.testing.assert_array_equal(train, image_classes.pool_classes(num_classes, "train"))
    assert train.max() > num_train  # not simply the first ids
    with pytest.raises(ValueError, match="pool"):
        image_classes.pool_classes(num_classes, "valid")


def test_offline_source_is_the_photo_stand_in_and_says_so(fresh_source, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="problems.image_classes"):
        source = image_classes.source(str(tmp_path))  # an empty data directory
    assert source.name == photo_classes.SOURCE == "sklearn_sample_images"
    assert source.num_classes == photo_classes.NUM_CLASSES == 320
    assert "offline stand-in sklearn_sample_images" in caplog.text
    assert not list(tmp_path.iterdir())  # nothing was downloaded


def test_photo_classes_are_fixed_image_sets_of_32x32x3():
    images = photo_classes.class_images(17)
    assert images.shape == (500, 32, 32, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, photo_classes.class_images(17))  # same every task
    assert len({image.tobytes() for image in images}) == 500
    other = photo_classes.class_images(18)
    assert abs(images.mean() - other.mean()) + abs(images.std() - other.std()) > 1e-3
    with pytest.raises(ValueError, match="class_id"):
        photo_classes.class_images(320)


def test_a_prepared_tfds_source_is_used_first(fresh_source, monkeypatch):
    labels = np.repeat(np.arange(20), 3)  # 20 classes of 3 images, pixel value = class id
    images = np.broadcast_to(labels[:, None, None, None], (60, 32, 32, 3)).astype(np.uint8)
    asked = []

    def fake_arrays(name, split, data_dir):
        asked.append((name, split))
        return (images, labels) if name == "cifar100" else None

    monkeypatch.setattr(image_data, "tfds_arrays", fake_arrays)
    task = image_classes.sample_task("test", 4, np.random.default_rng(0))
    assert asked == [("imagenet_resized/32x32", "train"), ("cifar100", "train")]
    assert task.source == "tfds:cifar100" and task.x.shape == (12, 32, 32, 3)
    assert set(task.class_ids) <= set(image_classes.pool_classes(20, "test"))
    np.testing.assert_allclose(task.x[:, 0, 0, 0] * 255, task.class_ids[task.y])  # right images
    subset = image_classes.sample_task("train", 10, np.random.default_rng(1), examples_per_class=2)
    assert subset.x.shape == (20, 32, 32, 3) and np.bincount(subset.y).tolist() == [2] * 10
    with pytest.raises(ValueError, match="num_classes must lie in"):
        image_classes.sample_task("test", 7, np.random.default_rng(0))
    with pytest.raises(ValueError, match="examples_per_class"):
        image_classes.sample_task("test", 2, np.random.default_rng(0), examples_per_class=4)
