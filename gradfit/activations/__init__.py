"""Activation functions ``a = g(z)`` (``keras.activations``), each written beside its derivative.

Every activation has two parts, side by side:

* ``forward(z, out)`` computes ``a = g(z)``, writing into ``out`` when given;
* ``backward(z, a, da)`` turns ``dJ/da`` into ``dJ/dz = dJ/da * g'(z)``.

The public functions (``sigmoid(x)``, ``relu(x)`` …) take any array-like and return a new array, as
``keras.activations`` does. A ``Dense`` layer keeps the function object itself, so
``layer.activation is gradfit.keras.activations.sigmoid``. Each activation registers itself
(``registry.ACTIVATIONS``) with its Keras name and aliases; :func:`get` and its messages derive from that
table. A new activation in an existing module costs nothing here; a new module, one import line.
"""

from __future__ import annotations

from .. import registry
from . import piecewise, smooth, standard
from .base import Activation
from .piecewise import *  # noqa: F403
from .smooth import *  # noqa: F403
from .standard import *  # noqa: F403

__all__ = sorted(
    ["Activation", "deserialize", "get", "serialize", *standard.__all__, *smooth.__all__, *piecewise.__all__]
)


def get(identifier) -> Activation:
    """Resolve ``'relu'``, ``None``, an :class:`Activation`, or Keras's ``{'class_name': 'function', 'config':
    'relu'}`` to an activation.

    A plain Python callable has no known derivative and cannot be trained through, so it is refused
    with a message saying what to use instead.
    """
    if identifier is None:
        return linear  # noqa: F405
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        return registry.ACTIVATIONS.require(identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(identifier.get("config", identifier["class_name"]))
    raise ValueError(
        f"Cannot use {identifier!r} as an activation: gradfit needs each activation's derivative for "
        f"backpropagation, so give one of the names {registry.ACTIVATIONS.known()} or a function from "
        "gradfit.keras.activations."
    )


def serialize(activation: Activation) -> str:
    return activation.__name__


def deserialize(config) -> Activation:
    """``keras.activations.deserialize``: an activation from its name or Keras's serialized form."""
    return get(config)
