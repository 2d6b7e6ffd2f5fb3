"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

``History`` (always attached; ``fit`` returns it) records each epoch's logs. ``ProgbarLogger`` prints
the progress lines. Keras's own callbacks behave as in Keras 3: ``EarlyStopping``, ``ModelCheckpoint``,
``ReduceLROnPlateau``, ``LearningRateScheduler``, ``TerminateOnNaN``, ``CSVLogger`` and ``LambdaCallback``.
Write your own by subclassing :class:`Callback` and overriding Keras's hooks; setting
``self.model.stop_training = True`` in any hook ends ``fit`` after the current batch.
"""

from __future__ import annotations

import collections
import csv
import inspect
import math
import numbers
import operator
import os
import sys
import warnings

import numpy as np

from .progbar import Progbar

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "GradientLogger",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
    "on_batch_begin",
    "on_batch_end",
)


class Callback:
    """Base class with Keras's hooks, all doing nothing. ``self.model`` and ``self.params`` are set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras's backwards-compatible alias

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def uses_batch_hooks(self) -> bool:
        """Whether this callback overrides a per-batch hook (if none does, ``fit`` skips those calls)."""
        return any(h in vars(self) or getattr(type(self), h) is not getattr(Callback, h) for h in _BATCH_HOOKS)


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model=None, params=None):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be Callback objects (gradfit.keras.callbacks.…), got {c!r}.")
            if model is not None:
                c.set_model(model)
            if params is not None:
                c.set_params(params)
        self.batch_hooks = any(c.uses_batch_hooks() for c in self.callbacks)

    def __getattr__(self, hook):
        if not hook.startswith("on_") or not hasattr(Callback, hook):
            raise AttributeError(hook)
        # each callback gets a logs dict (never None), passed as Keras's CallbackList passes it
        if hook in _BATCH_HOOKS:

            def call(batch, logs=None):
                logs = {} if logs is None else logs
                for c in self.callbacks:
                    getattr(c, hook)(batch, logs=logs)

        elif hook in ("on_epoch_begin", "on_epoch_end"):

            def call(epoch, logs=None):
                logs = {} if logs is None else logs
                for c in self.callbacks:
                    getattr(c, hook)(epoch, logs)

        else:

            def call(logs=None):
                logs = {} if logs is None else logs
                for c in self.callbacks:
                    getattr(c, hook)(logs)

        return call


class History(Callback):
    """Records the logs of every epoch: ``history.history['loss'][i]`` is epoch ``i``'s loss."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress line per epoch (``verbose=1``), or one line per epoch (``verbose=2``)."""

    def __init__(self, verbose: int = 1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.bar: Progbar | None = None

    def on_epoch_begin(self, epoch, logs=None):
        stream = self.stream or sys.stdout
        epochs = self.params.get("epochs", 1)
        stream.write(f"Epoch {epoch + 1}/{epochs}\n")
        stream.flush()
        self.bar = Progbar(self.params.get("steps", 1), self.verbose, stream)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.update(self.params.get("steps", 1), logs or {}, finalize=True)


class GradientLogger(Callback):
    """Records, per epoch, the mean over batches of each layer's kernel-gradient norm ``||dJ/dW[l]||``.

    The values go into the epoch's logs (and so the History) as ``grad_norm/<layer name>``;
    ``gradfit.plot.plot_history`` draws them on a log scale, where vanishing gradients (deep sigmoid
    stacks) show as lines falling away from the others. Costs a few microseconds per batch.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._layers = [layer for layer in self.model.layers if hasattr(layer, "grad_kernel") and layer.trainable]
        self._sums = [0.0] * len(self._layers)
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        for i, layer in enumerate(self._layers):
            g = layer.grad_kernel.ravel()
            self._sums[i] += float(np.sqrt(g @ g))
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self._batches:
            return
        for layer, total in zip(self._layers, self._sums):
            key = f"grad_norm/{layer.name}"
            logs[key] = total / self._batches
            self.history.setdefault(key, []).append(logs[key])


# ------------------------------------------------------------------------------------------- Keras's callbacks


def _non_negative_int(value, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative integer (a number of epochs), got {value!r}.")
    return int(value)


def _finite_number(value, name: str, who: str):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{who}: {name} must be a finite number, got {value!r}.")
    return value


#: Keras 3's ``_direction`` of its metric classes: "up" ones are maximised, "down" ones minimised
_UP = {
    "Accuracy",
    "AUC",
    "BinaryAccuracy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "IoU",
    "MeanIoU",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "TopKCategoricalAccuracy",
}
_DOWN = {
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "RootMeanSquaredError",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
}


def _metric_direction(metric) -> str | None:
    """``'up'`` for metrics to maximise (accuracies), ``'down'`` for errors and losses, as Keras's ``_direction``."""
    direction = getattr(metric, "_direction", None)
    if direction in ("up", "down"):
        return direction
    for cls in type(metric).__mro__:
        if cls.__name__ in _UP:
            return "up"
        if cls.__name__ in _DOWN:
            return "down"
    from . import losses

    if type(metric).__name__ == "MeanMetricWrapper" and metric.name in losses._NAMES:  # a loss used as a metric
        return "down"
    return None


def _available(monitor: str, logs: dict) -> str:
    msg = f"Available metrics are: {', '.join(logs) if logs else 'none'}."
    if monitor.startswith("val_") and not any(k.startswith("val_") for k in logs):
        msg += " (val_ metrics need validation data: pass validation_data=… or validation_split=… to fit.)"
    return msg


def _missing_monitor_message(what: str, monitor: str, logs: dict) -> str:
    return f"{what} conditioned on metric `{monitor}` which is not available. {_available(monitor, logs)}"


class MonitorCallback(Callback):
    """Base of the callbacks that watch one logged quantity (``monitor``) for improvement.

    ``mode='min'``: lower is better; ``'max'``: higher is better; ``'auto'``: ``min`` for losses
    (``loss``, ``val_loss``) and for the compiled metrics that are errors, ``max`` for accuracies (Keras 3's
    rule: the direction of the compiled metric of that name). A value improves on the best so far when it
    beats it by more than ``min_delta``.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        who = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(
                f"{who}: monitor must be the name of a logged quantity such as 'val_loss', got {monitor!r}."
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}. Use 'min' when lower values of "
                f"{monitor!r} are better (a loss), 'max' when higher values are (an accuracy), or 'auto' to decide "
                "from the metric."
            )
        self.monitor = monitor
        self.mode = mode
        self.best = None if baseline is None else _finite_number(baseline, "the baseline", who)
        self.min_delta = abs(_finite_number(min_delta, "min_delta", who))
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = operator.lt
            for metric in getattr(self.model, "compiled_metrics", None) or []:
                if metric.name == name:
                    direction = _metric_direction(metric)
                    if direction is not None:
                        self.monitor_op = operator.gt if direction == "up" else operator.lt
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but gradfit (like Keras) isn't "
                    "able to automatically determine whether that metric should be maximized or minimized. Pass "
                    "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` in "
                    "order to use the lowest value."
                )
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(MonitorCallback):
    """Stop training when ``monitor`` has stopped improving.

    At the end of each epoch (from ``start_from_epoch`` on) the monitored value is compared with the best so
    far; after ``patience`` epochs in a row without an improvement of more than ``min_delta``, training stops
    (``stopped_epoch`` records the epoch). With ``baseline``, the count only restarts on values that also
    beat the baseline. With ``restore_best_weights=True`` the weights of the best epoch are copied back into
    the model when training ends, whether it stopped early or ran all its epochs (as Keras 3).
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        who = type(self).__name__
        self.patience = _non_negative_int(patience, "patience", who)
        self.verbose = verbose
        self.baseline = None if baseline is None else _finite_number(baseline, "baseline", who)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = _non_negative_int(start_from_epoch, "start_from_epoch", who)
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # the same object can be reused across fit() calls
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(_missing_monitor_message("Early stopping", self.monitor, logs), stacklevel=2)
        return value


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) after every epoch, or every
    ``save_freq`` batches.

    ``filepath`` may hold format fields filled from ``epoch`` (counted from 1), ``batch`` and the logs, e.g.
    ``'ckpt/{epoch:02d}-{val_loss:.2f}.keras'``. It must end in ``.keras`` (whole model) or, with
    ``save_weights_only=True``, in ``.weights.h5``. With ``save_best_only=True`` a file is written only when
    ``monitor`` improves on the best so far (and on ``initial_value_threshold`` when given).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral) or save_freq <= 0
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or a positive integer "
                "(a number of batches)."
            )
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end in "
                    f"`.weights.h5` (Keras weights format). Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith(".keras"):
            hint = (
                " To save only the weights, pass save_weights_only=True."
                if self.filepath.endswith(".weights.h5")
                else " (gradfit does not write Keras's legacy .h5 model format.)"
                if self.filepath.endswith(".h5")
                else ""
            )
            raise ValueError(
                f"The filepath provided must end in `.keras` (Keras model format). Received: filepath={self.filepath}"
                + hint
            )

    def uses_batch_hooks(self) -> bool:
        return self.save_freq != "epoch"

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:  # a new epoch
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, batch, logs, filepath) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available; saving anyway. "
                + _available(self.monitor, logs),
                stacklevel=2,
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, "
                    f"saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing "
                f"directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as exc:
            keys = ", ".join(["epoch", *([] if batch is None else ["batch"]), *logs])
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {exc}. Fields available: {keys}.'
            ) from None


def _schedule_driven(optimizer) -> bool:
    return callable(getattr(optimizer, "_learning_rate", None))


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the optimizer's learning rate by ``factor`` when ``monitor`` has not improved (by more than
    ``min_delta``) for ``patience`` epochs, never going below ``min_lr``; after a reduction, wait ``cooldown``
    epochs before counting again. Adds the epoch's ``learning_rate`` to the logs (and so the History)."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        who = type(self).__name__
        _finite_number(factor, "factor", who)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor} (the new learning "
                "rate is lr * factor, so a reduction needs 0 <= factor < 1, e.g. 0.1 or 0.5)."
            )
        if factor < 0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}.")
        _finite_number(min_lr, "min_lr", who)
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr}.")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = _non_negative_int(patience, "patience", who)
        self.verbose = verbose
        self.cooldown = _non_negative_int(cooldown, "cooldown", who)
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch) -> bool:
        old_lr = float(optimizer.learning_rate)
        # compared in float32 as Keras, whose rate is a float32 variable: once the rate has reached min_lr it is
        # no longer "reduced" (which would restart the cooldown)
        if np.float32(old_lr) > np.float32(self.min_lr):
            if _schedule_driven(optimizer):
                raise TypeError(
                    f"ReduceLROnPlateau cannot set the learning rate of this optimizer: its learning_rate is a "
                    f"schedule ({optimizer._learning_rate!r}) that sets the rate at every step. Give the optimizer "
                    "a float learning_rate to use ReduceLROnPlateau, or drop one of the two."
                )
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            return True
        return False

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(_missing_monitor_message("Learning rate reduction is", self.monitor, logs), stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_optimizer_lr(self.model.optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (``epoch`` from 0, ``lr`` the
    current rate; a ``schedule(epoch)`` of one argument works too). Adds ``learning_rate`` to the logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def _call_schedule(self, epoch: int, lr: float):
        try:
            inspect.signature(self.schedule).bind(epoch, lr)
        except TypeError:  # a one-argument schedule(epoch), Keras's old API
            return self.schedule(epoch)
        except ValueError:  # no signature (some builtins): try as Keras does
            try:
                return self.schedule(epoch, lr)
            except TypeError:
                return self.schedule(epoch)
        return self.schedule(epoch, lr)

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        if _schedule_driven(optimizer):
            raise TypeError(
                "LearningRateScheduler cannot set the learning rate of this optimizer: its learning_rate is a "
                f"schedule ({optimizer._learning_rate!r}) that sets the rate at every step. Give the optimizer a "
                "float learning_rate to use LearningRateScheduler, or drop one of the two."
            )
        learning_rate = self._call_schedule(epoch, float(optimizer.learning_rate))
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(
                "The output of the `schedule` function should be a float. "
                f"Got: {learning_rate!r} of type {type(learning_rate).__name__}"
                + (" (write e.g. 1.0 rather than 1)." if isinstance(learning_rate, numbers.Integral) else ".")
            )
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = self._update_optimizer_lr(self.model.optimizer, epoch)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite (after that batch).

    With ``raise_error=True`` raise a ``RuntimeError`` there instead (``on_train_end`` is then not called).
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. Terminating training "
                    "immediately."
                )
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file: ``epoch`` first (from 0), then the log keys sorted.

    As Keras, when the first epoch has no ``val_`` keys, ``val_<key>`` columns are added anyway (filled with
    ``NA``). ``append=True`` adds to an existing file (without repeating the header).
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")  # noqa: SIM115 (closed in on_train_end)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not (isinstance(k, np.ndarray) and k.ndim == 0):
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if not self.writer:

            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch))``.

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, ``on_train_begin``/``on_train_end`` take
    ``(logs)``, the batch hooks ``(batch, logs)``; any other hook of :class:`Callback` can be given by name.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = sorted(set(kwargs) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; the hooks are {', '.join(_HOOKS)}.")
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be a function, got {fn!r}.")
            setattr(self, name, fn)
