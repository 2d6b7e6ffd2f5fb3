"""Activation functions ``a = g(z)`` (``keras.activations``), each written beside its derivative.

Every activation has two parts, side by side:

* ``forward(z, out)`` computes ``a = g(z)``, writing into ``out`` when given;
* ``backward(z, a, da)`` turns ``dJ/da`` into ``dJ/dz = dJ/da * g'(z)``.

The public functions (``sigmoid(x)``, ``relu(x)`` …) take any array-like and return a new array, as
``keras.activations`` does. A ``Dense`` layer keeps the function object itself, so
``layer.activation is gradfit.keras.activations.sigmoid``. Each activation registers itself
(``registry.ACTIVATIONS``) with its Keras name and aliases; :func:`get` and its messages derive from that
table. A new activation in an existing module costs nothing here; a new module, one import line.

Besides the names, a layer's ``activation`` may be an activation layer object (``LeakyReLU(0.2)``) or a function
of your own given with its derivative (:func:`custom`); see ``callables.py``.
"""

from __future__ import annotations

from .. import registry
from ..schema import Object, check_serialized, construct, fail
from . import piecewise, smooth, standard
from .base import Activation
from .callables import LayerActivation, custom  # noqa: F401 (custom: public, in __all__)
from .piecewise import *  # noqa: F403
from .smooth import *  # noqa: F403
from .standard import *  # noqa: F403

__all__ = sorted(
    [
        "Activation",
        "custom",
        "deserialize",
        "get",
        "serialize",
        *standard.__all__,
        *smooth.__all__,
        *piecewise.__all__,
    ]
)


def get(identifier) -> Activation:
    """Resolve ``'relu'``, ``None``, an :class:`Activation`, Keras's ``{'class_name': 'function', 'config':
    'relu'}``, an activation layer (``LeakyReLU(0.2)``, its serialized form) or one of gradfit's own functions
    of a registered name (``gradfit.nn.relu``) to an activation.

    A plain Python callable has no known derivative and cannot be trained through, so it is refused
    with a message saying how to give one (:func:`custom`).
    """
    if identifier is None:
        return linear  # noqa: F405
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        return registry.ACTIVATIONS.require(identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        if identifier.get("module") == "keras.layers":  # an activation layer, serialized as Keras does
            return get(_layer_from_serialized(identifier))
        return get(identifier.get("config", identifier["class_name"]))
    from ..layers.base import Layer

    if isinstance(identifier, Layer):
        return _from_layer(identifier)
    if callable(identifier):
        # gradfit's own array functions (gradfit.nn.relu, gradfit.math.sigmoid) are the registered activations
        name = getattr(identifier, "__name__", None)
        module = getattr(identifier, "__module__", None) or ""
        if module.split(".")[0] == "gradfit" and name in registry.ACTIVATIONS:
            act = registry.ACTIVATIONS.lookup(name)
            if _computes_the_same(identifier, act):  # a name alone could be a coincidence
                return act
        raise ValueError(
            f"Cannot use the function {name or identifier!r} as an activation: gradfit computes gradients by hand "
            "and knows no derivative for it. Give one: activation=gradfit.activations.custom(fn, "
            "derivative=lambda z: ...) (g'(z), element by element); or use an activation layer "
            "(gradfit.keras.layers.LeakyReLU(0.2)) or one of the names "
            f"{registry.ACTIVATIONS.known()}."
        )
    raise ValueError(
        f"Cannot use {identifier!r} as an activation: give one of the names {registry.ACTIVATIONS.known()}, a "
        "function from gradfit.keras.activations, an activation layer such as LeakyReLU(0.2), or "
        "gradfit.activations.custom(fn, derivative=...)."
    )


def _computes_the_same(fn, act: Activation) -> bool:
    """Whether gradfit's array function ``fn`` computes the registered activation ``act`` (on a probe row)."""
    import numpy as np

    probe = np.linspace(-3.0, 3.0, 13).reshape(1, -1)
    try:
        got = np.asarray(fn(probe), dtype=np.float64)
    except Exception:  # noqa: BLE001 (any failure means: not this activation)
        return False
    return got.shape == probe.shape and bool(np.allclose(got, np.asarray(act(probe)), rtol=1e-6, atol=1e-9))


def _activation_layer_classes() -> tuple:
    from ..layers.activation_layers import _ActivationLayer

    return (_ActivationLayer,)


def _from_layer(layer) -> Activation:
    if not isinstance(layer, _activation_layer_classes()):
        raise ValueError(
            f"Cannot use the layer {layer.name!r} ({type(layer).__name__}) as an activation: only the weightless "
            "activation layers (Activation, ReLU, LeakyReLU, Softmax) can be; add it to the model as a layer "
            "of its own instead."
        )
    if layer.activity_regularizer is not None:
        raise NotImplementedError(
            f"The layer {layer.name!r} used as an activation has an activity_regularizer, which gradfit does not "
            "apply there; give the penalty to the layer that uses it (its output is the same) instead."
        )
    return LayerActivation(layer)


def _layer_from_serialized(serialized: dict):
    """An activation layer from Keras's serialized form (only those layers: nothing else is built from here)."""
    class_name = serialized.get("class_name")
    if class_name not in _ACTIVATION_LAYERS:
        raise ValueError(
            f"Cannot use the serialized layer {class_name!r} as an activation; only {', '.join(_ACTIVATION_LAYERS)} "
            "can be."
        )
    return registry.LAYERS.require(class_name).from_config(dict(serialized.get("config") or {}))


def serialize(activation: Activation):
    """Keras's serialized form: the name of a registered activation (``"relu"``), or, for an activation layer
    object, that layer serialized (``{"module": "keras.layers", "class_name": "LeakyReLU", "config": …}``).

    A function of your own (:func:`custom`) cannot be saved: a model file holds no code."""
    if isinstance(activation, LayerActivation):
        layer = activation.layer
        return {
            "module": "keras.layers",
            "class_name": type(layer).__name__,
            "config": layer.get_config(),
            "registered_name": None,
        }
    if registry.ACTIVATIONS.lookup(activation.__name__) is not activation:
        raise ValueError(
            f"Cannot save the activation {activation.__name__!r}: it is a function of your own (not one of "
            f"gradfit's registered activations: {registry.ACTIVATIONS.known()}), and a gradfit model file holds no "
            "code. Save the weights alone (model.save_weights) and rebuild the model in code to load them."
        )
    return activation.__name__


def deserialize(config) -> Activation:
    """``keras.activations.deserialize``: an activation from its name or Keras's serialized form."""
    return get(config)


class ActivationObject(Object):
    """The ``activation`` entry of a layer's config: a registered activation (as ``Object("activation")``), or,
    as Keras writes an activation layer object, a serialized activation layer (``{"module": "keras.layers",
    "class_name": "LeakyReLU", …}``), whose config that layer's schema checks."""

    def __init__(self, default=None):
        super().__init__("activation", default=default)

    def load(self, v, where):
        if isinstance(v, dict) and v.get("module") == "keras.layers":
            class_name, config = check_serialized(v, where, "activation layer", ("keras.layers",), _ACTIVATION_LAYERS)
            cls = registry.LAYERS.lookup(class_name)
            layer = construct(cls, config, where, "layer")
            try:
                return get(layer)
            except ValueError as exc:
                fail(where, str(exc))
        return super().load(v, where)


#: the layers Keras may store as another layer's activation (weightless, with their own g and g')
_ACTIVATION_LAYERS = ("Activation", "LeakyReLU", "ReLU", "Softmax")
