"""Small instances of every registered problem and transform, shared by the problem tests."""

from problems.registry import Factory as F

SMALL_DATA = dict(num_examples=64, batch_size=16)

CASES = {
    "quadratic": F("quadratic", dim=6),
    "rosenbrock": F("rosenbrock"),
    "two_moons": F("two_moons", batch_size=32),
    "linear_regression": F("linear_regression"),
    "ackley": F("ackley"),
    "beale": F("beale"),
    "booth": F("booth"),
    "branin": F("branin"),
    "log_sum_exp": F("log_sum_exp"),
    "matyas": F("matyas"),
    "michalewicz": F("michalewicz"),
    "styblinski_tang": F("styblinski_tang"),
    "saddle": F("saddle"),
    "bowl": F("bowl", condition_number=5.0, angle=0.7),
    "isotropic_quadratic": F("isotropic_quadratic", shapes=((3,), (2, 2))),
    "norm": F("norm", dim=6, p=1.5),
    "projection_quadratic": F("projection_quadratic", dim=5, **SMALL_DATA),
    "projection_quadratic_release": F(
        "projection_quadratic", dim=5, variant="release", **SMALL_DATA
    ),
    "sum_of_quadratics": F("sum_of_quadratics", dim=5, **SMALL_DATA),
    "softmax_regression": F("softmax_regression", num_features=5, **SMALL_DATA),
    "softmax_regression_4_class": F(
        "softmax_regression", num_features=5, num_classes=4, **SMALL_DATA
    ),
    "sparse_softmax_regression": F("sparse_softmax_regression", num_examples=32, batch_size=8),
    "one_hot_sparse_softmax_regression": F(
        "one_hot_sparse_softmax_regression", num_examples=32, batch_size=8
    ),
    "fully_connected": F(
        "fully_connected", num_features=5, hidden=(6, 4), dataset="random_mlp", **SMALL_DATA
    ),
    "fully_connected_mnist": F(
        "fully_connected",
        num_features=784,
        num_classes=10,
        hidden=(16,),
        activation="relu",
        dataset="mnist",
        init="he",
        **SMALL_DATA,
    ),
    "conv_net": F(
        "conv_net",
        image_shape=(1, 6, 6),
        num_classes=2,
        filters=((3, 3, 4),),
        dataset="random",
        **SMALL_DATA,
    ),
    "conv_task": F("conv_task", channels=4, examples_per_class=8, batch_size=16),
    "mnist14_mlp": F("mnist14_mlp", hidden=(8, 8), **SMALL_DATA),
    "mnist_conv": F("mnist_conv", channels=4, strides=(2, 1, 2, 1, 1, 1), **SMALL_DATA),
    "dependency_chain": F("dependency_chain", dim=5),
    "min_max_well": F("min_max_well", dim=5),
    "outward_snake": F("outward_snake", dim=5, **SMALL_DATA),
    "matmul_algorithm": F("matmul_algorithm", n=2, k=7),
    "rescale": F("rescale", problem=F("booth"), scale=10.0),
    "sparse_problem": F("sparse_problem", problem=F("quadratic", dim=6), zero_probability=0.5),
    "log_objective": F("log_objective", problem=F("booth")),
    "power": F("power", problem=F("norm", dim=4), k=2.0),
    "sum_task": F(
        "sum_task",
        problems=[
            F("quadratic", dim=3, gradient_noise=0.1),
            F("rosenbrock"),
            F("softmax_regression", num_features=4, num_examples=32, batch_size=8),
        ],
    ),
    "two_minima": F("two_minima", init_std=0.1),  # seeds must draw different inits
    "gradient_noise": F("quadratic", dim=6, gradient_noise=0.5),
}
