"""``tf.keras.activations``."""

from ..activations import *  # noqa: F403
from ..activations import __all__  # noqa: F401
