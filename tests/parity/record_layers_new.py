"""Record the Keras parity fixtures of ``LayerNormalization``, ``Rescaling``, ``Identity``, ``GaussianNoise`` and
``GaussianDropout``: run by hand with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_layers_new.py            # all cases, and the .keras file
    /tmp/tfenv/bin/python tests/parity/record_layers_new.py NAME ...   # some cases
    /tmp/tfenv/bin/python tests/parity/record_layers_new.py --check-gradfit-file   # gradfit's .keras in Keras

Each case in ``CASES`` is trained in Keras exactly as in ``record_layers.py`` (same data makers, float32,
``shuffle=False``) and ``fixtures/layers_new/<name>.npz`` holds the spec, the data, the initial weights, the
History, the ``LayerNormalization`` weights after every epoch, the final weights, ``predict``, ``evaluate`` and
every layer's Keras config. The noise layers draw random numbers that cannot match TensorFlow's, so they are
trained with their noise switched off (``stddev=0``, ``rate=0``: exact trajectories) and, with their noise on,
only checked where they are deterministic: ``inference`` cases record ``predict`` and ``evaluate`` of a model
holding the given weights (inference mode, the layers pass their input through), the output shapes and configs.

``layer_normalization.keras`` (with ``.expected.npz``) is a model Keras saved after training with a
``LayerNormalization``: gradfit must load it and predict the same. ``--check-gradfit-file`` checks the other
direction: gradfit trains and saves each case's model, Keras 3 loads it and must predict the same (1e-6).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test imports this module
from record_layers import fit_kwargs, make_data  # noqa: E402
from recording import REPO, add_trajectory, record_all, save, versions  # noqa: E402
from recording import build_sequential as build

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "layers_new"
KERAS_FILE = FIXTURES / "layer_normalization.keras"

CASES: list[dict] = [
    {
        # LayerNormalization after a hidden Dense layer, trained with Adam on three classes
        "name": "layers_new_layernorm_relu_softmax_adam",
        "input_shape": [5],
        "layers": [
            ["Dense", {"units": 10}],
            ["LayerNormalization", {}],
            ["ReLU", {}],
            ["Dense", {"units": 3}],
            ["Softmax", {}],
        ],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 8, "validation_split": 0.2},
        "data": {"kind": "classes", "n": 120, "features": 5, "classes": 3, "seed": 41, "x_scale": 3.0, "flat_y": True},
    },
    {
        # Rescaling of large inputs, LayerNormalization over two axes (first layer: no dJ/dx), Identity, a
        # LayerNormalization without beta and with an L2 penalty on gamma, Keras's deprecated rms_scaling
        "name": "layers_new_rescaling_layernorm_axes_identity_sgd",
        "input_shape": [3, 4],
        "layers": [
            ["Rescaling", {"scale": 0.05, "offset": -0.5}],
            ["LayerNormalization", {"axis": [1, 2], "epsilon": 0.01}],
            ["Flatten", {}],
            ["Dense", {"units": 8, "activation": "tanh"}],
            ["Identity", {}],
            ["LayerNormalization", {"center": False, "gamma_regularizer": "l2"}],
            ["Dense", {"units": 6}],
            ["LayerNormalization", {"rms_scaling": True}],
            ["Dense", {"units": 1}],
        ],
        "loss": ["MeanSquaredError", {}],
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9}],
        "metrics": ["mae"],
        "fit": {"batch_size": 25, "epochs": 8},
        "data": {"kind": "grid", "n": 100, "shape": [3, 4], "seed": 42},
    },
    {
        # per-channel Rescaling (a list), LayerNormalization over axis 1 of (m, 3, 4), and the noise layers with
        # their noise off, which makes their training path deterministic
        "name": "layers_new_rescaling_channels_noise_off_bce_rmsprop",
        "input_shape": [3, 4],
        "layers": [
            ["Rescaling", {"scale": [0.5, 1.0, 2.0, 0.25], "offset": [0.0, 0.1, -0.1, 0.0]}],
            ["GaussianNoise", {"stddev": 0.0}],
            ["LayerNormalization", {"axis": 1, "scale": False}],
            ["Flatten", {}],
            ["Dense", {"units": 6, "activation": "relu"}],
            ["GaussianDropout", {"rate": 0.0}],
            ["Dense", {"units": 1, "activation": "sigmoid"}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["RMSprop", {"learning_rate": 0.005}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 20, "epochs": 8},
        "data": {"kind": "grid", "n": 100, "shape": [3, 4], "seed": 43},
    },
    {
        # the noise layers with their noise on: not trained (TensorFlow's draws cannot be reproduced); predict and
        # evaluate run in inference mode, where both pass their input through
        "name": "layers_new_noise_inference",
        "inference": True,
        "input_shape": [4],
        "layers": [
            ["GaussianNoise", {"stddev": 0.5, "seed": 3}],
            ["Dense", {"units": 6, "activation": "relu"}],
            ["GaussianDropout", {"rate": 0.4}],
            ["Dense", {"units": 1, "activation": "sigmoid"}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "data": {"kind": "binary", "n": 64, "features": 4, "seed": 44},
    },
]


def weight_names(spec: dict) -> list[tuple[str, str]]:
    """``(layer class, weight name)`` for every weight of the model, in ``get_weights`` order."""
    out = []
    for class_name, kwargs in spec["layers"]:
        if class_name == "Dense":
            out += [("Dense", "kernel"), ("Dense", "bias")]
        elif class_name == "LayerNormalization":
            rms = kwargs.get("rms_scaling", False)
            names = ["gamma"] * (kwargs.get("scale", True) or rms) + ["beta"] * (kwargs.get("center", True) and not rms)
            out += [("LayerNormalization", n) for n in names]
    return out


def initial_weights(spec: dict, model) -> list[np.ndarray]:
    """Glorot-uniform kernels, small biases, gamma in [0.8, 1.2] and beta in [-0.1, 0.1]: every weight matters."""
    rng = np.random.default_rng(3000 + spec["data"]["seed"])
    out = []
    for (_, name), w in zip(weight_names(spec), model.get_weights(), strict=True):
        if name == "kernel":
            limit = np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
            value = rng.uniform(-limit, limit, size=w.shape)
        elif name == "gamma":
            value = rng.uniform(0.8, 1.2, size=w.shape)
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
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "versions": versions(keras),
        "output_shapes": np.array(json.dumps([list(layer.output.shape) for layer in model.layers])),
    }
    if spec.get("inference"):
        history, final = {}, w0
    else:
        snapshots: list[list[np.ndarray]] = []

        class Snapshot(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                snapshots.append([np.array(w) for w in self.model.get_weights()])

        history = model.fit(X, y, callbacks=[Snapshot()], **fit_kwargs(spec)).history
        final = model.get_weights()
        tracked = [i for i, (layer, _) in enumerate(weight_names(spec)) if layer != "Dense"]
        for e, weights in enumerate(snapshots):
            for i in tracked:
                arrays[f"epoch{e}/{i}"] = weights[i]
    evaluated = model.evaluate(X, y, verbose=0, return_dict=True)
    arrays["pred"] = model.predict(X, verbose=0)
    arrays["evaluate_keys"] = np.array(sorted(evaluated))
    arrays["evaluate"] = np.array([float(evaluated[k]) for k in sorted(evaluated)])
    arrays["history_keys"] = np.array(sorted(history), dtype=str)
    arrays["keras_configs"] = np.array(
        json.dumps([keras.layers.serialize(layer) for layer in model.layers], default=list)
    )
    add_trajectory(arrays, history, w0, final)
    return save(FIXTURES, spec["name"], arrays)


def record_keras_file() -> Path:
    """A model with LayerNormalization trained a little in Keras and saved as ``.keras``, with its predictions."""
    import keras

    spec = CASES[0]
    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    model = build(keras, spec)
    model.set_weights(initial_weights(spec, model))
    model.fit(X, y, **{**fit_kwargs(spec), "epochs": 2})
    FIXTURES.mkdir(parents=True, exist_ok=True)
    model.save(KERAS_FILE)
    np.savez_compressed(
        KERAS_FILE.with_suffix(".expected.npz"),
        x=X,
        y=y,
        pred=model.predict(X, verbose=0),
        weights_count=np.array(len(model.get_weights())),
        **{f"weight/{i}": w for i, w in enumerate(model.get_weights())},
    )
    return KERAS_FILE


def check_gradfit_file_in_keras() -> float:
    """gradfit trains each case's model a little and saves it; Keras 3 loads it and predicts: the worst difference."""
    sys.path.insert(0, str(REPO))
    import keras

    import gradfit.keras as G

    worst = 0.0
    for spec in CASES:
        X, y = make_data(spec)
        ours = build(G, spec)
        ours.set_weights(initial_weights(spec, ours))
        if not spec.get("inference"):
            ours.fit(X, y, **{**fit_kwargs(spec), "epochs": 2})
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.keras"
            ours.save(path)
            theirs = keras.saving.load_model(path)
        diff = float(np.max(np.abs(theirs.predict(X, verbose=0) - ours.predict(X, verbose=0))))
        kinds = [type(layer).__name__ for layer in theirs.layers]
        print(f"{spec['name']}: Keras {keras.__version__} loaded {kinds}; max |predict difference| {diff:.2e}")
        worst = max(worst, diff)
    return worst


def main(args: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums
    if args == ["--check-gradfit-file"]:
        raise SystemExit(0 if check_gradfit_file_in_keras() < 1e-6 else 1)
    record_all(CASES, args, record)
    if not args:
        print(f"{record_keras_file().relative_to(REPO)}")


if __name__ == "__main__":
    main(sys.argv[1:])
