"""``gradfit.keras`` mirrors ``tensorflow.keras``: same module paths, same names."""

from ..layers import Input
from ..models import Sequential
from . import (
    activations,
    backend,
    callbacks,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    saving,
    utils,
    wrappers,
)

__all__ = [
    "Input",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "saving",
    "utils",
    "wrappers",
]
