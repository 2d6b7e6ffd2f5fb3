"""``TensorBoard``: write what ``fit`` does as TensorBoard event files, with Keras 3.15's arguments and run layout.

The files are written by tensorboardX (``pip install "gradfit[tensorboard]"``), imported when the callback is
made, not by ``import gradfit``; open them with ``tensorboard --logdir logs``.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
import time
import warnings
import weakref

import numpy as np

from .. import registry
from .base import Callback

__all__ = ["TensorBoard"]

TENSORBOARD_EXTRA = 'pip install "gradfit[tensorboard]"'
#: the histograms' buckets: equal widths between the values' minimum and maximum, as ``tf.summary.histogram``
HISTOGRAM_BUCKETS = 30
#: events are flushed to disk (an fsync) at most this often, and at every histogram epoch and at the end of fit
FLUSH_SECONDS = 1.0
#: grid points along each axis of the decision-boundary image
BOUNDARY_RESOLUTION = 100
_FILE_NUMBERS = itertools.count()


def _tensorboardx():
    """tensorboardX's summary builders, its synchronous event-file writer and the protocol buffers they use."""
    try:
        from tensorboardX import summary
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    except ImportError:
        raise ImportError(
            f"TensorBoard needs tensorboardX to write TensorBoard's event files: {TENSORBOARD_EXTRA} "
            "(or pip install tensorboardX tensorboard)."
        ) from None
    return summary, EventsWriter, event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2


def _check_pillow() -> None:
    try:
        import PIL  # noqa: F401 (tensorboardX encodes images as PNG with Pillow)
    except ImportError:
        raise ImportError(
            "TensorBoard(write_images=True) needs Pillow to encode the images as PNG: pip install pillow."
        ) from None


def _non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"TensorBoard: {name} must be a non-negative integer (0: never), got {value!r}.")
    return int(value)


def _flag(value, name: str) -> bool:
    if value not in (True, False):
        raise ValueError(f"TensorBoard: {name} must be True or False, got {value!r}.")
    return bool(value)


class _EventFile:
    """One run's event file (``<run>/events.out.tfevents.<time>.<host>.<pid>.<n>.v2``, as TensorFlow names them),
    written synchronously by tensorboardX's ``EventsWriter``: no thread, nothing left running if ``fit`` fails."""

    def __init__(self, directory: str, tbx):
        _, events_writer, self._event_pb2, *_ = tbx
        os.makedirs(directory, exist_ok=True)
        # the file number keeps two files apart that one process opens in the same second (the name has seconds)
        suffix = f".{os.getpid()}.{next(_FILE_NUMBERS):04d}.v2"
        self._writer = events_writer(os.path.join(directory, "events"), filename_suffix=suffix)
        self._last_flush = time.monotonic()
        self.closed = False

    def add(self, summary, step: int) -> None:
        self._writer.write_event(self._event_pb2.Event(summary=summary, step=int(step), wall_time=time.time()))

    def add_graph(self, graph) -> None:
        self._writer.write_event(self._event_pb2.Event(graph_def=graph.SerializeToString(), wall_time=time.time()))

    def flush(self, force: bool = True) -> None:
        if not self.closed and (force or time.monotonic() - self._last_flush >= FLUSH_SECONDS):
            self._writer.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._writer.close()


def _close_all(writers: dict) -> None:
    for writer in writers.values():
        writer.close()
    writers.clear()


def _histogram(summary, tag: str, values) -> object | None:
    """``tf.summary.histogram``'s 30 equal buckets over the finite values (a weight gone to NaN or inf would
    otherwise stop ``fit``); None when there is no finite value."""
    values = np.asarray(values, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    return summary.histogram(tag, finite, HISTOGRAM_BUCKETS) if finite.size else None


def _scalar_value(value) -> float | None:
    """A log value as a float, or None for what is not one number (TensorBoard's scalars are numbers)."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return float(arr.reshape(())) if arr.size == 1 else None


@registry.CALLBACKS.register()
class TensorBoard(Callback):
    """Write the losses, metrics, learning rate, weight histograms and images of ``fit`` for TensorBoard.

    As Keras 3.15's ``keras.callbacks.TensorBoard``: ``log_dir/train`` holds the training run and
    ``log_dir/validation`` the validation run, each a directory of event files (one per ``fit``: a second
    ``fit`` into the same ``log_dir`` adds files, and TensorBoard shows both as one run). Open them with
    ``tensorboard --logdir <log_dir>``. The tags are Keras's, so dashboards made for Keras runs work:

    * ``epoch_<name>`` at step ``epoch`` (from 0) for every entry of the epoch's logs: ``epoch_loss``, one per
      metric, ``epoch_learning_rate`` (the optimizer's rate after the epoch's steps; a schedule's value at
      ``optimizer.iterations``) and, with ``write_steps_per_second``, ``epoch_steps_per_second`` (updates per
      second since the epoch began, validation included, as Keras times it) in the train run; ``val_<name>`` as
      ``epoch_<name>`` in the validation run;
    * ``evaluation_<name>_vs_iterations`` in the validation run at step ``optimizer.iterations`` after each
      validation (and after ``evaluate(callbacks=[tensorboard])``);
    * with ``update_freq=N``: ``batch_<name>`` (the running loss and metrics of the epoch, as the batch logs
      hold them) and, with ``write_steps_per_second``, ``batch_steps_per_second`` (1 / the batch's duration), at
      step ``b``, the number of batches since ``fit`` began (from 1), every ``N``-th batch;
    * every ``histogram_freq`` epochs (``epoch % histogram_freq == 0``): ``<weight path>/histogram`` for every
      weight of every layer (``sequential/dense/kernel/histogram``; 30 equal buckets, as ``tf.summary``), and
      with ``write_images``, ``<weight path>/image``: the weight as a grey image, values clipped to [0, 1]
      (a 2-D kernel with more rows than columns transposed, a vector as a column), as Keras writes them;
    * ``write_graph``: the model's graph as Keras writes it (tag ``keras``, the ``graph_keras_model`` plugin: the
      model's JSON, which TensorBoard's Graphs dashboard draws as the "conceptual graph" of the layers) and, beyond
      Keras (whose NumPy, torch and JAX backends write no op graph, and whose TensorFlow backend's train-function
      graph is TensorFlow's ops), a ``GraphDef`` of the layers for the dashboard's op graph: one node per layer
      (``<model>/<layer>``, its op the layer's class) fed by the layer before, its output shape on the edge, its
      weights' shapes and config as attributes; and the text of ``model.summary()`` and ``model.explain()``
      (tags ``model/summary``, ``model/explain``; Text dashboard). Once per ``fit``, at step 0 (Keras writes the
      graph whenever the callback is given a model, for ``evaluate`` and ``predict`` too; gradfit in ``fit``).

    Beyond Keras, every ``histogram_freq`` epochs on one fixed batch (fixed, so a change between two epochs is the
    model's, not the data's): ``sample_data=(x, y)`` when given, else the first batch of ``fit``'s training data as
    given (its first ``batch_size`` rows, before any shuffle; a generator or PyDataset has no such batch: give
    ``sample_data``): ``<weight path>/gradient``, the
    histogram of ``dJ/dw`` for every trainable weight (``model.compute_gradients(x, y)``: inference mode, no
    update), and ``<model>/<layer>/activation``, the histogram of every layer's output ``a[l]``
    (``model.activations(x)``). With sigmoid layers the gradients of the first layers shrink to a narrow spike
    around 0 while with ReLU they keep their spread: vanishing gradients, visible. For 2-feature ``x`` the
    ``decision_boundary`` image shows what the model predicts over the plane around ``x`` (with the points),
    as ``gradfit.plot.plot_decision_boundary`` draws it, every ``decision_boundary_freq`` epochs (needs
    matplotlib: without it the image is skipped with one warning).

    Differences from Keras 3.15, each deliberate: with ``update_freq=N`` Keras writes the epoch summaries, the
    histograms and ``evaluation_*`` only when the number of batches (validation batches for ``evaluation_*``)
    so far is a multiple of ``N`` (its ``record_if`` condition stays set after the last batch), dropping most
    epochs when an epoch's batches are not a multiple of ``N``; gradfit writes them every time. Events are
    flushed to disk at most once a second (an fsync costs milliseconds), at every histogram epoch and when
    ``fit`` ends. A ``fit`` stopped by an exception does not call ``on_train_end`` (nor does Keras's): the
    events written so far stay in the file, which is closed when this callback starts its next ``fit`` or
    ``evaluate``, or is garbage collected, or at exit; the writers start no thread, so nothing is left running.

    Parameters
    ----------
    log_dir : str or PathLike
        Where the ``train`` and ``validation`` runs go (default ``"logs"``).
    histogram_freq : int
        Epochs between histograms (0: none).
    write_graph : bool
        Write the model's graph (and, in gradfit, its summary and explanation) at the start of ``fit``.
    write_images : bool
        Also write each weight as an image with its histogram (needs Pillow).
    write_steps_per_second : bool
        Also write ``epoch_steps_per_second`` (and ``batch_steps_per_second`` with ``update_freq=N``).
    update_freq : "epoch", "batch" or int
        ``"epoch"``: only the epoch summaries; ``N``: also the batch logs every ``N`` batches (``"batch"``: 1).
        Per-batch hooks run only then, so ``"epoch"`` costs nothing per batch.
    profile_batch : int
        Must be 0: gradfit has no profiler (Keras 3.15 refuses a non-zero value too, with its NumPy and torch
        backends).
    embeddings_freq : int
        Must be 0: the projector shows ``Embedding`` layers, which gradfit does not have.
    embeddings_metadata : None
        Must be None (read only with ``embeddings_freq``).
    sample_data : (x, y) or (x, y, sample_weight), optional
        gradfit: the fixed batch for the gradient and activation histograms and the decision boundary (a few
        hundred rows are plenty; it is run as one batch). Default None: with ``histogram_freq`` the first batch of
        the training data, without it Keras's summaries only.
    decision_boundary_freq : int
        gradfit: epochs between decision-boundary images (``epoch % decision_boundary_freq == 0``), drawn when
        there is a fixed batch (above) and ``x`` has 2 features (default 5; 0: never).
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
        sample_data=None,
        decision_boundary_freq=5,
    ):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"TensorBoard: log_dir must be a directory name (str or os.PathLike), got {log_dir!r}.")
        if isinstance(profile_batch, bool) or profile_batch != 0:
            raise ValueError(
                "TensorBoard: profiling is not available in gradfit (it has no profiler; Keras 3.15 refuses it too "
                f"with its NumPy and torch backends). Received: profile_batch={profile_batch!r} (must be 0)."
            )
        if isinstance(embeddings_freq, bool) or embeddings_freq != 0:
            raise NotImplementedError(
                "TensorBoard: embeddings_freq must be 0: TensorBoard's projector shows the weights of Embedding "
                f"layers, and gradfit has no Embedding layer. Received: embeddings_freq={embeddings_freq!r}."
            )
        if embeddings_metadata is not None:
            raise NotImplementedError(
                "TensorBoard: embeddings_metadata must be None: it names the metadata of Embedding layers for the "
                f"projector (embeddings_freq), which gradfit does not have. Received: {embeddings_metadata!r}."
            )
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral) or update_freq < 1
        ):
            raise ValueError(
                'TensorBoard: update_freq must be "epoch", "batch" or a positive number of batches, got '
                f"{update_freq!r}."
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _non_negative_int(histogram_freq, "histogram_freq")
        self.write_graph = _flag(write_graph, "write_graph")
        self.write_images = _flag(write_images, "write_images")
        self.write_steps_per_second = _flag(write_steps_per_second, "write_steps_per_second")
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        self.embeddings_freq = 0
        self.embeddings_metadata = None
        self.decision_boundary_freq = _non_negative_int(decision_boundary_freq, "decision_boundary_freq")
        self.sample_data = self._checked_sample(sample_data)
        self._tbx = _tensorboardx()  # fail now, not after the first epoch
        if self.write_images:
            _check_pillow()
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, _EventFile] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._writers)
        self._in_fit = False
        self._global_train_batch = 0
        self._batch_start = 0.0
        self._epoch_start = 0.0
        self._epoch_start_iterations = 0
        self._boundary_warned = False
        self._first_batch = None  # fit's first training batch, the fixed batch when sample_data is None

    @staticmethod
    def _checked_sample(sample_data):
        if sample_data is None:
            return None
        if not isinstance(sample_data, (tuple, list)) or len(sample_data) not in (2, 3):
            raise ValueError(
                "TensorBoard: sample_data must be (x, y) or (x, y, sample_weight): the fixed batch whose gradients "
                f"and activations are histogrammed; got {type(sample_data).__name__}."
            )
        x, y, *rest = sample_data
        if x is None or y is None:
            raise ValueError("TensorBoard: sample_data needs both x and y (the gradients need the targets).")
        return (x, y, rest[0] if rest else None)

    # ----------------------------------------------------------------- writers
    def _writer(self, run: str) -> _EventFile:
        writer = self._writers.get(run)
        if writer is None:
            writer = self._writers[run] = _EventFile(self._train_dir if run == "train" else self._val_dir, self._tbx)
        return writer

    def _close_writers(self) -> None:
        _close_all(self._writers)

    @property
    def wants_first_batch(self) -> bool:
        """Whether ``fit`` should hand this callback its first training batch (``set_first_batch``)."""
        return self.sample_data is None and self.histogram_freq > 0

    def set_first_batch(self, x, y, sample_weight=None) -> None:
        """``fit``, before ``on_train_begin``: the rows of its first batch, for the histograms of this fit."""
        self._first_batch = (x, y, sample_weight)

    def _fixed_batch(self):
        return self.sample_data if self.sample_data is not None else self._first_batch

    def uses_batch_hooks(self) -> bool:
        """Only with ``update_freq=N``: otherwise ``fit`` need not call any batch hook for this callback."""
        return self.update_freq != "epoch"

    def set_model(self, model) -> None:
        super().set_model(model)
        self._in_fit = False
        # a fit stopped by an exception never reached on_train_end: its files are closed now, before new ones
        self._close_writers()

    # ----------------------------------------------------------------- fit's hooks
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        if self.write_graph:
            self._write_model()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._first_batch = None
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start = time.time()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        writer = self._writer("train")
        summary = self._tbx[0]
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start
            writer.add(summary.scalar("batch_steps_per_second", 1.0 / elapsed if elapsed > 0 else math.inf), step)
        for name, value in (logs or {}).items():
            number = _scalar_value(value)
            if number is not None:
                writer.add(summary.scalar(f"batch_{name}", number), step)
        writer.flush(force=False)

    def on_test_end(self, logs=None):
        iterations = self._iterations()
        if iterations is None:
            return
        writer = self._writer("validation")
        summary = self._tbx[0]
        for name, value in (logs or {}).items():
            number = _scalar_value(value)
            if number is not None:
                writer.add(summary.scalar(f"evaluation_{name}_vs_iterations", number), iterations)
        if self._in_fit:
            writer.flush(force=False)
        else:  # evaluate(callbacks=[…]): no on_train_end will close it
            self._writers.pop("validation").close()

    def on_epoch_end(self, epoch, logs=None):
        self._write_epoch_logs(epoch, logs or {})
        histograms = bool(self.histogram_freq) and epoch % self.histogram_freq == 0
        if histograms:
            self._write_weights(epoch)
            if self._fixed_batch() is not None:
                self._write_sample_histograms(epoch)
        boundary = self.decision_boundary_freq and epoch % self.decision_boundary_freq == 0
        if boundary and self._fixed_batch() is not None:
            self._write_decision_boundary(epoch)
        for writer in self._writers.values():
            writer.flush(force=histograms)

    # ----------------------------------------------------------------- what is written
    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        return optimizer if optimizer is not None and hasattr(optimizer, "iterations") else None

    def _iterations(self) -> int | None:
        optimizer = self._optimizer()
        return None if optimizer is None else int(optimizer.iterations)

    def _write_epoch_logs(self, epoch: int, logs: dict) -> None:
        if not logs:
            return  # as Keras: an epoch without logs writes nothing
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[len("val_") :]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = self._optimizer()
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second and optimizer is not None:
            elapsed = time.time() - self._epoch_start
            steps = self._iterations() - self._epoch_start_iterations
            train["steps_per_second"] = steps / elapsed if elapsed > 0 else math.inf
        summary = self._tbx[0]
        for run, values in (("train", train), ("validation", val)):
            if not values:
                continue
            writer = self._writer(run)
            for name, value in values.items():
                number = _scalar_value(value)
                if number is not None:
                    writer.add(summary.scalar(f"epoch_{name}", number), epoch)

    def _write_model(self) -> None:
        """Keras's ``keras_model_summary``: the model's JSON under the ``graph_keras_model`` plugin (TensorBoard's
        Graphs dashboard draws it), and gradfit's summary and explanation as text."""
        summary, _, _, summary_pb2, tensor_pb2, tensor_shape_pb2 = self._tbx
        writer = self._writer("train")
        try:
            model_json = self.model.to_json()
        except Exception as exc:  # noqa: BLE001 (as Keras: a model that cannot be serialized still trains)
            warnings.warn(
                f"TensorBoard: the model failed to serialize as JSON, so no graph is written ({exc}).", stacklevel=2
            )
        else:
            metadata = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1")
            )
            tensor = tensor_pb2.TensorProto(
                dtype="DT_STRING", string_val=[model_json.encode()], tensor_shape=tensor_shape_pb2.TensorShapeProto()
            )
            value = summary_pb2.Summary.Value(tag="keras", metadata=metadata, tensor=tensor)
            writer.add(summary_pb2.Summary(value=[value]), 0)
        if self.model.built:
            writer.add_graph(self._layer_graph())
        texts = {}
        if self.model.built:
            self.model.summary(print_fn=lambda text: texts.setdefault("summary", text))
        texts["explain"] = self.model.explain(print_fn=lambda text: None)
        for name, text in texts.items():
            # a fenced block: the Text dashboard renders Markdown, and the tables need a fixed-width font
            writer.add(summary.text(f"model/{name}", f"```\n{text.rstrip()}\n```"), 0)

    def _layer_graph(self):
        """gradfit: the layers as a ``GraphDef`` (tensorboardX's protocol buffers) for the Graphs dashboard's op
        view: a node ``<model>/<layer>`` per layer, its op the layer's class, fed by the layer before (the first by
        ``<model>/input``), with its output shape on the edge (``_output_shapes``), its weights' shapes and its
        config as attributes."""
        from tensorboardX.proto import attr_value_pb2, graph_pb2, node_def_pb2

        shape_proto = self._tbx[5].TensorShapeProto

        def shape_attr(shape):
            dims = [shape_proto.Dim(size=-1 if d is None else int(d)) for d in shape]
            return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(shape=[shape_proto(dim=dims)]))

        model = self.model
        shape = tuple(model.input_shape)
        previous = f"{model.name}/input"
        nodes = [node_def_pb2.NodeDef(name=previous, op="Input", attr={"_output_shapes": shape_attr(shape)})]
        for layer in model.layers:
            shape = tuple(layer.compute_output_shape(shape))
            weights = ", ".join(f"{w.path.rsplit('/', 1)[-1]} {tuple(w.shape)}" for w in layer.weights)
            attr = {
                "_output_shapes": shape_attr(shape),
                "weights": attr_value_pb2.AttrValue(s=weights.encode()),
                "config": attr_value_pb2.AttrValue(s=json.dumps(layer.get_config(), default=str).encode()),
            }
            name = f"{model.name}/{layer.name}"
            nodes.append(node_def_pb2.NodeDef(name=name, op=type(layer).__name__, input=[previous], attr=attr))
            previous = name
        return graph_pb2.GraphDef(node=nodes)

    def _write_weights(self, epoch: int) -> None:
        """Keras's ``_log_weights``: each weight's histogram (and image) under its path."""
        summary = self._tbx[0]
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = np.asarray(weight)
                histogram = _histogram(summary, f"{name}/histogram", values)
                if histogram is not None:
                    writer.add(histogram, epoch)
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        writer.add(summary.image(f"{name}/image", image, dataformats="HWC"), epoch)

    def _write_sample_histograms(self, epoch: int) -> None:
        """gradfit: ``dJ/dw`` of every trainable weight and every layer's output, on the fixed batch."""
        summary = self._tbx[0]
        writer = self._writer("train")
        x, y, sample_weight = self._fixed_batch()
        _, gradients = self.model.compute_gradients(x, y, sample_weight)
        histograms = [
            (f"{weight.path.replace(':', '_')}/gradient", gradient)
            for weight, gradient in zip(self.model.trainable_weights, gradients)
        ]
        outputs = self.model.activations(x, batch_size=max(len(x), 1))
        histograms += [(f"{self.model.name}/{layer_name}/activation", a) for layer_name, a in outputs.items()]
        for tag, values in histograms:
            histogram = _histogram(summary, tag, values)
            if histogram is not None:
                writer.add(histogram, epoch)

    def _write_decision_boundary(self, epoch: int) -> None:
        """gradfit: ``plot_decision_boundary`` on the fixed batch, rendered by matplotlib's Agg canvas."""
        x, y, _ = self._fixed_batch()
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != 2:
            return  # the plane of the inputs is only drawn for 2 features
        try:
            import matplotlib.pyplot as plt
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            from ..plot import plot_decision_boundary
        except ImportError:
            if not self._boundary_warned:
                self._boundary_warned = True
                warnings.warn(
                    "TensorBoard: the decision-boundary image needs matplotlib (pip install matplotlib, or "
                    '"gradfit[plot]"); it is not written. Pass decision_boundary_freq=0 to silence this.',
                    stacklevel=2,
                )
            return
        figure = plot_decision_boundary(self.model, x, y, resolution=BOUNDARY_RESOLUTION)
        try:
            canvas = FigureCanvasAgg(figure)
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
        finally:
            plt.close(figure)
        self._writer("train").add(
            self._tbx[0].image("decision_boundary", rgba[..., :3].copy(), dataformats="HWC"), epoch
        )


def _weight_image(values: np.ndarray) -> np.ndarray | None:
    """Keras's ``_log_weight_as_image`` for gradfit's weights (vectors and 2-D kernels): the squeezed weight as a
    ``(height, width, 1)`` grey image, a kernel with more rows than columns transposed, a vector as a column;
    ``tf.summary.image``'s conversion of floats to bytes (clipped to [0, 1], times 255.5, truncated). None for a
    weight Keras writes no image of (a scalar, or more than 2 dimensions once squeezed)."""
    w = np.squeeze(values)
    if w.ndim == 1:
        w = w.reshape(-1, 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
    else:
        return None
    pixels = np.minimum(np.clip(w.astype(float), 0.0, 1.0) * 255.5, 255.0).astype(np.uint8)
    return pixels[:, :, None]
