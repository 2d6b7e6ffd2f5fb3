"""The callback machinery: :class:`Callback` (Keras's hooks), :class:`CallbackList` (calls them in order),
:class:`History` (always attached; ``fit`` returns it) and :class:`ProgbarLogger` (the progress lines).

Write your own callback by subclassing :class:`Callback` and overriding Keras's hooks; setting
``self.model.stop_training = True`` in any hook ends ``fit`` after the current batch.
"""

from __future__ import annotations

import sys

from .. import registry
from ..progbar import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

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


@registry.CALLBACKS.register()
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


@registry.CALLBACKS.register()
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


@registry.CALLBACKS.register()
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


@registry.CALLBACKS.register()
class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` (when ``fit`` runs more than one epoch, as Keras 3.15) and a progress line per epoch
    (``verbose=1``), or one line per epoch (``verbose=2``); nothing with ``verbose=0``.

    Keras's ``ProgbarLogger()`` takes no arguments and prints as ``fit``'s ``verbose`` says (``"auto"``: 1); so
    does this one with ``verbose=None``. gradfit adds ``verbose`` (1 or 2, whatever ``fit`` says) and ``stream``
    (where to write; ``sys.stdout`` by default)."""

    def __init__(self, verbose: int | None = None, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.bar: Progbar | None = None

    def _verbosity(self) -> int:
        if self.verbose is not None:
            return self.verbose
        verbose = self.params.get("verbose", 1)
        return 1 if verbose == "auto" else verbose

    def on_epoch_begin(self, epoch, logs=None):
        verbose = self._verbosity()
        self.bar = None
        if not verbose:
            return
        stream = self.stream or sys.stdout
        epochs = self.params.get("epochs", 1)
        if epochs > 1:
            stream.write(f"Epoch {epoch + 1}/{epochs}\n")
            stream.flush()
        self.bar = Progbar(self.params.get("steps", 1), verbose, stream)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.update(self.params.get("steps", 1), logs or {}, finalize=True)
