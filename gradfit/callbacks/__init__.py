"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

``History`` (always attached; ``fit`` returns it) records each epoch's logs. ``ProgbarLogger`` prints
the progress lines. Keras's own callbacks behave as in Keras 3: ``EarlyStopping``, ``ModelCheckpoint``,
``ReduceLROnPlateau``, ``LearningRateScheduler``, ``TerminateOnNaN``, ``CSVLogger``, ``LambdaCallback`` and
``TensorBoard`` (real event files through tensorboardX: ``gradfit[tensorboard]``); gradfit adds ``GradientLogger``
(each layer's ``||dJ/dW[l]||`` per epoch) and ``LivePlot`` (the curves, and a 2-D decision boundary, redrawn in
place in a notebook every epoch, or written to a PNG: ``gradfit[notebook]``). Write your own by subclassing
:class:`Callback` and overriding Keras's hooks; setting ``self.model.stop_training = True`` in any hook ends
``fit`` after the current batch.

* :mod:`.base`: ``Callback``, ``CallbackList``, ``History``, ``ProgbarLogger``;
* :mod:`.monitor`: ``MonitorCallback``, ``EarlyStopping``, ``ReduceLROnPlateau``;
* :mod:`.checkpoint`: ``ModelCheckpoint``; :mod:`.schedule`: ``LearningRateScheduler``;
* :mod:`.loggers`: ``GradientLogger``, ``CSVLogger``, ``TerminateOnNaN``, ``LambdaCallback``;
* :mod:`.tensorboard`: ``TensorBoard``; :mod:`.liveplot`: ``LivePlot`` (their optional packages load lazily).

Each callback class registers itself in ``registry.CALLBACKS``.
"""

from __future__ import annotations

from .base import Callback, CallbackList, History, ProgbarLogger
from .checkpoint import ModelCheckpoint
from .liveplot import LivePlot
from .loggers import CSVLogger, GradientLogger, LambdaCallback, TerminateOnNaN
from .monitor import EarlyStopping, ReduceLROnPlateau
from .monitor import MonitorCallback as MonitorCallback  # the base of the monitoring callbacks (not in Keras's API)
from .schedule import LearningRateScheduler
from .tensorboard import TensorBoard

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "GradientLogger",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "LivePlot",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
