"""Weight constraints (``keras.constraints``): projections applied to a weight after every optimizer update.

Keras applies a weight's constraint right after the optimizer has updated it, at every training step
(``w <- c(w)``), never in the forward or backward pass; gradfit's training step does the same through
:meth:`Constraint.apply`, which projects the array in place. Keras's formulas, with ``||w||`` the Euclidean
norm of each slice along ``axis`` (``axis=0``: each unit's incoming weights, a column of a Dense kernel) and
``eps = keras.backend.epsilon()`` (1e-7)::

    MaxNorm(m):            w * clip(||w||, 0, m) / (eps + ||w||)
    NonNeg():              max(w, 0)
    UnitNorm():            w / (eps + ||w||)
    MinMaxNorm(lo, hi, r): w * (r clip(||w||, lo, hi) + (1 - r) ||w||) / (eps + ||w||)

(so a norm already within bounds is still multiplied by ``||w|| / (eps + ||w||)``, slightly below 1, as in
Keras). A constraint is a callable ``c(w) -> new array``, as in Keras; a subclass of :class:`Constraint` needs
only ``__call__`` (``apply`` then copies its result into the weight).
"""

from __future__ import annotations

import numpy as np

from . import backend, registry
from .schema import Axis, Number, Schema
from .tensor import Tensor

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]


def _as_weight(w) -> np.ndarray:
    """``w`` as a float array (an array keeps its float type; anything else becomes ``floatx()``, as Keras's
    ``convert_to_tensor`` makes a Python list float32)."""
    if hasattr(w, "numpy") and not isinstance(w, np.ndarray):
        w = w.numpy()
    if isinstance(w, np.ndarray) and w.dtype.kind == "f":
        return w
    return np.asarray(w, dtype=backend.floatx())


@registry.CONSTRAINTS.register(public=False)
class Constraint:
    """Base class: ``c(w)`` returns the projected weight (this base returns ``w`` unchanged, as Keras's does);
    ``c.apply(w)`` writes the projection into the array ``w`` itself."""

    config_schema = Schema({})

    def __call__(self, w) -> np.ndarray:
        return _as_weight(w)

    def apply(self, w: np.ndarray) -> None:
        """Constrain the weight array ``w`` in place (what the training step calls after each update)."""
        new = np.asarray(self(w))
        if new.shape != w.shape:
            raise ValueError(
                f"{type(self).__name__}: the constraint returned an array of shape {new.shape} for a weight of "
                f"shape {w.shape}; a constraint must keep the weight's shape."
            )
        np.copyto(w, new, casting="same_kind")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _norms(w: np.ndarray, axis) -> np.ndarray:
    """``sqrt(sum(w^2))`` over ``axis``, kept as a broadcastable array in ``w``'s float type."""
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.square(w).sum(axis=ax, keepdims=True))


class _NormConstraint(Constraint):
    """A constraint ``w * factor(||w||)``: ``__call__`` and ``apply`` share ``_factor``."""

    axis = 0

    def _factor(self, norms: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, w) -> np.ndarray:
        w = _as_weight(w)
        return (w * self._factor(_norms(w, self.axis))).view(Tensor)

    def apply(self, w: np.ndarray) -> None:
        np.multiply(w, self._factor(_norms(w, self.axis)), out=w)

    @staticmethod
    def _check_axis(owner: str, axis):
        if axis is not None and not isinstance(axis, (int, list, tuple)):
            raise ValueError(f"{owner}: axis must be an integer or a list of integers, got {axis!r}.")
        return list(axis) if isinstance(axis, tuple) else axis


@registry.CONSTRAINTS.register(aliases=("max_norm",))
class MaxNorm(_NormConstraint):
    """``w * clip(||w||, 0, max_value) / (eps + ||w||)``: each slice along ``axis`` (each unit's incoming
    weights for a Dense kernel and ``axis=0``) gets a norm of at most ``max_value``."""

    config_schema = Schema(
        {"max_value": Number(2, lo=0).explained("the largest norm allowed, e.g. 3"), "axis": Axis(0)}
    )

    def __init__(self, max_value: float = 2, axis=0):
        c = self.config_schema.check(type(self).__name__, {"max_value": max_value, "axis": axis})
        self.max_value = c["max_value"]
        self.axis = self._check_axis(type(self).__name__, c["axis"])

    def _factor(self, norms):
        t = norms.dtype.type
        desired = np.clip(norms, t(0), t(self.max_value))
        return desired / (t(backend.epsilon()) + norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@registry.CONSTRAINTS.register(aliases=("non_neg",))
class NonNeg(Constraint):
    """``max(w, 0)``: the weights are kept non-negative."""

    def __call__(self, w) -> np.ndarray:
        w = _as_weight(w)
        return np.maximum(w, w.dtype.type(0)).view(Tensor)

    def apply(self, w: np.ndarray) -> None:
        np.maximum(w, w.dtype.type(0), out=w)


@registry.CONSTRAINTS.register(aliases=("unit_norm",))
class UnitNorm(_NormConstraint):
    """``w / (eps + ||w||)``: each slice along ``axis`` gets (just under) unit norm."""

    config_schema = Schema({"axis": Axis(0)})

    def __init__(self, axis=0):
        c = self.config_schema.check(type(self).__name__, {"axis": axis})
        self.axis = self._check_axis(type(self).__name__, c["axis"])

    def _factor(self, norms):
        return np.reciprocal(norms.dtype.type(backend.epsilon()) + norms)

    def get_config(self):
        return {"axis": self.axis}


@registry.CONSTRAINTS.register(aliases=("min_max_norm",))
class MinMaxNorm(_NormConstraint):
    """``w * (rate clip(||w||, min_value, max_value) + (1 - rate) ||w||) / (eps + ||w||)``.

    ``rate=1`` enforces the bounds at once; a smaller rate moves each norm part of the way to them per step.
    """

    config_schema = Schema(
        {
            "min_value": Number(0.0, lo=0),
            "max_value": Number(1.0, lo=0),
            "rate": Number(1.0, lo=0, hi=1).explained("1 enforces the bounds at once, 0 leaves the weights alone"),
            "axis": Axis(0),
        }
    )

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis=0):
        owner = type(self).__name__
        c = self.config_schema.check(
            owner, {"min_value": min_value, "max_value": max_value, "rate": rate, "axis": axis}
        )
        if c["min_value"] > c["max_value"]:
            raise ValueError(f"{owner}: min_value ({c['min_value']}) must not exceed max_value ({c['max_value']}).")
        self.min_value, self.max_value, self.rate = c["min_value"], c["max_value"], c["rate"]
        self.axis = self._check_axis(owner, c["axis"])

    def _factor(self, norms):
        t = norms.dtype.type
        clipped = np.clip(norms, t(self.min_value), t(self.max_value))
        desired = t(self.rate) * clipped + t(1 - self.rate) * norms
        return desired / (t(backend.epsilon()) + norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


#: Keras's lower-case names are the classes themselves
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm


class _FunctionConstraint(Constraint):
    """A plain function ``fn(w) -> new w`` used as a constraint (Keras accepts any callable). It needs no
    derivative, so it trains; it cannot be saved, since a model file holds no Python code."""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, w) -> np.ndarray:
        return np.asarray(self.fn(_as_weight(w))).view(Tensor)

    def __repr__(self) -> str:
        return f"<constraint from function {self.__name__}>"


def get(identifier) -> Constraint | None:
    """A constraint from a Keras name (``"max_norm"``, ``"MaxNorm"``, ``"non_neg"`` …), its serialized form, a
    class, an instance, or a plain function ``w -> projected w``."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, str):
        return registry.CONSTRAINTS.require(identifier)()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        cls = registry.CONSTRAINTS.require(identifier["class_name"])
        return cls.from_config(dict(identifier.get("config") or {}))
    if callable(identifier) and not isinstance(identifier, type):
        return _FunctionConstraint(identifier)
    raise ValueError(
        f"Could not interpret constraint identifier {identifier!r}; give a name ({registry.CONSTRAINTS.known()}), "
        "an object such as MaxNorm(3), or a function w -> projected w."
    )


def serialize(constraint: Constraint | None) -> dict | None:
    """Keras's serialized form: ``{"module": "keras.constraints", "class_name": "MaxNorm", "config": {…}}``."""
    if constraint is None:
        return None
    if isinstance(constraint, _FunctionConstraint):
        raise ValueError(
            f"Cannot save the constraint {constraint.__name__!r}: it is a plain Python function, and a gradfit model "
            "file holds no code. Use one of gradfit.keras.constraints "
            f"({registry.CONSTRAINTS.known()}), or remove the constraint before saving."
        )
    entry = registry.CONSTRAINTS.entry_of_class(type(constraint))
    own = entry is not None and entry.obj is type(constraint)
    return {
        "module": entry.module if own else type(constraint).__module__,
        "class_name": type(constraint).__name__,
        "config": constraint.get_config(),
        "registered_name": None if own else type(constraint).__name__,
    }


def deserialize(config) -> Constraint | None:
    """``keras.constraints.deserialize``: a constraint from its serialized form (or its name)."""
    return get(config)
