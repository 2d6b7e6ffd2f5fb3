"""``tf.keras.layers``."""

from ..layers import *  # noqa: F403
from ..layers import __all__  # noqa: F401
