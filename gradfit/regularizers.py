"""Weight penalties added to the cost, as Keras adds them: ``J += l1 sum|W| + l2 sum W^2``.

Keras's L2 has no 1/2 and no division by m (the course writes ``lambda / 2m``; Keras does not), so the
gradient is ``2 l2 W``. The penalty is computed on the weights before the step, once per batch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2"]


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


class L1L2(Regularizer):
    """``l1 sum|w| + l2 sum w^2``, gradient ``l1 sign(w) + 2 l2 w``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a non-negative number, got {v!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)

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


class L1(L1L2):
    """``l1 sum|w|`` (Keras's default factor 0.01)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 sum w^2`` (Keras's default factor 0.01), gradient ``2 l2 w``."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2

_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier) -> Regularizer | None:
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _NAMES:
        return _NAMES[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"Unknown regularizer {identifier!r}; use 'l1', 'l2', 'l1_l2' or an object such as L2(0.01).")
