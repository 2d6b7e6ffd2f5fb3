"""``Identity``: a layer that passes its input through, a placeholder where a model needs a layer."""

from __future__ import annotations

from .. import registry
from ..schema import Schema
from .base import Layer

__all__ = ["Identity"]


@registry.LAYERS.register()
class Identity(Layer):
    """``y = x``; backward ``dJ/dx = dJ/dy``. No weights, no settings beyond every layer's."""

    config_schema = Schema({}, base=Layer.config_schema)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return None if self.skip_input_grad else dy

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def describe(self, inp: str, out: str, index: int) -> dict:
        return {"forward": [f"{out} = {inp}"], "backward": [f"d{inp} = d{out}"], "weights": []}
