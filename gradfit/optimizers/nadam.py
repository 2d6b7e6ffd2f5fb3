"""Nadam: Adam with Nesterov momentum (``keras.optimizers.Nadam``)."""

from __future__ import annotations

import math

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, ScalarSpec, SlotSpec, f32, slot_scale


@registry.OPTIMIZERS.register(aliases=("nadam",))
class Nadam(Optimizer):
    """Nadam as Keras 3 writes it (Dozat's momentum schedule ``u_t = b1 (1 - 0.5 * 0.96^t)``)::

    u_product = u_product * u_t                       (a scalar of state, 1 before the first step)
    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product)
    v_hat = v / (1 - b2^t)
    w = w - alpha m_hat / (sqrt(v_hat) + eps)
    """

    config_schema = Schema(
        {
            "beta_1": Number(0.9, lo=0, hi=1),
            # beta_2 = 1 would divide by 1 - beta_2^t = 0 (Keras accepts it and its weights become NaN)
            "beta_2": Number(0.999, lo=0, hi=1, hi_open=True),
            "epsilon": Number(1e-7, lo=0),
        },
        base=Optimizer.config_schema,
    )
    rule = (
        "m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  "
        "w = w - alpha * (u[t+1]*m/(1-prod u[1..t+1]) + (1-u[t])*g/(1-prod u[1..t])) / (sqrt(v/(1-b2^t)) + eps)"
    )
    scratch_buffers = 2

    def __init__(
        self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
        self.beta_1, self.beta_2, self.epsilon = float(c["beta_1"]), float(c["beta_2"]), float(c["epsilon"])
        # the step casts beta_1, beta_2 and 0.96 to the weights' type (through float32); the running product
        # u_product multiplies by the Python floats themselves
        self._b1, self._b2, self._decay = f32(self.beta_1), f32(self.beta_2), f32(0.96)

    def slot_specs(self):
        # kept as M = m / (1 - b1) and V = v / (1 - b2), as Adam's (two and three passes instead of three and four)
        return (
            SlotSpec("momentums", "momentum", scale=slot_scale(1 - self._b1)),
            SlotSpec("velocities", "velocity", scale=slot_scale(1 - self._b2), nonnegative=True),
        )

    def scalar_specs(self):
        # a product of factors b1 (1 - 0.5 * 0.96^t) in [0, 1)
        return (ScalarSpec("u_product", "u_product", 1.0, lo=0.0, hi=1.0),)

    def keras_layout(self):
        return (("momentums", "velocities"),)

    def update(self, w, g, lr, t):
        self.u_product = u_product = self.u_product * self.beta_1 * (1.0 - 0.5 * 0.96**t)
        b1, b2, decay = self._b1, self._b2, self._decay
        u_t, u_next = b1 * (1.0 - 0.5 * decay**t), b1 * (1.0 - 0.5 * decay ** (t + 1))
        m, v = self._slots["momentums"], self._slots["velocities"]
        s1, s2 = self._scales["momentums"], self._scales["velocities"]
        tmp, tmp2 = self._scratch
        np.multiply(m, b1, out=m)  # M = b1 M + g
        if b1 != 1:
            np.add(m, g, out=m)
        np.square(g, out=tmp)  # V = b2 V + g^2
        np.multiply(v, b2, out=v)
        if b2 != 1:
            np.add(v, tmp, out=v)
        # sqrt(v_hat) = r sqrt(V) with r = sqrt(s2 / (1 - b2^t)): the step is (alpha / r) m_hat / (sqrt(V) + eps / r)
        r = math.sqrt(s2 / (1.0 - b2**t))
        k = lr / r
        np.multiply(m, k * u_next * s1 / (1.0 - u_product * u_next), out=tmp)
        np.multiply(g, k * (1.0 - u_t) / (1.0 - u_product), out=tmp2)
        np.add(tmp, tmp2, out=tmp)
        np.sqrt(v, out=tmp2)
        np.add(tmp2, self.epsilon / r, out=tmp2)
        np.divide(tmp, tmp2, out=tmp)
        np.subtract(w, tmp, out=w)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
