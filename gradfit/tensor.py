"""Array results that also answer TensorFlow's ``.numpy()``, and the symbolic shapes of ``Input``."""

from __future__ import annotations

import numpy as np


class Tensor(np.ndarray):
    """A NumPy array with TensorFlow's ``.numpy()``, returned where course code expects a tensor
    (``model(x)``, ``layer(x)``, ``tf.nn.softmax(z)``). It is an ``ndarray`` in every other way."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)


class SymbolicTensor:
    """What ``Input(shape=…)`` and ``layer.output`` stand for: a shape (batch first, None) and a dtype."""

    def __init__(self, shape, dtype: str = "float32", name: str | None = None, input_layer=None):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = dtype
        self.name = name
        self._input_layer = input_layer

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"
