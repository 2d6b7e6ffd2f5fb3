"""The fit / evaluate / predict loops: the hot path, in one place.

One training step on a batch ``(x, y)`` of ``m`` examples, as Keras does it:

1. forward: ``a[0] = x``, ``a[l] = g(a[l-1] @ W[l] + b[l])`` for each layer;
2. cost: ``J = (1/m) sum_i L(f(x_i), y_i)`` plus the regularisation penalties on the current weights;
3. metrics are updated from this forward pass (before the update);
4. backward: ``dJ/df`` from the loss (or ``dJ/dz`` straight from the loss when it is fused with a
   sigmoid/softmax output), then each layer, last to first, turns ``dJ/da`` into its weight gradients
   and ``dJ/dx`` for the layer below;
5. update: the optimizer changes every weight in place, ``w = w - alpha dJ/dw`` or a refinement.

Everything that can be done once per fit is: inputs are validated and cast once, targets are
prepared once, the data is shuffled with one gather per epoch, and all weights and gradients are
two flat vectors the optimizer updates with a few vector operations.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys

import numpy as np

from . import advice, backend
from .callbacks import CallbackList, History, ProgbarLogger
from .metrics import Metric, dense_targets, sparse_labels
from .metrics import get as get_metric
from .progbar import Progbar

# ------------------------------------------------------------------------------------------- input checks


def _positive_int(value, name: str, allow_none: bool = False, default: int | None = None) -> int:
    if value is None and allow_none:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _numeric_array(data, name: str) -> np.ndarray:
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


def _all_finite(arr: np.ndarray) -> bool:
    # the minimum and maximum are finite exactly when every value is (NaN propagates through both): two
    # passes without a temporary, where np.isfinite(arr).all() first writes a boolean array the size of the
    # data (47 MB for MNIST, 0.15 s of fresh pages in a new process here)
    if arr.dtype.kind != "f" or arr.size == 0:
        return True
    return bool(np.isfinite(np.minimum.reduce(arr, axis=None)) and np.isfinite(np.maximum.reduce(arr, axis=None)))


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not _all_finite(arr):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); remove or impute them before training "
            f"(e.g. np.nan_to_num or dropping those rows)."
        )


def as_input_array(model, x, name: str = "x") -> np.ndarray:
    """``x`` as a float array of the model's dtype, checked against the model's input size; builds the model."""
    arr = _numeric_array(x, name)
    if arr.ndim == 1:
        raise ValueError(
            f"{name} has shape {arr.shape}, but the model expects one row per example, i.e. a 2-D array "
            f"(examples, features). For a single feature use {name}.reshape(-1, 1); for a single example "
            f"use {name}.reshape(1, -1)."
        )
    _check_finite(arr, name)
    if model.built:
        expected = model.input_shape
        if tuple(arr.shape[1:]) != tuple(expected[1:]) and None not in expected[1:]:
            raise ValueError(
                f"{name} has {arr.shape[1:] if arr.ndim > 2 else arr.shape[-1]} features per example, but the "
                f"model was built for inputs of shape {expected} (i.e. {expected[1:]} per example). "
                "Give data with the same features the model was built for, or build a new model."
            )
    dtype = _model_dtype(model)
    return np.ascontiguousarray(arr, dtype=dtype)


def _model_dtype(model) -> np.dtype:
    if model.parameters is not None and model.parameters.size:
        return model.parameters.dtype
    return np.dtype(backend.floatx())


class _Data:
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
        x_arr = _numeric_array(x, "x")
        if x_arr.ndim == 1:
            as_input_array(model, x_arr)  # raises the reshape advice
        _check_finite(x_arr, "x")  # before anything builds the model
        y_arr = _numeric_array(y, "y")
        if len(y_arr) != len(x_arr):
            raise ValueError(
                f"x and y must have the same number of examples (rows), but x has {len(x_arr)} and y has {len(y_arr)}."
            )
        if len(x_arr) == 0:
            raise ValueError(f"{who}: x and y are empty; give at least one example.")
        _check_finite(y_arr, "y")
        input_shape = (None,) + x_arr.shape[1:]
        if model.built and tuple(model.input_shape[1:]) != tuple(input_shape[1:]):
            as_input_array(model, x_arr)  # raises the feature-count message
        output_shape = model.output_shape_for(input_shape)
        advice.check_model(model)  # GradfitAdvice warnings only; before the loss can refuse the targets
        advice.check_data(model, y_arr, output_shape)
        loss = model._loss
        y_loss = loss.prepare_targets(y_arr, (len(y_arr),) + tuple(output_shape[1:]))
        loss.check_targets(y_loss)
        weights = _sample_weights(sample_weight, class_weight, y_arr, len(x_arr))
        return x_arr, y_arr, y_loss, weights, input_shape, output_shape

    def __init__(self, model, x, y, sample_weight=None, class_weight=None, who: str = "fit"):
        x_arr, y_arr, y_loss, self.sample_weight, input_shape, output_shape = self.check(
            model, x, y, sample_weight, class_weight, who
        )
        loss = model._loss
        # resolve metrics now that shapes are known (before touching the model)
        if not model.compiled_metrics or model._metrics_shapes != (y_arr.shape[1:], output_shape):
            model.compiled_metrics = _unique_names(
                [get_metric(m, y_arr.shape, output_shape) for m in model._metric_ids]
            )
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

    def split(self, at: int) -> tuple[_Data, _Data]:
        first, second = object.__new__(_Data), object.__new__(_Data)
        for part, sl in ((first, slice(0, at)), (second, slice(at, None))):
            part.x = self.x[sl]
            part.y_loss = self.y_loss[sl]
            part.sample_weight = None if self.sample_weight is None else self.sample_weight[sl]
            part.kinds = {k: (part.y_loss if v is self.y_loss else v[sl]) for k, v in self.kinds.items()}
            part.n = len(part.x)
        return first, second


def _unique_names(metrics: list[Metric]) -> list[Metric]:
    """Keras's rule for two metrics of the same name in one compile: ``mse``, ``mse_1`` …"""
    seen: dict[str, int] = {}
    for metric in metrics:
        n = seen.get(metric.name, 0)
        seen[metric.name] = n + 1
        if n:
            metric.name = f"{metric.name}_{n}"
    return metrics


def _sample_weights(sample_weight, class_weight, y: np.ndarray, n: int) -> np.ndarray | None:
    weights = None
    if sample_weight is not None:
        weights = _numeric_array(sample_weight, "sample_weight").astype(np.float64)
        if weights.shape not in ((n,), (n, 1)):
            raise ValueError(f"sample_weight must have one weight per example, shape ({n},); got {weights.shape}.")
        weights = weights.reshape(n)
        _check_finite(weights, "sample_weight")
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


# ------------------------------------------------------------------------------------------- the step


def forward(model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """``f(x)``: each layer's output feeds the next."""
    for layer in model.layers:
        x = layer.forward(x, training)
    return x


def output_is_fused(model) -> bool:
    """Whether the loss is computed from the output layer's logits (sigmoid + binary cross-entropy,
    softmax + categorical cross-entropy), exactly as TensorFlow's Keras does."""
    loss = model._loss
    out = model.layers[-1]
    act = getattr(out, "activation", None)
    return (
        loss is not None
        and loss.logits_activation is not None
        and act is not None
        and act.__name__ == loss.logits_activation
        and hasattr(out, "backward_from_logits")
    )


class _Step:
    """The per-batch training step with everything it needs looked up once."""

    def __init__(self, model, training: bool = True):
        self.model = model
        self.layers = model.layers
        self.out = self.layers[-1]
        self.loss = model._loss
        self.fused = output_is_fused(model)
        self.from_logits = self.loss.from_logits
        self.per_batch_mean = self.loss.reduction == "sum_over_batch_size"
        self._inverses: dict = {}
        self.penalized = [
            (s.regularizer, layer, s.name) for layer in self.layers for s in layer._specs if s.regularizer
        ]
        if not training:
            return
        self.optimizer = model.optimizer
        self.params = model.parameters
        self.grads = model.parameter_gradients
        self.regularized = [
            (s.regularizer, layer, s.name) for layer in self.layers for s in layer.trainable_specs if s.regularizer
        ]
        trainable = [i for i, layer in enumerate(self.layers) if layer.trainable_specs]
        first = trainable[0] if trainable else len(self.layers)
        for i, layer in enumerate(self.layers):
            layer.skip_input_grad = i == first
        self.backward_layers = self.layers[first:][::-1]
        if self.optimizer is not None and not self.optimizer.built and self.params is not None:
            self.optimizer.build(self.params, model._segments)

    def loss_and_output_grad(self, y, sw, m):
        """The batch's cost (before penalties) and dJ/d(output), or dJ/dz when fused."""
        loss, out = self.loss, self.out
        if sw is None:  # the common case: the loss computes its sum and gradient together
            if self.fused:
                total, d = loss.sum_and_grad_logits(y, out.z, out.a)
            elif self.from_logits:
                total, d = loss.sum_and_grad_logits(y, out.a)
            else:
                total, d = loss.sum_and_grad(y, out.a)
        else:
            if self.fused:
                values, d = loss.per_sample_logits(y, out.z), loss.grad_logits(y, out.z, out.a)
            elif self.from_logits:
                values, d = loss.per_sample_logits(y, out.a), loss.grad_logits(y, out.a)
            else:
                values, d = loss.per_sample(y, out.a), loss.grad(y, out.a)
            total = float((values * sw).sum())
            d *= sw.reshape((m,) + (1,) * (d.ndim - 1))  # in place: d keeps the model's float type
        if self.per_batch_mean:
            np.multiply(d, self._inverse(m, d.dtype), out=d)
            return total / m, d
        return total, d

    def _inverse(self, m: int, dtype) -> np.ndarray:
        """``1/m`` as a 0-d array of the gradient's type (a Python float operand costs ~0.4 us a call)."""
        key = (m, dtype)
        if key not in self._inverses:
            self._inverses[key] = np.asarray(1 / m, dtype=dtype)
        return self._inverses[key]

    def penalty(self) -> float:
        return sum(reg.penalty(getattr(layer, name)) for reg, layer, name in self.penalized) if self.penalized else 0.0

    def backward(self, d) -> None:
        layers = self.backward_layers
        if self.fused:
            d = layers[0].backward_from_logits(d)
            layers = layers[1:]
        for layer in layers:
            d = layer.backward(d)
        for reg, layer, name in self.regularized:
            reg.add_grad(getattr(layer, name), getattr(layer, "grad_" + name))

    def gradients(self, x, y, sw, training: bool = True) -> tuple[float, np.ndarray]:
        """Forward, cost and backward on a batch: fills every ``grad_*`` array; returns ``J`` and ``f(x)``."""
        a = x
        for layer in self.layers:
            a = layer.forward(a, training)
        value, d = self.loss_and_output_grad(y, sw, x.shape[0])
        if self.penalized:
            value += self.penalty()
        if self.backward_layers:
            self.backward(d)
        return value, a

    def __call__(self, x, y, sw) -> tuple[float, np.ndarray]:
        """One step of gradient descent on a batch; returns the batch's cost and the model's output."""
        value, a = self.gradients(x, y, sw)
        if self.backward_layers:
            self.optimizer.apply(self.params, self.grads)
        return value, a


# ------------------------------------------------------------------------------------------- loops


#: below this many multiply-adds in a step's largest product, a second BLAS thread costs more than it gives
#: (and when the other core is busy, two threads wait on each other: the seeds' fit ran 2.5x slower)
_SINGLE_THREAD_MACS = 1_000_000


def _blas_threads(model, batch_size: int):
    """A context that keeps BLAS on one thread for the whole fit when the step's products are small."""
    largest = max((batch_size * int(np.prod(w.shape)) for w in model.trainable_weights if w.ndim == 2), default=0)
    if largest >= _SINGLE_THREAD_MACS:
        return contextlib.nullcontext()
    openblas = _numpy_openblas()
    if openblas is not None:
        return _one_thread(*openblas)
    try:  # any other BLAS NumPy was built with (MKL, Accelerate, a system OpenBLAS): threadpoolctl finds it
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")
    except Exception:  # threadpoolctl missing or unable to see the BLAS: run as is
        return contextlib.nullcontext()


_OPENBLAS_UNSET = object()
_openblas = _OPENBLAS_UNSET


def _numpy_openblas():
    """``(get, set)`` for the thread count of the OpenBLAS inside NumPy's wheels (numpy.libs), or None.

    threadpoolctl finds every BLAS a process has loaded, but importing it and scanning the loaded libraries
    took 8 ms of a process's first fit here (4 % of the seeds' 0.2 s fit). The OpenBLAS that NumPy's wheels
    bundle sits in numpy.libs and is already loaded: ctypes reaches it in microseconds. Only that library
    runs gradfit's products, so it is the only one to limit.
    """
    global _openblas
    if _openblas is not _OPENBLAS_UNSET:
        return _openblas
    _openblas = None
    try:
        import ctypes
        import os

        folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        libs = [name for name in os.listdir(folder) if "openblas" in name and ".so" in name]  # glob costs 1 ms
        if len(libs) != 1:
            return None
        lib = ctypes.CDLL(os.path.join(folder, libs[0]), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # only if loaded
        names = (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", ""))
        for prefix, suffix in names:
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                if get() >= 1:
                    _openblas = (get, set_)
                break
    except Exception:  # not a wheel layout this knows: threadpoolctl takes over
        _openblas = None
    return _openblas


@contextlib.contextmanager
def _one_thread(get, set_):
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def _logs(loss_total: float, count: float, metrics: list[Metric], prefix: str = "") -> dict:
    logs = {prefix + "loss": loss_total / count if count else 0.0}
    for metric in metrics:
        logs[prefix + metric.name] = metric.result()
    return dict(sorted(logs.items()))


def _batches(n: int, batch_size: int):
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def _require_compiled(model, who: str) -> None:
    if not model.compiled:
        raise RuntimeError(
            f"You must compile the model before calling {who}(): model.compile(loss=…, optimizer=…), "
            "e.g. model.compile(loss=BinaryCrossentropy())."
        )


def fit(
    model,
    x,
    y,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    steps_per_epoch=None,
    validation_batch_size=None,
    validation_freq=1,
) -> History:
    _require_compiled(model, "fit")
    batch_size = _positive_int(batch_size, "batch_size", allow_none=True, default=32)
    epochs = _positive_int(epochs, "epochs")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
        raise ValueError(f"initial_epoch must be a non-negative integer, got {initial_epoch!r}.")
    verbose = _verbosity(verbose)
    if steps_per_epoch is not None:
        raise NotImplementedError("fit(steps_per_epoch=…) is for generators; gradfit trains on arrays: leave it None.")
    if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a fraction in [0, 1), got {validation_split!r}.")
    if validation_split and validation_data is not None:
        raise ValueError("Give either validation_split or validation_data, not both.")
    if shuffle not in (True, False):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}.")

    if validation_split:  # checked before _Data builds the model
        n = len(_numeric_array(x, "x"))
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
            x_train = _numeric_array(x, "x")
            try:
                x_val = _Data.check(model, *validation_data, who="validation_data")[0]
            except ValueError as exc:
                raise ValueError(f"validation_data: {exc}") from None
            if x_val.shape[1:] != x_train.shape[1:]:
                raise ValueError(
                    f"validation_data: x has shape {x_val.shape} but the training x has {x_train.shape}; "
                    "give validation examples with the same features as the training ones."
                )
    data = _Data(model, x, y, sample_weight, class_weight)
    val = None
    if validation_split:
        data, val = data.split(at)
    elif validation_data is not None:
        try:
            val = _Data(model, *validation_data, who="validation_data")
        except ValueError as exc:
            raise ValueError(f"validation_data: {exc}") from None
    val_batch = _positive_int(validation_batch_size, "validation_batch_size", allow_none=True, default=batch_size)

    step = _Step(model)
    metrics = model.compiled_metrics
    batches = _batches(data.n, batch_size)
    history = History()
    user_callbacks = list(callbacks or [])
    progbar = ProgbarLogger(verbose) if verbose else None
    cbs = CallbackList(
        user_callbacks + ([progbar] if progbar else []) + [history],
        model,
        {"epochs": epochs, "steps": len(batches), "verbose": verbose},
    )
    batch_hooks = cbs.batch_hooks
    model.stop_training = False
    model.history = history

    arrays = data.arrays()
    shuffled = [None if a is None or not shuffle else np.empty_like(a) for a in arrays]
    rng = backend.rng()
    cbs.on_train_begin()
    logs: dict = {}
    with np.errstate(over="ignore", under="ignore"), _blas_threads(model, batch_size):
        for epoch in range(initial_epoch, epochs):
            for metric in metrics:
                metric.reset_state()
            cbs.on_epoch_begin(epoch)
            if shuffle:
                perm = rng.permutation(data.n)
                # one gather per array per epoch, into buffers kept for the whole fit; mode="clip" (the
                # indices are a permutation, always in range) spares the bounds-check buffering that made
                # out= slower than allocating, and reusing the buffer spares fresh pages every epoch
                for src, dst in zip(arrays, shuffled):
                    if src is not None:
                        np.take(src, perm, axis=0, out=dst, mode="clip")
                xs, ys, sws, *rest = shuffled
            else:
                xs, ys, sws, *rest = arrays
            targets = {k: (ys if v is data.y_loss else rest.pop(0)) for k, v in data.kinds.items()}
            metric_targets = [(metric, targets[metric.target_kind]) for metric in metrics]
            loss_total, seen = 0.0, 0
            bar = progbar.bar if progbar else None
            for i, (start, end) in enumerate(batches):
                if batch_hooks:
                    cbs.on_train_batch_begin(i)
                sw = None if sws is None else sws[start:end]
                value, out = step(xs[start:end], ys[start:end], sw)
                m = end - start
                loss_total += value * m
                seen += m
                for metric, yt in metric_targets:  # compile(metrics=…) ignores sample weights, as Keras 3
                    metric.update_prepared(yt[start:end], out, None)
                if batch_hooks:
                    cbs.on_train_batch_end(i, _logs(loss_total, seen, metrics))
                if bar is not None and bar.due():
                    bar.update(i + 1, _logs(loss_total, seen, metrics))
                if model.stop_training:
                    break
            logs = _logs(loss_total, seen, metrics)
            if val is not None and (epoch + 1) % validation_freq == 0:
                logs.update(_evaluate_data(model, val, val_batch, prefix="val_", cbs=cbs))
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    cbs.on_train_end(logs)
    return history


def _evaluate_data(model, data: _Data, batch_size: int, prefix: str = "", cbs: CallbackList | None = None) -> dict:
    """Cost and metrics over ``data`` with the current weights (regularisation included, as Keras).

    ``cbs`` get Keras's test hooks: ``on_test_begin``, ``on_test_batch_begin/end`` and ``on_test_end`` (with
    the logs unprefixed), as Keras calls them for ``evaluate`` and for each epoch's validation in ``fit``.
    """
    step = _Step(model, training=False)
    metrics = model.compiled_metrics
    saved = [mt._save_state() for mt in metrics]
    for metric in metrics:
        metric.reset_state()
    loss_total, seen = 0.0, 0
    penalty = step.penalty()
    batch_hooks = cbs is not None and cbs.batch_hooks
    if cbs is not None:
        cbs.on_test_begin()
    for i, (start, end) in enumerate(_batches(data.n, batch_size)):
        if batch_hooks:
            cbs.on_test_batch_begin(i)
        out = forward(model, data.x[start:end], training=False)
        sw = None if data.sample_weight is None else data.sample_weight[start:end]
        value, _ = step.loss_and_output_grad(data.y_loss[start:end], sw, end - start)
        loss_total += (value + penalty) * (end - start)
        seen += end - start
        for metric in metrics:
            metric.update_prepared(data.kinds[metric.target_kind][start:end], out, None)  # unweighted, as Keras
        if batch_hooks:
            cbs.on_test_batch_end(i, _logs(loss_total, seen, metrics))
    if cbs is not None:
        cbs.on_test_end(_logs(loss_total, data.n, metrics))
    logs = _logs(loss_total, data.n, metrics, prefix)
    if prefix:  # validation must not disturb the training metrics' running state
        for metric, state in zip(metrics, saved):
            metric._restore_state(state)
    return logs


def evaluate(model, x, y, batch_size=None, verbose="auto", sample_weight=None, callbacks=None, return_dict=False):
    _require_compiled(model, "evaluate")
    batch_size = _positive_int(batch_size, "batch_size", allow_none=True, default=32)
    verbose = _verbosity(verbose)
    data = _Data(model, x, y, sample_weight, who="evaluate")
    steps = len(_batches(data.n, batch_size))
    cbs = CallbackList(callbacks, model, {"steps": steps, "verbose": verbose}) if callbacks else None
    bar = Progbar(steps, verbose, sys.stdout) if verbose else None  # started now: it times the steps
    with np.errstate(over="ignore", under="ignore"):
        logs = _evaluate_data(model, data, batch_size, cbs=cbs)
    if bar is not None:
        bar.update(steps, logs, finalize=True)
    if return_dict:
        return logs
    values = [logs["loss"]] + [logs[m.name] for m in model.compiled_metrics]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", callbacks=None) -> np.ndarray:
    batch_size = _positive_int(batch_size, "batch_size", allow_none=True, default=32)
    verbose = _verbosity(verbose)
    arr = as_input_array(model, x)
    if not model.built:
        model.build((None,) + arr.shape[1:])
    model._ensure_bound()
    arr = np.ascontiguousarray(arr, dtype=_model_dtype(model))
    n = len(arr)
    out = None
    steps = len(_batches(n, batch_size))
    bar = Progbar(max(steps, 1), verbose, sys.stdout) if verbose else None
    with np.errstate(over="ignore", under="ignore"):
        for start, end in _batches(n, batch_size):
            a = forward(model, arr[start:end], training=False)
            if out is None:
                out = np.empty((n,) + a.shape[1:], dtype=a.dtype)
            out[start:end] = a
    if out is None:
        out = np.empty((0,) + model.output_shape_for((None,) + arr.shape[1:])[1:], dtype=arr.dtype)
    if bar is not None:
        bar.update(steps, {}, finalize=True)
    return out


def train_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict=False):
    """One gradient-descent step on exactly this batch; returns its loss (and metrics)."""
    _require_compiled(model, "train_on_batch")
    data = _Data(model, x, y, sample_weight, class_weight, who="train_on_batch")
    step = _Step(model)
    for metric in model.compiled_metrics:
        metric.reset_state()
    with np.errstate(over="ignore", under="ignore"):
        value, out = step(data.x, data.y_loss, data.sample_weight)
    for metric in model.compiled_metrics:
        metric.update_prepared(data.kinds[metric.target_kind], out, None)  # unweighted, as Keras
    logs = _logs(value * data.n, data.n, model.compiled_metrics)
    if return_dict:
        return logs
    values = [logs["loss"]] + [logs[m.name] for m in model.compiled_metrics]
    return values[0] if len(values) == 1 else values


def compute_gradients(model, x, y, sample_weight=None) -> tuple[float, list[np.ndarray]]:
    """The cost ``J`` on ``(x, y)`` as one batch and ``dJ/dw`` for each trainable weight (no update).

    The gradients come in ``model.trainable_weights`` order: ``[dJ/dW[1], dJ/db[1], dJ/dW[2], …]``.
    Layers that behave differently in training (dropout) run in inference mode, so the result is
    deterministic.
    """
    _require_compiled(model, "compute_gradients")
    data = _Data(model, x, y, sample_weight, who="compute_gradients")
    step = _Step(model)
    with np.errstate(over="ignore", under="ignore"):
        model.parameter_gradients[...] = 0
        value, _ = step.gradients(data.x, data.y_loss, data.sample_weight, training=False)
    grads = [np.array(getattr(layer, "grad_" + s.name)) for layer in model.layers for s in layer.trainable_specs]
    return value, grads
