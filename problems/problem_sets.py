"""Named problem sets: the meta-training set of Wichrowska et al. 2017 §4.1 and its tests.

A `ProblemSet` is a weighted list of problem factories (`Entry(factory, weight, group)`,
ARCHITECTURE.md: "a problem set is a weighted list of problem factories"). Sets follow the
release's `problem_sets.py` (seed 001 spec "Named sets"); `"wichrowska2017"` is the
meta-training mixture of the release's `metarun.py` (18 sets, 101 entries, uniform over
entries) and `"wichrowska2017_test"` the evaluation problems (never meta-train on them).
Deviations, each forced or chosen and said here:

- The release gives each sample of a data-driven family one fixed data set where it fixes a
  seed (`random(…, seed 123)`, `noisy_parity_class(5, seed 123)`, test sets seed 1234):
  kept as `data_seed`. Where it does not (`random_mlp`, `random_symmetric`,
  `random_binary`), each problem sample draws its own data from its seed.
- The sparse-softmax sets ask for batch 23 of a 5-example data set; the release's batcher
  then returns the whole data set every step, so they are full-batch here.
- `dependency_chain`: the loss ignores the data, so the ten (n; N; batch) entries are ten
  data-free `DependencyChain(n)`.
- `sum_noisy`: the parts' gradient noise is applied (the release never applied it).
- Test MLPs use the release's He-style init (`init="he"`); 10-class problems use softmax
  cross-entropy (see `problems.classifier`); MNIST comes from tensorflow-datasets when it is
  prepared locally, else from the offline stand-in (`problems.image_data`).

`"metz2019_ood"` lists the out-of-distribution test problems of Metz et al. 2019 (App. F,
`problems.out_of_distribution`); their outer-training family is the registered `conv_task`.

Holding problems out: `ProblemSet.split(fraction, seed)` deals entries into two disjoint
sets, `exclude(*names)` drops entries by problem name, group or label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from problems.registry import Factory as F

# fmt: off
QUADRATIC_DIMS = (20, 25, 50, 100)
BOWLS = ((0.1, 0.0), (1.0, 0.0), (5.0, 0.0), (5.0, math.pi / 4))
# (d, sep, batch): sep None is make_classification's default 1.0.
SOFTMAX_2_CLASS = ((10, 2.0, 100), (100, None, 50), (200, 1.5, 20), (256, 1.5, 100))
SOFTMAX_2_CLASS_NOISE = (0.5, 0.1, 0.1, 0.5)
# (d, hidden, batch) of FullyConnected(d, 2, hidden, sigmoid) on random_mlp(d, 1000).
FULLY_CONNECTED_2_CLASS = (
    (8, (8, 5), 10), (12, (8, 5, 3), 200), (5, (4, 4, 4, 4), 100), (11, (4, 5, 6), 64),
    (9, (8,), 128), (7, (8, 5), 16), (8, (32, 64), 10), (12, (16, 8, 3), 200),
    (5, (8, 8, 8, 8), 100), (11, (10, 12, 12), 64), (9, (32,), 128), (7, (32, 64), 16),
)
# (n, N, batch) of the slow-convergence sets, and of the minibatch quadratics.
SLOW_CONVERGENCE = (
    (20, 1000, 100), (12, 200, 10), (56, 5000, 100), (64, 1000, 50), (13, 10000, 50),
    (20, 1000, 128), (12, 300, 16), (56, 5000, 128), (64, 1000, 64), (13, 10000, 32),
)
SYMMETRIC_QUADRATICS = (
    (20, 1000, 100), (12, 100, 10), (56, 5000, 100), (64, 1000, 50), (13, 10000, 50),
    (20, 1000, 128), (12, 100, 16), (56, 5000, 128), (64, 1000, 64), (13, 10000, 32),
)
# (p, scale) of the rescaled norms, (n, scale) of the rescaled quadratics.
RESCALED_NORMS = ((2.5, 0.123), (1.5, 8.0), (2.0, 50.0), (3.0, 200.0), (1.0, 1000.0))
RESCALED_QUADRATICS = ((20, 0.1), (25, 10.0), (50, 350.0), (100, 132.0))
OPTIMIZATION_TEST = (
    "ackley", "beale", "booth", "branin", "log_sum_exp", "matyas", "michalewicz",
    "rosenbrock", "styblinski_tang",
)
# The nine 2-D functions in the order of the release's multitask sets.
SUM_FUNCTIONS = (
    "rosenbrock", "log_sum_exp", "ackley", "beale", "booth", "styblinski_tang", "matyas",
    "branin", "michalewicz",
)
RELEASE_DATA_SEED = 123
TEST_DATA_SEED = 1234
# fmt: on


@dataclass(frozen=True)
class Entry:
    factory: F
    weight: float = 1.0
    group: str = ""  # the named set the entry comes from


@dataclass(frozen=True)
class ProblemSet:
    """A weighted list of problem factories."""

    name: str
    entries: tuple[Entry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    @property
    def probabilities(self) -> np.ndarray:
        weights = np.array([e.weight for e in self.entries], np.float64)
        return weights / weights.sum()

    def sample_index(self, rng: np.random.Generator) -> int:
        """The index of an entry drawn with probability proportional to its weight."""
        return int(rng.choice(len(self.entries), p=self.probabilities))

    def sample(self, rng: np.random.Generator) -> F:
        """A factory drawn with probability proportional to its weight."""
        return self.entries[self.sample_index(rng)].factory

    def exclude(self, *names: str) -> ProblemSet:
        """The set without entries whose problem name, group or label is in `names`."""
        drop = set(names)
        kept = tuple(
            e for e in self.entries if not drop & {e.factory.name, e.group, e.factory.label}
        )
        return ProblemSet(self.name, kept)

    def split(self, fraction: float, seed: int = 0) -> tuple[ProblemSet, ProblemSet]:
        """(kept, held out): a seeded random `fraction` of the entries (at least one) held out."""
        if not 0.0 < fraction < 1.0 or len(self.entries) < 2:
            raise ValueError(f"split needs 0 < fraction < 1 and >= 2 entries, got {fraction}.")
        count = min(len(self.entries) - 1, max(1, round(fraction * len(self.entries))))
        held = set(np.random.default_rng(seed).permutation(len(self.entries))[:count].tolist())
        kept = tuple(e for i, e in enumerate(self.entries) if i not in held)
        held_out = tuple(e for i, e in enumerate(self.entries) if i in held)
        return ProblemSet(self.name, kept), ProblemSet(f"{self.name}_held_out", held_out)


def _entries(group: str, factories: Sequence[F]) -> tuple[Entry, ...]:
    return tuple(Entry(f, 1.0, group) for f in factories)


def _noisy(name: str, noise: float = 0.0, **kwargs: Any) -> F:
    """Factory `name(**kwargs)`, with `gradient_noise` only when it is not 0."""
    return F(name, **kwargs, **({"gradient_noise": noise} if noise else {}))


def _quadratics(noises: Sequence[float] = (0.0,) * 4) -> list[F]:
    return [_noisy("quadratic", s, dim=n) for n, s in zip(QUADRATIC_DIMS, noises)]


def _bowls(noise: float = 0.0) -> list[F]:
    return [
        _noisy("bowl", noise, condition_number=k, **({"angle": a} if a else {})) for k, a in BOWLS
    ]


def _softmax_2_class(noises: Sequence[float] = (0.0,) * 4) -> list[F]:
    return [
        _noisy(
            "softmax_regression",
            noise,
            num_features=d,
            num_classes=2,
            dataset="random",
            num_examples=1000,
            dataset_kwargs={} if sep is None else {"sep": sep},
            batch_size=batch,
            data_seed=RELEASE_DATA_SEED,
        )
        for (d, sep, batch), noise in zip(SOFTMAX_2_CLASS, noises)
    ]


def _fully_connected_2_class(d: int, hidden: tuple[int, ...], batch: int) -> F:
    return F(
        "fully_connected",
        num_features=d,
        num_classes=2,
        hidden=hidden,
        activation="sigmoid",
        dataset="random_mlp",
        num_examples=1000,
        batch_size=batch,
    )


def _sparse_softmax(name: str) -> list[F]:
    return [F(name, num_features=5, num_classes=2, num_examples=5, data_seed=RELEASE_DATA_SEED)]


def _wrapped_bowls(transform: str) -> list[F]:
    """`transform` of Q(20), Q(50), Q(100), Bowl(0.1), Bowl(1), Bowl(5)."""
    inner = [F("quadratic", dim=n) for n in (20, 50, 100)] + _bowls()[:3]
    return [F(transform, problem=f) for f in inner]


def _optimization_test(noise: float = 0.0) -> list[F]:
    return [_noisy(name, noise) for name in OPTIMIZATION_TEST]


def _sums(noisy: bool) -> list[list[F]]:
    def q(n: int, noise: float = 0.0) -> F:
        return _noisy("quadratic", noise, dim=n)

    functions = [F(name) for name in SUM_FUNCTIONS]
    small = [11, 3, 9, 7, 5, 13, 12]
    if noisy:
        return [[q(n, 0.1) for n in small], functions + [q(5), q(13, 0.5)]]
    return [
        [q(n) for n in small],
        [F("norm", dim=18, p=3.0), q(25), F("rosenbrock")],
        functions,
        functions + [q(5), q(13)],
        [q(11), q(3)],
        functions[:3],
    ]


def _test_problems() -> list[F]:
    mlp = dict(
        init="he", batch_size=100, data_seed=TEST_DATA_SEED, dataset="random", num_examples=10000
    )
    mnist = dict(dataset="mnist", num_examples=None, batch_size=64)
    conv = dict(image_shape=(1, 28, 28), num_classes=10, filters=((3, 3, 8), (5, 5, 8)), **mnist)
    softmax = dict(
        num_features=10, num_classes=2, num_examples=10000, batch_size=100, data_seed=TEST_DATA_SEED
    )
    return [
        F("quadratic", dim=20),
        F("quadratic", dim=20, gradient_noise=1.0),
        F("rosenbrock"),
        F("rosenbrock", gradient_noise=1.0),
        F("softmax_regression", **softmax),
        F("softmax_regression", gradient_noise=1.0, **softmax),
        F("fully_connected", num_features=10, num_classes=2, hidden=(32, 64), **mlp),
        F("fully_connected", num_features=20, num_classes=10, hidden=(32, 64), **mlp),
        *[
            F(
                "fully_connected",
                num_features=784,
                num_classes=10,
                hidden=(64,),
                activation=act,
                init="he",
                **mnist,
            )
            for act in ("sigmoid", "relu")
        ],
        *[F("conv_net", activation=act, **conv) for act in ("sigmoid", "relu")],
    ]


_GROUPS: dict[str, Callable[[], list[F]]] = {
    "quadratic": _quadratics,
    "quadratic_noisy": lambda: _quadratics((0.5, 0.0, 1.0, 2.0)),
    "quadratic_large": lambda: [F("quadratic", dim=n) for n in (784, 1024, 2048)],
    "bowl": _bowls,
    "bowl_noisy": lambda: _bowls(0.1),
    "sparse_softmax_2_class": lambda: _sparse_softmax("sparse_softmax_regression"),
    "one_hot_sparse_softmax_2_class": lambda: _sparse_softmax("one_hot_sparse_softmax_regression"),
    "softmax_2_class": _softmax_2_class,
    "softmax_2_class_noisy": lambda: _softmax_2_class(SOFTMAX_2_CLASS_NOISE),
    "optimization_test": _optimization_test,
    "optimization_test_noisy": lambda: _optimization_test(1.0),
    "fully_connected_random_2_class": lambda: [
        _fully_connected_2_class(*c) for c in FULLY_CONNECTED_2_CLASS
    ],
    "matmul": lambda: [
        F("matmul_algorithm", n=n, k=k)
        for n, ks in ((2, range(5, 9)), (3, range(19, 25)))
        for k in ks
    ],
    "log_objective": lambda: _wrapped_bowls("log_objective"),
    "sparse_gradient": lambda: _wrapped_bowls("sparse_problem"),
    "sparse_gradient_mlp": lambda: [
        F("sparse_problem", problem=_fully_connected_2_class(*c))
        for c in FULLY_CONNECTED_2_CLASS[:3]
    ],
    "rescale": lambda: [
        F("rescale", problem=F("norm", dim=18, p=p), scale=s) for p, s in RESCALED_NORMS
    ]
    + [F("rescale", problem=F("quadratic", dim=n), scale=s) for n, s in RESCALED_QUADRATICS],
    "norm": lambda: [F("norm", dim=n, p=p) for n, p in ((27, 1.0), (25, 2.0), (22, 3.0))],
    "norm_noisy": lambda: [
        _noisy("norm", 0.1, dim=n, p=p) for n, p in ((19, 1.0), (26, 2.0), (23, 3.0))
    ],
    "sum": lambda: [F("sum_task", problems=parts) for parts in _sums(noisy=False)],
    "sum_noisy": lambda: [F("sum_task", problems=parts) for parts in _sums(noisy=True)],
    "dependency_chain": lambda: [F("dependency_chain", dim=n) for n, _, _ in SLOW_CONVERGENCE],
    "outward_snake": lambda: [
        F("outward_snake", dim=n, num_examples=size, batch_size=batch)
        for n, size, batch in SLOW_CONVERGENCE
    ],
    "min_max_well": lambda: [F("min_max_well", dim=n) for n in (20, 12, 56, 64, 13)],
    "sum_of_quadratics": lambda: [
        F("sum_of_quadratics", dim=n, num_examples=size, batch_size=batch)
        for n, size, batch in SYMMETRIC_QUADRATICS
    ],
    "projection_quadratic": lambda: [
        F("projection_quadratic", dim=n, num_examples=size, batch_size=batch)
        for n, size, batch in SYMMETRIC_QUADRATICS
    ],
    "wichrowska2017_test": _test_problems,
    "metz2019_ood": lambda: [
        F("mnist14_mlp"),
        F("mnist14_mlp", hidden=(128, 128, 128)),
        F("mnist_conv", strides=(2, 1, 2, 1, 1, 1)),
        F("mnist_conv"),
        F("conv_task", channels=128, pool="test"),
    ],
}

# The release's meta-training mixture (metarun.py), in its order.
WICHROWSKA2017 = (
    "quadratic_noisy",
    "quadratic_large",
    "bowl",
    "bowl_noisy",
    "softmax_2_class",
    "softmax_2_class_noisy",
    "optimization_test",
    "optimization_test_noisy",
    "fully_connected_random_2_class",
    "matmul",
    "log_objective",
    "rescale",
    "norm",
    "norm_noisy",
    "sum",
    "sum_noisy",
    "sparse_gradient",
    "sparse_gradient_mlp",
)


def set_names() -> list[str]:
    """Names accepted by `get_set`."""
    return sorted([*_GROUPS, "wichrowska2017"])


def get_set(name: str) -> ProblemSet:
    """The named problem set; `"wichrowska2017"` is the release's meta-training mixture."""
    if name == "wichrowska2017":
        return ProblemSet(name, sum((get_set(group).entries for group in WICHROWSKA2017), ()))
    try:
        factories = _GROUPS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown problem set {name!r}. Known sets: {', '.join(set_names())}."
        ) from None
    return ProblemSet(name, _entries(name, factories))
