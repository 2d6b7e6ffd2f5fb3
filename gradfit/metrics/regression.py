"""Regression errors: the mean over the epoch of each example's error, ``(1/m) sum_i (1/n) sum_j e(f(x_i)_j, y_ij)``
(the inner mean over the output's ``n`` units, as Keras)."""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..schema import Choice, Int, Schema
from .base import KerasMessage, Metric, keras_metric, named

__all__ = [
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "R2Score",
    "RootMeanSquaredError",
]


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


@keras_metric("mape", "MAPE")
class MeanAbsolutePercentageError(Metric):
    """``(1/m) sum_i 100 mean_j |y_ij - f(x_i)_j| / max(|y_ij|, eps)``."""

    _direction = "down"
    config_schema = Schema({"name": named("mean_absolute_percentage_error")}, base=Metric.config_schema)

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return 100.0 * np.abs((y - p) / np.maximum(np.abs(y), backend.epsilon())).mean(axis=-1)


@keras_metric("msle", "MSLE")
class MeanSquaredLogarithmicError(Metric):
    """``(1/m) sum_i mean_j (log(1 + max(f(x_i)_j, eps)) - log(1 + max(y_ij, eps)))^2``."""

    _direction = "down"
    config_schema = Schema({"name": named("mean_squared_logarithmic_error")}, base=Metric.config_schema)

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        eps = backend.epsilon()
        return np.square(np.log(np.maximum(p, eps) + 1.0) - np.log(np.maximum(y, eps) + 1.0)).mean(axis=-1)


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


@keras_metric()
class R2Score(Metric):
    """The coefficient of determination of each output column over the epoch,
    ``R^2_j = 1 - sum_i w_i (y_ij - f(x_i)_j)^2 / sum_i w_i (y_ij - ybar_j)^2`` (``ybar_j`` the weighted mean),
    from running sums, as Keras; a column whose ratio is infinite (constant targets, some error) scores 0.

    ``class_aggregation``: ``'uniform_average'`` (the mean of the columns' scores), ``'variance_weighted_average'``
    (weighted by each column's total sum of squares) or None (the array of scores). ``num_regressors = p > 0``
    gives the adjusted ``1 - (1 - R^2)(n - 1) / (n - p - 1)``, where ``n`` counts every target value
    (examples times columns, as Keras counts them); with ``p >= n - 1`` Keras warns and keeps ``R^2``.
    """

    _direction = "up"
    _state_attrs = ("squared_sum", "sum", "total_mse", "count", "num_samples")
    config_schema = Schema(
        {
            "class_aggregation": KerasMessage(
                Choice(*_AGGREGATIONS, default="uniform_average"),
                "Invalid value for argument `class_aggregation`. Expected one of "
                f"{_AGGREGATIONS}. Received: class_aggregation={{value}}",
            ),
            "num_regressors": KerasMessage(
                Int(0, lo=0),
                "Invalid value for argument `num_regressors`. Expected a value >= 0. Received: num_regressors={value}",
            ),
            "name": named("r2_score"),
        },
        base=Metric.config_schema,
    )

    def __init__(self, class_aggregation="uniform_average", num_regressors: int = 0, name="r2_score", dtype=None):
        c = self._checked(class_aggregation=class_aggregation, num_regressors=num_regressors, name=name, dtype=dtype)
        self.class_aggregation = c["class_aggregation"]
        self.num_regressors = c["num_regressors"]
        self._num_columns: int | None = None
        super().__init__(c["name"], c["dtype"])

    def reset_state(self) -> None:
        self.num_samples = 0.0
        if self._num_columns is None:  # sized at the first update, from the output's width
            self.squared_sum = self.sum = self.total_mse = self.count = None
            return
        for attr in ("squared_sum", "sum", "total_mse", "count"):
            setattr(self, attr, np.zeros(self._num_columns))

    def update_prepared(self, y, p, sample_weight):
        dtype = np.dtype(self.dtype or backend.floatx())
        y = np.asarray(y).astype(dtype, copy=False).astype(np.float64)
        p = np.asarray(p).astype(dtype, copy=False).astype(np.float64)
        if p.ndim != 2 or y.ndim != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                f"y_pred.shape={p.shape} and y_true.shape={y.shape}."
            )
        if self._num_columns is None:
            self._num_columns = p.shape[-1]
            self.reset_state()
        elif p.shape[-1] != self._num_columns:
            raise ValueError(f"R2Score was built for {self._num_columns} output columns; got {p.shape[-1]}.")
        w = np.ones(()) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        w = np.broadcast_to(w.reshape(-1, 1) if w.ndim == 1 else w, y.shape)
        weighted_y = y * w
        self.sum = self.sum + weighted_y.sum(axis=0)
        self.squared_sum = self.squared_sum + (y * weighted_y).sum(axis=0)
        self.total_mse = self.total_mse + (np.square(y - p) * w).sum(axis=0)
        self.count = self.count + w.sum(axis=0)
        self.num_samples += y.size

    def result(self):
        if self.sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = float(np.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):
                score = float(np.sum(total * raw) / np.sum(total))
        else:
            score = raw
        p, n = self.num_regressors, self.num_samples
        if p:
            if p > n - 1:
                warnings.warn(
                    "More independent predictors than datapoints in adjusted R2 score. Falling back to standard "
                    "R2 score.",
                    stacklevel=2,
                )
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
