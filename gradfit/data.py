"""The data side of ``fit``, ``evaluate`` and ``predict``: arguments and arrays checked, cast and prepared once.

Everything that can be done once per call is done here, before the first step: inputs are validated
(numbers, one row per example, finite, the features the model was built for) and cast to the model's float
type, the loss's targets and the metrics' targets are prepared, sample and class weights become one weight
per example. The loops in ``training.py`` then only slice.

The small API the loops use (and a future data adapter would produce):

* ``Data(model, x, y, sample_weight, class_weight, who)``: ``.x``, ``.y_loss``, ``.sample_weight``, ``.kinds``
  (metric targets by kind), ``.n``; ``.arrays()`` (what one shuffle permutes together), ``.split(at)``;
  ``Data.check(...)`` runs every check without changing anything;
* ``fit_data(model, x, y, …, validation_split, validation_data)`` -> ``(train, validation or None)``;
* ``as_input_array(model, x)`` for ``predict`` and calling a model;
* argument checks: ``positive_int``, ``verbosity``; array checks: ``numeric_array``, ``check_finite``;
  ``batches(n, batch_size)``, ``model_dtype(model)``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import advice, backend
from .metrics import Metric, dense_targets, sparse_labels
from .metrics import get as get_metric

__all__ = [
    "Data",
    "all_finite",
    "as_input_array",
    "batches",
    "check_finite",
    "fit_data",
    "model_dtype",
    "numeric_array",
    "positive_int",
    "sample_weights",
    "unique_names",
    "verbosity",
]

# ------------------------------------------------------------------------------------------- arguments


def verbosity(verbose) -> int:
    """Keras's ``verbose``: ``'auto'`` (1), 0 (silent), 1 (progress bar) or 2 (one line per epoch)."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each batch of ``n`` examples; the last one may be smaller."""
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


# ------------------------------------------------------------------------------------------- arrays


def positive_int(value, name: str, allow_none: bool = False, default: int | None = None) -> int:
    """``value`` as an int, or ``ValueError`` naming ``name`` (None gives ``default`` where allowed)."""
    if value is None and allow_none:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def numeric_array(data, name: str) -> np.ndarray:
    """``data`` as a NumPy array of numbers with at least one axis, as given (no cast), or ``ValueError``."""
    if data is None:
        raise ValueError(f"{name} is missing: give a NumPy array (or something np.asarray accepts).")
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    try:
        arr = np.asarray(data)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold numbers, but its dtype is {arr.dtype} (e.g. strings or mixed objects). "
            f"Convert it first, e.g. np.asarray({name}, dtype=np.float32)."
        )
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array with one row per example, got a single number.")
    return arr


def all_finite(arr: np.ndarray) -> bool:
    # the minimum and maximum are finite exactly when every value is (NaN propagates through both): two
    # passes without a temporary, where np.isfinite(arr).all() first writes a boolean array the size of the
    # data (47 MB for MNIST, 0.15 s of fresh pages in a new process here)
    if arr.dtype.kind != "f" or arr.size == 0:
        return True
    return bool(np.isfinite(np.minimum.reduce(arr, axis=None)) and np.isfinite(np.maximum.reduce(arr, axis=None)))


def check_finite(arr: np.ndarray, name: str) -> None:
    """``ValueError`` counting the NaN and infinite values of ``arr``, if it has any."""
    if not all_finite(arr):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); remove or impute them before training "
            f"(e.g. np.nan_to_num or dropping those rows)."
        )


def as_input_array(model, x, name: str = "x") -> np.ndarray:
    """``x`` as a float array of the model's dtype, checked against the model's input size; builds the model."""
    arr = numeric_array(x, name)
    if arr.ndim == 1:
        raise ValueError(
            f"{name} has shape {arr.shape}, but the model expects one row per example, i.e. a 2-D array "
            f"(examples, features). For a single feature use {name}.reshape(-1, 1); for a single example "
            f"use {name}.reshape(1, -1)."
        )
    check_finite(arr, name)
    if model.built:
        expected = model.input_shape
        if tuple(arr.shape[1:]) != tuple(expected[1:]) and None not in expected[1:]:
            raise ValueError(
                f"{name} has {arr.shape[1:] if arr.ndim > 2 else arr.shape[-1]} features per example, but the "
                f"model was built for inputs of shape {expected} (i.e. {expected[1:]} per example). "
                "Give data with the same features the model was built for, or build a new model."
            )
    dtype = model_dtype(model)
    return np.ascontiguousarray(arr, dtype=dtype)


def model_dtype(model) -> np.dtype:
    """The float type data is cast to: the model's weights' (``floatx()`` before it has any)."""
    store = model.parameter_store
    if store is not None and store.size:
        return store.dtype
    return np.dtype(backend.floatx())


class Data:
    """Validated, cast and prepared training data: everything ``fit`` needs, done once."""

    @staticmethod
    def check(model, x, y, sample_weight=None, class_weight=None, who: str = "fit"):
        """Every check of the data against the model and its loss, changing nothing: the arrays as given,
        the loss's targets, the sample weights and the input and output shapes."""
        if model._loss is None:
            raise RuntimeError(
                f"{who}: the model has no loss. Call model.compile(loss=…) first, e.g. "
                "model.compile(loss=BinaryCrossentropy())."
            )
        x_arr = numeric_array(x, "x")
        if x_arr.ndim == 1:
            as_input_array(model, x_arr)  # raises the reshape advice
        check_finite(x_arr, "x")  # before anything builds the model
        y_arr = numeric_array(y, "y")
        if len(y_arr) != len(x_arr):
            raise ValueError(
                f"x and y must have the same number of examples (rows), but x has {len(x_arr)} and y has {len(y_arr)}."
            )
        if len(x_arr) == 0:
            raise ValueError(f"{who}: x and y are empty; give at least one example.")
        check_finite(y_arr, "y")
        input_shape = (None,) + x_arr.shape[1:]
        if model.built and tuple(model.input_shape[1:]) != tuple(input_shape[1:]):
            as_input_array(model, x_arr)  # raises the feature-count message
        output_shape = model.output_shape_for(input_shape)
        advice.check_model(model)  # GradfitAdvice warnings only; before the loss can refuse the targets
        advice.check_data(model, y_arr, output_shape)
        loss = model._loss
        y_loss = loss.prepare_targets(y_arr, (len(y_arr),) + tuple(output_shape[1:]))
        loss.check_targets(y_loss)
        weights = sample_weights(sample_weight, class_weight, y_arr, len(x_arr))
        return x_arr, y_arr, y_loss, weights, input_shape, output_shape

    def __init__(self, model, x, y, sample_weight=None, class_weight=None, who: str = "fit"):
        x_arr, y_arr, y_loss, self.sample_weight, input_shape, output_shape = self.check(
            model, x, y, sample_weight, class_weight, who
        )
        loss = model._loss
        # resolve metrics now that shapes are known (before touching the model)
        if not model.compiled_metrics or model._metrics_shapes != (y_arr.shape[1:], output_shape):
            model.compiled_metrics = unique_names([get_metric(m, y_arr.shape, output_shape) for m in model._metric_ids])
            model._metrics_shapes = (y_arr.shape[1:], output_shape)
        if not model.built:
            model.build(input_shape)
        model._ensure_bound()
        self.x = as_input_array(model, x_arr)
        dtype = self.x.dtype
        self.y_loss = y_loss if loss.sparse else np.ascontiguousarray(y_loss, dtype=dtype)
        # metric targets: at most one array of each kind, shared with the loss's where they agree
        out_full = (len(y_arr),) + tuple(output_shape[1:])
        self.kinds: dict[str, np.ndarray] = {}
        for metric in model.compiled_metrics:
            kind = metric.target_kind
            if kind in self.kinds:
                continue
            if (kind == "sparse") == loss.sparse:
                self.kinds[kind] = self.y_loss
            elif kind == "sparse":
                self.kinds[kind] = sparse_labels(y_arr, out_full)
            else:
                self.kinds[kind] = np.ascontiguousarray(dense_targets(y_arr, out_full), dtype=dtype)
        self.n = len(self.x)

    def arrays(self) -> list[np.ndarray | None]:
        """[x, y_loss, sample_weight, metric targets…]: what one shuffle permutes together."""
        extra = [a for a in self.kinds.values() if a is not self.y_loss]
        return [self.x, self.y_loss, self.sample_weight, *extra]

    def split(self, at: int) -> tuple[Data, Data]:
        first, second = object.__new__(Data), object.__new__(Data)
        for part, sl in ((first, slice(0, at)), (second, slice(at, None))):
            part.x = self.x[sl]
            part.y_loss = self.y_loss[sl]
            part.sample_weight = None if self.sample_weight is None else self.sample_weight[sl]
            part.kinds = {k: (part.y_loss if v is self.y_loss else v[sl]) for k, v in self.kinds.items()}
            part.n = len(part.x)
        return first, second


def unique_names(metrics: list[Metric]) -> list[Metric]:
    """Keras's rule for two metrics of the same name in one compile: ``mse``, ``mse_1`` …"""
    seen: dict[str, int] = {}
    for metric in metrics:
        n = seen.get(metric.name, 0)
        seen[metric.name] = n + 1
        if n:
            metric.name = f"{metric.name}_{n}"
    return metrics


def sample_weights(sample_weight, class_weight, y: np.ndarray, n: int) -> np.ndarray | None:
    """One float64 weight per example from ``sample_weight`` times ``class_weight[label]`` (None if neither)."""
    weights = None
    if sample_weight is not None:
        weights = numeric_array(sample_weight, "sample_weight").astype(np.float64)
        if weights.shape not in ((n,), (n, 1)):
            raise ValueError(f"sample_weight must have one weight per example, shape ({n},); got {weights.shape}.")
        weights = weights.reshape(n)
        check_finite(weights, "sample_weight")
        if (weights < 0).any():
            raise ValueError("sample_weight must not be negative.")
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError("class_weight must be a dict {class_label: weight}, e.g. {0: 1.0, 1: 5.0}.")
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(n)
        if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise ValueError("class_weight needs integer class labels (or one-hot rows) in y.")
        labels = labels.astype(np.int64)
        present = set(np.unique(labels).tolist())
        missing = present - set(int(k) for k in class_weight)
        if missing:
            raise ValueError(
                f"class_weight has no weight for class(es) {sorted(missing)} found in y; give a weight for "
                f"every class, e.g. {{{', '.join(f'{c}: 1.0' for c in sorted(present))}}}."
            )
        table = np.zeros(max(max(present), max(int(k) for k in class_weight)) + 1)
        for k, v in class_weight.items():
            if int(k) >= 0:
                table[int(k)] = float(v)
        cw = table[labels]
        weights = cw if weights is None else weights * cw
    return weights


def fit_data(model, x, y, sample_weight=None, class_weight=None, validation_split=0.0, validation_data=None):
    """The training data and the validation data (or None) of a ``fit``, every check done before anything
    builds the model: a bad validation set changes nothing."""
    if validation_split:  # checked before Data builds the model
        n = len(numeric_array(x, "x"))
        at = int(math.floor(n * (1.0 - validation_split)))
        if at == 0 or at == n:
            raise ValueError(
                f"validation_split={validation_split} leaves {'no training' if at == 0 else 'no validation'} "
                f"examples out of {n}; choose a fraction that leaves some of each."
            )
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val).")
        if not model.built:  # check it before the training data builds the model, so a bad one changes nothing
            x_train = numeric_array(x, "x")
            try:
                x_val = Data.check(model, *validation_data, who="validation_data")[0]
            except ValueError as exc:
                raise ValueError(f"validation_data: {exc}") from None
            if x_val.shape[1:] != x_train.shape[1:]:
                raise ValueError(
                    f"validation_data: x has shape {x_val.shape} but the training x has {x_train.shape}; "
                    "give validation examples with the same features as the training ones."
                )
    data = Data(model, x, y, sample_weight, class_weight)
    val = None
    if validation_split:
        data, val = data.split(at)
    elif validation_data is not None:
        try:
            val = Data(model, *validation_data, who="validation_data")
        except ValueError as exc:
            raise ValueError(f"validation_data: {exc}") from None
    return data, val
