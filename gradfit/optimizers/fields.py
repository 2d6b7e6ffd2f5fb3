"""The config fields only optimizers need: the learning rate (a number or a schedule) and the Keras settings
that matter only once a feature gradfit lacks is switched on."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import registry
from ..schema import Field, Off, fail, is_number, load_object, short

__all__ = ["LearningRate", "Unused"]


class LearningRate(Field):
    """``alpha``: a non-negative number or a learning-rate schedule; in code also any callable that takes no
    arguments (as Keras 3 allows)."""

    def check(self, v, owner, key):
        if callable(v):
            return v
        if hasattr(v, "numpy") and not isinstance(v, np.ndarray):  # a TensorFlow-style scalar, or our own
            v = v.numpy()
        ok = (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))) or (
            isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf"
        )
        if ok:
            v = float(v)
            ok = math.isfinite(v) and v >= 0
        if not ok:
            raise ValueError(f"{owner}: {key} must be a non-negative number or a schedule, got {short(v)}.")
        return v

    def load(self, v, where):
        if isinstance(v, dict):
            return load_object(registry.SCHEDULES, v, where)
        if not is_number(v) or not math.isfinite(v) or v < 0:
            fail(where, f"must be a non-negative number or a learning-rate schedule, got {short(v)}")
        return float(v)


class Unused(Off):
    """A Keras setting that only matters once an ``Off`` feature is on (``ema_momentum`` without ``use_ema``):
    in code only its default is accepted (anything else means the feature was wanted); a file may hold any
    number, as Keras writes it whatever ``use_ema`` is (and it is dropped)."""

    def is_off(self, v) -> bool:
        return is_number(v) and math.isfinite(v)

    def check(self, v, owner, key):
        if not (is_number(v) and v == self.default):
            raise NotImplementedError(f"{owner}: {key} is not supported by gradfit yet; leave it as {self.default}.")
        return v

    def load(self, v, where):
        if not self.is_off(v):
            fail(where, f"must be a finite number, got {short(v)}")
        return v
