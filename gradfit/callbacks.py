"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

``History`` (always attached; ``fit`` returns it) records each epoch's logs. ``ProgbarLogger`` prints
the progress lines. Write your own by subclassing :class:`Callback` and overriding Keras's hooks.
"""

from __future__ import annotations

import sys

import numpy as np

from .progbar import Progbar

__all__ = ["Callback", "CallbackList", "GradientLogger", "History", "ProgbarLogger"]

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
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
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
        return any(getattr(type(self), h) is not getattr(Callback, h) for h in _BATCH_HOOKS)


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
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for c in self.callbacks:
                getattr(c, hook)(*args, **kwargs)
            if hook in ("on_train_batch_begin", "on_train_batch_end"):
                for c in self.callbacks:
                    getattr(c, hook.replace("train_", ""))(*args, **kwargs)

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
