"""Adam and AdamW (``keras.optimizers.Adam``, ``keras.optimizers.AdamW``)."""

from __future__ import annotations

import math

import numpy as np

from .. import registry
from ..schema import Bool, Number, Schema
from .base import Optimizer, SlotSpec, f32, slot_scale


@registry.OPTIMIZERS.register(aliases=("adam",))
class Adam(Optimizer):
    """Adam as Keras writes it (bias correction folded into the step size, eps not corrected)::

    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    w = w - alpha sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    With ``amsgrad``, ``v_hat = max(v_hat, v)`` replaces ``v`` in the step.
    """

    config_schema = Schema(
        {
            # beta_1 = 1 would divide by 1 - beta_1^t = 0 at the first step (Keras accepts it and its weights
            # become NaN; gradfit refuses what would corrupt the state); beta_2 = 1 only stops learning
            "beta_1": Number(0.9, lo=0, hi=1, hi_open=True),
            "beta_2": Number(0.999, lo=0, hi=1),
            "epsilon": Number(1e-7, lo=0),
            "amsgrad": Bool(False),
        },
        base=Optimizer.config_schema,
    )
    rule = "m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  w = w - alpha*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)"

    def __init__(
        self,
        learning_rate=0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad)
        self.beta_1, self.beta_2, self.epsilon = float(c["beta_1"]), float(c["beta_2"]), float(c["epsilon"])
        self.amsgrad = c["amsgrad"]
        # Keras's bias correction uses ops.cast(beta): beta_2 = 0.999 is really 0.99900001 there
        self._betas_f32 = (f32(self.beta_1), f32(self.beta_2))

    def slot_specs(self):
        # m and v are kept as M = m / (1 - b1) and V = v / (1 - b2) (and v_hat as v): M = b1 M + g and
        # V = b2 V + g^2 take two and three passes over the weights where Keras's m += (g - m)(1 - b1) and
        # v += (g^2 - v)(1 - b2) take three and four. On an MNIST-sized network (235k weights) that is
        # 75 us of a 330 us step of Adam; the values agree with Keras's to float32 rounding.
        s1, s2 = slot_scale(1 - self.beta_1), slot_scale(1 - self.beta_2)
        return (
            SlotSpec("momentums", "momentum", scale=s1),
            SlotSpec("velocities", "velocity", scale=s2, nonnegative=True),
        ) + ((SlotSpec("velocity_hats", "velocity_hat", scale=s2, nonnegative=True),) if self.amsgrad else ())

    def keras_layout(self):
        # Keras adds momentum and velocity interleaved weight by weight, then the velocity_hats
        return (("momentums", "velocities"),) + ((("velocity_hats",),) if self.amsgrad else ())

    def _coefficients(self):
        # w -= alpha m / (sqrt(v) + eps) = alpha s1 / sqrt(s2) * M / (sqrt(V) + eps / sqrt(s2))
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon / math.sqrt(self._scales["velocities"]),
        }

    def update(self, w, g, lr, t):
        m, v, tmp, c = self._slots["momentums"], self._slots["velocities"], self._tmp, self._c
        np.multiply(m, c["beta_1"], out=m)  # M = b1 M + g
        if self.beta_1 != 1:
            np.add(m, g, out=m)
        np.square(g, out=tmp)  # V = b2 V + g^2
        np.multiply(v, c["beta_2"], out=v)
        if self.beta_2 != 1:
            np.add(v, tmp, out=v)
        if self.amsgrad:
            v_hat = self._slots["velocity_hats"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        b1, b2 = self._betas_f32
        alpha = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        s1, s2 = self._scales["momentums"], self._scales["velocities"]
        np.sqrt(v, out=tmp)
        np.add(tmp, c["epsilon"], out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, alpha * s1 / math.sqrt(s2), out=tmp)
        np.subtract(w, tmp, out=w)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


@registry.OPTIMIZERS.register(aliases=("adamw",))
class AdamW(Adam):
    """Adam with decoupled weight decay: ``w = w - w wd alpha`` before each Adam step (``wd`` = 0.004)."""

    # a number, not None: Keras refuses AdamW without decay too (that is Adam)
    config_schema = Schema({"weight_decay": Number(0.004, lo=0)}, base=Adam.config_schema)
    default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rule = "w = w - w*wd*alpha;  then Adam: " + Adam.rule
