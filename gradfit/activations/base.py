"""The :class:`Activation` object: a function ``a = g(z)`` with its derivative, registered once by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from .. import registry
from ..tensor import Tensor

__all__ = ["Activation", "declare"]

Forward = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]
Backward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class Activation:
    """An activation function ``g`` with its derivative; calling it applies ``g`` to an array.

    Parameters
    ----------
    name : str
        Keras's name for it (used in configs and error messages).
    forward : callable ``(z, out) -> a``
        Writes into ``out`` when given (the training loop reuses buffers; it also silences floating-point
        overflow warnings around the whole loop, so ``exp`` of a large number may become ``inf`` here, which
        the formulas turn into the right limit).
    backward : callable ``(z, a, da) -> dz``
        ``dJ/dz = dJ/da * g'(z)``, from whichever of ``z`` and ``a`` makes ``g'`` cheapest.
    formula : str
        ``g(z)`` in the course's notation, shown by ``repr`` and ``model.explain()``.
    in_place : bool
        Whether ``backward`` needs only ``a``, so that a layer may compute ``a`` over ``z``'s memory
        (saves an allocation and keeps one array hot in cache on the MNIST-sized step).
    options : callable ``(z, **kwargs) -> a``, optional
        Keras's optional arguments of the public function (``relu(x, max_value=6)``, ``softmax(x, axis=0)``).
    """

    def __init__(
        self,
        name: str,
        forward: Forward,
        backward: Backward,
        formula: str,
        in_place: bool = False,
        options: Callable | None = None,
    ):
        self.__name__ = name
        self.forward = forward
        self.backward = backward
        self.formula = formula
        self.in_place = in_place
        self.options = options
        self.__doc__ = f"{name}: {formula}"

    def __call__(self, x, **kwargs) -> np.ndarray:
        z = as_float_array(x)
        with np.errstate(over="ignore", under="ignore"):
            if not kwargs:
                a = self.forward(z, None)
            elif self.options is None:
                raise TypeError(f"activation {self.__name__!r} got unexpected arguments {sorted(kwargs)}")
            else:
                a = self.options(z, **kwargs)
        return np.asarray(a).view(Tensor)  # an ndarray that also answers TensorFlow's .numpy()

    def __repr__(self) -> str:
        return f"<activation {self.__name__}: {self.formula}>"

    def __reduce__(self):  # pickling (e.g. by multiprocessing) refers back to the registered object, by name
        from . import get

        return (get, (self.__name__,))


def declare(name: str, forward: Forward, backward: Backward, formula: str, aliases=(), **kwargs) -> Activation:
    """Make the activation ``name`` and register it (with Keras's ``aliases``); returns it."""
    return registry.ACTIVATIONS.register(Activation(name, forward, backward, formula, **kwargs), aliases=aliases)


def as_float_array(x) -> np.ndarray:
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    z = np.asarray(x)
    if z.dtype.kind != "f":
        z = z.astype(np.float32)
    return z


def store(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result)
    return out


def keyword_options(fn: Callable) -> Callable:
    """``fn(z, **kwargs)`` as an activation's ``options``: the keywords its signature names, others refused."""
    allowed = set(list(inspect.signature(fn).parameters)[1:])

    def options(z, **kwargs):
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"unexpected arguments {sorted(unknown)} (this activation takes {sorted(allowed)})")
        return fn(z, **kwargs)

    return options
