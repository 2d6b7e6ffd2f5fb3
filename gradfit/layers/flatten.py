"""``Flatten``: turn each example into one row, so images ``(m, 20, 20)`` feed a ``Dense`` layer."""

from __future__ import annotations

import math

from .. import registry
from ..schema import Choice, Schema
from .base import Layer


@registry.LAYERS.register()
class Flatten(Layer):
    """``y[i] = x[i].reshape(-1)``: each example's values in one row, in C order (last axis fastest), as Keras.

    A batch of ``m`` images of 20 x 20 pixels, shape ``(m, 20, 20)``, becomes ``(m, 400)`` with
    ``y[i, 20 * r + c] = x[i, r, c]``. Inputs of shape ``(m,)`` become ``(m, 1)``. There are no weights;
    backward reshapes ``dJ/dy`` back to the input's shape.

    Parameters
    ----------
    data_format : {'channels_last', 'channels_first'}, optional
        With ``'channels_first'`` the axis after the batch axis is moved to the end before flattening
        (``(m, C, H, W)`` is flattened as ``(m, H, W, C)``), as Keras does. Defaults to ``'channels_last'``.
    """

    config_schema = Schema(
        {"data_format": Choice(None, "channels_last", "channels_first", default=None)}, base=Layer.config_schema
    )

    def __init__(self, data_format=None, **kwargs):
        if isinstance(data_format, str):
            data_format = data_format.lower()  # as Keras's standardize_data_format
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, {"data_format": data_format}, kwargs)
        super().__init__(**kwargs)
        self.data_format = c["data_format"] or "channels_last"
        self._channels_first = data_format == "channels_first"
        self._x_shape: tuple | None = None

    def forward(self, x, training=False):
        self._x_shape = x.shape
        if self._channels_first and x.ndim > 2:
            x = x.transpose((0, *range(2, x.ndim), 1))
        return x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(x.shape[0], 1)

    def backward(self, dy):
        if self.skip_input_grad:
            return None
        shape = self._x_shape
        if self._channels_first and len(shape) > 2:
            moved = (shape[0], *shape[2:], shape[1])
            return dy.reshape(moved).transpose((0, len(shape) - 1, *range(1, len(shape) - 1)))
        return dy.reshape(shape)

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape[1:])
        if not rest:
            return (input_shape[0], 1)
        if any(d is None for d in rest):
            return (input_shape[0], None)
        return (input_shape[0], math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

    def describe(self, inp: str, out: str, index: int) -> dict:
        order = " (channels moved last first)" if self._channels_first else ""
        return {
            "forward": [f"{out} = {inp} with each example in one row{order}"],
            "backward": [f"d{inp} = d{out} reshaped back to the shape of {inp}"],
            "weights": [],
        }
