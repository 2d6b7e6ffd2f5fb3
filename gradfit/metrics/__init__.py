"""Metrics, accumulated over an epoch as Keras 3 accumulates them.

* :mod:`.base`: ``Metric`` (a weighted mean ``sum_i w_i v_i / sum_i w_i`` of per-example values), ``Mean``,
  ``MeanMetricWrapper``;
* :mod:`.accuracy`: ``Accuracy``, ``BinaryAccuracy``, ``CategoricalAccuracy``, ``SparseCategoricalAccuracy`` and
  the top-k accuracies;
* :mod:`.regression`: ``MeanSquaredError``, ``MeanAbsoluteError``, ``RootMeanSquaredError``,
  ``MeanAbsolutePercentageError``, ``MeanSquaredLogarithmicError``, ``R2Score``;
* :mod:`.confusion` and :mod:`.auc`: ``Precision``, ``Recall`` and ``AUC`` from weighted confusion counts;
* :mod:`.fscore`: ``FBetaScore`` and ``F1Score``.

Every metric class registers itself in ``registry.METRICS`` under the strings ``keras.metrics.get`` accepts (its
class name, that name in snake_case, ``'mse'``/``'mae'``); :func:`get`, its "did you mean" suggestions and the
safe loader's allow-list all come from there. A loss's name works as a metric too (``'binary_crossentropy'``:
the loss's per-example values averaged), found in ``registry.LOSSES``; so does a function ``fn(y_true, y_pred)``
(``MeanMetricWrapper``). A loss object (``metrics=[BinaryCrossentropy()]``) is, as in Keras, the mean over the
batches of each batch's loss value (each batch counts once, whatever its size).

``'accuracy'`` is resolved from the shapes, as Keras does: an output with one unit gives ``BinaryAccuracy``
(``f(x) > 0.5``), integer labels for a wider output give ``SparseCategoricalAccuracy`` (``argmax f(x) == y``),
one-hot targets give ``CategoricalAccuracy``.

Names: a metric given as a string keeps that string as its name (``'mse'`` is reported as ``mse``,
``'MeanSquaredError'`` as ``MeanSquaredError``), as in Keras. ``Precision()``, ``Recall()`` and ``AUC()``
without a name are named like Keras's: ``precision``, then ``precision_1``, ``precision_2`` … for later
instances (``gradfit.keras.backend.clear_session()`` restarts the count).
"""

from __future__ import annotations

import numpy as np

from .. import registry
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from .auc import AUC
from .base import Mean, MeanMetricWrapper, Metric
from .base import dense_targets as dense_targets  # for the training step (not Keras API)
from .base import sparse_labels as sparse_labels
from .confusion import Precision, Recall
from .fscore import F1Score, FBetaScore
from .regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "F1Score",
    "FBetaScore",
    "Mean",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Precision",
    "R2Score",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "get",
]

# Keras metrics gradfit does not have (yet): named in the error instead of "unknown" (with their snake_case
# names, and Keras's aliases). Those that are also losses ('poisson', 'KLDivergence' …) resolve as losses first.
_KERAS_ONLY_CLASSES = (
    "BinaryIoU",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "MeanIoU",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TrueNegatives",
    "TruePositives",
)
_KERAS_ONLY = frozenset(
    (*_KERAS_ONLY_CLASSES, *map(registry.snake_case, _KERAS_ONLY_CLASSES), "MAPE", "mape", "MSLE", "msle")
)


#: the losses' names that Keras's ``metrics.get`` knows (Keras has a metric of that name); it refuses every other
#: loss name as a metric ('huber', 'log_cosh', 'kld' …: "Could not interpret metric identifier")
_KERAS_LOSS_METRIC_NAMES = frozenset(
    (
        *("BinaryCrossentropy", "binary_crossentropy", "bce", "BCE", "CategoricalCrossentropy"),
        *("categorical_crossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
        *("Hinge", "hinge", "SquaredHinge", "squared_hinge", "CategoricalHinge", "categorical_hinge"),
        *("KLDivergence", "kl_divergence", "Poisson", "poisson"),
    )
)


def _loss_metric(name: str) -> Metric | None:
    """A loss used as a metric (``metrics=['binary_crossentropy']``): its per-example values ``L_i`` averaged.
    Only the names Keras's metrics know; another loss's name is refused, as Keras refuses it."""
    found = registry.LOSSES.lookup(name)
    if found is None:
        return None
    if name not in _KERAS_LOSS_METRIC_NAMES:
        raise ValueError(
            f"{name!r} names a loss but not a Keras metric (Keras refuses it: 'Could not interpret metric "
            f"identifier'). To track this loss as a metric, give the loss object: "
            f"metrics=[keras.losses.{registry.LOSSES.name_of(found)}()]."
        )
    from .. import losses

    loss = losses.get(found)
    metric = MeanMetricWrapper(lambda y, p: loss.per_sample(y, p), name=name)
    metric.target_kind = "sparse" if loss.sparse else "dense"
    metric._direction = "down"  # a loss is minimised
    return metric


class _LossObjectMetric(Metric):
    """A loss object given as a metric (``metrics=[BinaryCrossentropy()]``), as Keras's ``compile`` wraps it
    (``MeanMetricWrapper(loss)``): each batch adds the loss's value on it, reduced as the loss reduces
    (``sum_over_batch_size``: the batch's mean), and the result is the mean of those values over the batches; a
    loss with ``reduction=None`` adds its per-example values instead. Named by the loss's name."""

    _direction = "down"  # a loss is minimised

    def __init__(self, loss):
        self.loss = loss
        self.target_kind = "sparse" if loss.sparse else "dense"
        super().__init__(loss.name)

    def update_prepared(self, y, p, sample_weight):
        if sample_weight is not None:
            raise ValueError(
                f"The loss {self.loss.name!r} used as a metric is averaged per batch and cannot be weighted per "
                "example (Keras cannot either): give it in metrics=, not weighted_metrics=, or use its name "
                f"({self.loss.name!r}) for the per-example mean."
            )
        values = np.asarray(self.loss.reduced(y, np.asarray(p)), dtype=np.float64)
        self.total += float(values.sum())
        self.count += values.size if values.ndim else 1

    def get_config(self) -> dict:
        raise ValueError(
            f"A loss object used as a metric ({type(self.loss).__name__}) cannot be saved as a metric; compile "
            f"with its name ({self.loss.name!r}) to save the model."
        )


def _lowercase_names() -> str:
    """The public metrics' lower-case names (what ``compile(metrics=[...])`` is usually given)."""
    names = {n for e in registry.METRICS if e.public for n in (e.name, *e.aliases) if n[0].islower()}
    return ", ".join(sorted(names - {"accuracy"}))


def get(identifier, y_shape: tuple | None = None, output_shape: tuple | None = None) -> Metric:
    """Resolve a metric by object, class, name or ``{'class_name': …, 'config': …}``.

    Given the target and output shapes (as ``compile`` gives them), ``'accuracy'`` (any case) and ``'acc'`` are
    resolved from them, as Keras's ``compile`` resolves them; without, ``'accuracy'`` and ``'Accuracy'`` are the
    registered :class:`Accuracy`, as for ``keras.metrics.get``. A name becomes the metric's name in ``History``
    and ``evaluate(return_dict=True)``, as in Keras (``'mse'`` → ``mse``).
    """
    from ..losses import Loss

    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        identifier = identifier()
    if isinstance(identifier, Loss):
        if y_shape is not None and output_shape is not None and hasattr(identifier, "resolve"):
            identifier = identifier.resolve(y_shape, output_shape)
        return _LossObjectMetric(identifier)
    if callable(identifier) and not isinstance(identifier, type):  # fn(y_true, y_pred) -> per-example values
        return MeanMetricWrapper(identifier, name=registry.snake_case(getattr(identifier, "__name__", "") or "fn"))
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = registry.METRICS.lookup(identifier["class_name"])
        if not isinstance(cls, type):
            raise ValueError(f"{registry.METRICS.unknown_message(identifier['class_name'])} (in {identifier!r})")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = registry.METRICS.lookup(identifier)
        if identifier.lower() in ("accuracy", "acc"):
            if y_shape is not None and output_shape is not None:  # compile's rule
                return _resolve_accuracy(identifier, y_shape, output_shape)
            if cls is None:
                raise ValueError(f"{identifier!r} can only be resolved once the target and output shapes are known.")
        if cls is not None:
            return cls(name=identifier)
        metric = _loss_metric(identifier)
        if metric is not None:
            return metric
        if identifier in _KERAS_ONLY:
            raise ValueError(
                f"The Keras metric {identifier!r} is not implemented in gradfit yet. Available: accuracy, "
                f"{_lowercase_names()}, and the losses' names (e.g. 'binary_crossentropy')."
            )
        raise ValueError(
            registry.METRICS.unknown_message(identifier, " Losses' names work too (e.g. 'binary_crossentropy').")
        )
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
