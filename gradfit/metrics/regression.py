"""Regression errors: the mean over the epoch of each example's error, ``(1/m) sum_i (1/n) sum_j e(f(x_i)_j, y_ij)``
(the inner mean over the output's ``n`` units, as Keras)."""

from __future__ import annotations

import numpy as np

from ..schema import Schema
from .base import Metric, keras_metric, named

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError"]


@keras_metric("mse", "MSE")
class MeanSquaredError(Metric):
    """``(1/m) sum_i mean_j (f(x_i)_j - y_ij)^2``."""

    _direction = "down"
    config_schema = Schema({"name": named("mean_squared_error")}, base=Metric.config_schema)

    def __init__(self, name: str = "mean_squared_error", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return np.square(p - y).mean(axis=-1)


@keras_metric("mae", "MAE")
class MeanAbsoluteError(Metric):
    """``(1/m) sum_i mean_j |f(x_i)_j - y_ij|``."""

    _direction = "down"
    config_schema = Schema({"name": named("mean_absolute_error")}, base=Metric.config_schema)

    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return np.abs(p - y).mean(axis=-1)


@keras_metric()
class RootMeanSquaredError(Metric):
    """``sqrt`` of the (weighted) mean squared error accumulated so far: not the mean of per-batch RMSEs."""

    _direction = "down"
    config_schema = Schema({"name": named("root_mean_squared_error")}, base=Metric.config_schema)

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return np.square(p - y).mean(axis=-1)

    def result(self) -> float:
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0
