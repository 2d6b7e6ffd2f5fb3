"""``LivePlot``: watch training while it runs, in a notebook or in a PNG file.

Each drawing is one picture: a panel per loss or metric (``val_*`` dashed on the same panel, as
``gradfit.plot.plot_history`` draws them) and, given 2-feature data, the model's decision boundary over the plane
(as ``gradfit.plot.plot_decision_boundary``). In Jupyter (an IPython kernel) the picture is shown in ONE output of
the cell and replaced in place every time (``IPython.display.display(..., display_id=True)``, then ``update``), so
the output never grows; elsewhere it is written to a PNG file (replaced atomically, so a viewer never reads half a
file).

The picture is drawn on one ``matplotlib.figure.Figure`` kept by the callback, rendered by the Agg canvas and
cleared before the next drawing: it is never registered with ``pyplot``, so no window opens, nothing depends on the
notebook's matplotlib backend, and memory does not grow with the epochs. matplotlib (and, in a notebook, IPython)
are imported when the callback is made, not by ``import gradfit``: ``pip install "gradfit[notebook]"``.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import sys

from .. import registry
from .base import Callback

__all__ = ["LivePlot"]

NOTEBOOK_EXTRA = 'pip install "gradfit[notebook]"'
DEFAULT_PATH = "liveplot.png"
PANEL_SIZE = (5.0, 3.8)  # inches per panel
MAX_COLUMNS = 3


def in_notebook() -> bool:
    """Whether this code runs in an IPython kernel (Jupyter, JupyterLab, VS Code, Colab): the running shell has a
    ``kernel``. A terminal IPython has none, and without IPython imported no kernel can be running, so nothing is
    imported to find out."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"LivePlot needs matplotlib: {NOTEBOOK_EXTRA} (or pip install matplotlib).") from None
    return Figure, FigureCanvasAgg


def _ipython_display():
    try:
        from IPython.display import Image, display
    except ImportError:
        raise ImportError(f"LivePlot(display=True) needs IPython: {NOTEBOOK_EXTRA} (or pip install ipython).") from None
    return Image, display


@registry.CALLBACKS.register(module="gradfit.keras.callbacks")
class LivePlot(Callback):
    """Redraw the loss and metric curves (and, for 2-feature inputs, the decision boundary) as training runs.

    Not in Keras (whose users reach for TensorBoard or a third-party ``livelossplot``). Every ``every`` epochs, and
    after the last epoch, the curves of every epoch so far are drawn: for each series ``name`` of the epoch logs
    (``loss`` and the metrics) its values at epochs ``1, 2, …`` (Keras's ``epoch + 1``), with ``val_<name>``
    dashed on the same panel at the epochs that validated.

    Parameters
    ----------
    metrics : list of str, optional
        The series to draw (default: every one in the logs that is not ``val_*``, ``loss`` first, then in the order
        the logs give them; ``grad_norm/*`` of ``GradientLogger`` share one panel with a log scale). The logs are
        read in this callback's turn: a callback listed after it adds its keys to the next drawing.
    every : int
        Draw after every ``every``-th epoch (``(epoch + 1) % every == 0``) and after the last one. A drawing
        costs a few tenths of a second (more with a decision boundary): for short epochs draw less often.
    path : str or PathLike, optional
        A PNG file the picture is written to each time it is drawn. Default: ``"liveplot.png"`` in the working
        directory when the picture is not shown in a notebook, no file when it is.
    display : "auto", True or False
        Show the picture in the notebook cell's output: ``"auto"`` when running in an IPython kernel
        (:func:`in_notebook`), ``True`` always (through ``IPython.display``), ``False`` never.
    decision_boundary : (x, y), optional
        2-feature inputs ``x`` (m, 2) and their labels ``y`` ((m,), (m, 1) or one-hot): a last panel shows what
        the model predicts over the plane around ``x``, with the points on top, as
        ``gradfit.plot.plot_decision_boundary`` draws it.
    resolution : int
        Grid points along each axis of the decision-boundary panel (``resolution ** 2`` predictions per drawing).

    Attributes
    ----------
    figure : matplotlib.figure.Figure or None
        The last picture drawn (one figure, cleared and redrawn each time).
    series : dict
        ``{name: (epochs, values)}`` of every epoch seen since ``fit`` began, what the panels show.
    png : bytes or None
        The last picture drawn, as PNG.
    boundary_image : matplotlib.image.AxesImage or None
        The decision-boundary panel's shading (``p(y = 1 | x)`` on the grid, or the argmax regions).
    drawn_epochs : list of int
        The epochs (from 1) after which the picture was drawn in this ``fit``.
    """

    def __init__(
        self,
        metrics=None,
        every: int = 1,
        path=None,
        display="auto",
        decision_boundary=None,
        resolution: int = 100,
    ):
        super().__init__()
        from .. import plot

        if isinstance(metrics, str):
            metrics = [metrics]
        if metrics is not None:
            metrics = list(metrics)
            if not metrics or not all(isinstance(name, str) for name in metrics):
                raise ValueError(f"LivePlot: metrics must be a non-empty list of series names, got {metrics!r}.")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"LivePlot: every must be a positive number of epochs, got {every!r}.")
        if display not in ("auto", True, False):
            raise ValueError(f"LivePlot: display must be 'auto', True or False, got {display!r}.")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"LivePlot: path must be a file name (str or os.PathLike) or None, got {path!r}.")
        if isinstance(resolution, bool) or not isinstance(resolution, numbers.Integral) or resolution < 2:
            raise ValueError(f"LivePlot: resolution must be an integer of at least 2 grid points, got {resolution!r}.")
        self.boundary_data = None
        if decision_boundary is not None:
            if not isinstance(decision_boundary, (tuple, list)) or len(decision_boundary) != 2:
                raise ValueError(
                    "LivePlot: decision_boundary must be a pair (x, y) of 2-feature inputs and their labels, got "
                    f"{type(decision_boundary).__name__}."
                )
            x = plot._two_features(decision_boundary[0], "LivePlot(decision_boundary=(x, y))")
            labels = plot._class_labels(decision_boundary[1], len(x), "LivePlot(decision_boundary=(x, y))")
            self.boundary_data = (x, labels)
        self._Figure, self._Canvas = _matplotlib()  # fail now, not after the first epoch
        if display is True:
            _ipython_display()
        self.metrics = metrics
        self.every = int(every)
        self.path = path
        self.display = display
        self.resolution = int(resolution)
        self.figure = None
        self.png: bytes | None = None
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.boundary_image = None
        self.drawn_epochs: list[int] = []
        self._handle = None
        self._last_epoch: int | None = None

    # ----------------------------------------------------------------- fit's hooks
    def on_train_begin(self, logs=None):
        self.series = {}
        self.drawn_epochs = []
        self._last_epoch = None
        self._handle = None  # one output per fit: a new fit in a new cell gets its own
        self._show = self.display is True or (self.display == "auto" and in_notebook())
        self._file = self.path if self.path is not None else (None if self._show else DEFAULT_PATH)
        if self.boundary_data is not None and self.model.built:
            features = tuple(self.model.input_shape[1:])
            if features != (2,):
                raise ValueError(
                    f"LivePlot(decision_boundary=...): the model takes inputs of shape {features} per example; a "
                    "decision boundary is drawn over the plane of 2-feature inputs only."
                )
        if self._file is not None and self.params.get("verbose", 1):
            print(f"LivePlot: drawing to {os.fspath(self._file)} every {self.every} epoch(s).")

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            if isinstance(value, numbers.Real) or getattr(value, "shape", None) == ():
                epochs, values = self.series.setdefault(name, ([], []))
                epochs.append(epoch + 1)
                values.append(float(value))
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every == 0:
            self.draw()

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and (not self.drawn_epochs or self.drawn_epochs[-1] != self._last_epoch):
            self.draw()  # the final state, when the last epoch was not one of every `every`

    # ----------------------------------------------------------------- drawing
    def _names(self) -> list[str]:
        if self.metrics is None:  # the loss first, then the rest as the logs give them
            names = [name for name in self.series if not name.startswith("val_")]
            return sorted(names, key=lambda name: name != "loss")
        missing = [name for name in self.metrics if name not in self.series]
        if missing:
            raise ValueError(
                f"LivePlot: no series {missing} in the epoch logs; they have {sorted(self.series)}. "
                "Give metrics=[...] from these names (without val_: it is drawn beside its series)."
            )
        return self.metrics

    def draw(self) -> bytes:
        """Draw the picture of the epochs so far, show it and/or write it (as configured); returns the PNG."""
        from .. import plot

        panels, grad_names = plot.history_panels(self._names())
        n = len(panels) + bool(grad_names) + (self.boundary_data is not None)
        cols = max(1, min(n, MAX_COLUMNS))
        rows = max(1, math.ceil(n / cols))
        if self.figure is None:
            self.figure = self._Figure()
            self._Canvas(self.figure)
        fig = self.figure
        fig.clear()  # the artists of the last drawing go; the figure and its canvas stay
        width, height = PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows
        fig.set_size_inches(width, height)
        # fixed margins in inches: a layout engine (tight, constrained) costs a second pass over every artist,
        # about half the time of a drawing
        fig.subplots_adjust(
            left=0.95 / width,
            right=1 - 0.25 / width,
            bottom=0.6 / height,
            top=1 - 0.75 / height,
            wspace=0.35,
            hspace=0.55,
        )
        axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
        plot.draw_history(axes, self.series, panels, grad_names)
        self.boundary_image = None
        if self.boundary_data is not None:
            x, labels = self.boundary_data
            self.boundary_image = plot.draw_decision_boundary(
                fig, axes[-1], self.model, x, labels, self.resolution, margin=0.1
            )
        fig.suptitle(f"epoch {self._last_epoch}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        png = self.png = buffer.getvalue()
        self.drawn_epochs.append(self._last_epoch)
        if self._show:
            self._show_png(png)
        if self._file is not None:
            _write_atomically(self._file, png)
        return png

    def _show_png(self, png: bytes) -> None:
        Image, display = _ipython_display()
        image = Image(data=png, format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


def _write_atomically(path, data: bytes) -> None:
    """Write ``data`` to a file beside ``path``, then move it over ``path``: a reader sees the old or the new."""
    path = os.fspath(path)
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)
