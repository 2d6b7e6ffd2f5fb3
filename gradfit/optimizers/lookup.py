"""Finding optimizers by name and (de)serializing them: everything derives from ``registry.OPTIMIZERS``."""

from __future__ import annotations

from .. import registry
from ..schema import load_object
from .base import Optimizer

__all__ = ["deserialize", "get", "serialize"]


def get(identifier) -> Optimizer:
    """Resolve ``'adam'`` (any registered name, case-insensitively), an optimizer class, a serialized optimizer
    (``{"class_name": "Adam", "config": {...}}``) or an optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = registry.OPTIMIZERS.lookup(identifier) or registry.OPTIMIZERS.lookup(identifier.lower())
        if cls is None:
            raise ValueError(registry.OPTIMIZERS.unknown_message(identifier))
        return cls()
    if isinstance(identifier, dict):
        return load_object(registry.OPTIMIZERS, identifier, "optimizer")
    raise ValueError(
        f"Cannot use {identifier!r} as an optimizer; give a name such as 'adam' or an object such as Adam(0.001)."
    )


def serialize(optimizer: Optimizer) -> dict:
    """The optimizer as Keras serializes it: ``{"module", "class_name", "config", "registered_name"}``."""
    entry = registry.OPTIMIZERS.entry_of_class(type(optimizer))
    if entry is None or entry.obj is not type(optimizer):
        raise ValueError(f"serialize: {type(optimizer).__name__} is not one of gradfit's optimizers.")
    config = optimizer.get_config()
    if callable(config.get("learning_rate")) and not isinstance(config["learning_rate"], dict):
        raise ValueError("serialize: a learning rate given as a Python function cannot be serialized.")
    return {"module": entry.module, "class_name": entry.name, "config": config, "registered_name": None}


def deserialize(config: dict) -> Optimizer:
    """The optimizer of ``serialize``'s dict, every setting checked against its class's schema (only gradfit's
    registered optimizers and schedules are built; nothing named by the dict is imported)."""
    return load_object(registry.OPTIMIZERS, config, "optimizer")
