"""Metrics, accumulated over an epoch as Keras 3 accumulates them.

A mean metric adds each batch's per-example values (weighted by ``sample_weight`` when given) to a total
and a count; ``result()`` is ``total / count`` (``RootMeanSquaredError``: its square root). ``fit`` feeds
it the batch's targets and the model's output from the forward pass of the training step, before the
weights are updated.

``Precision``, ``Recall`` and ``AUC`` accumulate weighted confusion counts (true/false positives and
negatives) at one or more thresholds instead, exactly as Keras's ``update_confusion_matrix_variables``
does: a prediction ``p`` counts as positive at threshold ``t`` when ``p > t``; with evenly spaced
thresholds (``AUC``'s 200 by default) Keras puts ``p`` in bucket ``ceil(p * (T - 1))`` computed in
the metric's float type, and so does gradfit, so the counts agree with Keras's exactly.

``'accuracy'`` is resolved from the shapes, as Keras does: an output with one unit gives
``BinaryAccuracy`` (``f(x) > 0.5``), integer labels for a wider output give
``SparseCategoricalAccuracy`` (``argmax f(x) == y``), one-hot targets give ``CategoricalAccuracy``.

Names: a metric given as a string keeps that string as its name (``'mse'`` is reported as ``mse``,
``'MeanSquaredError'`` as ``MeanSquaredError``), as in Keras. ``Precision()``, ``Recall()`` and ``AUC()``
without a name are named like Keras's: ``precision``, then ``precision_1``, ``precision_2`` … for later
instances (``gradfit.keras.backend.clear_session()`` restarts the count).
"""

from __future__ import annotations

import difflib

import numpy as np

from . import backend

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
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

    _state_attrs: tuple[str, ...] = ("total", "count")  # what reset_state sets and update_prepared accumulates

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    def _save_state(self) -> tuple:
        """A copy of the accumulated state (``fit`` keeps the training metrics' state across validation)."""
        return tuple(_copy(getattr(self, a)) for a in self._state_attrs)

    def _restore_state(self, state: tuple) -> None:
        for a, v in zip(self._state_attrs, state):
            setattr(self, a, _copy(v))

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


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


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
    """Share of outputs exactly equal to their targets (the targets cast to the output's type first, as Keras)."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return (p == np.asarray(y).astype(p.dtype, copy=False)).mean(axis=-1)


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


class RootMeanSquaredError(Metric):
    """``sqrt`` of the (weighted) mean squared error accumulated so far: not the mean of per-batch RMSEs."""

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def values(self, y, p):
        return np.square(p - y).mean(axis=-1)

    def result(self) -> float:
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0


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


class TopKCategoricalAccuracy(Metric):
    """Share of examples whose one-hot target's class (``argmax y``) is among the ``k`` highest outputs
    (ties at the ``k``-th score count as in, as ``tf.math.in_top_k``)."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)
        self.k = int(k)

    def values(self, y, p):
        return _in_top_k(y.argmax(axis=-1), p, self.k).reshape(y.shape[:-1]).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(Metric):
    """Share of examples whose integer label is among the ``k`` highest outputs (ties count as in)."""

    target_kind = "sparse"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)
        self.k = int(k)

    def values(self, y, p):
        return _in_top_k(y, p, self.k).reshape(y.shape).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


# ------------------------------------------------------------------------------------ confusion counts

NEG_INF = -1e10  # Keras's stand-in for -inf: the threshold with top_k, and the score of classes outside the top k


def _check_thresholds(thresholds) -> list[float]:
    values = [thresholds] if np.isscalar(thresholds) else list(thresholds)
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(f"Threshold values must be in [0, 1]; got {bad or values}.")
    return [float(t) for t in values]


def _evenly_spaced(thresholds) -> bool:
    """Keras's test for thresholds ``0, 1/(T-1), …, 1``: then a prediction's bucket is ``ceil(p * (T - 1))``."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=backend.epsilon()))


class _Thresholds:
    """Where a prediction falls among a metric's thresholds: ``levels(p)`` is the number of thresholds (in
    ascending order) that ``p`` is above, computed as Keras does, so that the counts agree exactly."""

    def __init__(self, thresholds, even: bool, with_epsilon: bool):
        self.values = np.asarray(thresholds, dtype=np.float64)
        self.n = len(self.values)
        self.even = even  # Keras's bucketed path: level = ceil(clip(p, 0, 1) * (T - 1)) in the metric's float type
        self.with_epsilon = with_epsilon  # lowest threshold below 0: every prediction is above it
        order = np.argsort(self.values, kind="stable")
        self.order = None if (order == np.arange(self.n)).all() else order  # to put counts back in the given order
        self._sorted: dict[np.dtype, np.ndarray] = {}

    def sorted_in(self, dtype: np.dtype) -> np.ndarray:
        if dtype not in self._sorted:
            self._sorted[dtype] = np.sort(self.values.astype(dtype))
        return self._sorted[dtype]

    def levels(self, p: np.ndarray) -> np.ndarray:
        if self.even:
            with np.errstate(invalid="ignore"):
                scaled = np.ceil(np.clip(p, 0, 1) * np.asarray(self.n - 1, dtype=p.dtype))
            nan = np.isnan(scaled)
            if nan.any():
                scaled[nan] = 0  # NaN is above no threshold (Keras drops it from the buckets)
            levels = scaled.astype(np.intp)
            if self.with_epsilon:
                np.maximum(levels, 1, out=levels, where=~nan)
            return levels
        levels = np.searchsorted(self.sorted_in(p.dtype), p, side="left")  # p > t for the first `levels` t
        if p.dtype.kind == "f":
            levels[np.isnan(p)] = 0
        return levels


def _confusion_counts(y, p, weights, thresholds: _Thresholds, dtype, n_labels=None):
    """Weighted true/false positive counts at each threshold, and the totals of positive and negative labels.

    ``y`` (nonzero is positive), ``p`` and ``weights`` (or ``None``) have one shape. With ``n_labels`` the last
    axis is kept apart (counts of shape ``(T, n_labels)``); otherwise everything is pooled (shape ``(T,)``).
    One ``bincount`` over (label, threshold level), whatever the number of thresholds.
    """
    p = np.asarray(p).astype(dtype, copy=False)
    positive = np.asarray(y) != 0
    if n_labels is None and thresholds.n == 1 and not thresholds.even:  # the default Precision / Recall
        above = p > thresholds.sorted_in(p.dtype)[0]
        if weights is None:
            tp = np.count_nonzero(above & positive)
            n_pos = np.count_nonzero(positive)
            fp = np.count_nonzero(above) - tp
            n_neg = positive.size - n_pos
        else:
            w = weights.reshape(positive.shape) if weights.shape != positive.shape else weights
            tp, fp = w[above & positive].sum(), w[above & ~positive].sum()
            n_pos, n_neg = w[positive].sum(), w[~positive].sum()
        return (np.array([tp], dtype=np.float64), np.array([fp], dtype=np.float64), float(n_pos), float(n_neg))
    size = thresholds.n + 1
    index = thresholds.levels(p)
    index += size * (~positive)  # [positive levels | negative levels]
    if n_labels is not None:
        index += 2 * size * np.arange(n_labels)
    hist = np.bincount(
        index.reshape(-1),
        weights=None if weights is None else weights.reshape(-1),
        minlength=2 * size * (n_labels or 1),
    )
    hist = hist.astype(np.float64, copy=False).reshape(n_labels or 1, 2, size)
    at_or_above = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]  # [..., i]: the count above i thresholds or more
    totals, counts = at_or_above[..., 0], at_or_above[..., 1:]  # counts[..., i]: above threshold i
    if thresholds.order is not None:
        unsorted = np.empty_like(counts)
        unsorted[..., thresholds.order] = counts
        counts = unsorted
    if n_labels is None:
        return counts[0, 0], counts[0, 1], totals[0, 0], totals[0, 1]
    return counts[:, 0].T, counts[:, 1].T, totals[:, 0], totals[:, 1]


def _divide_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _like(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Targets in the output's shape when they only differ by a unit axis (``(m,)`` against ``(m, 1)``)."""
    return y.reshape(p.shape) if y.shape != p.shape and y.size == p.size else y


def _sample_weights_like(sample_weight, p: np.ndarray) -> np.ndarray | None:
    """Per-example weights broadcast over the output's other axes."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    w = w.reshape(w.shape + (1,) * (p.ndim - w.ndim)) if w.ndim < p.ndim else w
    return np.broadcast_to(w, p.shape)


class _PrecisionRecall(Metric):
    """Precision or recall at ``thresholds`` (default 0.5), optionally only over the ``top_k`` outputs of each
    example (the others count as negative) and/or only for output column ``class_id``."""

    _default_name = ""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else int(top_k)
        self.class_id = None if class_id is None else int(class_id)
        if thresholds is None:
            self.thresholds = [0.5 if top_k is None else NEG_INF]
        else:
            self.thresholds = _check_thresholds(thresholds)
        self._levels = _Thresholds(self.thresholds, _evenly_spaced(self.thresholds), with_epsilon=False)
        super().__init__(name or backend.unique_name(self._default_name), dtype)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_prepared(self, y, p, sample_weight):
        p = np.asarray(p)
        dtype = np.dtype(self.dtype or backend.floatx())
        p = p.astype(dtype, copy=False)
        if p.ndim == 0:
            p = p.reshape(1)
        y = _like(np.asarray(y), p)
        weights = _sample_weights_like(sample_weight, p)
        if self.top_k is not None:  # keep each row's k highest (ties: the lower index first, as tf.math.top_k)
            top = np.argsort(-p, axis=-1, kind="stable")[..., : self.top_k]
            keep = np.zeros(p.shape, dtype=bool)
            np.put_along_axis(keep, top, True, axis=-1)
            p = np.where(keep, p, np.asarray(NEG_INF, dtype=dtype))
        if self.class_id is not None:
            if p.ndim < 2:
                raise ValueError(
                    f"{type(self).__name__}(class_id=…) needs outputs of shape (examples, classes); got {p.shape}."
                )
            y, p = y[..., self.class_id], p[..., self.class_id]
            weights = None if weights is None else weights[..., self.class_id]
        tp, fp, n_pos, _ = _confusion_counts(y, p, weights, self._levels, dtype)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.false_negatives = self.false_negatives + (n_pos - tp)

    def _value(self):
        raise NotImplementedError

    def result(self):
        value = self._value()
        return float(value[0]) if len(self.thresholds) == 1 else value

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """``TP / (TP + FP)`` accumulated over the epoch: of the examples predicted positive (``p > threshold``),
    the share that are positive (0 while none is predicted positive). With a list of ``thresholds``,
    ``result()`` is an array, one value per threshold."""

    _default_name = "precision"
    _state_attrs = ("true_positives", "false_positives", "false_negatives")

    def _value(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)


class Recall(_PrecisionRecall):
    """``TP / (TP + FN)`` accumulated over the epoch: of the positive examples, the share predicted positive
    (``p > threshold``; 0 while there is no positive example)."""

    _default_name = "recall"
    _state_attrs = ("true_positives", "false_positives", "false_negatives")

    def _value(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)


class AUC(Metric):
    """Area under the ROC (or precision-recall) curve, Keras's bucketed approximation.

    The confusion counts are accumulated at ``num_thresholds`` thresholds ``-eps, 1/(T-1), …, (T-2)/(T-1),
    1+eps`` (or ``-eps``, the sorted ``thresholds``, ``1+eps``), and the curve through those points is
    integrated with the trapezoid rule (``summation_method='interpolation'``; for ``curve='PR'`` the
    Davis & Goadrich interpolation), or with ``'minoring'`` / ``'majoring'`` rectangles. With many distinct
    scores it is close to, not equal to, the exact AUC (``sklearn.metrics.roc_auc_score``).

    ``multi_label=True`` keeps the counts of each output column apart and averages the columns' AUCs
    (weighted by ``label_weights`` when given); otherwise all columns are pooled. ``from_logits=True``
    applies a sigmoid to the outputs first.
    """

    _state_attrs = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights=None,
        from_logits: bool = False,
    ):
        curves = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
        if str(curve).lower() not in curves or str(curve) not in (curves[str(curve).lower()], str(curve).lower()):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"].')
        methods = ("interpolation", "majoring", "minoring")
        if str(summation_method) not in methods + tuple(m.capitalize() for m in methods):
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". '
                'Expected values are ["interpolation", "majoring", "minoring"].'
            )
        self.curve = curves[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self._init_from_thresholds = thresholds is not None
        eps = backend.epsilon()
        if thresholds is not None:
            inner = sorted(_check_thresholds(thresholds))
            self.num_thresholds = len(inner) + 2
            even = _evenly_spaced([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
                raise TypeError(f"num_thresholds must be an integer > 1, got {num_thresholds!r}.")
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            even = True
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        self._levels = _Thresholds(self._thresholds, even, with_epsilon=True)
        self.multi_label = bool(multi_label)
        if num_labels is not None and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=np.float64)
        self.from_logits = bool(from_logits)
        self._num_labels = num_labels if multi_label else None
        super().__init__(name or backend.unique_name("auc"), dtype)

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def reset_state(self) -> None:
        if self.multi_label and self._num_labels is None:  # built on the first update, from the output's width
            self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None
            return
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, self._num_labels)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.true_negatives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)

    def update_prepared(self, y, p, sample_weight):
        dtype = np.dtype(self.dtype or backend.floatx())
        p = np.asarray(p).astype(dtype, copy=False)
        y = _like(np.asarray(y), p)
        if self.multi_label:
            if p.ndim != 2:
                raise ValueError(
                    f"AUC(multi_label=True) needs outputs of rank 2 (examples, labels); got shape {p.shape}."
                )
            if self._num_labels is None:
                self._num_labels = p.shape[1]
                self.reset_state()
            elif p.shape[1] != self._num_labels:
                raise ValueError(f"AUC(multi_label=True) was built for {self._num_labels} labels; got {p.shape[1]}.")
        if self.from_logits:
            with np.errstate(over="ignore"):
                p = (1 / (1 + np.exp(-p))).astype(dtype, copy=False)
        weights = _sample_weights_like(sample_weight, p)
        if self.label_weights is not None and not self.multi_label:
            lw = np.broadcast_to(self.label_weights, p.shape)
            weights = lw if weights is None else weights * lw
        n_labels = self._num_labels if self.multi_label else None
        tp, fp, n_pos, n_neg = _confusion_counts(y, p, weights, self._levels, dtype, n_labels)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + (n_neg - fp)
        self.false_negatives = self.false_negatives + (n_pos - tp)

    def _average(self, by_label):
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolate_pr_auc(self) -> float:
        """Davis & Goadrich (2006): precision interpolated between the thresholds' points, integrated exactly."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        pred_pos = tp + fp
        dp = pred_pos[:-1] - pred_pos[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * pred_pos[1:]
        both = (pred_pos[:-1] > 0) & (pred_pos[1:] > 0)
        ratio = np.where(both, _divide_no_nan(pred_pos[:-1], np.maximum(pred_pos[1:], 0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            term = slope * (dtp + intercept * np.log(ratio))
        increments = _divide_no_nan(term, np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments.sum(axis=0))

    def result(self) -> float:
        if self.true_positives is None:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            x = np.maximum(recall_gain, 0.0)
            y = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(((x[:-1] - x[1:]) * heights).sum(axis=0))

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# ------------------------------------------------------------------------------------------ by name

_CLASSES: dict[str, type[Metric]] = {
    c.__name__: c
    for c in (
        AUC,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        MeanAbsoluteError,
        MeanSquaredError,
        Precision,
        Recall,
        RootMeanSquaredError,
        SparseCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        TopKCategoricalAccuracy,
    )
}
# the strings keras.metrics.get accepts for these classes: the class name, its snake_case and a few aliases
_NAMES: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
}
# Keras metrics gradfit does not have (yet): named in the error instead of "unknown"
_KERAS_ONLY = (
    "BinaryIoU",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "MAPE",
    "MSLE",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanSquaredLogarithmicError",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "PrecisionAtRecall",
    "R2Score",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TrueNegatives",
    "TruePositives",
    "binary_io_u",
    "categorical_hinge",
    "concordance_correlation",
    "cosine_similarity",
    "f1_score",
    "f_beta_score",
    "false_negatives",
    "false_positives",
    "hinge",
    "io_u",
    "kl_divergence",
    "log_cosh_error",
    "mape",
    "mean_absolute_percentage_error",
    "mean_io_u",
    "mean_squared_logarithmic_error",
    "msle",
    "one_hot_io_u",
    "one_hot_mean_io_u",
    "pearson_correlation",
    "poisson",
    "precision_at_recall",
    "r2_score",
    "recall_at_precision",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "squared_hinge",
    "sum",
    "true_negatives",
    "true_positives",
)
_LOSS_ALIASES = {"BCE": "bce"}  # keras.metrics.get('BCE'): BinaryCrossentropy, as 'bce'


def _loss_metric(name: str) -> Metric | None:
    """A loss used as a metric (``metrics=['binary_crossentropy']``): its per-example values averaged."""
    from . import losses

    loss_name = _LOSS_ALIASES.get(name, name)
    if loss_name not in losses._NAMES or name in _NAMES:
        return None
    loss = losses.get(loss_name)
    metric = MeanMetricWrapper(lambda y, p: loss.per_sample(y, p), name=name)
    metric.target_kind = "sparse" if loss.sparse else "dense"
    return metric


def get(identifier, y_shape: tuple | None = None, output_shape: tuple | None = None) -> Metric:
    """Resolve a metric by object, class, name or ``{'class_name': …, 'config': …}``.

    ``'accuracy'`` (any case) and ``'acc'`` need the target and output shapes. A name becomes the metric's
    name in ``History`` and ``evaluate(return_dict=True)``, as in Keras (``'mse'`` → ``mse``).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown metric class {identifier['class_name']!r} in {identifier!r}.")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_shape is None or output_shape is None:
                raise ValueError("'accuracy' can only be resolved once the target and output shapes are known.")
            return _resolve_accuracy(identifier, y_shape, output_shape)
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is not None:
            return cls(name=identifier)
        metric = _loss_metric(identifier)
        if metric is not None:
            return metric
        if identifier in _KERAS_ONLY:
            raise ValueError(
                f"The Keras metric {identifier!r} is not implemented in gradfit yet. Available: accuracy, "
                f"{', '.join(_NAMES)}, and the losses' names (e.g. 'binary_crossentropy')."
            )
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
