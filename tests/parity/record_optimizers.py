"""Record the optimizer parity fixtures: run by hand in a throwaway environment with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_optimizers.py            # every case, and the float64 rules
    /tmp/tfenv/bin/python tests/parity/record_optimizers.py NAME ...   # some cases

Two kinds of fixture, in ``fixtures/optimizers/``:

* ``<case>.npz`` for each of ``CASES``: a small model trained in Keras (TensorFlow backend, float32,
  ``shuffle=False``) one epoch at a time, with the weights and the loss after every epoch and the optimizer's
  variables (``optimizer.variables``, Keras's order) at the end. ``test_optimizers_parity.py`` replays it.
* ``<case>.keras`` for the cases with ``save_after``: the Keras model saved after that many epochs, optimizer
  state included; the test loads it in gradfit and trains the remaining epochs, which must follow Keras's.
* ``keras_defaults.json``: ``get_config()`` of each Keras optimizer gradfit has, built with no arguments (the
  defaults every registered gradfit optimizer must share).
* ``rules_float64.npz``: every case of ``tests/optimizer_rules.py`` run by Keras itself on float64 variables
  (one ``apply`` per gradient), so that the test suite checks the hand-written rules against Keras too.

This module imports neither TensorFlow nor gradfit at import time: ``build`` takes the ``keras`` module to use,
and the test imports ``CASES`` and ``build`` from here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "optimizers"

# regression (mse) or 3 classes (categorical cross-entropy), 64 examples, batch 16: 4 steps an epoch
_REGRESSION = {"kind": "regression", "n": 64, "features": 4, "outputs": 2, "seed": 1}
_CLASSES = {"kind": "classes", "n": 64, "features": 4, "classes": 3, "seed": 2}

#: ``optimizer``: [class name in keras.optimizers, kwargs]; a ``learning_rate`` given as
#: ``["ExponentialDecay", kwargs]`` is that schedule
CASES: list[dict] = [
    {
        "name": "nadam",
        "save_after": 3,
        "optimizer": ["Nadam", {"learning_rate": 0.01}],
        "data": _REGRESSION,
        "epochs": 8,
    },
    {
        "name": "nadam_schedule_clipnorm_weight_decay",
        "save_after": 3,
        "optimizer": [
            "Nadam",
            {
                "learning_rate": [
                    "ExponentialDecay",
                    {"initial_learning_rate": 0.02, "decay_steps": 5, "decay_rate": 0.5},
                ],
                "clipnorm": 0.5,
                "weight_decay": 0.05,
            },
        ],
        "data": _CLASSES,
        "epochs": 6,
    },
    {
        "name": "adamax",
        "save_after": 3,
        "optimizer": ["Adamax", {"learning_rate": 0.02}],
        "data": _REGRESSION,
        "epochs": 8,
    },
    {
        "name": "adamax_global_clipnorm",
        "optimizer": ["Adamax", {"learning_rate": 0.05, "beta_2": 0.9, "global_clipnorm": 0.3}],
        "data": _CLASSES,
        "epochs": 6,
    },
    {
        "name": "lion",
        "save_after": 3,
        "optimizer": ["Lion", {"learning_rate": 0.002}],
        "data": _REGRESSION,
        "epochs": 8,
    },
    {
        "name": "lion_weight_decay",
        "optimizer": ["Lion", {"learning_rate": 0.003, "beta_1": 0.5, "beta_2": 0.9, "weight_decay": 0.1}],
        "data": _CLASSES,
        "epochs": 6,
    },
    {
        "name": "adadelta",
        "save_after": 3,
        "optimizer": ["Adadelta", {"learning_rate": 1.0}],
        "data": _REGRESSION,
        "epochs": 8,
    },
    {
        "name": "adadelta_clipvalue",
        "optimizer": ["Adadelta", {"learning_rate": 0.5, "rho": 0.8, "clipvalue": 0.05}],
        "data": _CLASSES,
        "epochs": 6,
    },
    {"name": "ftrl", "optimizer": ["Ftrl", {"learning_rate": 0.1}], "data": _REGRESSION, "epochs": 8},
    {
        "name": "ftrl_regularized",
        "save_after": 3,
        "optimizer": [
            "Ftrl",
            {
                "learning_rate": 0.2,
                "learning_rate_power": -0.3,
                "initial_accumulator_value": 0.2,
                "l1_regularization_strength": 0.002,
                "l2_regularization_strength": 0.01,
                "l2_shrinkage_regularization_strength": 0.01,
                "beta": 0.1,
            },
        ],
        "data": _CLASSES,
        "epochs": 6,
    },
    # the optimizers gradfit had before, through the clipping that now writes into a buffer of its own
    {
        "name": "adam_amsgrad_clipnorm",
        "optimizer": ["Adam", {"learning_rate": 0.02, "amsgrad": True, "clipnorm": 0.2}],
        "data": _CLASSES,
        "epochs": 6,
    },
    {
        "name": "rmsprop_centered_momentum_clipvalue",
        "optimizer": ["RMSprop", {"learning_rate": 0.005, "centered": True, "momentum": 0.5, "clipvalue": 0.1}],
        "data": _REGRESSION,
        "epochs": 6,
    },
]


def make_data(d: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(d["seed"])
    X = rng.normal(size=(d["n"], d["features"])).astype(np.float32)
    if d["kind"] == "regression":
        a = rng.normal(size=(d["features"], d["outputs"]))
        y = np.sin(X @ a) + 0.1 * rng.normal(size=(d["n"], d["outputs"]))
        return X, y.astype(np.float32)
    centers = rng.normal(scale=1.5, size=(d["classes"], d["features"]))
    labels = rng.integers(0, d["classes"], size=d["n"])
    X = (X + centers[labels]).astype(np.float32)
    return X, np.eye(d["classes"], dtype=np.float32)[labels]


def initial_weights(shapes: list[tuple], seed: int) -> list[np.ndarray]:
    """Glorot-uniform kernels and small non-zero biases, from NumPy (so both libraries start identically)."""
    rng = np.random.default_rng(1000 + seed)
    out = []
    for shape in shapes:
        if len(shape) == 2:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(rng.uniform(-limit, limit, size=shape).astype(np.float32))
        else:
            out.append(rng.uniform(-0.1, 0.1, size=shape).astype(np.float32))
    return out


def make_optimizer(K, spec: dict):
    name, kwargs = spec["optimizer"]
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, list):
        kwargs["learning_rate"] = getattr(K.optimizers.schedules, lr[0])(**lr[1])
    return getattr(K.optimizers, name)(**kwargs)


def build(K, spec: dict):
    """The case's model (``Dense(6, tanh)`` then the output layer), compiled with ``K`` (``keras`` or
    ``gradfit.keras``); weights not yet set."""
    d = spec["data"]
    regression = d["kind"] == "regression"
    model = K.Sequential(
        [
            K.Input(shape=(d["features"],)),
            K.layers.Dense(6, activation="tanh"),
            K.layers.Dense(d["outputs"] if regression else d["classes"], activation=None if regression else "softmax"),
        ]
    )
    loss = K.losses.MeanSquaredError() if regression else K.losses.CategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(K, spec), loss=loss)
    return model


def train(model, spec: dict, X, y, epochs=None, after_epoch=None) -> tuple[list[float], list[list[np.ndarray]]]:
    """One epoch at a time (``shuffle=False``, batch 16): the loss and the weights after each epoch;
    ``after_epoch(k)`` is called after the k-th."""
    losses, weights = [], []
    for k in range(1, (epochs or spec["epochs"]) + 1):
        history = model.fit(X, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
        losses.append(float(history["loss"][0]))
        weights.append([np.asarray(w) for w in model.get_weights()])
        if after_epoch is not None:
            after_epoch(k)
    return losses, weights


def record(spec: dict) -> Path:
    import keras

    sys.path.insert(0, str(HERE))
    from recording import save, versions

    keras.utils.set_random_seed(0)
    X, y = make_data(spec["data"])
    model = build(keras, spec)
    w0 = initial_weights([tuple(w.shape) for w in model.get_weights()], spec["data"]["seed"])
    model.set_weights(w0)

    def save_model(epoch: int) -> None:
        if epoch == spec.get("save_after"):
            model.save(FIXTURES / f"{spec['name']}.keras")

    losses, weights = train(model, spec, X, y, after_epoch=save_model)
    opt = model.optimizer
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "loss": np.asarray(losses, dtype=np.float64),
        "versions": versions(keras),
        "optimizer_variable_names": np.array([v.path.split("/", 1)[1] for v in opt.variables]),
    }
    for i, w in enumerate(w0):
        arrays[f"initial/{i}"] = w
    for epoch, ws in enumerate(weights):
        for i, w in enumerate(ws):
            arrays[f"epoch{epoch}/{i}"] = w
    for i, v in enumerate(opt.variables):
        arrays[f"optimizer/{i}"] = np.asarray(v.numpy())
    return save(FIXTURES, spec["name"], arrays)


def record_rules() -> Path:
    """Every case of ``tests/optimizer_rules.py`` in Keras, float64 throughout (floatx too, so that the learning
    rate is not rounded to float32), one ``apply`` per gradient."""
    import keras

    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import optimizer_rules as rules
    from recording import save, versions

    keras.backend.set_floatx("float64")
    try:
        arrays = {"versions": versions(keras)}
        for case_id, cls_name, kwargs, _, _ in rules.CASES:
            opt = getattr(keras.optimizers, cls_name)(**kwargs)
            var = keras.Variable(rules.W0.copy(), dtype="float64")
            steps = []
            for g in rules.GRADS:
                opt.apply([keras.ops.convert_to_tensor(g, "float64")], [var])
                steps.append(np.asarray(var.numpy()))
            arrays[case_id] = np.stack(steps)
    finally:
        keras.backend.set_floatx("float32")
    return save(FIXTURES, "rules_float64", arrays)


#: the Keras optimizers whose defaults are recorded (the gradfit classes of the same names must match them)
DEFAULTS = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lion", "Nadam", "RMSprop", "SGD"]


def record_defaults() -> Path:
    """``keras_defaults.json``: each optimizer's default config (its learning rate read back as float32)."""
    import keras

    out = {"keras": keras.__version__}
    for name in DEFAULTS:
        config = getattr(keras.optimizers, name)().get_config()
        config.pop("name")  # auto-numbered by Keras (adam, adam_1, …)
        out[name] = config
    path = FIXTURES / "keras_defaults.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return path


def main(names: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    from recording import REPO, record_all

    record_all(CASES, names, record)
    if not names:
        for path in (record_rules(), record_defaults()):
            print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
