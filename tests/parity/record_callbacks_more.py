"""Record the Keras parity fixtures for ModelCheckpoint, CSVLogger, TerminateOnNaN and LambdaCallback.

    /tmp/tfenv/bin/python tests/parity/record_callbacks_more.py            # all cases
    /tmp/tfenv/bin/python tests/parity/record_callbacks_more.py NAME ...   # some cases

Run by hand with TensorFlow, never by CI. Each case of ``CASES`` below (a ``callback_cases.py``-style spec:
``layers``, ``loss``, ``metrics``, ``optimizer``, ``fit``, ``data``, plus the ``kind`` of callback it checks and
that callback's ``kwargs``) is trained in Keras (TensorFlow backend, float32, ``shuffle=False``, ``verbose=0``)
from NumPy-made data and initial weights, and ``fixtures/callbacks_more/<name>.npz`` stores the spec (JSON),
the data, the initial weights, the History, the final weights and what the callback produced:

- ``checkpoint``: the sorted names of the files ModelCheckpoint wrote (``filepath`` is relative to a
  temporary folder) and the weights of the last one, loaded back with Keras (``model.load_weights`` /
  ``keras.models.load_model``);
- ``csv``: the exact bytes of the file CSVLogger wrote;
- ``nan``: ``(epoch, batch, logs['loss'])`` at every ``on_train_batch_end`` (TerminateOnNaN stops after the
  first batch whose running loss is NaN or infinite) and the optimizer's step count;
- ``lambda``: the hooks LambdaCallback saw, in order, as ``[hook, epoch or batch or None, sorted logs keys or
  None]``.

The recorder also checks that nothing recorded hangs on a near tie (an improvement decision of
``save_best_only``, or a number a file name rounds), so that gradfit's float32 rounding cannot flip it.
The fixtures live in a subfolder so that ``test_callbacks_parity.py`` and ``test_keras_parity.py`` (which glob
``fixtures/*.npz``) do not see them. This module imports neither TensorFlow nor gradfit at import time.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test imports this module
from recording import add_trajectory, fit_kwargs, glorot_weights, record_all, save, versions  # noqa: E402

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "callbacks_more"
MARGIN = 1e-3  # relative, for improvement decisions
ROUND_MARGIN = 0.05  # in units of the last printed digit, for values formatted into file names

_BCE = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}

CASES: list[dict] = [
    {
        # noisy labels and a large rate: val_loss wanders, so only epochs 1, 3 and 4 improve and are saved
        "name": "checkpoint_best_weights_h5",
        "kind": "checkpoint",
        "layers": [[16, "relu"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["SGD", {"learning_rate": 0.2, "momentum": 0.5}],
        "kwargs": {
            "filepath": "ckpt-{epoch:02d}-{val_loss:.4f}.weights.h5",
            "save_weights_only": True,
            "save_best_only": True,
            "monitor": "val_loss",
        },
        "fit": {"batch_size": 8, "epochs": 8, "validation_split": 0.4},
        "data": {"n": 50, "features": 6, "seed": 43, "label_noise": 0.3},
    },
    {
        "name": "checkpoint_every_epoch_keras",
        "kind": "checkpoint",
        "layers": [[6, "tanh"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["Adam", {"learning_rate": 0.05}],
        "kwargs": {"filepath": "model-{epoch:02d}-{loss:.3f}.keras", "save_best_only": False},
        "fit": {"batch_size": 16, "epochs": 4},
        "data": {"n": 48, "features": 4, "seed": 32, "label_noise": 0.1},
    },
    {
        "name": "csv_logger_validation_data",
        "kind": "csv",
        "layers": [[6, "tanh"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["RMSprop", {"learning_rate": 0.02}],
        "kwargs": {"filename": "log.csv", "separator": ",", "append": False},
        "fit": {"batch_size": 16, "epochs": 5},
        "validation": {"n": 20},  # validation_data: the last n examples made, held out
        "data": {"n": 68, "features": 4, "seed": 33, "label_noise": 0.1},
    },
    {
        # linear regression with a far too large rate: the loss grows ~1e8x a step until float32 overflows to
        # inf at epoch 1, batch 1; TerminateOnNaN stops after that batch, and the epoch still ends (and is
        # validated: val_loss inf or NaN)
        "name": "terminate_on_nan_sgd_overflow",
        "kind": "nan",
        "layers": [[1, "linear"]],
        "loss": "mse",
        "metrics": [],
        "optimizer": ["SGD", {"learning_rate": 1e4}],
        "kwargs": {},
        "fit": {"batch_size": 16, "epochs": 10, "validation_split": 0.25},
        "data": {"n": 64, "features": 4, "seed": 34, "label_noise": 0.0},
    },
    {
        # one NaN input (row nan_row, in epoch 0's third batch): that batch's loss, the running loss and every
        # weight after the update are NaN; TerminateOnNaN stops there, in the first of 6 epochs
        "name": "terminate_on_nan_nan_input",
        "kind": "nan",
        "layers": [[4, "relu"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "kwargs": {},
        "fit": {"batch_size": 8, "epochs": 6, "validation_split": 0.25},
        "data": {"n": 40, "features": 3, "seed": 37, "label_noise": 0.0, "nan_row": 19},
    },
    {
        # finite inputs that overflow: row big_row times 1e20 (in epoch 0's second batch) makes that batch's squared
        # error inf; the inf gradient makes the weights inf and NaN, so val_loss is NaN
        "name": "terminate_on_nan_overflowing_input",
        "kind": "nan",
        "layers": [[1, "linear"]],
        "loss": "mse",
        "metrics": [],
        "optimizer": ["SGD", {"learning_rate": 0.01}],
        "kwargs": {},
        "fit": {"batch_size": 8, "epochs": 5, "validation_split": 0.2},
        "data": {"n": 40, "features": 3, "seed": 38, "label_noise": 0.0, "big_row": 10},
    },
    {
        "name": "lambda_hooks_train",
        "kind": "lambda",
        "layers": [[4, "tanh"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["SGD", {"learning_rate": 0.1}],
        "kwargs": {
            "hooks": ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end"]
            + ["on_epoch_end", "on_train_end"]
        },
        "fit": {"batch_size": 8, "epochs": 2},
        "data": {"n": 24, "features": 3, "seed": 35, "label_noise": 0.0},
    },
    {
        # the same with validation: fit's evaluation calls the test hooks of the same callbacks
        "name": "lambda_hooks_with_validation",
        "kind": "lambda",
        "layers": [[4, "tanh"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["SGD", {"learning_rate": 0.1}],
        "kwargs": {
            "hooks": ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end"]
            + ["on_epoch_end", "on_train_end", "on_test_begin", "on_test_batch_begin", "on_test_batch_end"]
            + ["on_test_end"]
        },
        "fit": {"batch_size": 8, "epochs": 2, "validation_split": 0.25},
        "data": {"n": 32, "features": 3, "seed": 36, "label_noise": 0.0},
    },
    {
        # Keras's backwards-compatible aliases: with no on_train_batch_* given, fit's batches call on_batch_*
        "name": "lambda_hooks_batch_alias",
        "kind": "lambda",
        "layers": [[4, "tanh"], [1, "sigmoid"]],
        **_BCE,
        "optimizer": ["SGD", {"learning_rate": 0.1}],
        "kwargs": {"hooks": ["on_batch_begin", "on_batch_end", "on_epoch_end"]},
        "fit": {"batch_size": 8, "epochs": 2},
        "data": {"n": 24, "features": 3, "seed": 35, "label_noise": 0.0},
    },
]


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs; labels from a random linear rule (thresholded for ``binary_crossentropy``), some flipped."""
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n, f = d["n"], d["features"]
    X = rng.normal(size=(n, f)).astype(np.float32)
    w = rng.normal(size=f)
    if spec["loss"] == "binary_crossentropy":
        y = (X @ w > 0).astype(np.float32)
        flip = rng.random(n) < d.get("label_noise", 0.0)
        y[flip] = 1.0 - y[flip]
    else:
        y = (X @ w + 0.5).astype(np.float32)
    if "nan_row" in d:
        X[d["nan_row"], 0] = np.nan
    if "big_row" in d:
        X[d["big_row"]] *= np.float32(1e20)
    return X, y.reshape(n, 1)


def split(spec: dict, X: np.ndarray, y: np.ndarray) -> tuple[tuple, tuple | None]:
    """``(x, y)`` for fit and the held-out ``validation_data`` (or ``None``)."""
    if "validation" not in spec:
        return (X, y), None
    k = spec["validation"]["n"]
    return (X[:-k], y[:-k]), (X[-k:], y[-k:])


def initial_weights(model, seed: int) -> list[np.ndarray]:
    """Glorot-uniform kernels and small non-zero biases, from NumPy (so both libraries start identically)."""
    rng = np.random.default_rng(2000 + seed)
    return glorot_weights(model, rng)


def build(K, spec: dict, n_features: int):
    """The case's model, compiled, built with ``K`` (``keras`` or ``gradfit.keras``); weights not yet set."""
    layers = [K.Input(shape=(n_features,))]
    for units, activation in spec["layers"]:
        layers.append(K.layers.Dense(units, activation=activation))
    model = K.Sequential(layers)
    name, kwargs = spec["optimizer"]
    model.compile(optimizer=getattr(K.optimizers, name)(**kwargs), loss=spec["loss"], metrics=spec["metrics"])
    return model


def build_callback(K, spec: dict, folder: str, trace: list):
    """The case's callback for ``K``; files go under ``folder``; the ``nan`` and ``lambda`` kinds append to
    ``trace``. Returns the list of callbacks to pass to ``fit``."""
    kind, kwargs = spec["kind"], dict(spec["kwargs"])
    if kind == "checkpoint":
        kwargs["filepath"] = os.path.join(folder, kwargs["filepath"])
        return [K.callbacks.ModelCheckpoint(**kwargs)]
    if kind == "csv":
        kwargs["filename"] = os.path.join(folder, kwargs["filename"])
        return [K.callbacks.CSVLogger(**kwargs)]
    if kind == "nan":

        def batch_end(batch, logs):
            trace.append((len([t for t in trace if t[1] == -1]), batch, float(logs["loss"])))

        def epoch_end(epoch, logs):
            trace.append((epoch, -1, float(logs["loss"])))  # batch -1: the epoch's end

        # the recorder runs after TerminateOnNaN, so it also sees the batch that stopped training
        return [
            K.callbacks.TerminateOnNaN(),
            K.callbacks.LambdaCallback(on_train_batch_end=batch_end, on_epoch_end=epoch_end),
        ]
    if kind == "lambda":
        hooks = {}
        for hook in kwargs["hooks"]:
            if hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end"):
                hooks[hook] = lambda logs=None, hook=hook: trace.append([hook, None, _keys(logs)])
            else:
                hooks[hook] = lambda i, logs=None, hook=hook: trace.append([hook, int(i), _keys(logs)])
        return [K.callbacks.LambdaCallback(**hooks)]
    raise ValueError(kind)


def _keys(logs) -> list[str] | None:
    return None if logs is None else sorted(logs)


def _rounding_margin(value: float, spec_format: str) -> float:
    """How far ``value`` lies from a rounding boundary of ``format(value, spec_format)``, in last-digit units."""
    digits = int(spec_format.split(".")[1].rstrip("f"))
    scaled = value * 10**digits
    return abs((scaled - math.floor(scaled)) - 0.5)


def check_checkpoint(spec: dict, history: dict) -> None:
    """Fail when a save_best_only decision, or a number rounded into a saved file's name, is a near tie."""
    import string

    kwargs = spec["kwargs"]
    saved = list(range(len(history["loss"])))
    if kwargs.get("save_best_only"):
        saved, best = [], None
        for epoch, value in enumerate(history[kwargs.get("monitor", "val_loss")]):
            if best is not None and abs(value - best) <= MARGIN * abs(best):
                raise SystemExit(f"{spec['name']}: save_best_only decision at epoch {epoch} is a near tie")
            if best is None or value < best:
                best = value
                saved.append(epoch)
    fields = [(f, s) for _, f, s, _ in string.Formatter().parse(kwargs["filepath"]) if f and f != "epoch"]
    for field, fmt in fields:
        for epoch in saved:
            value = history[field][epoch]
            if _rounding_margin(value, fmt) <= ROUND_MARGIN:
                raise SystemExit(f"{spec['name']}: {field} at epoch {epoch} ({value!r}) nearly ties a rounding")


def check_overflow(spec: dict, trace: list) -> None:
    """Fail unless the running loss jumps to inf from far below float32's limit to far above it (so rounding cannot
    move the batch where it overflows): the last finite value under 1e-3 of the limit, and its growth from the one
    before, repeated once more, more than 1e3 times the limit."""
    losses = [loss for _, batch, loss in trace if batch >= 0]
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) == len(losses) or len(finite) < 2:
        raise SystemExit(f"{spec['name']}: the loss never overflowed, or did at once")
    limit = float(np.finfo(np.float32).max)
    if not (finite[-1] < 1e-3 * limit and finite[-1] ** 2 / finite[-2] > 1e3 * limit):
        raise SystemExit(f"{spec['name']}: the loss overflows too close to float32's limit: {finite[-2:]}")


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    (x_fit, y_fit), validation = split(spec, X, y)
    model = build(keras, spec, X.shape[1])
    w0 = initial_weights(model, spec["data"]["seed"])
    model.set_weights(w0)
    trace: list = []
    arrays: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as folder:
        callbacks = build_callback(keras, spec, folder, trace)
        extra = {} if validation is None else {"validation_data": validation}
        history = model.fit(x_fit, y_fit, callbacks=callbacks, **extra, **fit_kwargs(spec)).history
        files = sorted(os.listdir(folder))
        arrays["files"] = np.array(json.dumps(files))
        if spec["kind"] == "checkpoint":
            check_checkpoint(spec, history)
            last = os.path.join(folder, files[-1])
            if spec["kwargs"].get("save_weights_only"):
                loaded = build(keras, spec, X.shape[1])
                loaded.load_weights(last)
            else:
                loaded = keras.models.load_model(last)
            for i, w in enumerate(loaded.get_weights()):
                arrays[f"checkpoint/{i}"] = w
        elif spec["kind"] == "csv":
            arrays["csv"] = np.frombuffer(Path(folder, spec["kwargs"]["filename"]).read_bytes(), dtype=np.uint8)
    if spec["kind"] == "nan":
        if not {"nan_row", "big_row"} & set(spec["data"]):
            check_overflow(spec, trace)
        arrays["trace"] = np.array(trace, dtype=np.float64)
    elif spec["kind"] == "lambda":
        arrays["trace"] = np.array(json.dumps(trace))
    arrays.update(
        {
            "spec": np.array(json.dumps(spec, sort_keys=True)),
            "x": X,
            "y": y,
            "history_keys": np.array(sorted(history)),
            "epochs_run": np.array(len(history["loss"])),
            "iterations": np.array(int(model.optimizer.iterations.numpy())),
            "versions": versions(keras),
        }
    )
    add_trajectory(arrays, history, w0, model.get_weights())
    return save(FIXTURES, spec["name"], arrays)


def _describe(path: Path) -> dict:
    with np.load(path) as f:
        return {"epochs_run": f["epochs_run"].item(), "files": json.loads(str(f["files"]))}


def main(names: list[str]) -> None:
    record_all(CASES, names, record, _describe)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    main(sys.argv[1:])
