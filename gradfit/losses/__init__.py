"""Losses ``L(f(x), y)`` for one example, and the cost ``J = (1/m) sum_i L_i`` that ``fit`` minimises
(``keras.losses``).

One module per family; each loss class registers itself (``registry.LOSSES``) with its Keras names, and
everything here derives from that table: :func:`get`, its "did you mean" messages, and the list of names.
A new loss in a new module costs its import line below and its entry in ``_MODULES``.
"""

from __future__ import annotations

from .. import registry
from . import crossentropy as _crossentropy
from . import focal as _focal
from . import hinge as _hinge
from . import probabilistic as _probabilistic
from . import regression as _regression
from .base import Loss
from .crossentropy import *  # noqa: F403
from .custom import CROSSENTROPY_NAMES, resolve_crossentropy
from .custom import custom as custom  # gradfit's own (not in Keras): not in __all__
from .focal import *  # noqa: F403
from .hinge import *  # noqa: F403
from .probabilistic import *  # noqa: F403
from .regression import *  # noqa: F403

_MODULES = (_crossentropy, _focal, _hinge, _probabilistic, _regression)
__all__ = sorted(["Loss", "deserialize", "get", "serialize", *(name for module in _MODULES for name in module.__all__)])


class MissingGradientError(TypeError, ValueError):
    """A loss function given without its gradient. A TypeError (the function is the wrong kind of object for
    gradfit) that is also the ValueError gradfit raised before for every loss it could not use."""


def get(identifier) -> Loss:
    """Resolve a loss given as an object, a class, a Keras name (``'mse'``), a Keras config
    (``{'class_name': 'Huber', 'config': {...}}``), one of the Keras functions (``binary_crossentropy``) or a
    function of one's own that carries its gradient (``fn.grad``; see :func:`custom`).

    ``'crossentropy'`` / ``'ce'`` (any case) give a stand-in whose ``resolve(y, output_shape)`` picks binary,
    sparse categorical or categorical cross-entropy from the shapes, as Keras's ``compile`` does.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in CROSSENTROPY_NAMES:
            return resolve_crossentropy(identifier)
        return registry.LOSSES.require(identifier)()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        cls = registry.LOSSES.require(identifier["class_name"])
        return cls.from_config(dict(identifier.get("config") or {}))
    if callable(identifier) and not isinstance(identifier, type):
        entry = registry.LOSSES.entry(getattr(identifier, "__name__", None))
        if entry is not None and entry.obj.function is identifier:  # one of the function forms
            return entry.obj()
        if callable(getattr(identifier, "grad", None)):
            return custom(identifier, grad=identifier.grad)
        name = getattr(identifier, "__name__", type(identifier).__name__)
        raise MissingGradientError(
            f"Cannot train with the loss {name!r}: gradfit computes gradients by hand, so a loss function needs its "
            "gradient too. Give both, gradfit.losses.custom(fn, grad=dfn), where fn(y_true, y_pred) returns the "
            "per-example losses L_i and dfn(y_true, y_pred) returns dL_i/dy_pred shaped like y_pred (or set "
            "fn.grad = dfn and pass fn); or subclass gradfit.losses.Loss with per_sample(y, p) and grad(y, p)."
        )
    raise ValueError(
        f"Cannot use {identifier!r} as a loss: give a loss object (e.g. BinaryCrossentropy()), one of its names "
        "(e.g. 'binary_crossentropy', 'mse'), a function from gradfit.keras.losses, or "
        f"gradfit.losses.custom(fn, grad=dfn). Known losses: {registry.LOSSES.known()}."
    )


def serialize(loss: Loss) -> dict:
    """Keras's ``{'module', 'class_name', 'config', 'registered_name'}`` for a loss object."""
    entry = registry.LOSSES.entry_of_class(type(loss))
    return {"module": entry.module, "class_name": entry.name, "config": loss.get_config(), "registered_name": None}


def deserialize(config) -> Loss:
    """``keras.losses.deserialize``: a loss from its name or its ``{'class_name', 'config'}``."""
    return get(config)
