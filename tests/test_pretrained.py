"""The shipped MLP meta-parameters: loaded by default, and they train a real Keras model."""

import keras
import numpy as np
from sklearn.datasets import load_digits

import l2o_tf
from l2o_tf.optimizer import pretrained_path


def test_default_optimizer_loads_the_shipped_weights():
    path = pretrained_path("mlp")
    assert path is not None
    default, explicit = l2o_tf.LearnedOptimizer(), l2o_tf.LearnedOptimizer(weights=path)
    for a, b in zip(default.rule.weights, explicit.rule.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    fresh = l2o_tf.LearnedOptimizer(weights=None)
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(default.rule.weights, fresh.rule.weights))


def test_default_optimizer_trains_an_mlp_on_digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=l2o_tf.LearnedOptimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    before = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0).history
    after, accuracy = model.evaluate(x, y, verbose=0)
    assert after < 0.5 * before and accuracy > 0.8, (before, after, accuracy, history)
