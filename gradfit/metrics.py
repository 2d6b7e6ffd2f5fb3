"""Metrics: running averages over an epoch, as Keras accumulates them.

A metric adds each batch's per-example values (weighted by ``sample_weight`` when given) to a total
and a count; ``result()`` is ``total / count``. ``fit`` feeds it the batch's targets and the model's
output from the forward pass of the training step, before the weights are updated.

``'accuracy'`` is resolved from the shapes, as Keras does: an output with one unit gives
``BinaryAccuracy`` (``f(x) > 0.5``), integer labels for a wider output give
``SparseCategoricalAccuracy`` (``argmax f(x) == y``), one-hot targets give ``CategoricalAccuracy``.
"""

from __future__ import annotations

import difflib

import numpy as np

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "SparseCategoricalAccuracy",
    "get",
]


class Metric:
    """Base class. ``target_kind`` says which targets it wants: ``'dense'`` (shaped like the output)
    or ``'sparse'`` (one integer label per example)."""

    target_kind = "dense"

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    def values(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Per-example values for prepared targets ``y`` and outputs ``p``."""
        raise NotImplementedError

    def update_prepared(self, y: np.ndarray, p: np.ndarray, sample_weight: np.ndarray | None) -> None:
        v = self.values(y, p)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            self.total += float((v * sample_weight).sum())
            self.count += float(sample_weight.sum())

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        if self.target_kind == "sparse":
            return sparse_labels(y, output_shape)
        return dense_targets(y, output_shape)

    # public Keras API
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        p = np.asarray(y_pred)
        y = self.prepare_targets(np.asarray(y_true), p.shape)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(len(p))
        self.update_prepared(y, p, sw)

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype or "float32"}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def dense_targets(y: np.ndarray, output_shape: tuple) -> np.ndarray:
    """Targets shaped like the output: a vector of m labels for a one-unit output becomes a column."""
    if y.ndim == len(output_shape) - 1:
        y = y.reshape(y.shape + (1,))
    return y


def sparse_labels(y: np.ndarray, output_shape: tuple) -> np.ndarray:
    """One integer label per example, from ``(m,)`` or ``(m, 1)`` targets."""
    if y.ndim == len(output_shape) and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    return y.astype(np.intp)


class Mean(Metric):
    """The weighted mean of the values given to ``update_state(values, sample_weight)``."""

    def update_state(self, values, sample_weight=None) -> None:
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), v.shape)
            self.total += float((v * w).sum())
            self.count += float(w.sum())


class MeanMetricWrapper(Metric):
    """Averages ``fn(y_true, y_pred)`` per example."""

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        self.fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name or fn.__name__, dtype)

    def values(self, y, p):
        return self.fn(y, p, **self._fn_kwargs)


class BinaryAccuracy(Metric):
    """Share of examples with ``(f(x) > threshold) == y`` (mean over the output's units)."""

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(name, dtype)
        self.threshold = float(threshold)

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


class CategoricalAccuracy(Metric):
    """Share of examples with ``argmax f(x) == argmax y`` (one-hot targets)."""

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return (p.argmax(axis=-1) == y.argmax(axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """Share of examples with ``argmax f(x) == y`` (integer labels)."""

    target_kind = "sparse"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return (p.argmax(axis=-1) == y).astype(np.float64)

    def update_prepared(self, y, p, sample_weight):
        if sample_weight is None:
            self.total += int(np.count_nonzero(p.argmax(axis=-1) == y))
            self.count += y.shape[0]
        else:
            super().update_prepared(y, p, sample_weight)


class Accuracy(Metric):
    """Share of outputs exactly equal to their targets."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return (p == y).mean(axis=-1)


class MeanSquaredError(Metric):
    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return np.square(p - y).mean(axis=-1)


class MeanAbsoluteError(Metric):
    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return np.abs(p - y).mean(axis=-1)


_NAMES = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_CLASSES = {
    c.__name__: c
    for c in (
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
    )
}


def _loss_metric(name: str) -> Metric | None:
    """A loss used as a metric (``metrics=['binary_crossentropy']``): its per-example values averaged."""
    from . import losses

    if name not in losses._NAMES or name in _NAMES:
        return None
    loss = losses.get(name)
    metric = MeanMetricWrapper(lambda y, p: loss.per_sample(y, p), name=name)
    metric.target_kind = "sparse" if loss.sparse else "dense"
    return metric


def get(identifier, y_shape: tuple | None = None, output_shape: tuple | None = None) -> Metric:
    """Resolve a metric by object, class or name; ``'accuracy'`` needs the target and output shapes."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_shape is None or output_shape is None:
                raise ValueError("'accuracy' can only be resolved once the target and output shapes are known.")
            return _resolve_accuracy(identifier, y_shape, output_shape)
        if identifier in _NAMES:
            metric = _NAMES[identifier]()
            metric.name = identifier
            return metric
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        metric = _loss_metric(identifier)
        if metric is not None:
            return metric
        close = difflib.get_close_matches(identifier, ["accuracy", *_NAMES, *_CLASSES], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown metric {identifier!r}.{hint} Known metrics: accuracy, {', '.join(_NAMES)}.")
    raise ValueError(f"Cannot use {identifier!r} as a metric; give a name such as 'accuracy' or a Metric object.")


def _resolve_accuracy(name: str, y_shape: tuple, output_shape: tuple) -> Metric:
    if output_shape[-1] == 1:
        metric: Metric = BinaryAccuracy()
    elif len(y_shape) < len(output_shape) or (y_shape[-1] == 1 and output_shape[-1] > 1):
        metric = SparseCategoricalAccuracy()
    else:
        metric = CategoricalAccuracy()
    metric.name = name
    return metric
