"""``ModelCheckpoint``: save the model, or its weights, every epoch or every ``save_freq`` batches."""

from __future__ import annotations

import numbers
import os
import warnings

from .. import registry
from .monitor import MonitorCallback, _available

__all__ = ["ModelCheckpoint"]


@registry.CALLBACKS.register()
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
