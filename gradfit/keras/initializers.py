"""``tf.keras.initializers``."""

from ..initializers import *  # noqa: F403
from ..initializers import __all__  # noqa: F401
