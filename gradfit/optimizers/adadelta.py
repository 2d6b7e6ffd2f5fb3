"""Adadelta (``keras.optimizers.Adadelta``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, SlotSpec


@registry.OPTIMIZERS.register(aliases=("adadelta",))
class Adadelta(Optimizer):
    """Adadelta as Keras writes it (Zeiler, 2012, with a learning rate)::

    E[g^2] = rho E[g^2] + (1 - rho) g^2
    dw = -sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) * g
    E[dw^2] = rho E[dw^2] + (1 - rho) dw^2
    w = w + alpha dw
    """

    config_schema = Schema(
        {"rho": Number(0.95, lo=0, hi=1), "epsilon": Number(1e-7, lo=0)}, base=Optimizer.config_schema
    )
    rule = (
        "Eg2 = rho*Eg2 + (1-rho)*g^2;  dw = -sqrt(Edw2 + eps)/sqrt(Eg2 + eps) * g;  "
        "Edw2 = rho*Edw2 + (1-rho)*dw^2;  w = w + alpha*dw"
    )
    scratch_buffers = 2

    def __init__(self, learning_rate=0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(rho=rho, epsilon=epsilon)
        self.rho, self.epsilon = float(c["rho"]), float(c["epsilon"])

    def slot_specs(self):
        return (
            SlotSpec("accumulated_grads", "accumulated_grad", nonnegative=True),
            SlotSpec("accumulated_delta_vars", "accumulated_delta_var", nonnegative=True),
        )

    def keras_layout(self):
        return (("accumulated_grads", "accumulated_delta_vars"),)

    def _coefficients(self):
        return {"rho": self.rho, "one_minus_rho": 1 - self.rho, "epsilon": self.epsilon}

    def update(self, w, g, lr, t):
        eg2, edw2, c = self._slots["accumulated_grads"], self._slots["accumulated_delta_vars"], self._c
        tmp, tmp2 = self._scratch
        np.square(g, out=tmp)  # E[g^2] = rho E[g^2] + (1 - rho) g^2
        np.multiply(tmp, c["one_minus_rho"], out=tmp)
        np.multiply(eg2, c["rho"], out=eg2)
        np.add(eg2, tmp, out=eg2)
        np.add(edw2, c["epsilon"], out=tmp)  # |dw| in tmp: sqrt(E[dw^2] + eps) g / sqrt(E[g^2] + eps)
        np.sqrt(tmp, out=tmp)
        np.multiply(tmp, g, out=tmp)
        np.add(eg2, c["epsilon"], out=tmp2)
        np.sqrt(tmp2, out=tmp2)
        np.divide(tmp, tmp2, out=tmp)
        np.square(tmp, out=tmp2)  # E[dw^2] = rho E[dw^2] + (1 - rho) dw^2
        np.multiply(tmp2, c["one_minus_rho"], out=tmp2)
        np.multiply(edw2, c["rho"], out=edw2)
        np.add(edw2, tmp2, out=edw2)
        np.multiply(tmp, lr, out=tmp)  # w = w + alpha dw, dw = -tmp
        np.subtract(w, tmp, out=w)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
