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

import collections.abc
import math
import numbers
import warnings

import numpy as np

from . import advice, backend
from .metrics import Metric, dense_targets, sparse_labels
from .metrics import get as get_metric

__all__ = [
    "Data",
    "EpochBatches",
    "all_finite",
    "as_input_array",
    "batches",
    "check_finite",
    "check_representable",
    "fit_data",
    "keras_metric_names",
    "model_dtype",
    "numeric_array",
    "optional_steps",
    "positive_int",
    "refuse_unsupported_source",
    "resolved_loss",
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


def optional_steps(steps, name: str) -> int | None:
    """``steps_per_epoch`` / ``validation_steps`` / ``steps``: None or a positive integer."""
    return positive_int(steps, name, allow_none=True, default=None)


class EpochBatches:
    """Which batches of ``n`` examples each epoch (or each ``evaluate`` / ``predict``) runs, as Keras 3.15's
    ``EpochIterator`` over arrays does it; the one place that counts steps.

    * ``batch_size`` None: ``ceil(n / steps)`` when ``steps`` is given, else 32 (Keras's array adapter);
    * ``steps`` None: every epoch is one pass over all ``ceil(n / batch_size)`` batches;
    * ``steps`` given: an epoch runs ``steps`` batches, continuing the current pass over the data where the last
      epoch stopped; when the pass runs out first the epoch ends early (Keras warns "Your input ran out of data")
      and the next epoch starts a new pass. With 4 batches and ``steps=3`` the epochs run 3, 1, 3, 1 … batches;
      with ``steps=6``, 4 each (and a warning each).

    ``epoch()`` gives ``(spans, new_pass)``: the ``(start, end)`` of this epoch's batches, and whether they begin
    a new pass (when ``fit`` shuffles). ``steps`` is what the progress bar counts (``steps`` or the batches).
    """

    def __init__(self, n: int, batch_size: int | None, steps: int | None = None, steps_name: str = "steps"):
        self.steps_given = steps
        self.steps_name = steps_name
        if batch_size is None:
            batch_size = int(math.ceil(n / steps)) if steps else 32
        self.batch_size = batch_size
        self.spans = batches(n, batch_size)
        self.steps = steps or len(self.spans)
        self._position = 0  # the next batch of the current pass

    def epoch(self) -> tuple[list[tuple[int, int]], bool]:
        if self.steps_given is None:
            return self.spans, True
        new_pass = self._position == 0
        left = len(self.spans) - self._position
        take = min(self.steps_given, left)
        spans = self.spans[self._position : self._position + take]
        self._position += take
        if take < self.steps_given:
            warnings.warn(
                f"{self.steps_name}={self.steps_given} is more than the {take} batch(es) of {self.batch_size} left "
                f"in this pass over the data ({len(self.spans)} in all): only {take} ran, and a next epoch starts a "
                'new pass, as in Keras ("Your input ran out of data; interrupting training").',
                UserWarning,
                stacklevel=3,
            )
        if self._position >= len(self.spans):
            self._position = 0
        return spans, new_pass


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
    refuse_unsupported_source(data, name)
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


def refuse_unsupported_source(data, name: str) -> None:
    """``ValueError`` for the data sources Keras takes and gradfit does not yet: a generator or iterator, a
    ``keras.utils.PyDataset`` / ``tf.data.Dataset`` / data loader, and a SciPy sparse matrix (which NumPy would
    otherwise turn into an array of one object, "dtype object")."""
    if isinstance(data, (np.ndarray, list, tuple, numbers.Number)):
        return
    kind = type(data).__name__
    if hasattr(data, "tocsr") and hasattr(data, "nnz"):  # scipy.sparse matrices and arrays
        raise ValueError(
            f"{name} is a SciPy sparse matrix ({kind}); gradfit does not take sparse matrices yet. Give a dense "
            f"array instead: {name}.toarray() (as float32: {name}.toarray().astype(np.float32))."
        )
    if hasattr(data, "element_spec") or (hasattr(data, "dataset") and hasattr(data, "batch_size")):
        raise ValueError(
            f"{name} is a {kind} (a tf.data.Dataset or a data loader); gradfit does not take datasets yet. Give "
            "NumPy arrays x and y instead (e.g. from the dataset's batches, concatenated)."
        )
    sequence = hasattr(data, "__getitem__") and hasattr(data, "__len__")
    if isinstance(data, (collections.abc.Iterator, collections.abc.Generator)) or (
        hasattr(data, "__iter__") and not sequence and not hasattr(data, "__array__")
    ):
        raise ValueError(
            f"{name} is a generator, iterator or other iterable that is not an array ({kind}); gradfit does not "
            "take generators yet. Collect the batches into arrays first, e.g. xs, ys = zip(*batches); "
            "x = np.concatenate(xs); y = np.concatenate(ys), and pass the arrays (with batch_size=…)."
        )
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(data, "on_epoch_end"):
        raise ValueError(
            f"{name} is a {kind} (a keras.utils.PyDataset / Sequence); gradfit does not take datasets yet. Give "
            "NumPy arrays x and y instead."
        )


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


def check_representable(arr: np.ndarray, dtype, name: str) -> None:
    """``ValueError`` when finite values of ``arr`` are beyond the range of ``dtype`` (the model's float type):
    the cast would turn them into infinities (float64 data of 1e39 in a float32 model)."""
    dtype = np.dtype(dtype)
    if arr.dtype.kind != "f" or arr.size == 0 or arr.dtype.itemsize <= dtype.itemsize:
        return
    limit = float(np.finfo(dtype).max)
    big = max(abs(float(np.minimum.reduce(arr, axis=None))), abs(float(np.maximum.reduce(arr, axis=None))))
    if big > limit:
        count = int(np.count_nonzero(np.abs(arr) > limit))
        raise ValueError(
            f"{name} has {count} value(s) beyond the range of {dtype.name}, the model's float type (largest "
            f"magnitude {big:.3g} > {limit:.3g}): cast to {dtype.name} they would become infinite. Scale the data "
            "first (e.g. divide by its largest magnitude, or use a Normalization layer on scaled values)."
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
    check_representable(arr, dtype, name)
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
        dtype = model_dtype(model)
        check_representable(x_arr, dtype, "x")
        y_arr = numeric_array(y, "y")
        if len(y_arr) != len(x_arr):
            raise ValueError(
                f"x and y must have the same number of examples (rows), but x has {len(x_arr)} and y has {len(y_arr)}."
            )
        if len(x_arr) == 0:
            raise ValueError(f"{who}: x and y are empty; give at least one example.")
        check_finite(y_arr, "y")
        check_representable(y_arr, dtype, "y")
        input_shape = (None,) + x_arr.shape[1:]
        if model.built and tuple(model.input_shape[1:]) != tuple(input_shape[1:]):
            as_input_array(model, x_arr)  # raises the feature-count message
        output_shape = model.output_shape_for(input_shape)
        advice.check_model(model)  # GradfitAdvice warnings only; before the loss can refuse the targets
        advice.check_data(model, y_arr, output_shape)
        loss = resolved_loss(model._loss, y_arr, output_shape)
        y_loss = loss.prepare_targets(y_arr, (len(y_arr),) + tuple(output_shape[1:]))
        loss.check_targets(y_loss)
        weights = sample_weights(sample_weight, class_weight, y_arr, len(x_arr), dtype, who)
        return x_arr, y_arr, y_loss, weights, input_shape, output_shape

    def __init__(self, model, x, y, sample_weight=None, class_weight=None, who: str = "fit"):
        x_arr, y_arr, y_loss, self.sample_weight, input_shape, output_shape = self.check(
            model, x, y, sample_weight, class_weight, who
        )
        # loss='crossentropy' becomes the cross-entropy Keras picks from the shapes, once, as Keras's compile does
        loss = model._loss = resolved_loss(model._loss, y_arr, output_shape)
        # resolve metrics now that shapes are known (before touching the model)
        if not model.compiled_metrics or model._metrics_shapes != (y_arr.shape[1:], output_shape):
            weighted_ids = getattr(model, "_weighted_metric_ids", [])
            plain = [get_metric(m, y_arr.shape, output_shape) for m in model._metric_ids]
            weighted = [get_metric(m, y_arr.shape, output_shape) for m in weighted_ids]
            model.compiled_metrics = keras_metric_names(plain, weighted)
            #: per compiled metric: whether it is updated with the sample (and class) weights (weighted_metrics)
            model._metric_weighted = [False] * len(plain) + [True] * len(weighted)
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


def resolved_loss(loss, y: np.ndarray, output_shape: tuple):
    """The loss itself, or for ``loss='crossentropy'`` the cross-entropy Keras picks for targets ``y`` and outputs
    of ``output_shape`` (the stand-in's ``resolve``)."""
    resolve = getattr(loss, "resolve", None)
    return loss if resolve is None else resolve(y, output_shape)


def keras_metric_names(metrics: list[Metric], weighted: list[Metric]) -> list[Metric]:
    """``metrics`` then ``weighted`` (``compile(weighted_metrics=…)``), named as Keras 3.15 logs them
    (``CompileMetrics.result``): repeated names of ``metrics`` get ``_1``, ``_2`` …; a weighted metric keeps its
    name unless an earlier metric has it, then it is ``weighted_<name>`` (``weighted_<name>_1`` … if that is
    taken too)."""
    unique_names(metrics)
    counters = {m.name: 1 for m in metrics}
    for metric in weighted:
        name = metric.name
        if name in counters:
            name = f"weighted_{metric.name}"
            if name in counters:
                index = counters[name]
                counters[name] += 1
                name = f"{name}_{index}"
            else:
                counters[name] = 1
        else:
            counters[name] = 1
        metric.name = name
    return metrics + weighted


def unique_names(metrics: list[Metric]) -> list[Metric]:
    """Keras's rule for two metrics of the same name in one compile: ``mse``, ``mse_1`` …"""
    seen: dict[str, int] = {}
    for metric in metrics:
        n = seen.get(metric.name, 0)
        seen[metric.name] = n + 1
        if n:
            metric.name = f"{metric.name}_{n}"
    return metrics


def sample_weights(
    sample_weight, class_weight, y: np.ndarray, n: int, dtype=np.float32, who: str = "fit"
) -> np.ndarray | None:
    """One float64 weight per example, from ``sample_weight`` or from ``class_weight[label]`` (None if neither),
    checked to be finite, non-negative and representable in the model's float type ``dtype``.

    Class weights follow Keras (``class_weight_to_sample_weights``): the label is the argmax of a one-hot row
    (or the single column), rounded to an integer; a class missing from ``class_weight`` weighs 1.0. Keras
    refuses ``class_weight`` together with ``sample_weight``.
    """
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            f'{who}: give class_weight or sample_weight, not both (Keras: "You cannot `class_weight` and '
            '`sample_weight` at the same time."). To combine them, multiply yourself: '
            "sample_weight * np.vectorize(class_weight.get)(labels)."
        )
    if sample_weight is not None:
        weights = numeric_array(sample_weight, "sample_weight")
        if weights.shape not in ((n,), (n, 1)):
            raise ValueError(f"sample_weight must have one weight per example, shape ({n},); got {weights.shape}.")
        check_finite(weights, "sample_weight")
        check_representable(weights, dtype, "sample_weight")
        weights = weights.astype(np.float64).reshape(n)
        if (weights < 0).any():
            raise ValueError("sample_weight must not be negative.")
        return weights
    if class_weight is None:
        return None
    if not isinstance(class_weight, collections.abc.Mapping):
        raise TypeError(
            f"class_weight must be a dict {{class_label: weight}}, e.g. {{0: 1.0, 1: 5.0}}; got "
            f"{type(class_weight).__name__}."
        )
    limit = float(np.finfo(dtype).max)
    table: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Real) or key != int(key):
            raise ValueError(
                f"class_weight: the keys are class indices (integers), got {key!r}; e.g. {{0: 1.0, 1: 5.0}}."
            )
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"class_weight[{key!r}] must be a number, got {value!r}.")
        value = float(value)
        if not math.isfinite(value) or abs(value) > limit:
            raise ValueError(
                f"class_weight[{key!r}] is {value!r}: a class weight must be finite and representable in "
                f"{np.dtype(dtype).name} (at most {limit:.3g})."
            )
        if value < 0:
            raise ValueError(f"class_weight[{key!r}] is {value!r}: a class weight must not be negative.")
        table[int(key)] = value
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] != 1 else y.reshape(n)
    labels = np.round(labels)
    # one look-up per distinct label, not a table indexed by label (a key of 10**12 must not allocate)
    classes, inverse = np.unique(labels, return_inverse=True)
    per_class = np.array([table.get(int(c), 1.0) for c in classes], dtype=np.float64)
    return per_class[inverse.reshape(n)]


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
        # Keras splits (x, y, sample_weight) first and weights by class the training part only
        data, val = data.split(at)
        if class_weight is not None:
            val.sample_weight = None
    elif validation_data is not None:
        try:
            val = Data(model, *validation_data, who="validation_data")
        except ValueError as exc:
            raise ValueError(f"validation_data: {exc}") from None
    return data, val
