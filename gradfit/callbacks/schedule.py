"""``LearningRateScheduler``: set the learning rate ``alpha`` at the start of each epoch from a function."""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from .. import registry
from .base import Callback

__all__ = ["LearningRateScheduler"]


def _schedule_driven(optimizer) -> bool:
    """Whether the optimizer's learning rate is a schedule (which sets the rate at every step)."""
    return callable(getattr(optimizer, "_learning_rate", None))


@registry.CALLBACKS.register()
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
