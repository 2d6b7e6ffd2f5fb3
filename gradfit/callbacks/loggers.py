"""Callbacks that record or react to what training logs: :class:`GradientLogger` (the gradients' norms),
:class:`CSVLogger` (a row per epoch), :class:`TerminateOnNaN` and :class:`LambdaCallback` (plain functions)."""

from __future__ import annotations

import collections
import csv
import os

import numpy as np

from .. import registry
from .base import Callback

__all__ = ["CSVLogger", "GradientLogger", "LambdaCallback", "TerminateOnNaN"]


@registry.CALLBACKS.register(module="gradfit.keras.callbacks")
class GradientLogger(Callback):
    """Records, per epoch, the mean over batches of each layer's kernel-gradient norm ``||dJ/dW[l]||``.

    The values go into the epoch's logs (and so the History) as ``grad_norm/<layer name>``;
    ``gradfit.plot.plot_history`` draws them on a log scale, where vanishing gradients (deep sigmoid
    stacks) show as lines falling away from the others. Costs a few microseconds per batch.

    It reads ``layer.grad_kernel`` after the batch's optimizer step: a view into ``model.parameter_gradients``
    (the parameter store's gradient vector), which the step fills and which an optimizer's ``update`` only
    reads (the optimizer contract), so it still holds ``dJ/dW`` at the weights the step started from.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._layers = [
            layer
            for layer in self.model.layers
            if layer.trainable and isinstance(getattr(layer, "grad_kernel", None), np.ndarray)
        ]
        self._sums = [0.0] * len(self._layers)
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        for i, layer in enumerate(self._layers):
            g = layer.grad_kernel.ravel(order="K")  # a view whatever the store's memory order of the kernel
            self._sums[i] += float(np.sqrt(g @ g))
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self._batches:
            return
        for layer, total in zip(self._layers, self._sums):
            key = f"grad_norm/{layer.name}"
            logs[key] = total / self._batches
            self.history.setdefault(key, []).append(logs[key])


@registry.CALLBACKS.register()
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


@registry.CALLBACKS.register()
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


@registry.CALLBACKS.register()
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
