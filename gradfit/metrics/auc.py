"""``AUC``: the area under the ROC (or precision-recall) curve through the confusion counts at many thresholds."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..schema import Bool, Choice, Int, Numbers, Optional, Schema
from .base import KerasMessage, Metric, keras_metric, named
from .confusion import (
    THRESHOLDS,
    _check_thresholds,
    _confusion_counts,
    _divide_no_nan,
    _evenly_spaced,
    _like,
    _sample_weights_like,
    _Thresholds,
)

__all__ = ["AUC"]

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}

#: bounds on the state a config can ask for (Keras sets none): four count arrays of ``num_thresholds`` (times
#: ``num_labels``) float64 entries, 8 MB each at the largest single-label size, 32 MB in all per label set
MAX_THRESHOLDS = 10**6
MAX_LABELS = 10**5
MAX_COUNTS = 1 << 22  # num_thresholds * num_labels: 4 arrays of 32 MB
_METHODS = ("interpolation", "majoring", "minoring")


@keras_metric()
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
    _direction = "up"
    config_schema = Schema(
        {
            "num_thresholds": KerasMessage(
                Int(200, lo=2, hi=MAX_THRESHOLDS),
                "Argument `num_thresholds` must be an integer > 1 (and at most "
                f"{MAX_THRESHOLDS} in gradfit, which keeps its counts in memory). Received: {{value!r}}",
            ),
            "curve": KerasMessage(
                Choice(*_CURVES.values(), *_CURVES, default="ROC"),
                'Invalid AUC curve value: "{value}". Expected values are ["PR", "ROC", "PRGAIN"].',
            ),
            "summation_method": KerasMessage(
                Choice(*_METHODS, *(m.capitalize() for m in _METHODS), default="interpolation"),
                'Invalid AUC summation method value: "{value}". '
                'Expected values are ["interpolation", "majoring", "minoring"].',
            ),
            "name": named(None),
            "thresholds": THRESHOLDS,
            "multi_label": Bool(False),
            "num_labels": Optional(Int(lo=1, hi=MAX_LABELS)),
            "label_weights": Optional(Numbers()),
            "from_logits": Bool(False),
        },
        base=Metric.config_schema,
    )

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
        given = {
            "curve": curve,
            "summation_method": summation_method,
            "name": name,
            "dtype": dtype,
            "thresholds": thresholds,
            "multi_label": multi_label,
            "num_labels": num_labels,
            "label_weights": label_weights,
            "from_logits": from_logits,
        }
        if thresholds is None:  # as Keras, num_thresholds is ignored when the thresholds are given
            given["num_thresholds"] = num_thresholds
        c = self._checked(**given)
        self.curve = _CURVES[c["curve"].lower()]
        self.summation_method = c["summation_method"].lower()
        self._init_from_thresholds = thresholds is not None
        eps = backend.epsilon()
        if thresholds is not None:
            inner = sorted(_check_thresholds(thresholds))
            self.num_thresholds = len(inner) + 2
            even = _evenly_spaced([0.0] + inner + [1.0])
        else:
            self.num_thresholds = c["num_thresholds"]
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            even = True
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        self._levels = _Thresholds(self._thresholds, even, with_epsilon=True)
        self.multi_label = c["multi_label"]
        if num_labels is not None and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = c["num_labels"]
        if self.num_labels is not None:
            self._check_size(self.num_labels)
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=np.float64)
        self.from_logits = c["from_logits"]
        self._num_labels = self.num_labels if self.multi_label else None
        super().__init__(c["name"] or backend.unique_name("auc"), c["dtype"])

    def _check_size(self, labels: int) -> None:
        """Refuse counts too large to hold (``num_thresholds * num_labels`` entries in each of four arrays)."""
        if self.num_thresholds * labels > MAX_COUNTS:
            raise ValueError(
                f"AUC(multi_label=True) with {self.num_thresholds} thresholds and {labels} labels would keep "
                f"{self.num_thresholds * labels} counts per array; gradfit allows at most {MAX_COUNTS}. Use fewer "
                "thresholds (num_thresholds) or fewer labels."
            )

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
                self._check_size(p.shape[1])
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
