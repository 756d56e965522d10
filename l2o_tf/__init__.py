"""l2o_tf: learned optimizers for TensorFlow 2 / Keras 3."""

from l2o_tf import rules
from l2o_tf.optimizer import LearnedOptimizer
from l2o_tf.weights import load_rule_weights, save_rule_weights

__version__ = "0.1.0"
__all__ = ["LearnedOptimizer", "load_rule_weights", "rules", "save_rule_weights"]
