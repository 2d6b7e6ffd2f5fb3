"""Weight penalties added to the cost, as Keras adds them: ``J += l1 sum|W| + l2 sum W^2``.

Keras's L2 has no 1/2 and no division by m (the course writes ``lambda / 2m``; Keras does not), so the
gradient is ``2 l2 W``. The penalty is computed on the weights before the step, once per batch.
"""

from __future__ import annotations

import numpy as np

from . import registry
from .schema import Number, Schema

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2", "serialize"]


class Regularizer:
    """Base class: ``penalty(w)`` beside its gradient ``add_grad(w, grad)``."""

    def penalty(self, w: np.ndarray) -> float:
        raise NotImplementedError

    def add_grad(self, w: np.ndarray, grad: np.ndarray) -> None:
        """Add d(penalty)/dw to ``grad`` in place."""
        raise NotImplementedError

    def __call__(self, w) -> float:
        return self.penalty(np.asarray(w))

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


_FACTOR = Number(0.0, lo=0).explained("a regularization factor such as 0.01")


@registry.REGULARIZERS.register(aliases=("l1l2",))
class L1L2(Regularizer):
    """``l1 sum|w| + l2 sum w^2``, gradient ``l1 sign(w) + 2 l2 w``.

    Both factors default to 0, as in Keras 3 (where ``l1_l2`` is this class).
    """

    config_schema = Schema({"l1": _FACTOR, "l2": _FACTOR})

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        # None means 0, as in Keras
        c = L1L2.config_schema.check(type(self).__name__, {"l1": l1 or 0.0, "l2": l2 or 0.0})
        self.l1 = float(c["l1"])
        self.l2 = float(c["l2"])

    def penalty(self, w):
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float(np.square(w).sum())
        return total

    def add_grad(self, w, grad):
        if self.l1:
            grad += self.l1 * np.sign(w)
        if self.l2:
            grad += (2 * self.l2) * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@registry.REGULARIZERS.register(aliases=("l1",))
class L1(L1L2):
    """``l1 sum|w|`` (Keras's default factor 0.01)."""

    config_schema = Schema({"l1": Number(0.01, lo=0)})

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


@registry.REGULARIZERS.register(aliases=("l2",))
class L2(L1L2):
    """``l2 sum w^2`` (Keras's default factor 0.01), gradient ``2 l2 w``."""

    config_schema = Schema({"l2": Number(0.01, lo=0)})

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


#: Keras 3's lower-case names are the classes themselves (``l1_l2`` included, with its defaults 0)
l1 = L1
l2 = L2
l1_l2 = L1L2


def get(identifier) -> Regularizer | None:
    """A regularizer from a Keras name (``"l1"``, ``"l2"``, ``"l1l2"``, ``"L2"`` …), its serialized form, or itself."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, str):
        return registry.REGULARIZERS.require(identifier)()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        cls = registry.REGULARIZERS.require(identifier["class_name"])
        return cls.from_config(dict(identifier.get("config") or {}))
    raise ValueError(
        f"Cannot use {identifier!r} as a regularizer; give a name ({registry.REGULARIZERS.known()}) or an object "
        "such as L2(0.01)."
    )


def serialize(regularizer: Regularizer | None) -> dict | None:
    """Keras's serialized form: ``{"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}}``."""
    if regularizer is None:
        return None
    entry = registry.REGULARIZERS.entry_of_class(type(regularizer))
    own = entry is not None and entry.obj is type(regularizer)
    return {
        "module": entry.module if own else type(regularizer).__module__,
        "class_name": type(regularizer).__name__,
        "config": regularizer.get_config(),
        "registered_name": None if own else type(regularizer).__name__,
    }
