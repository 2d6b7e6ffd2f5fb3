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
    "BatchData",
    "Data",
    "EpochBatches",
    "all_finite",
    "as_input_array",
    "batches",
    "check_finite",
    "check_representable",
    "fit_data",
    "keras_metric_names",
    "metric_targets",
    "model_dtype",
    "numeric_array",
    "optional_steps",
    "positive_int",
    "resolved_loss",
    "sample_weights",
    "set_up_model",
    "StreamEpochs",
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
    if not isinstance(data, (np.ndarray, list, tuple, numbers.Number)):
        data = _as_array_source(data, name)
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


def _as_array_source(data, name: str):
    """What ``np.asarray`` should see for ``data``: a DataFrame's values (non-numeric columns refused by name), a
    sparse matrix densified (a single batch: ``train_on_batch`` …), a tensor's ``.numpy()``; ``ValueError`` for a
    stream of batches, which only ``fit`` / ``evaluate`` / ``predict`` read."""
    from .adapters import arrays, streams

    if arrays.is_dataframe(data):
        return arrays.dataframe_to_array(data, name)
    if arrays.is_sparse(data):
        return data.toarray()
    if hasattr(data, "numpy") and hasattr(data, "shape"):
        return streams.as_numpy(data)
    if not hasattr(data, "__array__") and (
        isinstance(data, collections.abc.Iterator) or hasattr(data, "__iter__") or hasattr(data, "__getitem__")
    ):
        raise ValueError(
            f"{name} is a {type(data).__name__} (a generator, iterator, dataset or other source of batches), where "
            "one batch of arrays is needed here: pass the source to fit / evaluate / predict, which read it batch "
            "by batch, or give this call a NumPy array."
        )
    return data


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
        loss = set_up_model(model, y_arr, input_shape, output_shape)
        self.x = as_input_array(model, x_arr)
        self.y_loss, self.kinds = metric_targets(model, loss, y_arr, y_loss, output_shape, self.x.dtype)
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


def set_up_model(model, y: np.ndarray, input_shape: tuple, output_shape: tuple):
    """What the first data does to a model (once its shapes are known): ``loss='crossentropy'`` resolved, the
    metrics resolved and named, the model built; returns the loss."""
    # loss='crossentropy' becomes the cross-entropy Keras picks from the shapes, once, as Keras's compile does
    loss = model._loss = resolved_loss(model._loss, y, output_shape)
    # resolve metrics now that shapes are known (before touching the model)
    if not model.compiled_metrics or model._metrics_shapes != (y.shape[1:], output_shape):
        weighted_ids = getattr(model, "_weighted_metric_ids", [])
        plain = [get_metric(m, y.shape, output_shape) for m in model._metric_ids]
        weighted = [get_metric(m, y.shape, output_shape) for m in weighted_ids]
        model.compiled_metrics = keras_metric_names(plain, weighted)
        #: per compiled metric: whether it is updated with the sample (and class) weights (weighted_metrics)
        model._metric_weighted = [False] * len(plain) + [True] * len(weighted)
        model._metrics_shapes = (y.shape[1:], output_shape)
    if not model.built:
        model.build(input_shape)
    model._ensure_bound()
    return loss


def metric_targets(model, loss, y: np.ndarray, y_loss: np.ndarray, output_shape: tuple, dtype):
    """The loss's targets in their final type and the metrics' targets by kind (``{"sparse": …, "dense": …}``):
    at most one array of each kind, shared with the loss's where they agree."""
    y_loss = y_loss if loss.sparse else np.ascontiguousarray(y_loss, dtype=dtype)
    out_full = (len(y),) + tuple(output_shape[1:])
    kinds: dict[str, np.ndarray] = {}
    for metric in model.compiled_metrics:
        kind = metric.target_kind
        if kind in kinds:
            continue
        if (kind == "sparse") == loss.sparse:
            kinds[kind] = y_loss
        elif kind == "sparse":
            kinds[kind] = sparse_labels(y, out_full)
        else:
            kinds[kind] = np.ascontiguousarray(dense_targets(y, out_full), dtype=dtype)
    return y_loss, kinds


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


def split_at(n: int, validation_split: float) -> int:
    """Where ``validation_split`` cuts ``n`` examples (Keras: the last fraction validates), refusing a cut that
    leaves no training or no validation example."""
    at = int(math.floor(n * (1.0 - validation_split)))
    if at == 0 or at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves {'no training' if at == 0 else 'no validation'} "
            f"examples out of {n}; choose a fraction that leaves some of each."
        )
    return at


def validation_arrays(validation_data) -> tuple:
    """``validation_data`` as ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``, or ``ValueError``."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val).")
    return tuple(validation_data)


def fit_data(model, x, y, sample_weight=None, class_weight=None, validation_split=0.0, validation_data=None):
    """The training data and the validation data (or None) of a ``fit``, every check done before anything
    builds the model: a bad validation set changes nothing."""
    if validation_split:  # checked before Data builds the model
        at = split_at(len(numeric_array(x, "x")), validation_split)
    if validation_data is not None:
        validation_data = validation_arrays(validation_data)
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


# ------------------------------------------------------------------------------------------- batch by batch


class StreamEpochs:
    """Which raw batches of an adapter each epoch (or each ``evaluate`` / ``predict``) runs, as Keras 3.15's
    ``EpochIterator`` does it (the streaming counterpart of ``EpochBatches``).

    * ``steps`` None and the number of batches known: every epoch is one new pass;
    * ``steps`` given: an epoch runs ``steps`` batches, continuing the current pass where the last epoch stopped
      (an infinite generator with ``steps_per_epoch``); a sized source that runs out first ends the epoch early,
      with a warning, and the next epoch starts a new pass;
    * neither known (a generator): the epoch runs until the source is exhausted, with Keras's "ran out of data"
      warning; the count then stands for the number of batches (Keras counts the failed read too).

    A generator that runs out ends the epoch with the warning and the next epoch starts a new pass (which, for a
    generator, replays the batches read ahead: ``adapters.streams``).
    """

    def __init__(self, adapter, steps: int | None = None, steps_name: str = "steps"):
        self.adapter = adapter
        self.steps_given = steps
        self.steps_name = steps_name
        self.num_batches = adapter.num_batches
        self._iterator = None
        self._seen = 0

    @property
    def steps(self) -> int | None:
        """What the progress bar counts: ``steps`` or the batches of a pass (None: not known yet)."""
        return self.steps_given or self.num_batches

    def _ran_out(self, read: int) -> None:
        if self.num_batches is None:
            self.num_batches = self._seen
        self._iterator = None
        if self.steps_given:
            why = f"gave fewer batches than {self.steps_name}={self.steps_given}"
            advice = f"Make sure it can give {self.steps_name} * epochs batches (e.g. an infinite generator)."
        else:
            why = "was exhausted"
            advice = (
                "A generator is read once: later passes replay only the batches read ahead (Keras's rule); for "
                "several epochs give an infinite generator and steps_per_epoch, or a PyDataset."
            )
        warnings.warn(
            f"Your input ran out of data after {read} batch(es) of this epoch: the {self.adapter.kind} {why}, so "
            f'the epoch ended there, as in Keras ("interrupting training"). {advice}',
            UserWarning,
            stacklevel=4,
        )

    def epoch(self, epoch: int = 0):
        """The raw ``(x, y, sw)`` batches of one epoch."""
        steps = self.steps_given or self.num_batches or -1
        if steps < 0:  # unknown length: until the source runs out
            self._iterator = self.adapter.batches(epoch)
            self._seen = 0
            while True:
                self._seen += 1
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    self._ran_out(self._seen - 1)
                    return
                yield batch
        if self._iterator is None or self.steps_given is None:
            self._iterator = self.adapter.batches(epoch)
            self._seen = 0
        for read in range(steps):
            if self.num_batches and self._seen >= self.num_batches:
                if self.steps_given:
                    self._ran_out(read)
                break
            self._seen += 1
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._ran_out(read)
                return
            yield batch
        if self.num_batches and self._seen >= self.num_batches:
            self._iterator = None  # the next epoch starts a new pass (created then, after on_epoch_end)
            self._seen = 0


class BatchData:
    """Checks, casts and prepares the batches of a source read batch by batch, with the array path's checks and
    messages (prefixed with the batch's index), so that a bad batch midway stops ``fit`` before its step: the
    weights stay as of the last good step.

    The first batch does what ``Data`` does once for arrays: every check (advice included), the loss and metrics
    resolved and the model built from its shapes. Every batch then costs a few checks: numbers, the shape the
    model takes, finite (two reductions), targets of the shape of the first batch's and valid for the loss
    (labels in range), as many rows as ``x``, sample / class weights; and the casts, which cost nothing where a
    batch already has the model's type.

    ``prepare(index, x, y, sw)`` gives ``(x, y_loss, sample_weight, targets)``: ``targets`` are the metrics'
    targets, one per kind in ``self.kind_names`` order.
    """

    def __init__(
        self, model, first: tuple, class_weight=None, who: str = "fit", kind: str = "generator", targets: bool = True
    ):
        self.model = model
        self.who = who
        self.kind = kind
        self.targets = targets
        self.class_weight = class_weight
        x, y, sw = first
        try:
            if targets:
                if y is None:
                    raise ValueError(self._no_targets())
                x_arr, y_arr, y_loss, _, input_shape, output_shape = Data.check(model, x, y, sw, class_weight, who)
                self.loss = set_up_model(model, y_arr, input_shape, output_shape)
                self.y_tail = tuple(y_arr.shape[1:])
                self.output_tail = tuple(output_shape[1:])
                #: the kinds of target the metrics read, in the order ``Data.kinds`` has them
                self.kind_names = list(dict.fromkeys(metric.target_kind for metric in model.compiled_metrics))
            else:
                arr = as_input_array(model, x)
                if not model.built:
                    model.build((None,) + arr.shape[1:])
                model._ensure_bound()
        except ValueError as exc:
            raise self._error(0, exc) from None
        self.dtype = model_dtype(model)
        self.x_tail = tuple(model.input_shape[1:])
        self._cast_buffers: dict[tuple, np.ndarray] = {}
        self._largest = float(np.finfo(self.dtype).max)

    def _no_targets(self) -> str:
        return (
            f"{self.who} needs targets, but the {self.kind}'s batches hold none: yield (x, y) or (x, y, sample_weight)."
        )

    def _error(self, index: int, exc: ValueError, epoch: int | None = None) -> ValueError:
        where = f"batch {index} (0-based)" + ("" if epoch is None else f" of epoch {epoch + 1}")
        return ValueError(f"{self.who}: {where} of the {self.kind}: {exc}")

    def prepare(self, index: int, x, y, sw, epoch: int | None = None) -> tuple:
        try:
            return self._prepare(x, y, sw)
        except ValueError as exc:
            raise self._error(index, exc, epoch) from None

    def prepare_x(self, index: int, x, epoch: int | None = None) -> np.ndarray:
        try:
            return self._x(x)
        except ValueError as exc:
            raise self._error(index, exc, epoch) from None

    def _x(self, x) -> np.ndarray:
        if type(x) is not np.ndarray or x.dtype.kind not in "biuf":
            x = numeric_array(x, "x")
        if x.shape[1:] != self.x_tail or x.ndim < 2:
            raise ValueError(
                f"x has shape {x.shape}, but the model takes inputs of shape {(None,) + self.x_tail} (that is "
                f"{self.x_tail} per example, as the first batch had); every batch must have the same features."
            )
        if len(x) == 0:
            raise ValueError("the batch is empty (0 rows); a batch must hold at least one example.")
        dtype = self.dtype
        if x.dtype.kind == "f":
            self._check_values(x, "x")
        if x.dtype != dtype or not x.flags.c_contiguous:
            # into a buffer kept per batch shape (the step is done with a batch before the next one is cast)
            buffer = self._cast_buffers.get(x.shape)
            if buffer is None:
                buffer = self._cast_buffers[x.shape] = np.empty(x.shape, dtype=dtype)
            np.copyto(buffer, x, casting="unsafe")
            x = buffer
        return x

    def _check_values(self, arr: np.ndarray, name: str) -> None:
        """``check_finite`` and ``check_representable`` from one minimum and one maximum (two passes over the
        batch; NaN propagates through both)."""
        low, high = float(np.minimum.reduce(arr, axis=None)), float(np.maximum.reduce(arr, axis=None))
        if not (math.isfinite(low) and math.isfinite(high)):
            check_finite(arr, name)
        if arr.dtype.itemsize > self.dtype.itemsize and max(-low, high) > self._largest:
            check_representable(arr, self.dtype, name)

    def _prepare(self, x, y, sw) -> tuple:
        x = self._x(x)
        m = len(x)
        if y is None:
            raise ValueError(self._no_targets())
        if type(y) is not np.ndarray or y.dtype.kind not in "biuf":
            y = numeric_array(y, "y")
        if len(y) != m:
            raise ValueError(f"x and y must have the same number of examples (rows), but x has {m} and y has {len(y)}.")
        if y.shape[1:] != self.y_tail:
            raise ValueError(
                f"y has shape {y.shape}, but the first batch's targets had shape {(None,) + self.y_tail}; every "
                "batch's targets must have the same shape per example."
            )
        dtype = self.dtype
        if y.dtype.kind == "f" and y.size:
            self._check_values(y, "y")
        loss = self.loss
        y_loss = loss.prepare_targets(y, (m,) + self.output_tail)
        loss.check_targets(y_loss)
        if not loss.sparse and (y_loss.dtype != dtype or not y_loss.flags.c_contiguous):
            y_loss = np.ascontiguousarray(y_loss, dtype=dtype)
        weights = None
        if sw is not None or self.class_weight is not None:
            weights = sample_weights(sw, self.class_weight, y, m, dtype, self.who)
        kinds = self.kind_names
        if not kinds:
            return x, y_loss, weights, ()
        if len(kinds) == 1 and (kinds[0] == "sparse") == loss.sparse:
            return x, y_loss, weights, (y_loss,)
        out_full = (m,) + self.output_tail
        targets = []
        for kind in kinds:
            if (kind == "sparse") == loss.sparse:
                targets.append(y_loss)
            elif kind == "sparse":
                targets.append(sparse_labels(y, out_full))
            else:
                targets.append(np.ascontiguousarray(dense_targets(y, out_full), dtype=dtype))
        return x, y_loss, weights, targets
