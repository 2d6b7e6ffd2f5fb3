"""gradfit: train neural networks with the Keras API on NumPy alone.

    from gradfit.keras import Sequential
    from gradfit.keras.layers import Dense
    from gradfit.keras.losses import BinaryCrossentropy

or ``import gradfit as tf`` and keep writing ``tf.keras.…``.
"""

from . import (
    activations,
    autograph,
    backend,
    callbacks,
    initializers,
    keras,
    layers,
    losses,
    metrics,
    nn,
    optimizers,
    random,
    regularizers,
)
from .advice import GradfitAdvice
from .gradcheck import check_gradients
from .models import Sequential

__version__ = "0.1.0"

__all__ = [
    "GradfitAdvice",
    "Sequential",
    "check_gradients",
    "activations",
    "autograph",
    "backend",
    "callbacks",
    "initializers",
    "keras",
    "layers",
    "losses",
    "metrics",
    "nn",
    "optimizers",
    "random",
    "regularizers",
]
