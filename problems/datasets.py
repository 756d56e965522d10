"""Seeded generated data sets of the meta-training set (seed 001 spec "Datasets").

The generators of the Wichrowska et al. 2017 release (`datasets.py`), rewritten to draw from
an explicit `numpy.random.Generator` (never the global numpy RNG). Each returns
`(x, y)`: features `[N, d]` and labels `[N]` (integer class ids, or zeros where the data set
has no labels).

- `random`: scikit-learn `make_classification`, all d features informative, none redundant,
  `class_sep=sep`, the other arguments at their defaults (2 clusters per class, 1 % flips).
- `random_mlp`: x ~ N(0, 1); y = [first unit of a bias-free ReLU net > 0] with `n_layers`
  layers of `width` units and weights N(0, 1)·√2/√d (the release scales every layer by the
  input dimension d, not by its own fan-in; kept).
- `random_binary`: x ∈ {0, 1}^d, dummy labels.
- `random_symmetric`: N/2 Gaussian rows and their negations (the mean is 0 up to round-off),
  dummy labels.
- `noisy_parity_class`: `n_ids` integer ids in [0, n_classes) per example; the label is
  (sum of ids + Bernoulli(noise)) mod n_classes.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_classification

Data = tuple[np.ndarray, np.ndarray]  # x [N, ...], y [N]


def _sklearn_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def random(
    rng: np.random.Generator,
    num_examples: int,
    num_features: int,
    n_classes: int = 2,
    sep: float = 1.0,
) -> Data:
    """A `make_classification` data set with every feature informative."""
    x, y = make_classification(
        n_samples=num_examples,
        n_features=num_features,
        n_informative=num_features,
        n_redundant=0,
        n_classes=n_classes,
        class_sep=sep,
        random_state=_sklearn_seed(rng),
    )
    return x, y


def random_mlp(
    rng: np.random.Generator,
    num_examples: int,
    num_features: int,
    n_layers: int = 6,
    width: int = 20,
) -> Data:
    """Gaussian inputs labelled by the sign of a random ReLU network's first output unit."""
    x = rng.standard_normal((num_examples, num_features))
    scale = np.sqrt(2.0) / np.sqrt(num_features)
    h = x
    for _ in range(n_layers):
        h = np.maximum(h @ (rng.standard_normal((h.shape[1], width)) * scale), 0.0)
    return x, (h[:, 0] > 0).astype(np.int64)


def random_binary(rng: np.random.Generator, num_examples: int, num_features: int) -> Data:
    """Uniform binary features, dummy labels."""
    x = rng.integers(0, 2, size=(num_examples, num_features))
    return x.astype(np.float64), np.zeros(num_examples, np.int64)


def random_symmetric(rng: np.random.Generator, num_examples: int, num_features: int) -> Data:
    """Gaussian rows and their negations (N/2 of each), dummy labels."""
    half = rng.standard_normal((num_examples // 2, num_features))
    x = np.concatenate([half, -half], axis=0)
    return x, np.zeros(len(x), np.int64)


def noisy_parity_class(
    rng: np.random.Generator,
    num_examples: int,
    n_classes: int = 2,
    n_ids: int = 5,
    noise: float = 0.25,
) -> Data:
    """Integer ids `[N, n_ids]` in [0, n_classes); label = (Σ ids + flip) mod n_classes."""
    ids = rng.integers(0, n_classes, size=(num_examples, n_ids))
    flip = rng.binomial(1, noise, size=num_examples)
    return ids, (ids.sum(axis=1) + flip) % n_classes


# Data sets a classifier can be built on: (rng, num_examples, num_features, n_classes, **kw).
def _random_mlp_classes(
    rng: np.random.Generator, num_examples: int, num_features: int, n_classes: int, **kwargs
) -> Data:
    if n_classes != 2:
        raise ValueError(f"random_mlp labels are binary; got n_classes={n_classes}.")
    return random_mlp(rng, num_examples, num_features, **kwargs)


CLASSIFICATION = {"random": random, "random_mlp": _random_mlp_classes}
