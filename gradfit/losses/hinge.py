"""Hinge losses, the support-vector machine's margins: the output is a score that should be at least 1 on the
right side of the label.

``Hinge`` and ``SquaredHinge`` read labels -1 and 1; when every label of a batch is 0 or 1, they are mapped
to -1 and 1 first (``y <- 2 y - 1``), as Keras does. ``CategoricalHinge`` reads one-hot targets.
"""

from __future__ import annotations

import numpy as np

from .base import Loss, loss_schema, register

__all__ = ["CategoricalHinge", "Hinge", "SquaredHinge", "categorical_hinge", "hinge", "squared_hinge"]


def signed_labels(y: np.ndarray) -> np.ndarray:
    """``2 y - 1`` when every label is 0 or 1 (Keras's ``convert_binary_labels_to_hinge``), else ``y``."""
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


class _Margin(Loss):
    """What the two binary hinge losses share: the margin ``1 - y p`` and where it is active."""

    reads = "labels"

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None):
        self._configure(reduction=reduction, name=name)

    @staticmethod
    def margin(y, p):
        y = signed_labels(y)
        return y, 1 - y * p


@register("hinge")
class Hinge(_Margin):
    """``L = mean_j max(1 - y_j p_j, 0)`` with labels ``y`` in {-1, 1};
    ``dL/dp = -y / units`` where the margin is not met (``1 - y p >= 0``, TensorFlow's side at the kink)."""

    formula = "L = max(1 - y f(x), 0)"
    config_schema = loss_schema("hinge")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "hinge"):
        super().__init__(reduction, name)

    def per_sample(self, y, p):
        _, m = self.margin(y, p)
        return np.maximum(m, 0).mean(axis=-1)

    def grad(self, y, p):
        y, m = self.margin(y, p)
        return -y * (m >= 0) / p.shape[-1]


@register("squared_hinge")
class SquaredHinge(_Margin):
    """``L = mean_j max(1 - y_j p_j, 0)^2`` with labels ``y`` in {-1, 1};
    ``dL/dp = -2 y max(1 - y p, 0) / units``."""

    formula = "L = max(1 - y f(x), 0)^2"
    config_schema = loss_schema("squared_hinge")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "squared_hinge"):
        super().__init__(reduction, name)

    def per_sample(self, y, p):
        _, m = self.margin(y, p)
        return np.square(np.maximum(m, 0)).mean(axis=-1)

    def grad(self, y, p):
        y, m = self.margin(y, p)
        return -2 * y * np.maximum(m, 0) / p.shape[-1]


@register("categorical_hinge")
class CategoricalHinge(Loss):
    """Crammer-Singer multiclass hinge for one-hot targets: ``L = max(neg - pos + 1, 0)`` with
    ``pos = sum_j y_j p_j`` (the true class's score) and ``neg = max_j (1 - y_j) p_j`` (the best other score).

    ``dL/dp = (1 - y) [j is the arg max of neg] - y`` where ``neg - pos + 1 >= 0``, else 0; tied maxima share
    the gradient equally, as TensorFlow's ``reduce_max`` does.
    """

    reads = "labels"
    formula = "L = max(max_j!=y f(x)_j - f(x)_y + 1, 0)"
    config_schema = loss_schema("categorical_hinge")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "categorical_hinge"):
        self._configure(reduction=reduction, name=name)

    @staticmethod
    def _parts(y, p):
        others = (1 - y) * p
        neg = others.max(axis=-1)
        pos = (y * p).sum(axis=-1)
        return others, neg, neg - pos + 1

    def per_sample(self, y, p):
        _, _, m = self._parts(y, p)
        return np.maximum(m, 0)

    def grad(self, y, p):
        others, neg, m = self._parts(y, p)
        top = others == neg[..., None]
        d_neg = (1 - y) * top
        d_neg /= top.sum(axis=-1, keepdims=True)  # in place: keeps the output's float type
        return (d_neg - y) * (m >= 0)[..., None]


hinge = Hinge.function
squared_hinge = SquaredHinge.function
categorical_hinge = CategoricalHinge.function
