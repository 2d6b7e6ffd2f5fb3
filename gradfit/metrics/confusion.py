"""Confusion counts: ``Precision`` and ``Recall`` accumulate weighted true/false positives and negatives at one or
more thresholds, exactly as Keras's ``update_confusion_matrix_variables`` does.

A prediction ``p`` counts as positive at threshold ``t`` when ``p > t``; with evenly spaced thresholds (``AUC``'s
200 by default) Keras puts ``p`` in bucket ``ceil(p * (T - 1))`` computed in the metric's float type, and so does
gradfit, so the counts agree with Keras's exactly. ``AUC`` (in :mod:`.auc`) builds on the same counts.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..schema import Int, Numbers, Optional, Schema
from .base import KerasMessage, Metric, keras_metric

__all__ = ["Precision", "Recall"]

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


#: a threshold, or a list of them, each in [0, 1]; refused with Keras's message
THRESHOLDS = KerasMessage(Optional(Numbers(lo=0.0, hi=1.0)), "Threshold values must be in [0, 1]; got {value!r}.")


class _PrecisionRecall(Metric):
    """Precision or recall at ``thresholds`` (default 0.5), optionally only over the ``top_k`` outputs of each
    example (the others count as negative) and/or only for output column ``class_id``."""

    _default_name = ""
    _direction = "up"
    _state_attrs = ("true_positives", "false_positives", "false_negatives")
    config_schema = Schema(
        {"thresholds": THRESHOLDS, "top_k": Optional(Int(lo=1)), "class_id": Optional(Int())},
        base=Metric.config_schema,
    )

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        c = self._checked(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k, self.class_id = c["top_k"], c["class_id"]
        if thresholds is None:
            self.thresholds = [0.5 if top_k is None else NEG_INF]
        else:
            self.thresholds = _check_thresholds(thresholds)
        self._levels = _Thresholds(self.thresholds, _evenly_spaced(self.thresholds), with_epsilon=False)
        super().__init__(c["name"] or backend.unique_name(self._default_name), c["dtype"])

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


@keras_metric()
class Precision(_PrecisionRecall):
    """``TP / (TP + FP)`` accumulated over the epoch: of the examples predicted positive (``p > threshold``),
    the share that are positive (0 while none is predicted positive). With a list of ``thresholds``,
    ``result()`` is an array, one value per threshold."""

    _default_name = "precision"

    def _value(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)


@keras_metric()
class Recall(_PrecisionRecall):
    """``TP / (TP + FN)`` accumulated over the epoch: of the positive examples, the share predicted positive
    (``p > threshold``; 0 while there is no positive example)."""

    _default_name = "recall"

    def _value(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)
