"""The accuracy family: the share of examples the model gets right, ``(1/m) sum_i [f(x_i) right for y_i]``.

``'accuracy'`` in ``compile`` is resolved from the shapes (see :func:`gradfit.metrics.get`): an output with one
unit gives ``BinaryAccuracy`` (``f(x) > 0.5``), integer labels for a wider output give
``SparseCategoricalAccuracy`` (``argmax f(x) == y``), one-hot targets give ``CategoricalAccuracy``.
"""

from __future__ import annotations

import numpy as np

from ..schema import Int, Number, Schema
from .base import Metric, keras_metric, named

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
]


@keras_metric()
class BinaryAccuracy(Metric):
    """Share of examples with ``(f(x) > threshold) == y`` (mean over the output's units)."""

    _direction = "up"
    config_schema = Schema({"name": named("binary_accuracy"), "threshold": Number(0.5)}, base=Metric.config_schema)

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        c = self._checked(name=name, dtype=dtype, threshold=threshold)
        super().__init__(c["name"], c["dtype"])
        self.threshold = float(c["threshold"])

    def values(self, y, p):
        return ((p > self.threshold) == y).mean(axis=-1)

    def update_prepared(self, y, p, sample_weight):
        if sample_weight is None and p.shape[-1] == 1:  # the common case, without a temporary per example
            self.total += int(np.count_nonzero((p > self.threshold) == y))
            self.count += p.shape[0]
        else:
            super().update_prepared(y, p, sample_weight)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras_metric()
class CategoricalAccuracy(Metric):
    """Share of examples with ``argmax f(x) == argmax y`` (one-hot targets)."""

    _direction = "up"
    config_schema = Schema({"name": named("categorical_accuracy")}, base=Metric.config_schema)

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return (p.argmax(axis=-1) == y.argmax(axis=-1)).astype(np.float64)


@keras_metric()
class SparseCategoricalAccuracy(Metric):
    """Share of examples with ``argmax f(x) == y`` (integer labels)."""

    target_kind = "sparse"
    _direction = "up"
    config_schema = Schema({"name": named("sparse_categorical_accuracy")}, base=Metric.config_schema)

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return (p.argmax(axis=-1) == y).astype(np.float64)

    def update_prepared(self, y, p, sample_weight):
        if sample_weight is None:
            self.total += int(np.count_nonzero(p.argmax(axis=-1) == y))
            self.count += y.shape[0]
        else:
            super().update_prepared(y, p, sample_weight)


@keras_metric()
class Accuracy(Metric):
    """Share of outputs exactly equal to their targets (the targets cast to the output's type first, as Keras)."""

    _direction = "up"
    config_schema = Schema({"name": named("accuracy")}, base=Metric.config_schema)

    def __init__(self, name: str = "accuracy", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def values(self, y, p):
        return (p == np.asarray(y).astype(p.dtype, copy=False)).mean(axis=-1)


def _in_top_k(labels: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """TensorFlow's ``in_top_k``: the label is in the top ``k`` when fewer than ``k`` classes score strictly
    higher, so ties at the boundary all count as in; a row with a non-finite score, or a label out of
    range, counts as out."""
    p = p.reshape(-1, p.shape[-1])
    labels = labels.reshape(-1)
    n_classes = p.shape[-1]
    valid = (labels >= 0) & (labels < n_classes)
    at_label = np.take_along_axis(p, np.where(valid, labels, 0)[:, None].astype(np.intp), axis=-1)
    higher = np.count_nonzero(p > at_label, axis=-1)
    return valid & np.isfinite(p).all(axis=-1) & (higher < k)


@keras_metric()
class TopKCategoricalAccuracy(Metric):
    """Share of examples whose one-hot target's class (``argmax y``) is among the ``k`` highest outputs
    (ties at the ``k``-th score count as in, as ``tf.math.in_top_k``)."""

    _direction = "up"
    config_schema = Schema({"k": Int(5, lo=1), "name": named("top_k_categorical_accuracy")}, base=Metric.config_schema)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        c = self._checked(k=k, name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])
        self.k = c["k"]

    def values(self, y, p):
        return _in_top_k(y.argmax(axis=-1), p, self.k).reshape(y.shape[:-1]).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@keras_metric()
class SparseTopKCategoricalAccuracy(Metric):
    """Share of examples whose integer label is among the ``k`` highest outputs (ties count as in)."""

    target_kind = "sparse"
    _direction = "up"
    config_schema = Schema(
        {"k": Int(5, lo=1), "name": named("sparse_top_k_categorical_accuracy")}, base=Metric.config_schema
    )

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None):
        c = self._checked(k=k, name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])
        self.k = c["k"]

    def values(self, y, p):
        return _in_top_k(y, p, self.k).reshape(y.shape).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "k": self.k}
