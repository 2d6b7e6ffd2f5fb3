"""``tf.keras.constraints``."""

from ..constraints import *  # noqa: F403
from ..constraints import __all__  # noqa: F401
