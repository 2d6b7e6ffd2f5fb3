"""Record the Keras parity fixtures of the losses and activations added for issue #10: run by hand with
TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_losses.py            # every case, and values.npz
    /tmp/tfenv/bin/python tests/parity/record_losses.py NAME ...   # some cases

Two kinds of fixture, in ``fixtures/losses/``:

* ``<case>.npz``: a small model trained in Keras (TensorFlow backend, float32, ``shuffle=False``) with one of
  the new losses and activations: the spec (JSON), ``x``, ``y``, the initial weights, the per-epoch History,
  the final weights, ``predict(x)`` and ``evaluate(x, y)``. The data and the initial weights come from NumPy
  with fixed seeds.
* ``values.npz``: each new loss and activation called directly on fixed float32 arrays: Keras's values
  (per example and reduced, with sample weights), their gradients from ``tf.GradientTape``, the loss classes'
  ``get_config()``, and the names ``keras.losses.get`` / ``keras.activations.get`` accept.

This module imports neither TensorFlow nor gradfit at import time: ``build`` takes the ``keras`` module to use.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test imports this module
from recording import add_trajectory, fit_kwargs, glorot_weights, record_all, save, versions  # noqa: E402
from recording import build_sequential as build

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "losses"

#: the losses and activations these fixtures cover
NEW_LOSSES = (
    "BinaryFocalCrossentropy",
    "CategoricalHinge",
    "Hinge",
    "KLDivergence",
    "LogCosh",
    "Poisson",
    "SquaredHinge",
)
NEW_ACTIVATIONS = (
    "celu",
    "hard_shrink",
    "hard_silu",
    "hard_tanh",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "soft_shrink",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "tanh_shrink",
)


def _case(name, layers, loss, optimizer, data, features=4, epochs=6, batch_size=16, metrics=()):
    return {
        "name": name,
        "input_shape": [features],
        "layers": layers,
        "loss": loss,
        "optimizer": optimizer,
        "metrics": list(metrics),
        "fit": {"batch_size": batch_size, "epochs": epochs},
        "data": {**data, "features": features},
    }


LOSS_CASES: list[dict] = [
    _case(
        "kld_softmax_adam",
        [["Dense", {"units": 8, "activation": "tanh"}], ["Dense", {"units": 3, "activation": "softmax"}]],
        ["KLDivergence", {}],
        ["Adam", {"learning_rate": 0.01}],
        {"kind": "distribution", "n": 96, "outputs": 3, "seed": 41},
    ),
    _case(
        "poisson_softplus_sgd",
        [["Dense", {"units": 6, "activation": "relu"}], ["Dense", {"units": 2, "activation": "softplus"}]],
        ["Poisson", {}],
        ["SGD", {"learning_rate": 0.05}],
        {"kind": "counts", "n": 96, "outputs": 2, "seed": 42},
    ),
    _case(
        "log_cosh_mish_rmsprop",
        [["Dense", {"units": 8, "activation": "mish"}], ["Dense", {"units": 2}]],
        ["LogCosh", {}],
        ["RMSprop", {"learning_rate": 0.01}],
        {"kind": "regression", "n": 96, "outputs": 2, "seed": 43, "y_scale": 3.0},
    ),
    _case(
        # a sigmoid output: Keras computes the cross-entropy factor from its logits
        "focal_sigmoid_balanced_hard_silu_adam",
        [["Dense", {"units": 6, "activation": "hard_silu"}], ["Dense", {"units": 1, "activation": "sigmoid"}]],
        ["BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3}],
        ["Adam", {"learning_rate": 0.02}],
        {"kind": "binary", "n": 96, "seed": 44, "x_scale": 3.0},
        metrics=["accuracy"],
    ),
    {
        # a saturated sigmoid output: only the cross-entropy computed from the logits (as TensorFlow does) matches
        **_case(
            "focal_sigmoid_saturated_sgd",
            [["Dense", {"units": 4, "activation": "relu"}], ["Dense", {"units": 1, "activation": "sigmoid"}]],
            ["BinaryFocalCrossentropy", {}],
            ["SGD", {"learning_rate": 0.05}],
            {"kind": "binary", "n": 80, "seed": 51, "x_scale": 6.0, "label_noise": 0.15},
            features=3,
        ),
        "init_scale": 4.0,
    },
    _case(
        "focal_logits_smoothing_gamma3_sgd",
        [["Dense", {"units": 5, "activation": "log_sigmoid"}], ["Dense", {"units": 2}]],
        ["BinaryFocalCrossentropy", {"from_logits": True, "gamma": 3.0, "label_smoothing": 0.1}],
        ["SGD", {"learning_rate": 0.1, "momentum": 0.9}],
        {"kind": "binary", "n": 96, "seed": 45, "outputs": 2},
    ),
    _case(
        # probabilities that are not a sigmoid's: the clipped cross-entropy (the clip passes no gradient)
        "focal_probabilities_hard_sigmoid_adam",
        [
            ["Dense", {"units": 4, "activation": "sparse_sigmoid"}],
            ["Dense", {"units": 1, "activation": "hard_sigmoid"}],
        ],
        ["BinaryFocalCrossentropy", {"gamma": 1.5}],
        ["Adam", {"learning_rate": 0.01}],
        {"kind": "binary", "n": 80, "seed": 46},
    ),
    _case(
        "hinge_01_labels_tanh_sgd",
        [["Dense", {"units": 6, "activation": "celu"}], ["Dense", {"units": 1, "activation": "tanh"}]],
        ["Hinge", {}],
        ["SGD", {"learning_rate": 0.1}],
        {"kind": "binary", "n": 96, "seed": 47},
    ),
    _case(
        "squared_hinge_signed_labels_adam",
        [["Dense", {"units": 6, "activation": "hard_tanh"}], ["Dense", {"units": 2}]],
        ["SquaredHinge", {}],
        ["Adam", {"learning_rate": 0.01}],
        {"kind": "binary", "n": 96, "seed": 48, "outputs": 2, "signed": True},
    ),
    _case(
        "categorical_hinge_log_softmax_rmsprop",
        [["Dense", {"units": 6, "activation": "log_softmax"}], ["Dense", {"units": 3}]],
        ["CategoricalHinge", {}],
        ["RMSprop", {"learning_rate": 0.01}],
        {"kind": "classes", "n": 96, "classes": 3, "seed": 49},
    ),
    _case(
        # the remaining new activations, one per hidden layer
        "activations_chain_mse_adam",
        [
            ["Dense", {"units": 6, "activation": "squareplus"}],
            ["Dense", {"units": 6, "activation": "tanh_shrink"}],
            ["Dense", {"units": 6, "activation": "soft_shrink"}],
            ["Dense", {"units": 6, "activation": "hard_shrink"}],
            ["Dense", {"units": 6, "activation": "sparse_plus"}],
            ["Dense", {"units": 1}],
        ],
        ["MeanSquaredError", {}],
        ["Adam", {"learning_rate": 0.005}],
        {"kind": "regression", "n": 96, "outputs": 1, "seed": 50},
        epochs=5,
    ),
]


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n, f = d["n"], d["features"]
    Z = rng.normal(size=(n, f))
    X = (Z * d.get("x_scale", 1.0)).astype(np.float32)
    kind = d["kind"]
    if kind == "binary":
        w = rng.normal(size=(f, d.get("outputs", 1)))
        y = ((Z @ w + 0.5 * rng.normal(size=(n, w.shape[1]))) > 0).astype(np.float32)
        if d.get("label_noise"):
            flip = rng.random(y.shape) < d["label_noise"]
            y[flip] = 1 - y[flip]
        return X, (2 * y - 1 if d.get("signed") else y)
    if kind == "classes":
        k = d["classes"]
        centers = rng.normal(scale=1.5, size=(k, f))
        labels = rng.integers(0, k, size=n)
        return (Z + centers[labels]).astype(np.float32), np.eye(k, dtype=np.float32)[labels]
    if kind == "distribution":
        logits = Z @ rng.normal(size=(f, d["outputs"])) + 0.3 * rng.normal(size=(n, d["outputs"]))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return X, (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    if kind == "counts":
        rate = np.exp(0.5 * Z @ rng.normal(size=(f, d["outputs"])))
        return X, rng.poisson(rate).astype(np.float32)
    if kind == "regression":
        a = rng.normal(size=(f, d["outputs"]))
        y = np.sin(Z @ a) + 0.5 * (Z[:, :1] ** 2) + 0.1 * rng.normal(size=(n, d["outputs"]))
        return X, (y * d.get("y_scale", 1.0)).astype(np.float32)
    raise ValueError(kind)


def initial_weights(spec: dict, model) -> list[np.ndarray]:
    """Glorot-uniform kernels (times ``init_scale``) and small biases from the case's seed."""
    rng = np.random.default_rng(3000 + spec["data"]["seed"])
    return glorot_weights(model, rng, spec.get("init_scale", 1.0))


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    model = build(keras, spec)
    w0 = initial_weights(spec, model)
    model.set_weights(w0)
    history = model.fit(X, y, **fit_kwargs(spec)).history
    evaluated = model.evaluate(X, y, verbose=0, return_dict=True)
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "pred": model.predict(X, verbose=0),
        "evaluate_keys": np.array(sorted(evaluated)),
        "evaluate": np.array([float(evaluated[k]) for k in sorted(evaluated)]),
        "history_keys": np.array(sorted(history)),
        "versions": versions(keras),
    }
    add_trajectory(arrays, history, w0, model.get_weights())
    return save(FIXTURES, spec["name"], arrays)


# ------------------------------------------------------------------------------------------- direct values

#: (label, class name, constructor kwargs, target kind): each called on VALUE_INPUTS' arrays of that kind
VALUE_CASES: list[tuple[str, str, dict, str]] = [
    ("kld", "KLDivergence", {}, "distribution"),
    ("kld_one_hot", "KLDivergence", {}, "one_hot"),
    ("poisson", "Poisson", {}, "counts"),
    ("log_cosh", "LogCosh", {}, "regression"),
    ("hinge_01", "Hinge", {}, "binary"),
    ("hinge_signed", "Hinge", {}, "signed"),
    ("hinge_soft", "Hinge", {}, "soft"),  # not all 0/1: used as given
    ("squared_hinge_01", "SquaredHinge", {}, "binary"),
    ("squared_hinge_signed", "SquaredHinge", {}, "signed"),
    ("categorical_hinge", "CategoricalHinge", {}, "one_hot"),
    ("focal", "BinaryFocalCrossentropy", {}, "binary"),
    ("focal_soft", "BinaryFocalCrossentropy", {"gamma": 1.5}, "soft"),
    (
        "focal_balanced",
        "BinaryFocalCrossentropy",
        {"apply_class_balancing": True, "alpha": 0.4, "gamma": 3.0, "label_smoothing": 0.2},
        "binary",
    ),
    ("focal_logits", "BinaryFocalCrossentropy", {"from_logits": True}, "binary"),
    (
        "focal_logits_balanced",
        "BinaryFocalCrossentropy",
        {"from_logits": True, "apply_class_balancing": True, "label_smoothing": 0.1},
        "binary",
    ),
    ("kld_sum", "KLDivergence", {"reduction": "sum"}, "distribution"),
    ("poisson_weighted_mean", "Poisson", {"reduction": "mean_with_sample_weight"}, "counts"),
    ("log_cosh_mean", "LogCosh", {"reduction": "mean"}, "regression"),
]


def value_inputs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``(y, p)`` float32 arrays of shape (6, 4) per target kind; ``p`` is what the model outputs."""
    rng = np.random.default_rng(77)
    m, k = 6, 4
    one_hot = np.eye(k)[rng.integers(0, k, m)]
    binary = rng.integers(0, 2, (m, k)).astype(np.float64)
    e = np.exp(rng.normal(size=(m, k)))
    out = {
        "distribution": (rng.dirichlet(np.ones(k), m), e / e.sum(axis=1, keepdims=True)),
        "one_hot": (one_hot, rng.dirichlet(np.ones(k), m)),
        "counts": (rng.poisson(2.0, (m, k)).astype(np.float64), rng.uniform(0.1, 5.0, (m, k))),
        "regression": (rng.normal(size=(m, k)), rng.normal(scale=3.0, size=(m, k))),
        "binary": (binary, rng.uniform(0.02, 0.98, (m, k))),
        "signed": (2 * binary - 1, rng.normal(scale=1.5, size=(m, k))),
        "soft": (rng.uniform(0, 1, (m, k)), rng.uniform(0.02, 0.98, (m, k))),
    }
    out["one_hot"][1][0] = [1.0, 0.0, 0.0, 0.0]  # a prediction at the clip's bounds
    out["binary"][1][0, 0] = 0.0
    return {kind: (y.astype(np.float32), p.astype(np.float32)) for kind, (y, p) in out.items()}


def activation_inputs() -> np.ndarray:
    """float32 points away from the activations' corners (-3, -1, -0.5, 0, 0.5, 1, 3, 6)."""
    z = np.linspace(-7.0, 7.0, 57).reshape(3, 19)
    return (z + 0.0371).astype(np.float32)


def record_values() -> Path:
    import keras
    import tensorflow as tf
    from keras.src.activations import ALL_OBJECTS_DICT as ACTIVATION_NAMES
    from keras.src.losses import ALL_OBJECTS_DICT as LOSS_NAMES

    arrays: dict[str, np.ndarray] = {"versions": versions(keras)}
    inputs = value_inputs()
    weights = np.array([0.5, 2.0, 1.0, 0.0, 1.5, 1.0], np.float32)
    for kind, (y, p) in inputs.items():
        arrays[f"input/{kind}/y"], arrays[f"input/{kind}/p"] = y, p
    arrays["sample_weight"] = weights
    configs = {}
    for label, class_name, kwargs, kind in VALUE_CASES:
        y, p = inputs[kind]
        loss = getattr(keras.losses, class_name)(**kwargs)
        unreduced = getattr(keras.losses, class_name)(**{**kwargs, "reduction": None})
        pv = tf.Variable(p)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(unreduced(y, pv))
        arrays[f"{label}/per_sample"] = np.asarray(unreduced(y, p))
        arrays[f"{label}/grad"] = tape.gradient(total, pv).numpy()
        arrays[f"{label}/reduced"] = np.asarray(loss(y, p))
        arrays[f"{label}/weighted"] = np.asarray(loss(y, p, sample_weight=weights))
        configs[label] = loss.get_config()
    arrays["loss_configs"] = np.array(json.dumps(configs))
    arrays["default_configs"] = np.array(
        json.dumps({name: getattr(keras.losses, name)().get_config() for name in NEW_LOSSES})
    )
    z = activation_inputs()
    arrays["activation_input"] = z
    for name in NEW_ACTIVATIONS:
        zv = tf.Variable(z)
        with tf.GradientTape() as tape:
            a = keras.activations.get(name)(zv)
            weighted = tf.reduce_sum(a * tf.constant(np.linspace(0.5, 1.5, z.size).reshape(z.shape), tf.float32))
        arrays[f"activation/{name}/value"] = np.asarray(a)
        arrays[f"activation/{name}/grad"] = tape.gradient(weighted, zv).numpy()
    # every name keras.losses.get / keras.activations.get accepts, with the __name__ of what it gives
    arrays["keras_loss_names"] = np.array(json.dumps({k: v.__name__ for k, v in sorted(LOSS_NAMES.items())}))
    arrays["keras_activation_names"] = np.array(
        json.dumps({k: v.__name__ for k, v in sorted(ACTIVATION_NAMES.items())})
    )
    return save(FIXTURES, "values", arrays)


def main(names: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums
    cases = [n for n in names if n != "values"]
    if cases or not names:
        record_all(LOSS_CASES, cases, record)
    if not names or "values" in names:
        path = record_values()
        print(f"{path.relative_to(HERE.parents[1])}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
