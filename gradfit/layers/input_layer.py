"""``Input(shape=…)`` and ``InputLayer``: declare the input size so a model builds before seeing data."""

from __future__ import annotations

from .. import backend
from ..tensor import SymbolicTensor
from .base import Layer


class InputLayer(Layer):
    """Declares inputs of shape ``(batch_size, *shape)``; has no weights and passes data through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None:
            shape = kwargs.pop("input_shape", None)
        if "batch_shape" in kwargs or "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_shape", None) or kwargs.pop("batch_input_shape")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs shape=…, the size of one example, e.g. shape=(400,).")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if any(s is not None and (not isinstance(s, int) or s <= 0) for s in shape):
            raise ValueError(f"InputLayer: shape must hold positive integers, got {shape}.")
        super().__init__(name=name or backend.unique_name("input_layer"), dtype=dtype, **kwargs)
        self.batch_shape = (batch_size,) + shape
        self._finish_build(self.batch_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype or backend.floatx(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(
            shape=tuple(config["batch_shape"][1:]),
            batch_size=config["batch_shape"][0],
            dtype=config.get("dtype"),
            name=config.get("name"),
        )


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs) -> SymbolicTensor:
    """The symbolic input of a model: ``Sequential([Input(shape=(400,)), Dense(25), …])``."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)
    return SymbolicTensor(layer.batch_shape, dtype=dtype or backend.floatx(), name=layer.name, input_layer=layer)
