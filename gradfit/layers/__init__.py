"""Layers, one concept per file; ``gradfit.keras.layers`` re-exports them."""

from .base import Layer
from .dense import Dense
from .input_layer import Input, InputLayer
from .normalization import Normalization

__all__ = ["Dense", "Input", "InputLayer", "Layer", "Normalization"]
