"""Regression losses on the error ``e = f(x) - y``: squared, absolute, Huber and log-cosh. Several output
units: the mean over them, so each gradient carries a ``1 / units``."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..schema import Number
from .base import Loss, loss_schema, register

__all__ = [
    "MAE",
    "MAPE",
    "MSE",
    "MSLE",
    "Huber",
    "LogCosh",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "huber",
    "log_cosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
]


@register("mean_squared_error", aliases=("mse", "MSE"))
class MeanSquaredError(Loss):
    """Squared error ``L = mean_j (p_j - y_j)^2``; ``dL/dp = 2 (p - y) / units``."""

    formula = "L = (f(x) - y)^2"
    config_schema = loss_schema("mean_squared_error")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "mean_squared_error"):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        return np.square(p - y).mean(axis=-1)

    def grad(self, y, p):
        return (p - y) * (2 / p.shape[-1])


@register("mean_absolute_error", aliases=("mae", "MAE"))
class MeanAbsoluteError(Loss):
    """Absolute error ``L = mean_j |p_j - y_j|``; ``dL/dp = sign(p - y) / units``."""

    formula = "L = |f(x) - y|"
    config_schema = loss_schema("mean_absolute_error")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "mean_absolute_error"):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        return np.abs(p - y).mean(axis=-1)

    def grad(self, y, p):
        return np.sign(p - y) / p.shape[-1]


# "huber_loss", Huber's Keras name (and a metric's), was accepted by gradfit before; Keras's get() knows "huber"
@register("huber", aliases=("huber_loss",))
class Huber(Loss):
    """Huber loss: ``e^2 / 2`` for ``|e| <= delta``, else ``delta (|e| - delta / 2)``, with ``e = p - y``;
    ``dL/dp = clip(e, -delta, delta) / units``."""

    formula = "L = e^2/2 if |e| <= delta else delta (|e| - delta/2),  e = f(x) - y"
    config_schema = loss_schema("huber_loss", {"delta": Number(1.0, lo=0.0)})

    def __init__(
        self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size", name: str | None = "huber_loss"
    ):
        self._configure(delta=delta, reduction=reduction, name=name)

    def per_sample(self, y, p):
        e = np.abs(p - y)
        d = self.delta
        return np.where(e <= d, 0.5 * e * e, d * e - 0.5 * d * d).mean(axis=-1)

    def grad(self, y, p):
        e = p - y
        return np.clip(e, -self.delta, self.delta) / p.shape[-1]


_LOG2 = math.log(2.0)


# "logcosh": the name Keras 2 (tf.keras) used, kept by Keras 3 as a legacy alias
@register("log_cosh", aliases=("logcosh",))
class LogCosh(Loss):
    """Log-cosh: ``L = mean_j log(cosh(e_j))`` with ``e = p - y``, written as Keras does,
    ``log cosh(e) = e + softplus(-2 e) - log 2`` (no overflow for large ``|e|``); ``dL/dp = tanh(e) / units``.

    Like ``e^2 / 2`` for small errors and ``|e| - log 2`` for large ones: a squared error that an
    occasional wild prediction does not dominate.
    """

    formula = "L = log(cosh(f(x) - y))"
    config_schema = loss_schema("log_cosh")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "log_cosh"):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        e = p - y
        return (e + np.logaddexp(-2 * e, 0) - _LOG2).mean(axis=-1)

    def grad(self, y, p):
        return np.tanh(p - y) / p.shape[-1]


@register("mean_absolute_percentage_error", aliases=("mape", "MAPE"))
class MeanAbsolutePercentageError(Loss):
    """Absolute error relative to the target, in percent: ``L = 100 mean_j |p_j - y_j| / max(|y_j|, eps)``;
    ``dL/dp = 100 sign(p - y) / max(|y|, eps) / units``."""

    formula = "L = 100 |f(x) - y| / |y|"
    config_schema = loss_schema("mean_absolute_percentage_error")

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str | None = "mean_absolute_percentage_error"
    ):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        scale = np.maximum(np.abs(y), backend.epsilon())
        return 100.0 * np.abs((y - p) / scale).mean(axis=-1)

    def grad(self, y, p):
        scale = np.maximum(np.abs(y), backend.epsilon())
        return np.sign(p - y) * (100.0 / p.shape[-1]) / scale


@register("mean_squared_logarithmic_error", aliases=("msle", "MSLE"))
class MeanSquaredLogarithmicError(Loss):
    """Squared error of the logarithms: ``L = mean_j (log(1 + max(p_j, eps)) - log(1 + max(y_j, eps)))^2``;
    ``dL/dp = 2 (log(1 + p) - log(1 + y)) / (1 + p) / units`` where ``p >= eps`` (below, the ``max`` passes no
    gradient, as TensorFlow's ``maximum``)."""

    formula = "L = (log(1 + f(x)) - log(1 + y))^2"
    config_schema = loss_schema("mean_squared_logarithmic_error")

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str | None = "mean_squared_logarithmic_error"
    ):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        eps = backend.epsilon()
        return np.square(np.log(np.maximum(p, eps) + 1.0) - np.log(np.maximum(y, eps) + 1.0)).mean(axis=-1)

    def grad(self, y, p):
        eps = backend.epsilon()
        pc = np.maximum(p, eps) + 1.0
        diff = np.log(pc) - np.log(np.maximum(y, eps) + 1.0)
        return 2 * diff / pc * (p >= eps) / p.shape[-1]


mean_squared_error = MeanSquaredError.function
mean_absolute_error = MeanAbsoluteError.function
huber = Huber.function
log_cosh = LogCosh.function
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mean_absolute_percentage_error = MeanAbsolutePercentageError.function
mean_squared_logarithmic_error = MeanSquaredLogarithmicError.function
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
