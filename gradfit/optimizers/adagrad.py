"""Adagrad (``keras.optimizers.Adagrad``)."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..schema import Number, Schema
from .base import Optimizer, SlotSpec, f32


@registry.OPTIMIZERS.register(aliases=("adagrad",))
class Adagrad(Optimizer):
    """``acc = acc + g^2;  w = w - alpha g / sqrt(acc + eps)``, with ``acc`` starting at 0.1."""

    config_schema = Schema(
        {"initial_accumulator_value": Number(0.1, lo=0), "epsilon": Number(1e-7, lo=0)},
        base=Optimizer.config_schema,
    )
    rule = "acc = acc + g^2;  w = w - alpha * g / sqrt(acc + eps)"

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        c = self._checked(initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)
        self.initial_accumulator_value, self.epsilon = float(c["initial_accumulator_value"]), float(c["epsilon"])

    def slot_specs(self):
        # Keras fills it with initializers.Constant, which casts the value
        return (SlotSpec("accumulators", "accumulator", fill=f32(self.initial_accumulator_value), nonnegative=True),)

    def update(self, w, g, lr, t):
        acc, tmp = self._slots["accumulators"], self._tmp
        np.square(g, out=tmp)
        acc += tmp
        np.add(acc, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
