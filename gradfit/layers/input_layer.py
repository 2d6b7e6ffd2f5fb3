"""``Input(shape=…)`` and ``InputLayer``: declare the input size so a model builds before seeing data."""

from __future__ import annotations

from .. import backend, registry
from ..schema import DType, Int, Name, Off, Optional, Schema, Shape
from ..tensor import SymbolicTensor
from .base import Layer


@registry.LAYERS.register()
class InputLayer(Layer):
    """Declares inputs of shape ``(batch_size, *shape)``; has no weights and passes data through."""

    #: Keras 3's settings (``batch_shape`` is what it writes), and Keras 2's ``batch_input_shape``/``input_shape``
    config_schema = Schema(
        {
            "shape": Optional(Shape(batch=False)).explained("the size of one example, e.g. shape=(400,)"),
            "batch_size": Optional(Int(lo=1)),
            "dtype": DType(None),
            "sparse": Off(),
            "ragged": Off(),
            "batch_shape": Optional(Shape()),
            "input_tensor": Off(),
            "optional": Off(False),
            "name": Optional(Name()),
            "input_shape": Optional(Shape(batch=False)),
            "batch_input_shape": Optional(Shape()),
        },
        ignored=("trainable",),  # Keras 2 wrote it; an input has nothing to train
    )

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        ragged=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        input_shape=None,
        batch_input_shape=None,
        **kwargs,
    ):
        if isinstance(shape, int):
            shape = (shape,)
        own = {
            "shape": shape,
            "batch_size": batch_size,
            "dtype": dtype,
            "sparse": sparse,
            "ragged": ragged,
            "batch_shape": batch_shape,
            "input_tensor": input_tensor,
            "optional": optional,
            "name": name,
            "input_shape": input_shape,
            "batch_input_shape": batch_input_shape,
        }
        c = self.config_schema.check(type(self).__name__, own)
        shape = c["shape"] if c["shape"] is not None else c["input_shape"]
        batch_shape = c["batch_shape"] or c["batch_input_shape"]
        batch_size = c["batch_size"]
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs shape=…, the size of one example, e.g. shape=(400,).")
        super().__init__(name=c["name"] or backend.unique_name("input_layer"), dtype=c["dtype"], **kwargs)
        self.batch_shape = (batch_size,) + tuple(shape)
        self._finish_build(self.batch_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype or backend.floatx(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def describe(self, inp: str, out: str, index: int) -> dict:
        return {
            "forward": [f"{out} = {inp}, examples of shape {self.batch_shape[1:]}"],
            "note": "input",
            "backward": [],
            "weights": [],
        }


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs) -> SymbolicTensor:
    """The symbolic input of a model: ``Sequential([Input(shape=(400,)), Dense(25), …])``."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)
    return SymbolicTensor(layer.batch_shape, dtype=dtype or backend.floatx(), name=layer.name, input_layer=layer)
