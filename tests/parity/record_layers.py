"""Record the Keras parity fixtures of the layers beyond ``Dense``: run by hand with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_layers.py            # all cases
    /tmp/tfenv/bin/python tests/parity/record_layers.py NAME ...   # some cases

Each case in ``LAYER_CASES`` is a small model using ``Flatten``, ``Activation``, ``ReLU``, ``LeakyReLU``,
``Softmax``, ``Dropout`` (rate 0: dropout masks are random, so its statistics are tested in
``tests/test_layers_extra.py`` instead) and ``BatchNormalization``. The data and the initial weights are made
with NumPy from fixed seeds; the model is trained in Keras (TensorFlow backend, float32, ``shuffle=False``) and
``fixtures/layers/<name>.npz`` holds the spec (JSON), ``x`` (for the digits: the row indices into the shared
file), ``y``, the initial weights, the per-epoch History, the ``BatchNormalization`` weights (moving statistics
included) after each epoch, the final weights, ``predict(x)`` (inference mode: moving statistics) and
``evaluate(x, y)``, plus every layer's Keras config (as ``keras.layers.serialize`` writes it).

The fixtures live in their own folder so that ``test_keras_parity.py`` (which replays ``fixtures/*.npz``
against ``cases.py``) does not pick them up; ``test_layers_parity.py`` replays them. This module imports
neither TensorFlow nor gradfit at import time: ``build`` takes the ``keras`` module to use.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test imports this module
from recording import DATA_DIR, add_trajectory, data_file, fit_kwargs, record_all, save, versions  # noqa: E402
from recording import build_sequential as build

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "layers"
DIGITS = DATA_DIR / "course_digits_0to9.npz"  # ../shared/data beside the repository

LAYER_CASES: list[dict] = [
    {
        # the course's digits as 20 x 20 images: Flatten feeds Dense; ReLU, LeakyReLU and a Softmax output layer
        "name": "layers_flatten_relu_leaky_softmax_digits_adam",
        "input_shape": [20, 20],
        "layers": [
            ["Flatten", {}],
            ["Dense", {"units": 25}],
            ["ReLU", {}],
            ["Dense", {"units": 15}],
            ["LeakyReLU", {}],
            ["Dense", {"units": 10}],
            ["Softmax", {}],
        ],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.002}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 6},
        "data": {"kind": "digits", "n": 300, "seed": 21},
    },
    {
        # saturated sigmoid output *layer*: only the exact loss from the logits (as TensorFlow computes it) matches
        "name": "layers_activation_sigmoid_saturated_bce_sgd",
        "input_shape": [3],
        "layers": [
            ["Dense", {"units": 4}],
            ["Activation", {"activation": "relu"}],
            ["Dense", {"units": 1}],
            ["Activation", {"activation": "sigmoid"}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 6},
        "init_scale": 4.0,
        "data": {"kind": "binary", "n": 80, "features": 3, "seed": 22, "x_scale": 6.0, "label_noise": 0.15},
    },
    {
        "name": "layers_activation_tanh_softmax_categorical_rmsprop",
        "input_shape": [4],
        "layers": [
            ["Dense", {"units": 8}],
            ["Activation", {"activation": "tanh"}],
            ["Dense", {"units": 3}],
            ["Activation", {"activation": "softmax"}],
        ],
        "loss": ["CategoricalCrossentropy", {}],
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 25, "epochs": 8},
        "data": {"kind": "classes", "n": 100, "features": 4, "classes": 3, "seed": 23, "one_hot": True},
    },
    {
        # ReLU's options (relu6 path, clipping, threshold, slope) and a rate-0 Dropout inside a trained model
        "name": "layers_relu_options_dropout0_mse_adam",
        "input_shape": [4],
        "layers": [
            ["Dense", {"units": 12}],
            ["ReLU", {"max_value": 1.5, "negative_slope": 0.05, "threshold": 0.2}],
            ["Dropout", {"rate": 0.0}],
            ["Dense", {"units": 8}],
            ["ReLU", {"max_value": 6.0}],
            ["Dense", {"units": 6}],
            ["LeakyReLU", {"negative_slope": 0.1}],
            ["Dense", {"units": 2}],
        ],
        "loss": ["MeanSquaredError", {}],
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "metrics": ["mae"],
        "fit": {"batch_size": 16, "epochs": 8},
        "init_scale": 2.0,
        "data": {"kind": "regression", "n": 96, "features": 4, "outputs": 2, "seed": 24},
    },
    {
        # BatchNormalization between Dense and ReLU; validation (inference mode) after every epoch
        "name": "layers_batchnorm_relu_softmax_sgd_momentum",
        "input_shape": [5],
        "layers": [
            ["Dense", {"units": 10}],
            ["BatchNormalization", {"momentum": 0.9}],
            ["ReLU", {}],
            ["Dense", {"units": 3}],
            ["Softmax", {}],
        ],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 8, "validation_split": 0.2},
        "data": {
            "kind": "classes",
            "n": 120,
            "features": 5,
            "classes": 3,
            "seed": 25,
            "x_scale": 3.0,
            "x_shift": 2.0,
            "flat_y": True,
        },
    },
    {
        # BatchNormalization as the first layer (no dJ/dx needed), without beta; a second one without gamma
        "name": "layers_batchnorm_input_center_scale_adam",
        "input_shape": [3],
        "layers": [
            ["BatchNormalization", {"center": False, "gamma_regularizer": "l2"}],
            ["Dense", {"units": 8, "activation": "tanh"}],
            ["BatchNormalization", {"scale": False, "momentum": 0.95, "epsilon": 0.01}],
            ["Dense", {"units": 1}],
        ],
        "loss": ["MeanSquaredError", {}],
        "optimizer": ["Adam", {"learning_rate": 0.005}],
        "metrics": ["mae"],
        "fit": {"batch_size": 20, "epochs": 8},
        "data": {
            "kind": "regression",
            "n": 100,
            "features": 3,
            "outputs": 1,
            "seed": 26,
            "x_scale": 4.0,
            "x_shift": 10.0,
        },
    },
    {
        # BatchNormalization over axis 1 of (m, 3, 4) inputs, then Flatten
        "name": "layers_batchnorm_axis1_flatten_bce_sgd",
        "input_shape": [3, 4],
        "layers": [
            ["BatchNormalization", {"axis": 1, "momentum": 0.8}],
            ["Flatten", {}],
            ["Dense", {"units": 6, "activation": "sigmoid"}],
            ["Dense", {"units": 1, "activation": "sigmoid"}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.2}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 25, "epochs": 8},
        "data": {"kind": "grid", "n": 100, "shape": [3, 4], "seed": 27},
    },
]


def weight_names(spec: dict) -> list[tuple[str, str]]:
    """``(layer class, weight name)`` for every weight of the model, in ``get_weights`` order."""
    out = []
    for class_name, kwargs in spec["layers"]:
        if class_name == "Dense":
            out += [("Dense", "kernel"), ("Dense", "bias")]
        elif class_name == "BatchNormalization":
            names = ["gamma"] * kwargs.get("scale", True) + ["beta"] * kwargs.get("center", True)
            out += [("BatchNormalization", n) for n in names + ["moving_mean", "moving_variance"]]
    return out


def digit_rows(spec: dict) -> np.ndarray:
    """Which rows of the course's digits a ``digits`` case uses (the file is sorted by label, so a fixed
    random permutation picks them; see keras-numerics.md)."""
    d = spec["data"]
    return np.random.default_rng(d["seed"]).permutation(5000)[: d["n"]]


def load_digits(spec: dict, path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The images ``(n, 20, 20)`` and labels ``(n,)`` of a ``digits`` case (fixtures store only the row indices),
    from ``path`` or else ``DIGITS`` in ``../shared/data`` (:class:`recording.MissingData` when it is absent)."""
    rows = digit_rows(spec)
    with np.load(path if path is not None else data_file(DIGITS.name)) as f:
        X_all, y_all = f["X"], f["y"]
    n = len(rows)
    return X_all[rows].reshape(n, 20, 20).astype(np.float32), y_all[rows].reshape(n).astype(np.int64)


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n = d["n"]
    if d["kind"] == "digits":
        return load_digits(spec)
    if d["kind"] == "grid":
        shape = tuple(d["shape"])
        offsets = rng.normal(scale=3.0, size=shape[0])
        scales = rng.uniform(0.5, 4.0, size=shape[0])
        Z = rng.normal(size=(n,) + shape)
        X = Z * scales[:, None] + offsets[:, None]
        y = ((Z[:, 0].mean(axis=1) - Z[:, 2].mean(axis=1) + 0.3 * rng.normal(size=n)) > 0).astype(np.float32)
        return X.astype(np.float32), y.reshape(n, 1)
    f = d["features"]
    Z = rng.normal(size=(n, f))
    scale, shift = d.get("x_scale", 1.0), d.get("x_shift", 0.0)
    noise = d.get("label_noise", 0.0)
    if d["kind"] == "binary":
        w = rng.normal(size=f)
        y = ((Z @ w + 0.5 * rng.normal(size=n)) > 0).astype(np.float32)
        if noise:
            flip = rng.random(n) < noise
            y[flip] = 1 - y[flip]
        return (Z * scale + shift).astype(np.float32), y.reshape(n, 1)
    if d["kind"] == "classes":
        k = d["classes"]
        centers = rng.normal(scale=1.5, size=(k, f))
        labels = rng.integers(0, k, size=n)
        X = ((Z + centers[labels]) * scale + shift).astype(np.float32)
        if d.get("one_hot"):
            return X, np.eye(k, dtype=np.float32)[labels]
        return X, (labels if d.get("flat_y") else labels.reshape(n, 1)).astype(np.int64)
    if d["kind"] == "regression":
        a = rng.normal(size=(f, d["outputs"]))
        y = np.sin(Z @ a) + 0.5 * (Z[:, :1] ** 2) + 0.1 * rng.normal(size=(n, d["outputs"]))
        return (Z * scale + shift).astype(np.float32), y.astype(np.float32)
    raise ValueError(d["kind"])


def initial_weights(spec: dict, model) -> list[np.ndarray]:
    """Glorot-uniform kernels (times ``init_scale``), small biases; BatchNormalization weights near their defaults
    but not equal to them, so that every weight matters."""
    rng = np.random.default_rng(2000 + spec["data"]["seed"])
    scale = spec.get("init_scale", 1.0)
    out = []
    for (_, name), w in zip(weight_names(spec), model.get_weights(), strict=True):
        if name == "kernel":
            limit = scale * np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
            value = rng.uniform(-limit, limit, size=w.shape)
        elif name == "gamma":
            value = rng.uniform(0.8, 1.2, size=w.shape)
        elif name == "moving_mean":
            value = rng.uniform(-0.2, 0.2, size=w.shape)
        elif name == "moving_variance":
            value = rng.uniform(0.5, 1.5, size=w.shape)
        else:  # bias, beta
            value = rng.uniform(-0.1, 0.1, size=w.shape)
        out.append(value.astype(np.float32))
    return out


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    model = build(keras, spec)
    w0 = initial_weights(spec, model)
    model.set_weights(w0)

    snapshots: list[list[np.ndarray]] = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([np.array(w) for w in self.model.get_weights()])

    history = model.fit(X, y, callbacks=[Snapshot()], **fit_kwargs(spec)).history
    evaluated = model.evaluate(X, y, verbose=0, return_dict=True)
    configs = [keras.layers.serialize(layer) for layer in model.layers]  # {'class_name': …, 'config': …}
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "y": y,
        "pred": model.predict(X, verbose=0),
        "evaluate_keys": np.array(sorted(evaluated)),
        "evaluate": np.array([float(evaluated[k]) for k in sorted(evaluated)]),
        "history_keys": np.array(sorted(history)),
        "keras_configs": np.array(json.dumps(configs, default=list)),
        "versions": versions(keras),
    }
    if spec["data"]["kind"] == "digits":  # 480 KB of pixels: store which rows of the shared file instead
        arrays["rows"] = digit_rows(spec)
    else:
        arrays["x"] = X
    add_trajectory(arrays, history, w0, model.get_weights())
    # after every epoch: the weights that are not plain Dense ones (BatchNormalization's, moving statistics
    # included); Dense kernels are checked at the end
    tracked = [i for i, (layer, _) in enumerate(weight_names(spec)) if layer != "Dense"]
    for e, weights in enumerate(snapshots):
        for i in tracked:
            arrays[f"epoch{e}/{i}"] = weights[i]
    return save(FIXTURES, spec["name"], arrays)


def main(names: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums
    record_all(LAYER_CASES, names, record)


if __name__ == "__main__":
    main(sys.argv[1:])
