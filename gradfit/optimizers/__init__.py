"""Gradient-descent optimizers with Keras's defaults and update rules (``keras.optimizers``), applied in place.

One module per optimizer; each registers itself in ``registry.OPTIMIZERS`` and declares its config schema,
its state and Keras's variable order (``base.py`` holds the contract they follow). Adding an optimizer is its
own module plus one import line below: ``get()``, ``__all__``, saving and loading derive from the registry.
"""

import sys

from .. import registry, schedules

# one line per optimizer module: importing it registers its classes
from .adadelta import Adadelta  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .adamax import Adamax  # noqa: F401
from .base import Optimizer, f32  # noqa: F401  (f32: the one float32-rounding helper)
from .ftrl import Ftrl  # noqa: F401
from .lion import Lion  # noqa: F401
from .lookup import deserialize, get, serialize
from .nadam import Nadam  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401

sys.modules[__name__ + ".schedules"] = schedules  # `import gradfit.optimizers.schedules` works too

# every registered optimizer imported above (derived: no list of names to keep)
__all__ = ["Optimizer", "deserialize", "get", "serialize"] + sorted(
    e.name for e in registry.OPTIMIZERS if globals().get(e.name) is e.obj
)
