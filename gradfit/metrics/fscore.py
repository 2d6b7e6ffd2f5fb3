"""``FBetaScore`` and ``F1Score``: the F-scores of each class (or of all pooled) from weighted true/false
positive and false negative counts accumulated over the epoch, as Keras 3 computes them."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..schema import Choice, Number, Optional, Schema
from .base import KerasMessage, Metric, keras_metric, named

__all__ = ["F1Score", "FBetaScore"]

_AVERAGES = (None, "micro", "macro", "weighted")


@keras_metric()  # 'FBetaScore', 'f_beta_score' (Keras has no 'fbeta_score')
class FBetaScore(Metric):
    """``F_beta = (1 + beta^2) P R / (beta^2 P + R)`` per class, from counts accumulated over the epoch.

    With ``P = TP / (TP + FP + eps)``, ``R = TP / (TP + FN + eps)`` and the ratio's denominator ``+ eps``
    (eps = 1e-7), as Keras. A prediction is positive where ``f(x) > threshold``; with ``threshold=None``, where
    it is its row's maximum (and ``|f(x)| > 1e-9``). ``average``: None gives one score per output column (an
    array); ``'micro'`` pools the counts of all columns; ``'macro'`` is the mean of the columns' scores;
    ``'weighted'`` their mean weighted by each column's (weighted) number of true labels.

    Outputs and targets must be of shape ``(examples, classes)``; the counts are sized at the first update.
    """

    _direction = "up"
    _state_attrs = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")
    config_schema = Schema(
        {
            "average": KerasMessage(
                Choice(*_AVERAGES, default=None),
                "Invalid `average` argument value. Expected one of: {{None, 'micro', 'macro', 'weighted'}}. "
                "Received: average={value}",
            ),
            "beta": KerasMessage(
                Number(1.0, lo=0.0, lo_open=True),
                "Invalid `beta` argument value. It should be a Python float > 0. Received: beta={value!r}",
            ),
            "threshold": KerasMessage(
                Optional(Number(lo=0.0, hi=1.0, lo_open=True)),
                "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. Received: "
                "threshold={value!r}",
            ),
            "name": named("fbeta_score"),
        },
        base=Metric.config_schema,
    )

    def __init__(self, average=None, beta: float = 1.0, threshold: float | None = None, name="fbeta_score", dtype=None):
        c = self._checked(average=average, beta=beta, threshold=threshold, name=name, dtype=dtype)
        self.average = c["average"]
        self.beta = float(c["beta"])
        self.threshold = None if c["threshold"] is None else float(c["threshold"])
        self._num_classes: int | None = None
        super().__init__(c["name"], c["dtype"])

    def reset_state(self) -> None:
        if self._num_classes is None:  # sized at the first update, from the output's width
            self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = None
            return
        shape = () if self.average == "micro" else (self._num_classes,)
        for attr in self._state_attrs:
            setattr(self, attr, np.zeros(shape))

    def update_prepared(self, y, p, sample_weight):
        dtype = np.dtype(self.dtype or backend.floatx())
        p = np.asarray(p).astype(dtype, copy=False)
        y = np.asarray(y).astype(dtype, copy=False)
        if p.ndim != 2 or y.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). Received input "
                f"shapes: y_pred.shape={p.shape} and y_true.shape={y.shape}."
            )
        if self._num_classes is None:
            self._num_classes = p.shape[-1]
            self.reset_state()
        elif p.shape[-1] != self._num_classes:
            raise ValueError(f"{type(self).__name__} was built for {self._num_classes} classes; got {p.shape[-1]}.")
        if self.threshold is None:
            predicted = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            predicted = p > self.threshold
        predicted = predicted.astype(np.float64)
        y = y.astype(np.float64)
        axis = None if self.average == "micro" else 0
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)

        def weighted_sum(values):
            return (values if w is None else values * w).sum(axis=axis)

        self.true_positives = self.true_positives + weighted_sum(predicted * y)
        self.false_positives = self.false_positives + weighted_sum(predicted * (1 - y))
        self.false_negatives = self.false_negatives + weighted_sum((1 - predicted) * y)
        self.intermediate_weights = self.intermediate_weights + weighted_sum(y)

    def result(self):
        if self.true_positives is None:
            return 0.0
        eps = backend.epsilon()
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        b2 = self.beta**2
        score = (1 + b2) * (precision * recall / (b2 * precision + recall + eps))
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + eps)
            return float((score * weights).sum())
        if self.average is not None:  # micro (already one score) or macro
            return float(np.mean(score))
        return score.copy()

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


@keras_metric()
class F1Score(FBetaScore):
    """``F_1 = 2 P R / (P + R)``: :class:`FBetaScore` with ``beta = 1``."""

    config_schema = Schema(
        {k: f for k, f in FBetaScore.config_schema.fields.items() if k != "beta"} | {"name": named("f1_score")}
    )

    def __init__(self, average=None, threshold: float | None = None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
