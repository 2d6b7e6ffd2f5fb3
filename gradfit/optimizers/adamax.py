"""Adamax: Adam with the infinity norm (``keras.optimizers.Adamax``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, SlotSpec, f32, slot_scale


@registry.OPTIMIZERS.register(aliases=("adamax",))
class Adamax(Optimizer):
    """Adamax as Keras writes it::

    m = b1 m + (1 - b1) g;   u = max(b2 u, |g|)
    w = w - alpha / (1 - b1^t) * m / (u + eps)
    """

    config_schema = Schema(
        {
            # beta_1 = 1 would divide by 1 - beta_1^t = 0 (Keras accepts it and its weights become NaN)
            "beta_1": Number(0.9, lo=0, hi=1, hi_open=True),
            "beta_2": Number(0.999, lo=0, hi=1),
            "epsilon": Number(1e-7, lo=0),
        },
        base=Optimizer.config_schema,
    )
    rule = "m = b1*m + (1-b1)*g;  u = max(b2*u, |g|);  w = w - alpha/(1-b1^t) * m / (u + eps)"

    def __init__(
        self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
        self.beta_1, self.beta_2, self.epsilon = float(c["beta_1"]), float(c["beta_2"]), float(c["epsilon"])
        self._b1_f32 = f32(self.beta_1)  # the bias correction casts beta_1 (through float32); m and u do not

    def slot_specs(self):
        # m kept as M = m / (1 - b1): M = b1 M + g is two passes where m += (g - m)(1 - b1) is three
        return (
            SlotSpec("momentums", "momentum", scale=slot_scale(1 - self.beta_1)),
            SlotSpec("norms", "norm", nonnegative=True),  # u + eps is a divisor
        )

    def keras_layout(self):
        return (("momentums", "norms"),)

    def _coefficients(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def update(self, w, g, lr, t):
        m, u, tmp, c = self._slots["momentums"], self._slots["norms"], self._tmp, self._c
        np.multiply(m, c["beta_1"], out=m)  # M = b1 M + g
        if self.beta_1 != 1:
            np.add(m, g, out=m)
        np.multiply(u, c["beta_2"], out=u)  # u = max(b2 u, |g|)
        np.abs(g, out=tmp)
        np.maximum(u, tmp, out=u)
        np.add(u, c["epsilon"], out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, lr * self._scales["momentums"] / (1.0 - self._b1_f32**t), out=tmp)
        np.subtract(w, tmp, out=w)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
