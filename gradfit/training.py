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

import math
import numbers
import sys
import weakref

import numpy as np

from . import backend
from .adapters import adapt
from .adapters.files import batch_order
from .callbacks import Callback, CallbackList, History, ProgbarLogger, TerminateOnNaN
from .data import (
    BatchData,
    Data,
    EpochBatches,
    StreamEpochs,
    as_input_array,
    fit_data,
    model_dtype,
    optional_steps,
    positive_int,
    split_at,
    validation_arrays,
    verbosity,
)
from .metrics import Metric
from .progbar import Progbar

__all__ = [
    "NonFiniteLossError",
    "compute_gradients",
    "evaluate",
    "fit",
    "forward",
    "passes_input_through",
    "predict",
    "train_on_batch",
]


class NonFiniteLossError(FloatingPointError):
    """``fit`` stopped because a batch's loss was NaN or infinite (the weights and the optimizer's state were put
    back as they were at the end of the last epoch whose losses were all finite)."""


# ------------------------------------------------------------------------------------------- the step


def forward(model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """``f(x)``: each layer's output feeds the next."""
    for layer in model.layers:
        x = layer.forward(x, training)
    return x


def output_is_fused(model, training: bool = True) -> bool:
    """Whether the loss is computed from the output layer's logits (sigmoid + binary cross-entropy,
    softmax + categorical cross-entropy), exactly as TensorFlow's Keras does."""
    return model._fused_output(training) is not None


def passes_input_through(layer, training: bool) -> bool:
    """Whether ``layer`` returns its input itself in this mode (Keras's ``call`` returns ``inputs``): Identity,
    ``Activation('linear')``, and Dropout, GaussianNoise, GaussianDropout at inference or with a rate (stddev) of 0.

    TensorFlow's Keras finds the logits of a sigmoid or softmax on the tensor object it produced
    (``output._keras_logits``), so a cross-entropy is computed from the logits through such layers (recorded:
    label 0, logit 50 through a trailing Dropout gives 50.0 in ``evaluate`` and ``test_on_batch``), but not through
    any layer that computes a new tensor: Dropout(0.5) while training, BatchNormalization, LayerNormalization,
    Rescaling (even scale 1), Flatten (the sigmoid's output is clipped there: 16.1). A layer with an activity
    regularizer is not passed through (its penalty's gradient needs its own backward)."""
    from .layers.activation_layers import Activation
    from .layers.dropout import Dropout
    from .layers.identity import Identity
    from .layers.noise import GaussianDropout, GaussianNoise

    if getattr(layer, "activity_regularizer", None) is not None:
        return False
    if isinstance(layer, Identity):
        return True
    if isinstance(layer, Activation):
        return getattr(layer.activation, "__name__", None) == "linear"
    if isinstance(layer, Dropout):
        return not training or layer.rate == 0
    if isinstance(layer, GaussianNoise):
        return not training or layer.stddev == 0
    if isinstance(layer, GaussianDropout):
        return not training or layer.rate == 0
    return False


class _Step:
    """The per-batch training step with everything it needs looked up once.

    ``training``: whether it will update the weights (an optimizer and gradients); ``forward_training``: the mode
    of the layers' forward pass (Dropout active), which also decides whether the loss reads logits through a
    trailing layer (``passes_input_through``). ``gradients(…, training=…)`` may switch the mode.
    """

    def __init__(self, model, training: bool = True, forward_training: bool | None = None):
        self.model = model
        self.layers = model.layers
        self.loss = model._loss
        #: outputs (m, …, units): the loss has one value per (m, …) entry, and Keras's mean is over all of them;
        #: Dense then keeps z as (m * …, units), which the loss sees shaped like the output
        self.nd_output = len(model.output_shape) > 2
        self.batch_sum_and_grad = self.loss.batch_sum_and_grad  # J and dJ/dz from one call
        # J = (1/m) sum_i w_i L_i: the division by m, by far the common reduction, multiplies by a cached 1/m
        self.per_batch_mean = self.loss.reduction in ("sum_over_batch_size", "mean")
        #: compile(loss_weights=…): the factor on the loss (not on the penalties, as Keras's compute_loss); None: 1
        self.loss_weight = getattr(model, "_loss_weight", None)
        self._inverses: dict = {}
        # Keras adds the penalties of trainable weights only (a frozen layer's regularizer no longer counts)
        self.penalized = [
            (s.regularizer, layer, s.name) for layer in self.layers for s in layer.trainable_specs if s.regularizer
        ]
        #: layers whose forward pass stores the penalty of their output (activity_regularizer), added to J
        self.activity = [layer for layer in self.layers if getattr(layer, "activity_regularizer", None) is not None]
        if self.loss.reduction in (None, "none") and (self.penalized or self.activity):
            # Keras's compute_loss sums [per-example losses, penalty, …], which fails ("Shapes must be equal rank")
            raise ValueError(
                f"The loss {self.loss.name!r} has reduction=None (one value per example) and the model has "
                f"regularization penalties (kernel/bias/activity regularizers); Keras 3 cannot add the two and "
                f"fails here too. Give the loss a reduction ('sum_over_batch_size', the default, or 'sum') or "
                f"remove the regularizers."
            )
        trainable = [i for i, layer in enumerate(self.layers) if layer.trainable_specs]
        first = trainable[0] if trainable else len(self.layers)
        self._backward_all = self.layers[first:][::-1]
        self._fusions: dict = {}
        self._use_mode(training if forward_training is None else forward_training)
        if not training:
            return
        store = model.parameter_store
        self.store = store
        self.optimizer = model.optimizer
        self.params = store.values
        self.grads = store.grads
        self.regularized = self.penalized
        #: Keras applies a trainable weight's constraint after each optimizer update
        self.constrained = [
            (s.constraint, layer, s.name)
            for layer in self.layers
            for s in layer.trainable_specs
            if getattr(s, "constraint", None) is not None
        ]
        for i, layer in enumerate(self.layers):
            layer.skip_input_grad = i == first
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

    def _use_mode(self, training: bool) -> None:
        """The fusion of the loss with the output for this forward mode, and the layers backward runs through:
        with a fused loss, from the logits layer down (the trailing layers it passes through are the identity)."""
        if training not in self._fusions:
            logits_layer = self.model._fused_output(training)
            backward = self._backward_all
            if logits_layer is not None:
                at = next((i for i, layer in enumerate(backward) if layer is logits_layer), None)
                backward = [] if at is None else backward[at:]
            self._fusions[training] = (logits_layer, backward)
        self.mode = training
        #: the layer whose logits z the loss reads (it then takes dJ/dz in backward_from_logits), or None
        self.logits_layer, self.backward_layers = self._fusions[training]
        self.fused = self.logits_layer is not None
        self.reshape_logits = self.fused and self.nd_output

    def loss_and_output_grad(self, y, sw, m, a=None):
        """``J`` for the batch (before penalties) and ``dJ/dz`` for the output layer (``dJ/da`` when the loss
        is not fused with it), from the last forward pass; ``a`` is its output (None: ask the model)."""
        if a is None:
            a, z = self.model._loss_inputs(None, self.mode)
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
        weight = self.loss_weight
        if self.per_batch_mean:
            np.multiply(d, self._inverse(m, d.dtype), out=d)  # in place: d is the loss's fresh array
            return (total / m if weight is None else total / m * weight), d
        divisor = self.loss.batch_divisor(m, sw)
        # reduction=None: Keras differentiates the sum of the per-example values but logs their mean
        logged = total / m if self.loss.reduction in (None, "none") else total / divisor
        if weight is not None:
            np.multiply(d, np.asarray(weight / divisor, d.dtype), out=d)
            return logged * weight, d
        if divisor != 1.0:
            np.multiply(d, np.asarray(1 / divisor, d.dtype), out=d)
        return logged, d

    def _inverse(self, m: int, dtype) -> np.ndarray:
        """``1/m`` (times the loss weight) as a 0-d array of the gradient's type (a Python float operand costs
        ~0.4 us a call)."""
        key = (m, dtype)
        if key not in self._inverses:
            scale = 1 / m if self.loss_weight is None else self.loss_weight / m
            self._inverses[key] = np.asarray(scale, dtype=dtype)
        return self._inverses[key]

    def activity_penalty(self) -> float:
        """The activity regularizers' penalties of the last forward pass (each layer stores its own)."""
        return sum(layer.activity_penalty for layer in self.activity)

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
        if training != self.mode:
            self._use_mode(training)
        a = x
        for layer in self.layers:
            a = layer.forward(a, training)
        value, d = self.loss_and_output_grad(y, sw, x.shape[0], a)
        if self.penalized:
            value += self.penalty()
        if self.activity:
            value += self.activity_penalty()
        if self.backward_layers:
            self.backward(d)
        return value, a

    def __call__(self, x, y, sw) -> tuple[float, np.ndarray]:
        """One step of gradient descent on a batch; returns the batch's cost and the model's output."""
        value, a = self.gradients(x, y, sw)
        if self.backward_layers:
            self.optimizer.apply(self.params, self.grads)
            if self.constrained:
                for constraint, layer, name in self.constrained:
                    constraint.apply(getattr(layer, name))
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


def _metric_plan(model, kinds: dict) -> list[tuple[Metric, np.ndarray, bool]]:
    """``(metric, its targets, weighted)`` for each compiled metric: ``compile(metrics=…)`` ignore the sample
    weights, as in Keras 3; ``weighted_metrics`` take them (class weights included)."""
    flags = getattr(model, "_metric_weighted", None) or [False] * len(model.compiled_metrics)
    return [(metric, kinds[metric.target_kind], weighted) for metric, weighted in zip(model.compiled_metrics, flags)]


def _metric_index_plan(model, kind_names: list[str]) -> list[tuple[Metric, int, bool]]:
    """``(metric, index of its targets among a batch's targets by kind, weighted)`` for each compiled metric (see
    ``_metric_plan``)."""
    flags = getattr(model, "_metric_weighted", None) or [False] * len(model.compiled_metrics)
    return [
        (metric, kind_names.index(metric.target_kind), weighted)
        for metric, weighted in zip(model.compiled_metrics, flags)
    ]


def single_loss_weight(loss_weights) -> float | None:
    """``compile(loss_weights=…)`` for a model with one output, as Keras 3.15's ``CompileLoss``: a float, or a
    list / tuple / dict holding one number (any key: Keras flattens it), multiplies the loss (not the
    regularization penalties, which ``compute_loss`` adds after). None: no factor."""
    if loss_weights is None:
        return None
    if isinstance(loss_weights, bool) or not isinstance(loss_weights, (float, list, tuple, dict)):
        raise ValueError(
            "compile: loss_weights must be a float (one output) or a list, tuple or dict of one number, as in Keras; "
            f"got {loss_weights!r} of type {type(loss_weights).__name__} (write 2.0, not 2)."
        )
    values = list(loss_weights.values()) if isinstance(loss_weights, dict) else loss_weights
    if not isinstance(values, float):
        if len(values) != 1:
            raise ValueError(
                f"compile: loss_weights must match the number of losses: the model has 1 loss, got {len(values)} "
                f"weights ({loss_weights!r})."
            )
        values = values[0]
    if isinstance(values, bool) or not isinstance(values, numbers.Real) or not math.isfinite(float(values)):
        raise ValueError(f"compile: the loss weight must be a finite number, got {values!r}.")
    return float(values)


def metric_identifiers(metrics, name: str) -> list:
    """``compile(metrics=…)`` / ``compile(weighted_metrics=…)`` as a list (one output: a dict's values in key
    order, as Keras's ``tree.flatten``; a single metric is taken as a list of one)."""
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        return [metrics[k] for k in sorted(metrics)]
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def callback_list(callbacks) -> list[Callback]:
    """``callbacks`` as a list: Keras takes a single callback, a list, or nested lists (``tree.flatten``)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (list, tuple)):
        return [c for item in callbacks for c in callback_list(item)] if callbacks else []
    raise TypeError(
        f"callbacks must be a Callback or a list of Callbacks (gradfit.keras.callbacks.…), got {callbacks!r}."
    )


def steps_per_execution(model, **steps) -> int:
    """The model's ``compile(steps_per_execution=N)``: the batches run in groups of ``N`` and the batch callbacks
    see one call per group (see ``Sequential.compile``). With a ``steps`` argument that is not a multiple of ``N``
    Keras runs whole groups past it (``steps=10``, ``N=4``: 12 batches while data lasts); gradfit refuses that."""
    per_execution = getattr(model, "steps_per_execution", 1)
    if per_execution > 1:
        for name, value in steps.items():
            if value is not None and value % per_execution:
                raise NotImplementedError(
                    f"{name}={value} is not a multiple of compile(steps_per_execution={per_execution}): Keras then "
                    f"runs whole groups of {per_execution} batches past {name}, which gradfit does not reproduce. "
                    f"Give a multiple of {per_execution}, or compile with steps_per_execution=1."
                )
    return per_execution


def validation_frequency(validation_freq):
    """Keras's ``validation_freq``: an int (validate after every ``validation_freq``-th epoch) or a list of the
    (1-based) epochs to validate after (``Trainer._should_eval``); refused up front where Keras would fail at the
    first validation (0: ZeroDivisionError) or never validate (a negative int)."""
    if isinstance(validation_freq, list):
        if not all(isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 1 for e in validation_freq):
            raise ValueError(
                f"validation_freq as a list names the epochs (1-based) after which to validate, e.g. [1, 5, 10]; "
                f"got {validation_freq!r}."
            )
        return set(int(e) for e in validation_freq)
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, numbers.Integral) or validation_freq < 1:
        raise ValueError(
            "validation_freq must be a positive integer (validate every N epochs) or a list of epochs "
            f"(1-based) to validate after, as in Keras; got {validation_freq!r}."
        )
    return int(validation_freq)


def _should_validate(frequency, epoch: int) -> bool:
    if isinstance(frequency, set):
        return epoch + 1 in frequency
    return (epoch + 1) % frequency == 0


class _LastFiniteState:
    """The weights (all of them: the moving statistics too) and the optimizer's state at the start of ``fit`` and
    at the end of each epoch whose batch losses were all finite: one copy per epoch, none per step.

    The trainable weights are copied as the store's one flat vector into a buffer kept for the whole fit (one
    memcpy: ``get_weights`` would cost ~2 % of a small model's epoch), the others one by one."""

    def __init__(self, model, store):
        self.model = model
        self.epoch = None  # the epoch the copy ends (None: the start of fit)
        self.store = None
        self.take(None, store)

    def take(self, epoch: int | None, store) -> None:
        """Copy the state at the end of ``epoch``; ``store`` is the model's parameter store now (the step's: the
        loop has just re-made the step if a callback re-gathered the weights)."""
        self.epoch = epoch
        if store is not self.store:  # first copy, or a callback re-gathered the weights (froze a layer, say)
            self.store, self.values = store, store.values.copy()
            self.others = [
                (layer, s.name, np.array(getattr(layer, s.name)))
                for layer in self.model.layers
                for s in layer.non_trainable_specs
            ]
        else:
            np.copyto(self.values, store.values)
            for layer, name, value in self.others:
                np.copyto(value, getattr(layer, name))
        opt = self.model.optimizer
        self.optimizer = opt._snapshot() if hasattr(opt, "_snapshot") else None

    def restore(self) -> None:
        store = self.store
        # through the layers, not the current store: a callback may have re-gathered the weights since the copy
        for i, (layer, name) in enumerate(store._owners):
            getattr(layer, name)[...] = store.view(self.values, i)
        for layer, name, value in self.others:
            getattr(layer, name)[...] = value
        if self.optimizer is not None:
            self.model.optimizer._restore(self.optimizer)


def _non_finite_loss(value, epoch: int, epochs: int, batch: int, steps: int, state: _LastFiniteState):
    state.restore()
    when = "the start of fit" if state.epoch is None else f"the end of epoch {state.epoch + 1}"
    return NonFiniteLossError(
        f"fit: the loss of epoch {epoch + 1}/{epochs}, batch {batch} (0-based, of {steps}) is {value} (not finite), "
        f"so training stopped. The weights and the optimizer's state were put back as they were at {when}, the last "
        "point where every loss was finite. Usual causes: a learning rate too large, inputs with huge values (scale "
        "them), or NaN/inf in the data. To stop without an error and keep the weights as they are instead, pass "
        "callbacks=[TerminateOnNaN()] (Keras's behaviour)."
    )


# ------------------------------------------------------------------------------------------- batch sources
# A loop reads each epoch's prepared batches (x, y_loss, sample_weight or None, metric targets by kind) from a
# source: _ArraySource slices arrays prepared once (the fast path), _StreamSource checks and prepares each batch
# an adapter reads (generators, PyDataset, sparse matrices, files). Both give epoch(e) -> (batches, count).


class _ArraySource:
    """The batches of in-memory data (``Data``) as ``EpochBatches`` plans them, shuffled (``files.batch_order``)
    once per pass: small data with one gather per array into buffers the size of the data kept for the fit, large
    data (over ``GATHER_BYTES``) with one gather per batch into buffers of one batch."""

    adapter = None
    #: arrays to shuffle larger than this are gathered batch by batch, not copied whole each pass (measured,
    #: benchmarks/bench_gather.py: the whole copy is 4-5 % faster per epoch for W1 / W2's few MB; for W3's 188 MB
    #: the per-batch gather trains as fast, its first epoch skips 188 MB of fresh pages, and that memory is gone)
    GATHER_BYTES = 32 << 20

    def __init__(self, data: Data, batch_size, steps, steps_name: str, shuffle=False):
        self.data = data
        self.plan = EpochBatches(data.n, batch_size, steps, steps_name)
        self.steps = self.plan.steps
        self.batch_size = self.plan.batch_size
        self.kind_names = list(data.kinds)
        self.shuffle = shuffle
        self.arrays = data.arrays()
        self.gather = bool(shuffle) and sum(a.nbytes for a in self.arrays if a is not None) > self.GATHER_BYTES
        rows = min(self.batch_size, data.n)
        self.shuffled = [
            None
            if a is None or not shuffle
            else np.empty(((rows,) if self.gather else a.shape[:1]) + a.shape[1:], a.dtype)
            for a in self.arrays
        ]
        self.current = self.arrays
        self.perm = None

    def first_batch(self) -> tuple:
        """(x, y, sample_weight) of the first ``batch_size`` rows as given (before any shuffle)."""
        rows = slice(0, min(self.batch_size, self.data.n))
        weights = self.data.sample_weight
        return self.data.x[rows], self.data.y_loss[rows], None if weights is None else weights[rows]

    def epoch(self, epoch: int):
        spans, new_pass = self.plan.epoch()
        data = self.data
        if self.shuffle and new_pass:
            perm = batch_order(data.n, self.batch_size, backend.rng(), self.shuffle)  # True: rng.permutation(n)
            if self.gather:
                self.perm = perm
            else:
                # mode="clip" (the indices are a permutation, always in range) spares the bounds-check buffering
                # that made out= slower than allocating, and reusing the buffer spares fresh pages every epoch
                for src, dst in zip(self.arrays, self.shuffled):
                    if src is not None:
                        np.take(src, perm, axis=0, out=dst, mode="clip")
                self.current = self.shuffled
        loss_kinds = [v is data.y_loss for v in data.kinds.values()]
        if self.gather:
            return _gathered_batches(spans, self.perm, self.arrays, self.shuffled, loss_kinds), len(spans)
        xs, ys, sws, *rest = self.current
        # per kind of metric target: None where it is the loss's targets, else its own array
        kind_arrays = [None if is_loss else rest.pop(0) for is_loss in loss_kinds]
        return _array_batches(spans, xs, ys, sws, kind_arrays), len(spans)

    def end_epoch(self) -> None:
        pass


def _gathered_batches(spans, perm, arrays, buffers, loss_kinds):
    """The batches of ``perm``'s order, each array's rows gathered into its batch buffer (valid until the next)."""
    take = np.take
    for start, end in spans:
        index, m = perm[start:end], end - start
        x, y, sw, *extra = (
            None if a is None else take(a, index, axis=0, out=b[:m], mode="clip") for a, b in zip(arrays, buffers)
        )
        targets = [y if is_loss else extra.pop(0) for is_loss in loss_kinds]
        yield x, y, sw, targets


def _array_batches(spans, xs, ys, sws, kind_arrays):
    only_loss_targets = all(a is None for a in kind_arrays)
    single = len(kind_arrays) == 1
    for start, end in spans:
        yb = ys[start:end]
        sw = None if sws is None else sws[start:end]
        if only_loss_targets:
            targets = (yb,) if single else (yb,) * len(kind_arrays)
        else:
            targets = [yb if a is None else a[start:end] for a in kind_arrays]
        yield xs[start:end], yb, sw, targets


class _StreamSource:
    """The batches an adapter reads, each checked and prepared by ``BatchData`` (built from the first batch, which
    builds the model), counted as ``StreamEpochs`` (Keras's ``EpochIterator``) counts them."""

    #: a stream has no batch to hand a callback before training (``_ArraySource.first_batch``): reading one would
    #: consume it
    first_batch = None

    def __init__(
        self, model, adapter, steps, steps_name: str, class_weight=None, who: str = "fit", targets: bool = True
    ):
        self.adapter = adapter
        self.stream = StreamEpochs(adapter, steps, steps_name)
        self.prep = BatchData(model, adapter.peek(), class_weight, who, adapter.kind, targets)
        self.kind_names = getattr(self.prep, "kind_names", [])
        first = adapter.peek()[0]
        self.batch_size = adapter.batch_size or (len(first) if hasattr(first, "__len__") else 32)

    @property
    def steps(self) -> int | None:
        return self.stream.steps

    def epoch(self, epoch: int):
        self.adapter.on_epoch_begin()
        return self._batches(epoch), self.stream.steps_given

    def _batches(self, epoch: int):
        prepare = self.prep.prepare
        named = epoch if self.prep.who == "fit" else None  # messages name fit's epoch
        self.ran = 0
        for i, (x, y, sw) in enumerate(self.stream.epoch(epoch)):
            yield prepare(i, x, y, sw, named)
            self.ran = i + 1

    def inputs(self, epoch: int = 0):
        """The inputs alone, checked and cast (``predict``: the batches' targets are ignored, as in Keras)."""
        self.adapter.on_epoch_begin()
        prepare_x = self.prep.prepare_x
        for i, batch in enumerate(self.stream.epoch(epoch)):
            yield prepare_x(i, batch[0])

    def end_epoch(self) -> None:
        self.adapter.on_epoch_end()


def _refuse_for_stream(adapter, who: str, class_weight=None, validation_split=0.0) -> None:
    """Keras's rules for the arguments a stream cannot take."""
    if validation_split:
        raise ValueError(
            f"{who}: validation_split is only supported for arrays (NumPy arrays, lists, DataFrames), as in Keras; "
            f"x is a {adapter.kind}. Give validation_data=… (arrays or another {adapter.kind}) instead."
        )
    from .adapters.streams import GeneratorAdapter

    if class_weight is not None and (isinstance(adapter, GeneratorAdapter) or adapter.kind == "torch DataLoader"):
        raise ValueError(
            f"Argument `class_weight` is not supported for {adapter.kind} inputs (Keras's rule). Yield "
            f"(x, y, sample_weight) with the weights of the classes instead. Received: class_weight={class_weight}"
        )


def _data_source(model, x, y, sample_weight, class_weight, batch_size, steps, steps_name, who, shuffle=False):
    """The source of a loop's batches: ``_ArraySource`` for arrays (``Data``), else ``_StreamSource``."""
    adapter = adapt(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps, who=who)
    if adapter is None:
        data = Data(model, x, y, sample_weight, class_weight, who=who)
        return _ArraySource(data, batch_size, steps, steps_name, shuffle)
    try:
        _refuse_for_stream(adapter, who, class_weight)
        return _StreamSource(model, adapter, steps, steps_name, class_weight, who)
    except BaseException:
        adapter.close()
        raise


def _validation_adapter(validation_data, batch_size):
    """validation_data as an adapter (a stream, a sparse matrix, a file), or None for arrays."""
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        x_val, y_val, sw_val = tuple(validation_data) + (None,) * (3 - len(validation_data))
    else:
        x_val, y_val, sw_val = validation_data, None, None
    return adapt(x_val, y_val, sw_val, batch_size=batch_size, who="validation_data")


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
    validation_steps=None,
    validation_batch_size=None,
    validation_freq=1,
) -> History:
    _require_compiled(model, "fit")
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=None)
    epochs = positive_int(epochs, "epochs")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
        raise ValueError(f"initial_epoch must be a non-negative integer, got {initial_epoch!r}.")
    verbose = verbosity(verbose)
    steps_per_epoch = optional_steps(steps_per_epoch, "steps_per_epoch")
    validation_steps = optional_steps(validation_steps, "validation_steps")
    frequency = validation_frequency(validation_freq)
    per_execution = steps_per_execution(model, steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
    if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a fraction in [0, 1), got {validation_split!r}.")
    if validation_split and validation_data is not None:
        raise ValueError("Give either validation_split or validation_data, not both.")
    if shuffle not in (True, False, "batch"):
        raise ValueError(f'shuffle must be True, False or "batch", got {shuffle!r}.')
    user_callbacks = callback_list(callbacks)
    for c in user_callbacks:
        if not isinstance(c, Callback):
            raise TypeError(f"callbacks must be Callback objects (gradfit.keras.callbacks.…), got {c!r}.")

    val_batch = positive_int(validation_batch_size, "validation_batch_size", allow_none=True, default=None)
    val_batch = val_batch or batch_size

    adapter = adapt(
        x,
        y,
        sample_weight,
        batch_size=batch_size,
        shuffle=shuffle,
        steps=steps_per_epoch,
        who="fit",
    )
    val_adapter = None
    try:
        if validation_data is not None:  # Keras: a stream as validation_data is read batch by batch too
            val_adapter = _validation_adapter(validation_data, val_batch)
        if adapter is None:
            array_validation = None if val_adapter is not None else validation_data
            data, val = fit_data(model, x, y, sample_weight, class_weight, validation_split, array_validation)
            source = _ArraySource(data, batch_size, steps_per_epoch, "steps_per_epoch", shuffle)
        else:
            if validation_split and hasattr(adapter, "split"):  # a file: Keras splits it as an array
                at = split_at(adapter.n, validation_split)
                adapter, val_adapter = adapter.split(at)
                validation_split = 0.0
            _refuse_for_stream(adapter, "fit", class_weight, validation_split)
            source = _StreamSource(model, adapter, steps_per_epoch, "steps_per_epoch", class_weight, "fit")
            val = None
            if validation_data is not None and val_adapter is None:
                val = Data(model, *validation_arrays(validation_data), who="validation_data")
        if val_adapter is not None:
            val_stream = _StreamSource(model, val_adapter, validation_steps, "validation_steps", who="validation_data")
        return _fit_loop(
            model,
            source,
            val,
            val_stream if val_adapter is not None else None,
            val_batch,
            validation_steps,
            epochs,
            initial_epoch,
            verbose,
            user_callbacks,
            frequency,
            per_execution,
        )
    finally:
        for opened in (adapter, val_adapter):
            if opened is not None:
                opened.close()


def _fit_loop(
    model,
    source,
    val,
    val_stream,
    val_batch,
    validation_steps,
    epochs,
    initial_epoch,
    verbose,
    user_callbacks,
    frequency,
    per_execution,
) -> History:
    """fit's epochs over ``source``'s batches (``_ArraySource`` or ``_StreamSource``), validated on ``val``
    (``Data``) or ``val_stream`` (``_StreamSource``)."""
    step = _Step(model)
    metrics = model.compiled_metrics
    history = History()
    # Keras adds its progress bar only when the callbacks hold none: a ProgbarLogger given is the one that prints
    given_progbar = next((c for c in user_callbacks if isinstance(c, ProgbarLogger)), None)
    progbar = given_progbar or (ProgbarLogger(verbose) if verbose else None)
    cbs = CallbackList(
        user_callbacks + ([progbar] if progbar and not given_progbar else []) + [history],
        model,
        {"epochs": epochs, "steps": source.steps, "verbose": verbose},
    )
    batch_hooks = cbs.batch_hooks
    unknown_steps = source.steps is None
    model.stop_training = False
    model.history = history
    # without TerminateOnNaN, a non-finite loss stops fit with an error and the last finite epoch's state back
    guard = not any(isinstance(c, TerminateOnNaN) for c in user_callbacks)
    last_finite = _LastFiniteState(model, step.store) if guard else None
    isfinite = math.isfinite
    metric_plan = _metric_index_plan(model, source.kind_names)

    # a callback that histograms gradients and activations on a fixed batch (TensorBoard with histogram_freq and no
    # sample_data) gets the first batch of the training data as given, once; a stream has none to spare
    if source.first_batch is not None:
        for callback in user_callbacks:
            if getattr(callback, "wants_first_batch", False):
                callback.set_first_batch(*source.first_batch())
    cbs.on_train_begin()
    logs: dict = {}
    training_logs = None
    blas = backend.blas_threads(model.parameter_store.shapes, source.batch_size)
    # invalid values are reported by the loss check below (one error naming the batch, not NumPy's warnings)
    with np.errstate(over="ignore", under="ignore", invalid="ignore" if guard else np.geterr()["invalid"]), blas:
        for epoch in range(initial_epoch, epochs):
            for metric in metrics:
                metric.reset_state()
            cbs.on_epoch_begin(epoch)
            batches, count = source.epoch(epoch)
            last = -1 if count is None else count - 1
            loss_total, seen = 0.0, 0
            bar = progbar.bar if progbar else None
            if bar is not None and bar.target is None:
                bar = None  # a stream of unknown length: the bar is drawn at the end of the epoch
            i = -1
            for i, (xb, yb, sw, targets) in enumerate(batches):
                if batch_hooks and i % per_execution == 0:  # a group of steps_per_execution batches begins
                    cbs.on_train_batch_begin(i)
                value, out = step(xb, yb, sw)
                if guard and not isfinite(value):
                    raise _non_finite_loss(value, epoch, epochs, i, "unknown" if count is None else count, last_finite)
                m = len(xb)
                loss_total += value * m
                seen += m
                for metric, kind, weighted in metric_plan:
                    metric.update_prepared(targets[kind], out, sw if weighted else None)
                group_ends = i == last or i % per_execution == per_execution - 1
                if batch_hooks and group_ends:  # Keras's end index: the group's first + N - 1, even if shorter
                    cbs.on_train_batch_end(i - i % per_execution + per_execution - 1, _logs(loss_total, seen, metrics))
                    if model._store is not step.store:  # a callback re-gathered the weights (predict, save …)
                        step = _Step(model)
                if bar is not None and bar.due():
                    bar.update(i + 1, _logs(loss_total, seen, metrics))
                if group_ends and model.stop_training:
                    break
            if batch_hooks and i >= 0 and i != last and i % per_execution != per_execution - 1:
                # a stream ran out within a group: the group ends with its last batch
                cbs.on_train_batch_end(i - i % per_execution + per_execution - 1, _logs(loss_total, seen, metrics))
            source.end_epoch()
            if progbar is not None and unknown_steps:
                # a stream of unknown length: the bar counts the batches this epoch ran (its own params; the
                # other callbacks see steps None, as in Keras)
                progbar.params = dict(progbar.params, steps=max(i + 1, 1))
                if progbar.bar is not None:
                    progbar.bar.target = progbar.params["steps"]
            logs = _logs(loss_total, seen, metrics)
            if val_stream is not None and _should_validate(frequency, epoch):
                val_stream.stream = StreamEpochs(val_stream.adapter, validation_steps, "validation_steps")
                logs.update(_evaluate_data(model, val_stream, prefix="val_", cbs=cbs))
            elif val is not None and _should_validate(frequency, epoch):
                val_source = _ArraySource(val, val_batch, validation_steps, "validation_steps")
                logs.update(_evaluate_data(model, val_source, prefix="val_", cbs=cbs))
            cbs.on_epoch_end(epoch, logs)
            training_logs = logs
            if model.stop_training:
                break
            # a callback may have changed what is trainable (fine-tuning schedules) or re-gathered the weights:
            # the next epoch trains what the model holds now, with each weight's optimizer state kept
            if model.parameter_store is not step.store:
                step = _Step(model)
            if guard and epoch + 1 < epochs:
                last_finite.take(epoch, step.store)
    # Keras: the optimizer's final values (the moving average with use_ema) are written before on_train_end
    finalize = getattr(model.optimizer, "finalize_variable_values", None)
    if finalize is not None:
        finalize(model.parameter_store.values)
    cbs.on_train_end(training_logs)
    return history


def _evaluate_data(model, source, prefix: str = "", cbs: CallbackList | None = None) -> dict:
    """Cost and metrics over the batches of ``source`` (``_ArraySource`` or ``_StreamSource``: one epoch of it),
    with the current weights (regularisation included, as Keras).

    ``cbs`` get Keras's test hooks: ``on_test_begin``, ``on_test_batch_begin/end`` and ``on_test_end`` (with
    the logs unprefixed), as Keras calls them for ``evaluate`` and for each epoch's validation in ``fit``.
    """
    step = _Step(model, training=False)
    metrics = model.compiled_metrics
    metric_plan = _metric_index_plan(model, source.kind_names)
    saved = [mt._save_state() for mt in metrics]
    for metric in metrics:
        metric.reset_state()
    loss_total, seen = 0.0, 0
    penalty = step.penalty()
    batch_hooks = cbs is not None and cbs.batch_hooks
    per_execution = getattr(model, "steps_per_execution", 1)
    if cbs is not None:
        cbs.on_test_begin()
    batches, count = source.epoch(0)
    last = -1 if count is None else count - 1
    i = -1
    for i, (xb, yb, sw, targets) in enumerate(batches):
        if batch_hooks and i % per_execution == 0:
            cbs.on_test_batch_begin(i)
        out = forward(model, xb, training=False)
        m = len(xb)
        value, _ = step.loss_and_output_grad(yb, sw, m, out)
        if step.activity:
            value += step.activity_penalty()
        loss_total += (value + penalty) * m
        seen += m
        for metric, kind, weighted in metric_plan:
            metric.update_prepared(targets[kind], out, sw if weighted else None)
        if batch_hooks and (i == last or i % per_execution == per_execution - 1):
            cbs.on_test_batch_end(i - i % per_execution + per_execution - 1, _logs(loss_total, seen, metrics))
    if batch_hooks and i >= 0 and i != last and i % per_execution != per_execution - 1:
        cbs.on_test_batch_end(i - i % per_execution + per_execution - 1, _logs(loss_total, seen, metrics))
    source.end_epoch()
    if cbs is not None:
        cbs.on_test_end(_logs(loss_total, seen, metrics))
    logs = _logs(loss_total, seen, metrics, prefix)
    if prefix:  # validation must not disturb the training metrics' running state
        for metric, state in zip(metrics, saved):
            metric._restore_state(state)
    return logs


def evaluate(
    model,
    x,
    y=None,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    steps=None,
    callbacks=None,
    return_dict=False,
):
    _require_compiled(model, "evaluate")
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=None)
    verbose = verbosity(verbose)
    steps = optional_steps(steps, "steps")
    steps_per_execution(model, steps=steps)
    callbacks = callback_list(callbacks)
    source = _data_source(model, x, y, sample_weight, None, batch_size, steps, "steps", "evaluate")
    try:
        cbs = CallbackList(callbacks, model, {"steps": source.steps, "verbose": verbose}) if callbacks else None
        bar = Progbar(source.steps, verbose, sys.stdout) if verbose else None  # started now: it times the steps
        with np.errstate(over="ignore", under="ignore"):
            logs = _evaluate_data(model, source, cbs=cbs)
    finally:
        if source.adapter is not None:
            source.adapter.close()
    if bar is not None:
        if bar.target is None:  # a stream of unknown length: the batches it ran
            bar.target = max(source.ran, 1)
        bar.update(bar.target, logs, finalize=True)
    if return_dict:
        return logs
    values = [logs["loss"]] + [logs[m.name] for m in model.compiled_metrics]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> np.ndarray:
    batch_size = positive_int(batch_size, "batch_size", allow_none=True, default=None)
    verbose = verbosity(verbose)
    steps = optional_steps(steps, "steps")
    per_execution = steps_per_execution(model, steps=steps)
    adapter = adapt(x, batch_size=batch_size, steps=steps, who="predict")
    if adapter is not None:
        with adapter:
            return _predict_stream(model, adapter, steps, verbose, callback_list(callbacks), per_execution)
    arr = as_input_array(model, x)
    if not model.built:
        model.build((None,) + arr.shape[1:])
    model._ensure_bound()
    arr = np.ascontiguousarray(arr, dtype=model_dtype(model))
    plan = EpochBatches(len(arr), batch_size, steps, "steps")
    spans, _ = plan.epoch()
    n = spans[-1][1] if spans else 0  # steps fewer than the batches: the rows of those batches only, as Keras
    out = None
    callbacks = callback_list(callbacks)
    # Keras's predict hooks: on_predict_begin, on_predict_batch_begin/end (logs {"outputs": the batch's}), _end
    cbs = CallbackList(callbacks, model, {"steps": plan.steps, "verbose": verbose}) if callbacks else None
    bar = Progbar(max(plan.steps, 1), verbose, sys.stdout) if verbose else None
    if cbs is not None:
        cbs.on_predict_begin()
    with np.errstate(over="ignore", under="ignore"):
        last, group_start = len(spans) - 1, 0
        for i, (start, end) in enumerate(spans):
            if i % per_execution == 0:  # a group of steps_per_execution batches begins
                group_start = start
                if cbs is not None:
                    cbs.on_predict_batch_begin(i)
            a = forward(model, arr[start:end], training=False)
            if out is None:
                out = np.empty((n,) + a.shape[1:], dtype=a.dtype)
            out[start:end] = a
            if cbs is not None and (i == last or i % per_execution == per_execution - 1):
                # the group's outputs, as Keras's multi-step predict function returns them (a copy: `out` is ours)
                group = a if group_start == start else out[group_start:end].copy()
                cbs.on_predict_batch_end(i - i % per_execution + per_execution - 1, {"outputs": group})
    if cbs is not None:
        cbs.on_predict_end()
    if out is None:
        out = np.empty((0,) + model.output_shape_for((None,) + arr.shape[1:])[1:], dtype=arr.dtype)
    if bar is not None:
        bar.update(plan.steps, {}, finalize=True)
    return out


def _predict_stream(model, adapter, steps, verbose, callbacks, per_execution) -> np.ndarray:
    """``predict`` over an adapter's batches (their targets, if any, are ignored, as in Keras): the outputs of
    every batch, concatenated."""
    source = _StreamSource(model, adapter, steps, "steps", who="predict", targets=False)
    cbs = CallbackList(callbacks, model, {"steps": source.steps, "verbose": verbose}) if callbacks else None
    bar = Progbar(source.steps, verbose, sys.stdout) if verbose else None
    if cbs is not None:
        cbs.on_predict_begin()
    outputs: list[np.ndarray] = []
    group: list[np.ndarray] = []
    i = -1
    with np.errstate(over="ignore", under="ignore"):
        for i, xb in enumerate(source.inputs()):
            if cbs is not None and i % per_execution == 0:
                cbs.on_predict_batch_begin(i)
            a = forward(model, xb, training=False).copy()  # a layer may reuse its output buffer
            outputs.append(a)
            if cbs is not None:
                group.append(a)
                if i % per_execution == per_execution - 1:
                    cbs.on_predict_batch_end(i, {"outputs": group[0] if len(group) == 1 else np.concatenate(group)})
                    group = []
        if cbs is not None and group:
            cbs.on_predict_batch_end(i - i % per_execution + per_execution - 1, {"outputs": np.concatenate(group)})
    source.end_epoch()
    if cbs is not None:
        cbs.on_predict_end()
    if bar is not None:
        bar.target = bar.target or max(i + 1, 1)
        bar.update(bar.target, {}, finalize=True)
    return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]


def train_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict=False):
    """One gradient-descent step on exactly this batch; returns its loss (and metrics)."""
    _require_compiled(model, "train_on_batch")
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            'train_on_batch: give sample_weight or class_weight, not both (Keras: "Arguments `sample_weight` and '
            '`class_weight` cannot be specified at the same time.").'
        )
    data = Data(model, x, y, sample_weight, class_weight, who="train_on_batch")
    step = _Step(model)
    for metric in model.compiled_metrics:
        metric.reset_state()
    with np.errstate(over="ignore", under="ignore"):
        value, out = step(data.x, data.y_loss, data.sample_weight)
    for metric, yt, weighted in _metric_plan(model, data.kinds):
        metric.update_prepared(yt, out, data.sample_weight if weighted else None)
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
