"""RMSprop (``keras.optimizers.RMSprop``): plain, centered, with momentum."""

from __future__ import annotations

import math

import numpy as np

from .. import registry
from ..schema import Bool, Number, Schema
from .base import Optimizer, SlotSpec, slot_scale


@registry.OPTIMIZERS.register(aliases=("rmsprop",))
class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g^2;  w = w - alpha g / sqrt(v + eps)`` (eps inside the root, as Keras).

    Centered: ``a = rho a + (1 - rho) g`` and ``v - a^2`` under the root. Momentum: ``m = mu m + alpha g /
    sqrt(...);  w = w - m``.
    """

    config_schema = Schema(
        {
            "rho": Number(0.9, lo=0, hi=1),
            "momentum": Number(0.0, lo=0, hi=1),
            "epsilon": Number(1e-7, lo=0),
            "centered": Bool(False),
        },
        base=Optimizer.config_schema,
    )
    default_name = "rmsprop"
    rule = "v = rho * v + (1 - rho) * g^2;  w = w - alpha * g / sqrt(v + eps)"

    def __init__(
        self,
        learning_rate=0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(rho=rho, momentum=momentum, epsilon=epsilon, centered=centered)
        self.rho, self.momentum, self.epsilon = float(c["rho"]), float(c["momentum"]), float(c["epsilon"])
        self.centered = c["centered"]

    def slot_specs(self):
        # uncentered, v is kept as V = v / (1 - rho), so that V = rho V + g^2 saves the multiply by 1 - rho
        scale = slot_scale(1 - self.rho) if not self.centered else 1.0
        return (
            (SlotSpec("velocities", "velocity", scale=scale, nonnegative=True),)
            + ((SlotSpec("average_gradients", "average_gradient"),) if self.centered else ())
            + ((SlotSpec("momentums", "momentum"),) if self.momentum else ())
        )

    def keras_layout(self):
        # Keras adds velocities, then momentums, then average gradients, each in a block of its own
        return (
            (("velocities",),)
            + ((("momentums",),) if self.momentum else ())
            + ((("average_gradients",),) if self.centered else ())
        )

    def _coefficients(self):
        s = self._scales["velocities"]
        return {
            "rho": self.rho,
            "one_minus_rho": 1 - self.rho,
            "epsilon": self.epsilon / s,  # sqrt(v + eps) = sqrt(s) sqrt(V + eps / s)
            "momentum": self.momentum,
        }

    def update(self, w, g, lr, t):
        v, tmp, c = self._slots["velocities"], self._tmp, self._c
        np.square(g, out=tmp)
        if self.centered:  # v = rho v + (1 - rho) g^2
            np.multiply(tmp, c["one_minus_rho"], out=tmp)
        np.multiply(v, c["rho"], out=v)  # uncentered: V = rho V + g^2
        if self.centered or self.rho != 1:
            np.add(v, tmp, out=v)
        if self.centered:
            avg = self._slots["average_gradients"]
            np.multiply(avg, c["rho"], out=avg)
            np.multiply(g, c["one_minus_rho"], out=tmp)
            np.add(avg, tmp, out=avg)
            np.square(avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.add(tmp, c["epsilon"], out=tmp)
        else:
            np.add(v, c["epsilon"], out=tmp)
        np.sqrt(tmp, out=tmp)  # increment = alpha g / sqrt(v + eps) = alpha / sqrt(s) g / sqrt(V + eps / s)
        np.divide(g, tmp, out=tmp)
        np.multiply(tmp, lr / math.sqrt(self._scales["velocities"]), out=tmp)
        if self.momentum:
            m = self._slots["momentums"]
            np.multiply(m, c["momentum"], out=m)
            np.add(m, tmp, out=m)
            np.subtract(w, m, out=w)
        else:
            np.subtract(w, tmp, out=w)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
