"""FTRL-Proximal: follow the regularized leader (``keras.optimizers.Ftrl``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, SlotSpec, f32
from .fields import LearningRate


@registry.OPTIMIZERS.register(aliases=("ftrl",))
class Ftrl(Optimizer):
    """FTRL as Keras writes it (McMahan et al., 2013), ``p = learning_rate_power``::

    g' = g + 2 l2_shrinkage w
    n_new = n + g^2
    z = z + g' - (n_new^(-p) - n^(-p)) / alpha * w
    w = (clip(z, -l1, l1) - z) / (n_new^(-p) / alpha + 2 (l2 + beta / (2 alpha)));   n = n_new
    """

    config_schema = Schema(
        {
            # the rule divides by alpha: 0 would make every weight NaN (as it does in Keras), so it is refused
            "learning_rate": LearningRate(0.001, positive=True),
            "learning_rate_power": Number(-0.5, hi=0),
            "initial_accumulator_value": Number(0.1, lo=0),
            "l1_regularization_strength": Number(0.0, lo=0),
            "l2_regularization_strength": Number(0.0, lo=0),
            "l2_shrinkage_regularization_strength": Number(0.0, lo=0),
            "beta": Number(0.0),
        },
        base=Optimizer.config_schema,
    )
    rule = (
        "n_new = n + g^2;  z = z + g - (n_new^-p - n^-p)/alpha * w;  "
        "w = (clip(z, -l1, l1) - z) / (n_new^-p/alpha + 2*l2)"
    )
    scratch_buffers = 2
    divides_by_learning_rate = True

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(
            learning_rate_power=learning_rate_power,
            initial_accumulator_value=initial_accumulator_value,
            l1_regularization_strength=l1_regularization_strength,
            l2_regularization_strength=l2_regularization_strength,
            l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength,
            beta=beta,
        )
        self.learning_rate_power = float(c["learning_rate_power"])
        self.initial_accumulator_value = float(c["initial_accumulator_value"])
        self.l1_regularization_strength = float(c["l1_regularization_strength"])
        self.l2_regularization_strength = float(c["l2_regularization_strength"])
        self.l2_shrinkage_regularization_strength = float(c["l2_shrinkage_regularization_strength"])
        self.beta = float(c["beta"])

    def slot_specs(self):
        return (
            # Constant casts; n^(-p) is a power of it
            SlotSpec("accumulators", "accumulator", fill=f32(self.initial_accumulator_value), nonnegative=True),
            SlotSpec("linears", "linear"),
        )

    def keras_layout(self):
        return (("accumulators", "linears"),)

    def _power(self, x, out):
        """``x^(-p)`` into ``out``: a square root for the default p = -0.5 (a third of np.power's time)."""
        if self.learning_rate_power == -0.5:
            return np.sqrt(x, out=out)
        return np.power(x, -self.learning_rate_power, out=out)

    def update(self, w, g, lr, t):
        n, z = self._slots["accumulators"], self._slots["linears"]
        tmp, tmp2 = self._scratch
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        self._power(n, tmp)  # n^(-p)
        np.square(g, out=tmp2)  # n = n + g^2 (no one reads the old n after its power)
        np.add(n, tmp2, out=n)
        self._power(n, tmp2)  # n_new^(-p), kept for the denominator
        np.subtract(tmp2, tmp, out=tmp)  # z = z + g' - sigma w, sigma = (n_new^(-p) - n^(-p)) / alpha
        np.multiply(tmp, w, out=tmp)
        np.multiply(tmp, 1.0 / lr, out=tmp)
        np.add(z, g, out=z)
        np.subtract(z, tmp, out=z)
        if self.l2_shrinkage_regularization_strength:
            np.multiply(w, 2.0 * self.l2_shrinkage_regularization_strength, out=tmp)
            np.add(z, tmp, out=z)
        np.multiply(tmp2, 1.0 / lr, out=tmp2)  # the denominator n_new^(-p) / alpha + 2 l2
        np.add(tmp2, 2.0 * l2, out=tmp2)
        np.clip(z, -l1, l1, out=tmp)  # w = (clip(z, -l1, l1) - z) / denominator
        np.subtract(tmp, z, out=tmp)
        np.divide(tmp, tmp2, out=w)

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }
