"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

``History`` (always attached; ``fit`` returns it) records each epoch's logs. ``ProgbarLogger`` prints
the progress lines. Keras's own callbacks behave as in Keras 3: ``EarlyStopping``, ``ModelCheckpoint``,
``ReduceLROnPlateau``, ``LearningRateScheduler``, ``TerminateOnNaN``, ``CSVLogger`` and ``LambdaCallback``;
gradfit adds ``GradientLogger`` (each layer's ``||dJ/dW[l]||`` per epoch). Write your own by subclassing
:class:`Callback` and overriding Keras's hooks; setting ``self.model.stop_training = True`` in any hook ends
``fit`` after the current batch.

* :mod:`.base`: ``Callback``, ``CallbackList``, ``History``, ``ProgbarLogger``;
* :mod:`.monitor`: ``MonitorCallback``, ``EarlyStopping``, ``ReduceLROnPlateau``;
* :mod:`.checkpoint`: ``ModelCheckpoint``; :mod:`.schedule`: ``LearningRateScheduler``;
* :mod:`.loggers`: ``GradientLogger``, ``CSVLogger``, ``TerminateOnNaN``, ``LambdaCallback``.

Each callback class registers itself in ``registry.CALLBACKS``.
"""

from __future__ import annotations

from .base import Callback, CallbackList, History, ProgbarLogger
from .checkpoint import ModelCheckpoint
from .loggers import CSVLogger, GradientLogger, LambdaCallback, TerminateOnNaN
from .monitor import EarlyStopping, ReduceLROnPlateau
from .monitor import MonitorCallback as MonitorCallback  # the base of the monitoring callbacks (not in Keras's API)
from .schedule import LearningRateScheduler

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
