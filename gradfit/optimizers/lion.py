"""Lion: the sign of an interpolated momentum (``keras.optimizers.Lion``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, SlotSpec, f32


@registry.OPTIMIZERS.register(aliases=("lion",))
class Lion(Optimizer):
    """Lion as Keras writes it (Chen et al., 2023)::

    w = w - alpha sign(b1 m + (1 - b1) g)
    m = b2 m + (1 - b2) g
    """

    config_schema = Schema(
        # beta_1 = 0 would make it signSGD, which Keras refuses
        {"beta_1": Number(0.9, lo=0, lo_open=True, hi=1), "beta_2": Number(0.99, lo=0, hi=1)},
        base=Optimizer.config_schema,
    )
    rule = "w = w - alpha * sign(b1*m + (1-b1)*g);  m = b2*m + (1-b2)*g"
    scratch_buffers = 2

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2 = float(c["beta_1"]), float(c["beta_2"])

    def slot_specs(self):
        # not kept scaled: the sign of b1 m + (1 - b1) g must be computed as Keras does, a different rounding
        # could flip it where it is near 0 and move a weight by 2 alpha
        return (SlotSpec("momentums", "momentum"),)

    def _coefficients(self):
        b1, b2 = f32(self.beta_1), f32(self.beta_2)  # Keras casts both betas to the weights' type
        return {"beta_1": b1, "one_minus_beta_1": 1.0 - b1, "beta_2": b2, "one_minus_beta_2": 1.0 - b2}

    def update(self, w, g, lr, t):
        m, c = self._slots["momentums"], self._c
        tmp, tmp2 = self._scratch
        np.multiply(m, c["beta_1"], out=tmp)
        np.multiply(g, c["one_minus_beta_1"], out=tmp2)
        np.add(tmp, tmp2, out=tmp)
        np.sign(tmp, out=tmp)
        np.multiply(tmp, lr, out=tmp)
        np.subtract(w, tmp, out=w)
        np.multiply(m, c["beta_2"], out=m)
        np.multiply(g, c["one_minus_beta_2"], out=tmp)
        np.add(m, tmp, out=m)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
