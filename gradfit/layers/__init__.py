"""Layers, one concept per file; ``gradfit.keras.layers`` re-exports them."""

from .activation_layers import Activation, LeakyReLU, ReLU, Softmax
from .base import Layer
from .batch_normalization import BatchNormalization
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .identity import Identity
from .input_layer import Input, InputLayer
from .layer_normalization import LayerNormalization
from .noise import GaussianDropout, GaussianNoise
from .normalization import Normalization
from .rescaling import Rescaling

__all__ = [
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "GaussianDropout",
    "GaussianNoise",
    "Identity",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "Normalization",
    "ReLU",
    "Rescaling",
    "Softmax",
]
