"""Generated data sets (seeded, explicit generators) and the image loader's offline fallback."""

import logging

import numpy as np
import pytest

from problems import datasets, image_data

GENERATORS = [
    (datasets.random, (200, 6)),
    (datasets.random_mlp, (200, 6)),
    (datasets.random_binary, (200, 6)),
    (datasets.random_symmetric, (200, 6)),
    (datasets.noisy_parity_class, (200,)),
]


@pytest.mark.parametrize("generator, args", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generators_are_seeded_and_never_touch_the_global_rng(generator, args):
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    x1, y1 = generator(np.random.default_rng(7), *args)
    np.random.seed(99)  # the global RNG does not matter
    x2, y2 = generator(np.random.default_rng(7), *args)
    x3, _ = generator(np.random.default_rng(8), *args)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    np.random.seed(0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert len(x1) == len(y1) == 200


def test_random_is_make_classification_with_all_features_informative():
    x, y = datasets.random(np.random.default_rng(0), 1000, 4, n_classes=3, sep=2.0)
    assert x.shape == (1000, 4) and set(np.unique(y)) == {0, 1, 2}
    assert np.linalg.matrix_rank(x) == 4


def test_random_mlp_labels_are_binary_and_need_two_classes():
    x, y = datasets.random_mlp(np.random.default_rng(0), 500, 8)
    assert x.shape == (500, 8) and set(np.unique(y)) <= {0, 1}
    assert abs(x.mean()) < 0.1
    with pytest.raises(ValueError, match="binary"):
        datasets.CLASSIFICATION["random_mlp"](np.random.default_rng(0), 10, 3, 4)


def test_random_binary_and_random_symmetric():
    x, y = datasets.random_binary(np.random.default_rng(0), 100, 5)
    assert set(np.unique(x)) == {0.0, 1.0} and not y.any()
    x, y = datasets.random_symmetric(np.random.default_rng(0), 100, 5)
    assert np.all(np.abs(x.mean(axis=0)) < 1e-15) and not y.any()
    np.testing.assert_array_equal(x[50:], -x[:50])


def test_noisy_parity_class_flips_a_quarter_of_the_labels():
    ids, y = datasets.noisy_parity_class(np.random.default_rng(0), 4000, n_classes=2, n_ids=5)
    assert ids.shape == (4000, 5) and set(np.unique(ids)) == {0, 1}
    flipped = np.mean(y != ids.sum(axis=1) % 2)
    assert flipped == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_image_data_falls_back_offline_and_says_so(name, tmp_path, caplog):
    image_data.load.cache_clear()
    with caplog.at_level(logging.WARNING, logger="problems.image_data"):
        data = image_data.load(name, data_dir=str(tmp_path))  # an empty data directory
    assert data.source == image_data.DIGITS_SOURCE
    assert data.x.shape == (1797, *image_data.SHAPES[name]) and data.x.dtype == np.float32
    assert data.x.min() == 0.0 and 0.9 < data.x.max() <= 1.0
    assert set(np.unique(data.y)) == set(range(10))
    assert "offline stand-in sklearn_digits" in caplog.text
    assert not list(tmp_path.iterdir())  # nothing was downloaded
    if name == "mnist":
        assert not data.x[:, :4].any() and not data.x[:, -4:].any()  # the 4-pixel frame


def test_image_data_uses_tensorflow_datasets_when_present(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    images = np.full((3, 28, 28, 1), 255, np.uint8)
    calls = []

    def fake_load(name, download, **kwargs):
        calls.append(download)
        return images, np.array([1, 2, 3])

    monkeypatch.setattr(tfds, "load", fake_load)
    monkeypatch.setattr(tfds, "as_numpy", lambda x: x)
    image_data.load.cache_clear()
    data = image_data.load("mnist", split="test")
    image_data.load.cache_clear()
    assert calls == [False] and data.source == "tfds:mnist"
    assert data.x.max() == 1.0 and list(data.y) == [1, 2, 3]
