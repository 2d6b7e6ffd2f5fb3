"""Stochastic gradient descent, with optional momentum and Nesterov momentum (``keras.optimizers.SGD``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Bool, Number, Schema
from .base import Optimizer, SlotSpec, f32
from .fields import LearningRate


@registry.OPTIMIZERS.register(aliases=("sgd",))
class SGD(Optimizer):
    """Gradient descent ``w = w - alpha dJ/dw``; with momentum ``v = mu v - alpha g;  w = w + v``;
    Nesterov ``w = w + mu v - alpha g`` (with the updated ``v``)."""

    config_schema = Schema(
        {"learning_rate": LearningRate(0.01), "momentum": Number(0.0, lo=0, hi=1), "nesterov": Bool(False)},
        base=Optimizer.config_schema,
    )
    default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(momentum=momentum, nesterov=nesterov)
        self.momentum, self.nesterov = float(c["momentum"]), c["nesterov"]
        self.rule = (
            "w = w - alpha * dJ/dw"
            if not self.momentum
            else "v = momentum * v - alpha * dJ/dw;  w = w + "
            + ("momentum * v - alpha * dJ/dw" if self.nesterov else "v")
        )

    def slot_specs(self):
        return (SlotSpec("momentums", "momentum"),) if self.momentum else ()

    def _coefficients(self):
        return {"momentum": f32(self.momentum)}  # Keras casts the momentum

    def update(self, w, g, lr, t):
        step = np.multiply(g, lr, out=self._tmp)  # alpha g
        if not self.momentum:
            w -= step
            return
        v, mu = self._slots["momentums"], self._c["momentum"]
        v *= mu
        v -= step
        if self.nesterov:  # w += mu v - alpha g, reusing alpha g in the scratch vector
            np.subtract(np.multiply(v, mu), step, out=step)
            w += step
        else:
            w += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
