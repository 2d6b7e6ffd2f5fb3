"""``Rescaling``: ``y = x * scale + offset``, e.g. pixels in [0, 255] to [0, 1] with ``scale=1/255``."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import registry
from ..schema import MAX_LIST, Field, Schema, _Problem, short
from .base import Layer

__all__ = ["Rescaling"]


class _Factor(Field):
    """A finite number, or a (nested) list of them broadcast against the input's last axes (Keras accepts both)."""

    def _check(self, v, json, depth: int = 0):
        if not json and depth == 0 and isinstance(v, np.ndarray):
            v = v.tolist()
        if not json and isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)):
            v = float(v) if not isinstance(v, (int, np.integer)) else int(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise _Problem(f"must be finite, got {short(v)}")
            return v
        if isinstance(v, (list, tuple)) and v and depth < 8 and len(v) <= MAX_LIST:
            return [self._check(x, json, depth + 1) for x in v]
        raise _Problem(f"must be a number or a list of numbers, got {short(v)}")


@registry.LAYERS.register()
class Rescaling(Layer):
    """``y = x * scale + offset``, in training and at inference alike; no weights.

    ``scale`` and ``offset`` are numbers, or lists broadcast against the input's last axes (one per channel).
    The input is first cast to the layer's float type (integer pixels welcome). Backward:
    ``dJ/dx = dJ/dy * scale``, summed back over any axis the broadcast added.

    Parameters
    ----------
    scale : float or list of float
        ``1/255`` maps [0, 255] to [0, 1]; ``1/127.5`` with ``offset=-1`` maps it to [-1, 1].
    offset : float or list of float
    """

    config_schema = Schema({"scale": _Factor(), "offset": _Factor(0.0)}, base=Layer.config_schema)

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        checked = self.config_schema.check("Rescaling", {"scale": scale, "offset": offset})
        self.scale, self.offset = checked["scale"], checked["offset"]
        self._x_shape: tuple | None = None

    def forward(self, x, training=False):
        scale = np.asarray(self.scale, dtype=x.dtype)
        self._x_shape, self._scale = x.shape, scale
        return x * scale + np.asarray(self.offset, dtype=x.dtype)

    def backward(self, dy):
        if self.skip_input_grad:
            return None
        dx = dy * self._scale
        if dx.shape != self._x_shape:  # the broadcast made the output larger than x: sum its copies back
            extra = dx.ndim - len(self._x_shape)
            dx = dx.sum(axis=tuple(range(extra))) if extra else dx
            keep = tuple(i for i, (n, d) in enumerate(zip(self._x_shape, dx.shape)) if n == 1 and d != 1)
            dx = dx.sum(axis=keep, keepdims=True) if keep else dx
        return dx

    def compute_output_shape(self, input_shape):
        example = tuple(1 if d is None else d for d in input_shape)
        for what, value in (("scale", self.scale), ("offset", self.offset)):
            try:
                np.broadcast_shapes(example, np.shape(value))
            except ValueError:
                raise ValueError(
                    f"Rescaling {self.name!r}: a {what} of shape {np.shape(value)} cannot apply to inputs of shape "
                    f"{tuple(input_shape)}; it broadcasts against the last axes: give one number, or one per "
                    "entry of the last axis."
                ) from None
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}

    def describe(self, inp: str, out: str, index: int) -> dict:
        def text(v):
            return f"{v:g}" if isinstance(v, (int, float)) else str(v)

        if isinstance(self.offset, (int, float)):
            offset = "" if self.offset == 0 else f" {'-' if self.offset < 0 else '+'} {abs(self.offset):g}"
        else:
            offset = f" + {self.offset}"
        return {
            "forward": [f"{out} = {inp} * {text(self.scale)}{offset}"],
            "backward": [f"d{inp} = d{out} * {text(self.scale)}"],
            "weights": [],
        }
