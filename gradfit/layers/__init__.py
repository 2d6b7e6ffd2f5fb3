"""Layers, one concept per file; ``gradfit.keras.layers`` re-exports them."""

from .activation_layers import Activation, LeakyReLU, ReLU, Softmax
from .base import Layer
from .batch_normalization import BatchNormalization
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input_layer import Input, InputLayer
from .normalization import Normalization

__all__ = [
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "LeakyReLU",
    "Normalization",
    "ReLU",
    "Softmax",
]
