"""Activations that are not gradfit's named functions: a layer object (``activation=LeakyReLU(0.2)``), and a
function of your own given with its derivative (:func:`custom`).

gradfit computes every gradient by hand, so an activation must come with ``g'``. A plain Python function has
none, and is refused with a message pointing here::

    def swish_beta(z):  return z / (1 + np.exp(-1.5 * z))
    def swish_beta_derivative(z):
        s = 1 / (1 + np.exp(-1.5 * z))
        return s + 1.5 * z * s * (1 - s)

    layer = Dense(8, activation=gradfit.activations.custom(swish_beta, derivative=swish_beta_derivative))

Neither kind is registered by name; a layer-object activation saves as that layer's config (as Keras saves it),
a custom function cannot be saved (a model file holds no code).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import registry
from .base import Activation, as_float_array, store

__all__ = ["LayerActivation", "custom"]


class LayerActivation(Activation):
    """An activation layer (``ReLU``, ``LeakyReLU``, ``Softmax``, ``Activation``) used as another layer's
    activation: the layer's own ``g`` and ``g'``. Keras calls the layer object; the result is the same.

    ``layer`` is kept: ``serialize`` writes its config, as Keras writes it (``{"module": "keras.layers",
    "class_name": "LeakyReLU", "config": {...}}``).
    """

    def __init__(self, layer):
        act = layer.activation
        name = act.__name__
        if name == "softmax" and not _is_last_axis_softmax(act):
            # a softmax over another axis: not the softmax a cross-entropy undoes, so it must not be fused with one
            name = "softmax_over_axis"
        super().__init__(name, act.forward, act.backward, act.formula, in_place=act.in_place)
        self.layer = layer
        self.__doc__ = f"{type(layer).__name__} layer {layer.name!r} as an activation: {act.formula}"

    def __repr__(self) -> str:
        return f"<activation from the {type(self.layer).__name__} layer {self.layer.name!r}: {self.formula}>"

    def __reduce__(self):
        from . import get

        return (get, (self.layer,))


def _is_last_axis_softmax(act: Activation) -> bool:
    from . import softmax

    return act is softmax


def custom(
    fn: Callable[[np.ndarray], np.ndarray],
    derivative: Callable[[np.ndarray], np.ndarray],
    name: str | None = None,
    formula: str | None = None,
) -> Activation:
    """An activation ``a = fn(z)`` with its element-wise derivative ``g'(z) = derivative(z)``.

    The backward pass is ``dJ/dz = dJ/da * derivative(z)``. Both functions take and return NumPy arrays of
    ``z``'s shape (they are called on the layer's pre-activations, float32 by default). For an activation that
    is not element-wise (``g'`` a Jacobian, as softmax's), subclass :class:`Activation` with your own
    ``backward(z, a, da)``.

    The activation is not registered: a model using it trains, predicts and evaluates, but cannot be saved. Its
    name (default: ``fn``'s) gets a ``custom_`` prefix where it is a registered activation's (``custom_sigmoid``):
    a cross-entropy is computed from the logits only for gradfit's own sigmoid and softmax.
    """
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(f"custom: fn must be a function z -> g(z), got {fn!r}.")
    if not callable(derivative) or isinstance(derivative, type):
        raise TypeError(f"custom: derivative must be a function z -> g'(z), got {derivative!r}.")
    label = name or getattr(fn, "__name__", None) or "custom"
    if not isinstance(label, str) or not label:
        raise ValueError(f"custom: name must be a non-empty string, got {name!r}.")
    if label in registry.ACTIVATIONS:
        # never taken for the registered activation of that name (a loss fuses with an output layer by its name)
        label = f"custom_{label}"

    def forward(z, out):
        return store(_same_shape(fn(z), z, label, "fn"), out)

    def backward(z, a, da):
        return da * _same_shape(derivative(z), z, label, "derivative")

    return Activation(label, forward, backward, formula or f"g(z) = {label}(z) (a custom function)")


def _same_shape(value, z: np.ndarray, label: str, what: str) -> np.ndarray:
    arr = as_float_array(value)
    if arr.shape != z.shape:
        arr = np.broadcast_to(arr, z.shape) if arr.ndim == 0 else arr
    if arr.shape != z.shape:
        raise ValueError(
            f"custom activation {label!r}: {what}(z) returned shape {arr.shape} for z of shape {z.shape}; it must "
            "work element by element."
        )
    return arr.astype(z.dtype, copy=False)
