"""``tf.keras.utils``."""

from ..backend import set_seed as set_random_seed

__all__ = ["set_random_seed"]
