"""Callbacks that watch one logged quantity for improvement: :class:`EarlyStopping` stops training when it has
stopped improving, :class:`ReduceLROnPlateau` lowers the learning rate ``alpha`` then (``ModelCheckpoint``, in
:mod:`.checkpoint`, keeps the best model by the same rule).
"""

from __future__ import annotations

import math
import numbers
import operator
import warnings

import numpy as np

from .. import registry
from .base import Callback
from .schedule import _schedule_driven

__all__ = ["EarlyStopping", "MonitorCallback", "ReduceLROnPlateau"]


def _non_negative_int(value, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative integer (a number of epochs), got {value!r}.")
    return int(value)


def _finite_number(value, name: str, who: str):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{who}: {name} must be a finite number, got {value!r}.")
    return value


def _metric_direction(metric) -> str | None:
    """``'up'`` for metrics to maximise (accuracies), ``'down'`` for errors and losses: Keras's ``_direction``,
    which each metric class declares (and a loss used as a metric gets)."""
    direction = getattr(metric, "_direction", None)
    return direction if direction in ("up", "down") else None


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


@registry.CALLBACKS.register()
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
            self.model.set_weights(self.best_weights, check_finite=False)  # the model's own, NaN or not (Keras)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(_missing_monitor_message("Early stopping", self.monitor, logs), stacklevel=2)
        return value


@registry.CALLBACKS.register()
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
