"""gradfit: train neural networks with the Keras API on NumPy alone.

    from gradfit.keras import Sequential
    from gradfit.keras.layers import Dense
    from gradfit.keras.losses import BinaryCrossentropy

or ``import gradfit as tf`` and keep writing ``tf.keras.…``, ``tf.math.…``, ``tf.nn.…``.
"""

import logging as _logging

import numpy as _np

from . import (
    activations,
    autograph,
    backend,
    callbacks,
    initializers,
    keras,
    layers,
    losses,
    math,
    metrics,
    nn,
    optimizers,
    random,
    regularizers,
)
from .advice import GradfitAdvice
from .gradcheck import check_gradients
from .models import Sequential
from .tensor import Tensor, TensorShape, Variable

__version__ = "0.1.0"

#: TensorFlow's dtype names, as NumPy dtypes (``tf.constant(x, dtype=tf.float32)``)
float16, float32, float64 = _np.dtype("float16"), _np.dtype("float32"), _np.dtype("float64")
int8, int16, int32, int64 = _np.dtype("int8"), _np.dtype("int16"), _np.dtype("int32"), _np.dtype("int64")
uint8, bool = _np.dtype("uint8"), _np.dtype("bool")  # noqa: A001 (TensorFlow's name)


def get_logger() -> _logging.Logger:
    """TensorFlow's ``tf.get_logger()``: the standard ``logging`` logger named ``"tensorflow"``, so that the labs'
    first line, ``tf.get_logger().setLevel('ERROR')``, works.

    gradfit itself logs nothing there. Its advice (``GradfitAdvice``) is a Python warning, as Keras's own
    warnings are, and so is not silenced by the logger's level (the labs set it to ``ERROR`` in their first
    cell, which would otherwise hide all advice); silence advice with
    ``warnings.filterwarnings("ignore", category=gradfit.GradfitAdvice)``."""
    return _logging.getLogger("tensorflow")


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """``tf.constant``: ``value`` as a Tensor (a Python float is float32, an int int32, as TensorFlow), cast to
    ``dtype`` and broadcast to ``shape`` when given."""
    arr = math.convert(value) if dtype is None else _np.asarray(value, dtype=_np.dtype(dtype))
    if shape is not None:
        arr = _np.broadcast_to(arr, tuple(shape)).copy()
    return arr.view(Tensor)


def convert_to_tensor(value, dtype=None, name=None) -> Tensor:
    """``tf.convert_to_tensor``: ``value`` as a Tensor, with ``tf.constant``'s dtype rules."""
    return constant(value, dtype=dtype)


# `math` (tf.math) is left out of `__all__`: `from gradfit import *` must not shadow the standard library's math
__all__ = [
    "GradfitAdvice",
    "Sequential",
    "Tensor",
    "TensorShape",
    "Variable",
    "check_gradients",
    "constant",
    "convert_to_tensor",
    "get_logger",
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
