"""Record the Keras parity fixtures of weight constraints, activity regularizers and activation layers used as a
layer's activation: run by hand with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_constraints.py            # every case, and the values fixture
    /tmp/tfenv/bin/python tests/parity/record_constraints.py NAME ...   # some cases
    /tmp/tfenv/bin/python tests/parity/record_constraints.py --check-gradfit-file   # gradfit's .keras in Keras

Each case in ``CASES`` is trained in Keras for 2 epochs (float32, ``shuffle=False``, initial weights drawn with
NumPy by ``glorot_weights``) and ``fixtures/constraints/<name>.npz`` holds the spec, the data, the initial
weights, the History, the weights after every epoch, the final weights, ``predict``, ``evaluate``, the activity
penalties of one call and every layer's Keras config; ``<name>.keras`` is the trained model as Keras saved it.
Constraints, regularizers and activation layers are written in the specs as Keras's serialized objects, which
``keras.*.get`` and ``gradfit.keras.*.get`` both read.

``fixtures/constraints/values.npz``: each constraint applied to fixed float32 arrays (Keras's formulas, epsilon
included).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test imports this module
from recording import (  # noqa: E402
    REPO,
    add_trajectory,
    build_sequential,
    fit_kwargs,
    glorot_weights,
    record_all,
    save,
    versions,
)

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "constraints"


def obj(class_name: str, module: str, **config) -> dict:
    """Keras's serialized form of a constraint, regularizer or layer (read by both libraries' ``get``)."""
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def constraint(class_name: str, **config) -> dict:
    return obj(class_name, "keras.constraints", **config)


def regularizer(class_name: str, **config) -> dict:
    return obj(class_name, "keras.regularizers", **config)


def layer(class_name: str, **config) -> dict:
    return obj(class_name, "keras.layers", **config)


CASES: list[dict] = [
    {
        # MaxNorm tight enough to bind on the hidden kernel, NonNeg on its bias, MinMaxNorm (rate < 1) on the output
        "name": "constraints_maxnorm_nonneg_minmax_sgd",
        "input_shape": [5],
        "layers": [
            [
                "Dense",
                {
                    "units": 8,
                    "activation": "relu",
                    "kernel_constraint": constraint("MaxNorm", max_value=0.6, axis=0),
                    "bias_constraint": constraint("NonNeg"),
                },
            ],
            [
                "Dense",
                {"units": 1, "kernel_constraint": constraint("MinMaxNorm", min_value=0.5, max_value=0.8, rate=0.7)},
            ],
        ],
        "loss": ["MeanSquaredError", {}],
        "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.5}],
        "metrics": ["mae"],
        "fit": {"batch_size": 16, "epochs": 2, "validation_split": 0.25},
        "data": {"kind": "regression", "n": 64, "features": 5, "seed": 11},
    },
    {
        # constraints on BatchNormalization's and LayerNormalization's gamma and beta, UnitNorm over axis 1
        "name": "constraints_normalization_unitnorm_adam",
        "input_shape": [4],
        "layers": [
            # no bias before BatchNormalization: its gradient is float rounding noise, which Adam would amplify
            ["Dense", {"units": 6, "use_bias": False, "kernel_constraint": constraint("UnitNorm", axis=1)}],
            [
                "BatchNormalization",
                {"gamma_constraint": constraint("NonNeg"), "beta_constraint": constraint("MaxNorm", max_value=0.05)},
            ],
            ["Dense", {"units": 4, "activation": "tanh"}],
            [
                "LayerNormalization",
                {
                    "gamma_constraint": constraint("MinMaxNorm", min_value=0.0, max_value=1.5),
                    "beta_constraint": constraint("NonNeg"),
                },
            ],
            ["Dense", {"units": 1, "activation": "sigmoid", "kernel_constraint": constraint("NonNeg")}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.05}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 16, "epochs": 2, "validation_split": 0.25},
        "data": {"kind": "binary", "n": 64, "features": 4, "seed": 12},
    },
    {
        # activity penalties on a hidden layer and on the sigmoid output fused with the cross-entropy
        "name": "activity_dense_sigmoid_bce_sgd",
        "input_shape": [4],
        "layers": [
            ["Dense", {"units": 6, "activation": "tanh", "activity_regularizer": regularizer("L2", l2=0.05)}],
            ["Dense", {"units": 1, "activation": "sigmoid", "activity_regularizer": regularizer("L1", l1=0.1)}],
        ],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.2}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 10, "epochs": 2, "validation_split": 0.25},
        "data": {"kind": "binary", "n": 60, "features": 4, "seed": 13},
    },
    {
        # a LeakyReLU layer as Dense's activation, activity penalties on it, on a ReLU layer, on a Dropout layer
        # and on the Softmax output layer fused with the cross-entropy; a weight penalty beside them
        "name": "activity_leakyrelu_layer_softmax_adam",
        "input_shape": [5],
        "layers": [
            [
                "Dense",
                {
                    "units": 8,
                    "activation": layer("LeakyReLU", negative_slope=0.2),
                    "activity_regularizer": regularizer("L1L2", l1=0.01, l2=0.02),
                    "kernel_regularizer": regularizer("L2", l2=0.01),
                },
            ],
            ["Dense", {"units": 6}],
            ["ReLU", {"activity_regularizer": regularizer("L1", l1=0.02)}],
            ["Dropout", {"rate": 0.0, "activity_regularizer": regularizer("L2", l2=0.01)}],
            ["Dense", {"units": 3}],
            ["Softmax", {"activity_regularizer": regularizer("L2", l2=0.1)}],
        ],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 16, "epochs": 2, "validation_split": 0.2},
        "data": {"kind": "classes", "n": 80, "features": 5, "classes": 3, "seed": 14},
    },
    {
        # activation layers as Dense's activation: ReLU with a cap, the softmax output (fused: it is a softmax)
        "name": "activation_layer_objects_rmsprop",
        "input_shape": [5],
        "layers": [
            ["Dense", {"units": 7, "activation": layer("ReLU", max_value=0.8, negative_slope=0.1)}],
            ["Dense", {"units": 3, "activation": layer("Softmax")}],
        ],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 16, "epochs": 2},
        "data": {"kind": "classes", "n": 64, "features": 5, "classes": 3, "seed": 15},
    },
]

#: constraints applied to fixed arrays for ``values.npz`` (name, serialized constraint)
VALUE_CASES = [
    ("max_norm_default", constraint("MaxNorm")),
    ("max_norm_0_5_axis1", constraint("MaxNorm", max_value=0.5, axis=1)),
    ("max_norm_axes", constraint("MaxNorm", max_value=1.0, axis=[0, 1])),
    ("non_neg", constraint("NonNeg")),
    ("unit_norm", constraint("UnitNorm")),
    ("unit_norm_axis1", constraint("UnitNorm", axis=1)),
    ("min_max_norm", constraint("MinMaxNorm", min_value=0.5, max_value=1.2)),
    ("min_max_norm_rate", constraint("MinMaxNorm", min_value=1.0, max_value=2.0, rate=0.3, axis=1)),
    ("base_constraint", constraint("Constraint")),
]


def value_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "matrix": rng.normal(scale=0.8, size=(5, 4)).astype(np.float32),
        "tiny": (rng.normal(size=(3, 2)) * 1e-4).astype(np.float32),
        "zeros": np.zeros((2, 3), np.float32),
        "tensor3": rng.normal(size=(2, 3, 4)).astype(np.float32),
    }


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    x = rng.normal(size=(d["n"], d["features"])).astype(np.float32)
    w = rng.normal(size=d["features"])
    if d["kind"] == "regression":
        y = (x @ w + 0.1 * rng.normal(size=d["n"])).reshape(-1, 1)
    elif d["kind"] == "binary":
        y = (x @ w > 0).astype(np.float64).reshape(-1, 1)
    else:
        y = np.argmax(x[:, : d["classes"]] + 0.5 * rng.normal(size=(d["n"], d["classes"])), axis=1)
    return x, y.astype(np.float32)


def initial_weights(spec: dict, model) -> list[np.ndarray]:
    """Both libraries start from these (BatchNormalization's moving statistics: 0 and 1, gamma 1, beta 0)."""
    rng = np.random.default_rng(1000 + spec["data"]["seed"])
    drawn = glorot_weights(model, rng)
    out = []
    for w, name in zip(drawn, weight_names(model), strict=True):
        if name.endswith(("moving_mean", "beta")):
            out.append(np.zeros_like(w))
        elif name.endswith(("moving_variance", "gamma")):
            out.append(np.ones_like(w))
        else:
            out.append(w)
    return out


def weight_names(model) -> list[str]:
    """``layer/weight`` for each array of ``get_weights``, in both libraries (gradfit: its specs' names)."""
    names = []
    for lyr in model.layers:
        if hasattr(lyr, "_specs"):  # gradfit
            specs = lyr.trainable_specs + lyr.non_trainable_specs
            names += [f"{lyr.name}/{s.name}" for s in specs]
        else:
            names += [f"{lyr.name}/{v.name.split('/')[-1]}" for v in lyr.weights]
    return names


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    model = build_sequential(keras, spec)
    x, y = make_data(spec)
    initial = initial_weights(spec, model)
    model.set_weights(initial)

    per_epoch = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            per_epoch.append([np.array(w) for w in self.model.get_weights()])

    history = model.fit(x, y, **fit_kwargs(spec), callbacks=[Snapshot()])
    arrays = {"spec": np.array(json.dumps(spec)), "versions": versions(keras), "x": x, "y": y}
    add_trajectory(arrays, history.history, initial, model.get_weights())
    for e, weights in enumerate(per_epoch):
        for i, w in enumerate(weights):
            arrays[f"epoch/{e}/{i}"] = w
    arrays["predict"] = model.predict(x, verbose=0)
    arrays["evaluate"] = np.asarray(model.evaluate(x, y, verbose=0), dtype=np.float64)
    # the activity penalties of one call (training=False), in layer order: what Keras adds to the loss
    model(x[:10], training=False)
    arrays["activity_losses"] = np.asarray([float(v) for v in model.losses], dtype=np.float64)
    arrays["configs"] = np.array(json.dumps([lyr.get_config() for lyr in model.layers]))
    model.save(FIXTURES / f"{spec['name']}.keras")  # gradfit must load Keras's file and predict the same
    return save(FIXTURES, spec["name"], arrays)


def record_values() -> Path:
    import keras

    arrays = {"versions": versions(keras), "cases": np.array(json.dumps(VALUE_CASES))}
    for key, arr in value_inputs().items():
        arrays[f"input/{key}"] = arr
    for name, serialized in VALUE_CASES:
        c = keras.constraints.get(serialized)
        arrays[f"config/{name}"] = np.array(json.dumps(keras.constraints.serialize(c)))
        for key, arr in value_inputs().items():
            if arr.ndim == 2 or name in ("non_neg", "max_norm_axes", "base_constraint"):
                arrays[f"value/{name}/{key}"] = np.asarray(c(arr))
    return save(FIXTURES, "values", arrays)


def check_gradfit_file_in_keras() -> float:
    """gradfit trains each case's model for its 2 epochs and saves it; Keras 3 loads it (constraints, activity
    regularizers and activation layers read back as Keras's own) and must predict and evaluate the same."""
    import tempfile

    sys.path.insert(0, str(REPO))
    import keras

    import gradfit.keras as G

    worst = 0.0
    for spec in CASES:
        x, y = make_data(spec)
        ours = build_sequential(G, spec)
        ours.set_weights(initial_weights(spec, ours))
        ours.fit(x, y, **fit_kwargs(spec))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            ours.save(path)
            theirs = keras.models.load_model(path)
        for layer in theirs.layers:
            for key in ("kernel_constraint", "bias_constraint", "gamma_constraint", "beta_constraint"):
                mine = getattr(ours.get_layer(layer.name), key, None)
                if mine is not None:
                    assert type(getattr(layer, key)).__name__ == type(mine).__name__, (spec["name"], key)
        predicted = float(np.max(np.abs(theirs.predict(x, verbose=0) - ours.predict(x, verbose=0))))
        evaluated = abs(float(np.ravel(theirs.evaluate(x, y, verbose=0))[0]) - float(ours.evaluate(x, y, verbose=0)[0]))
        print(
            f"{spec['name']}: Keras predicts gradfit's saved model within {predicted:.1e}, evaluates within "
            f"{evaluated:.1e} (activity penalties included)"
        )
        worst = max(worst, predicted, evaluated)
    if worst > 1e-5:
        raise SystemExit(f"Keras does not reproduce gradfit's saved models: worst difference {worst:.1e}")
    return worst


def main(names: list[str]) -> None:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if names == ["--check-gradfit-file"]:
        check_gradfit_file_in_keras()
        return
    record_all(CASES, names, record)
    if not names:
        print(record_values())


if __name__ == "__main__":
    main(sys.argv[1:])
