"""``tf.keras.optimizers``."""

import sys

from .. import schedules
from ..optimizers import *  # noqa: F403
from ..optimizers import __all__  # noqa: F401

sys.modules[__name__ + ".schedules"] = schedules  # `from gradfit.keras.optimizers.schedules import …`
