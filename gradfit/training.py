"""The fit / evaluate / predict loops and the training step: the hot path, in one place.

One training step on a batch ``(x, y)`` of ``m`` examples, as Keras does it (``_Step``):

1. forward: ``a[0] = x``, ``a[l] = g(a[l-1] @ W[l] + b[l])`` for each layer;
2. cost: ``J = (1/m) sum_i L(f(x_i), y_i)`` plus the regularisation penalties on the current weights, and
   ``dJ/dz`` (or ``dJ/da``) for the output layer, from one call to the loss
   (``loss.batch_sum_and_grad``); the model says whether the loss reads the output layer's logits ``z``;
3. metrics are updated from this forward pass (before the update);
4. backward: each layer, last to first, turns ``dJ/da`` into its weight gradients and ``dJ/dx`` for the
   layer below;
5. update: the optimizer changes every weight in place, ``w = w - alpha dJ/dw`` or a refinement.

Everything that can be done once per fit is: inputs are validated, cast and prepared once (``data.py``),
the data is shuffled with one gather per epoch, and all weights and gradients are two flat vectors
(``parameters.py``) the optimizer updates with a few vector operations.
"""

from __future__ import annotations

import numbers
import sys
import weakref

import numpy as np

from . import backend
from .callbacks import CallbackList, History, ProgbarLogger
from .data import Data, as_input_array, batches, fit_data, model_dtype, positive_int, verbosity
from .metrics import Metric
from .progbar import Progbar

__all__ = ["compute_gradients", "evaluate", "fit", "forward", "predict", "train_on_batch"]

# ------------------------------------------------------------------------------------------- the step


def forward(model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """``f(x)``: each layer's output feeds the next."""
    for layer in model.layers:
        x = layer.forward(x, training)
    return x


def output_is_fused(model) -> bool:
    """Whether the loss is computed from the output layer's logits (sigmoid + binary cross-entropy,
    softmax + categorical cross-entropy), exactly as TensorFlow's Keras does."""
    return model._fused_output() is not None


class _Step:
    """The per-batch training step with everything it needs looked up once."""

    def __init__(self, model, training: bool = True):
        self.model = model
        self.layers = model.layers
        self.loss = model._loss
        #: the output layer when the loss reads its logits z (it then takes dJ/dz in backward_from_logits)
        self.logits_layer = model._fused_output()
        self.fused = self.logits_layer is not None
        #: outputs (m, …, units): the loss has one value per (m, …) entry, and Keras's mean is over all of them;
        #: Dense then keeps z as (m * …, units), which the loss sees shaped like the output
        self.nd_output = len(model.output_shape) > 2
        self.reshape_logits = self.fused and self.nd_output
        self.batch_sum_and_grad = self.loss.batch_sum_and_grad  # J and dJ/dz from one call
        # J = (1/m) sum_i w_i L_i: the division by m, by far the common reduction, multiplies by a cached 1/m
        self.per_batch_mean = self.loss.reduction in ("sum_over_batch_size", "mean")
        self._inverses: dict = {}
        # Keras adds the penalties of trainable weights only (a frozen layer's regularizer no longer counts)
        self.penalized = [
            (s.regularizer, layer, s.name) for layer in self.layers for s in layer.trainable_specs if s.regularizer
        ]
        if not training:
            return
        store = model.parameter_store
        self.store = store
        self.optimizer = model.optimizer
        self.params = store.values
        self.grads = store.grads
        self.regularized = [
            (s.regularizer, layer, s.name) for layer in self.layers for s in layer.trainable_specs if s.regularizer
        ]
        trainable = [i for i, layer in enumerate(self.layers) if layer.trainable_specs]
        first = trainable[0] if trainable else len(self.layers)
        for i, layer in enumerate(self.layers):
            layer.skip_input_grad = i == first
        self.backward_layers = self.layers[first:][::-1]
        opt = self.optimizer
        if opt is not None:
            owner = opt.__dict__.get("_model")
            if opt.built and owner is not None and owner() not in (None, model):
                raise ValueError(
                    f"This optimizer ({type(opt).__name__} {opt.name!r}) already holds the state of the weights of "
                    f"model {owner().name!r}; an optimizer instance serves one model, as in Keras. Give "
                    f"model {model.name!r} its own, e.g. compile(optimizer={type(opt).__name__}(...))."
                )
            if not opt.built:
                opt.build(store)
            elif opt._store is not store:
                opt.rebuild(store)  # the model re-gathered its weights: each keeps its state
            opt._model = weakref.ref(model)

    def loss_and_output_grad(self, y, sw, m, a=None):
        """``J`` for the batch (before penalties) and ``dJ/dz`` for the output layer (``dJ/da`` when the loss
        is not fused with it), from the last forward pass; ``a`` is its output (None: ask the model)."""
        if a is None:
            a, z = self.model._loss_inputs()
        elif self.logits_layer is None:  # what model._loss_inputs(a) gives, without deciding the fusion again
            z = None
        else:
            z = self.logits_layer.z
        if self.reshape_logits and z.ndim != a.ndim:
            total, d = self.batch_sum_and_grad(y, a, z.reshape(a.shape), sw)
            d = d.reshape(z.shape)
        else:
            total, d = self.batch_sum_and_grad(y, a, z, sw)
        # the reduction: J = (1/m) sum_i w_i L_i, or the loss's other divisor
        if self.nd_output:
            m = a.size // a.shape[-1]
        if self.per_batch_mean:
            np.multiply(d, self._inverse(m, d.dtype), out=d)  # in place: d is the loss's fresh array
            return total / m, d
        divisor = self.loss.batch_divisor(m, sw)
        if divisor != 1.0:
            np.multiply(d, np.asarray(1 / divisor, d.dtype), out=d)
            total /= divisor
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
        """From ``dJ/dz`` of the output layer (fused) or ``dJ/da``, every layer's ``grad_*`` arrays."""
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
        value, d = self.loss_and_output_grad(y, sw, x.shape[0], a)
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


def _logs(loss_total: float, count: float, metrics: list[Metric], prefix: str = "") -> dict:
    logs = {prefix + "loss": loss_total / count if count else 0.0}
    for metric in metrics:
        logs[prefix + metric.name] = metric.result()
    return dict(sorted(logs.items()))


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
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=32)
    epochs = positive_int(epochs, "epochs")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
        raise ValueError(f"initial_epoch must be a non-negative integer, got {initial_epoch!r}.")
    verbose = verbosity(verbose)
    if steps_per_epoch is not None:
        raise NotImplementedError("fit(steps_per_epoch=…) is for generators; gradfit trains on arrays: leave it None.")
    if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a fraction in [0, 1), got {validation_split!r}.")
    if validation_split and validation_data is not None:
        raise ValueError("Give either validation_split or validation_data, not both.")
    if shuffle not in (True, False):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}.")

    data, val = fit_data(model, x, y, sample_weight, class_weight, validation_split, validation_data)
    val_batch = positive_int(validation_batch_size, "validation_batch_size", allow_none=True, default=batch_size)

    step = _Step(model)
    metrics = model.compiled_metrics
    spans = batches(data.n, batch_size)
    history = History()
    user_callbacks = list(callbacks or [])
    progbar = ProgbarLogger(verbose) if verbose else None
    cbs = CallbackList(
        user_callbacks + ([progbar] if progbar else []) + [history],
        model,
        {"epochs": epochs, "steps": len(spans), "verbose": verbose},
    )
    batch_hooks = cbs.batch_hooks
    model.stop_training = False
    model.history = history

    arrays = data.arrays()
    shuffled = [None if a is None or not shuffle else np.empty_like(a) for a in arrays]
    rng = backend.rng()
    cbs.on_train_begin()
    logs: dict = {}
    with np.errstate(over="ignore", under="ignore"), backend.blas_threads(model.parameter_store.shapes, batch_size):
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
            for i, (start, end) in enumerate(spans):
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
                    if model._store is not step.store:  # a callback re-gathered the weights (predict, save …)
                        step = _Step(model)
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
            # a callback may have changed what is trainable (fine-tuning schedules) or re-gathered the weights:
            # the next epoch trains what the model holds now, with each weight's optimizer state kept
            if model.parameter_store is not step.store:
                step = _Step(model)
    cbs.on_train_end(logs)
    return history


def _evaluate_data(model, data: Data, batch_size: int, prefix: str = "", cbs: CallbackList | None = None) -> dict:
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
    for i, (start, end) in enumerate(batches(data.n, batch_size)):
        if batch_hooks:
            cbs.on_test_batch_begin(i)
        out = forward(model, data.x[start:end], training=False)
        sw = None if data.sample_weight is None else data.sample_weight[start:end]
        value, _ = step.loss_and_output_grad(data.y_loss[start:end], sw, end - start, out)
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
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=32)
    verbose = verbosity(verbose)
    data = Data(model, x, y, sample_weight, who="evaluate")
    steps = len(batches(data.n, batch_size))
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
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=32)
    verbose = verbosity(verbose)
    arr = as_input_array(model, x)
    if not model.built:
        model.build((None,) + arr.shape[1:])
    model._ensure_bound()
    arr = np.ascontiguousarray(arr, dtype=model_dtype(model))
    n = len(arr)
    out = None
    steps = len(batches(n, batch_size))
    bar = Progbar(max(steps, 1), verbose, sys.stdout) if verbose else None
    with np.errstate(over="ignore", under="ignore"):
        for start, end in batches(n, batch_size):
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
    data = Data(model, x, y, sample_weight, class_weight, who="train_on_batch")
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
    data = Data(model, x, y, sample_weight, who="compute_gradients")
    step = _Step(model)
    with np.errstate(over="ignore", under="ignore"):
        model.parameter_gradients[...] = 0
        value, _ = step.gradients(data.x, data.y_loss, data.sample_weight, training=False)
    grads = [np.array(getattr(layer, "grad_" + s.name)) for layer in model.layers for s in layer.trainable_specs]
    return value, grads
