"""The config fields only optimizers need: the learning rate (a number or a schedule) and a count of steps that
Keras switches off with None or 0 (``ema_overwrite_frequency``, ``gradient_accumulation_steps``)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import registry
from ..schema import REQUIRED, Field, _Problem, fail, is_int, is_number, load_object, short

__all__ = ["Count", "LearningRate"]


class LearningRate(Field):
    """``alpha``: a non-negative number (positive with ``positive``: an optimizer that divides by it) or a
    learning-rate schedule; in code also any callable that takes no arguments (as Keras 3 allows)."""

    def __init__(self, default=REQUIRED, positive: bool = False):
        super().__init__(default)
        self.positive = positive

    def _valid(self, v: float) -> bool:
        return math.isfinite(v) and (v > 0 if self.positive else v >= 0)

    def _expected(self) -> str:
        return "a positive number" if self.positive else "a non-negative number"

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
            ok = self._valid(v)
        if not ok:
            raise ValueError(f"{owner}: {key} must be {self._expected()} or a schedule, got {short(v)}.")
        return v

    def load(self, v, where):
        if isinstance(v, dict):
            return load_object(registry.SCHEDULES, v, where)
        if not is_number(v) or not self._valid(v):
            fail(where, f"must be {self._expected()} or a learning-rate schedule, got {short(v)}")
        return float(v)


class Count(Field):
    """A count of steps that Keras switches off with None or 0 (``if gradient_accumulation_steps:``): None, 0,
    or an integer >= ``lo``. The value is kept as given (Keras's config writes it back so)."""

    def __init__(self, default=None, lo: int = 1):
        super().__init__(default)
        self.lo = lo

    def _check(self, v, json):
        if v is None:
            return None
        if not json and isinstance(v, np.integer):
            v = int(v)
        if not is_int(v) or (v != 0 and v < self.lo):
            raise _Problem(f"must be None or an integer >= {self.lo}, got {short(v)}")
        return v
