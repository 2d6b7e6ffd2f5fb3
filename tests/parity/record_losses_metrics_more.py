"""Record the Keras parity fixtures of the losses and metrics added for issue #11: run by hand with TensorFlow,
never by CI.

    /tmp/tfenv/bin/python tests/parity/record_losses_metrics_more.py            # every case, and values.npz
    /tmp/tfenv/bin/python tests/parity/record_losses_metrics_more.py NAME ...   # some cases

Two kinds of fixture, in ``fixtures/losses_metrics_more/``:

* ``<case>.npz``: a small model trained 2 epochs in Keras (float32, ``shuffle=False``, a last partial batch)
  with ``SparseCategoricalCrossentropy(ignore_class=…)``, a non-default ``reduction``, ``loss='crossentropy'``
  / ``'ce'``, MAPE / MSLE, and the new metrics (``F1Score``, ``FBetaScore``, ``R2Score``, ``'mape'``, ``'msle'``,
  a loss object as a metric): the spec (JSON), ``x``, ``y``, sample weights, initial weights, History, final
  weights and ``evaluate``.
* ``values.npz``: the losses called directly on fixed float32 arrays for every reduction, with and without
  sample weights (and ``ignore_class``), their gradients from ``tf.GradientTape``, and the new metrics'
  results after two ``update_state`` calls.

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

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "losses_metrics_more"

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]

#: (loss class, constructor kwargs, data kind) called directly for every reduction
VALUE_LOSSES = [
    ["SparseCategoricalCrossentropy", {}, "sparse"],
    ["SparseCategoricalCrossentropy", {"ignore_class": -1}, "sparse_ignored"],
    ["SparseCategoricalCrossentropy", {"ignore_class": 2, "from_logits": True}, "sparse_logits"],
    ["SparseCategoricalCrossentropy", {"ignore_class": 0}, "sparse_all_ignored"],
    ["BinaryCrossentropy", {}, "binary"],
    ["CategoricalCrossentropy", {"from_logits": True}, "onehot_logits"],
    ["MeanSquaredError", {}, "regression"],
    ["MeanAbsoluteError", {}, "regression"],
    ["Huber", {"delta": 0.5}, "regression"],
    ["MeanAbsolutePercentageError", {}, "regression"],
    ["MeanSquaredLogarithmicError", {}, "positive"],
    ["Poisson", {}, "positive"],
    ["Hinge", {}, "binary"],
]

#: (metric class, kwargs, data kind) updated twice (the second time with sample weights where given)
VALUE_METRICS = [
    ["F1Score", {}, "onehot"],
    ["F1Score", {"average": "micro", "threshold": 0.3}, "multilabel"],
    ["F1Score", {"average": "macro"}, "onehot"],
    ["F1Score", {"average": "weighted", "threshold": 0.5}, "multilabel"],
    ["FBetaScore", {"beta": 2.0}, "multilabel"],
    ["FBetaScore", {"beta": 0.5, "average": "weighted"}, "onehot"],
    ["FBetaScore", {"beta": 1.5, "average": "micro"}, "onehot"],
    ["R2Score", {}, "regression"],
    ["R2Score", {"class_aggregation": None}, "regression"],
    ["R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"],
    ["R2Score", {"num_regressors": 3}, "regression"],
    ["MeanAbsolutePercentageError", {}, "regression"],
    ["MeanSquaredLogarithmicError", {}, "positive"],
]


def value_inputs(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y_true, y_pred, sample_weight)`` for one data kind: 10 examples, 3 columns (float32)."""
    rng = np.random.default_rng(seed)
    m, k = 10, 3
    w = rng.uniform(0.2, 2.0, size=m).astype(np.float32)
    z = rng.normal(size=(m, k)).astype(np.float32)
    soft = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, size=m)
    if kind.startswith("sparse"):
        y = labels.astype(np.float32)
        if kind == "sparse_ignored":
            y[[1, 4, 5]] = -1
        if kind == "sparse_logits":
            y[[0, 3]] = 2
        if kind == "sparse_all_ignored":
            y[:] = 0
        return y, (z * 2 if kind == "sparse_logits" else soft).astype(np.float32), w
    if kind == "binary":
        return (rng.random((m, k)) > 0.5).astype(np.float32), (1 / (1 + np.exp(-z))).astype(np.float32), w
    if kind in ("onehot", "onehot_logits"):
        return np.eye(k, dtype=np.float32)[labels], (z * 2 if kind == "onehot_logits" else soft).astype(np.float32), w
    if kind == "multilabel":
        return (rng.random((m, k)) > 0.5).astype(np.float32), (1 / (1 + np.exp(-z))).astype(np.float32), w
    if kind == "regression":
        y = rng.normal(size=(m, k)).astype(np.float32) * 2
        return y, (y + rng.normal(size=(m, k))).astype(np.float32), w
    if kind == "positive":
        y = rng.poisson(2.0, size=(m, k)).astype(np.float32)
        return y, np.exp(0.5 * z).astype(np.float32), w
    raise AssertionError(kind)


def _case(name, layers, loss, data, metrics=(), optimizer=("Adam", {"learning_rate": 0.02}), weighted=False):
    return {
        "name": name,
        "input_shape": [4],
        "layers": layers,
        "loss": loss,  # a string, or [class, kwargs]
        "optimizer": list(optimizer),
        "metrics": list(metrics),  # strings, [metric class, kwargs], or ["loss:<class>", kwargs] (a loss object)
        "fit": {"batch_size": 16, "epochs": 2},
        "data": {**data, "features": 4},
        "sample_weight": weighted,
    }


_SOFTMAX3 = [["Dense", {"units": 6, "activation": "tanh"}], ["Dense", {"units": 3, "activation": "softmax"}]]
_LINEAR3 = [["Dense", {"units": 6, "activation": "tanh"}], ["Dense", {"units": 3}]]
_SIGMOID1 = [["Dense", {"units": 6, "activation": "tanh"}], ["Dense", {"units": 1, "activation": "sigmoid"}]]
_LINEAR2 = [["Dense", {"units": 6, "activation": "tanh"}], ["Dense", {"units": 2}]]
_SOFTPLUS2 = [["Dense", {"units": 6, "activation": "tanh"}], ["Dense", {"units": 2, "activation": "softplus"}]]

FIT_CASES: list[dict] = [
    _case(
        "scce_ignore_minus1_softmax",
        _SOFTMAX3,
        ["SparseCategoricalCrossentropy", {"ignore_class": -1}],
        {"kind": "sparse", "n": 40, "seed": 61, "ignored": -1},
        metrics=["accuracy"],
    ),
    _case(
        "scce_ignore_0_logits_weighted",
        _LINEAR3,
        ["SparseCategoricalCrossentropy", {"ignore_class": 0, "from_logits": True}],
        {"kind": "sparse", "n": 40, "seed": 62},
        weighted=True,
    ),
    _case(
        "scce_ignore_1_mean_with_sample_weight",
        _SOFTMAX3,
        ["SparseCategoricalCrossentropy", {"ignore_class": 1, "reduction": "mean_with_sample_weight"}],
        {"kind": "sparse", "n": 40, "seed": 63},
        weighted=True,
    ),
    _case(
        "mse_sum",
        _LINEAR2,
        ["MeanSquaredError", {"reduction": "sum"}],
        {"kind": "regression", "n": 40, "seed": 64},
        optimizer=("SGD", {"learning_rate": 0.002}),
    ),
    _case(
        # reduction=None: Keras's gradient is that of the sum, its logged loss the mean of the values
        "mse_none_reduction",
        _LINEAR2,
        ["MeanSquaredError", {"reduction": None}],
        {"kind": "regression", "n": 40, "seed": 73},
        optimizer=("SGD", {"learning_rate": 0.002}),
    ),
    _case(
        "bce_mean_with_sample_weight",
        _SIGMOID1,
        ["BinaryCrossentropy", {"reduction": "mean_with_sample_weight"}],
        {"kind": "binary", "n": 40, "seed": 65},
        weighted=True,
    ),
    _case("crossentropy_binary", _SIGMOID1, "crossentropy", {"kind": "binary", "n": 40, "seed": 66}),
    _case("ce_sparse", _SOFTMAX3, "ce", {"kind": "sparse", "n": 40, "seed": 67}),
    _case("crossentropy_onehot", _SOFTMAX3, "CrossEntropy", {"kind": "onehot", "n": 40, "seed": 68}),
    _case(
        "mape_metrics_regression",
        _LINEAR2,
        ["MeanAbsolutePercentageError", {}],
        {"kind": "regression", "n": 40, "seed": 69},
        metrics=[
            "mape",
            "msle",
            ["R2Score", {}],
            ["R2Score", {"class_aggregation": "variance_weighted_average"}],
            ["loss:MeanSquaredError", {}],
        ],
    ),
    _case(
        "msle_softplus",
        _SOFTPLUS2,
        ["MeanSquaredLogarithmicError", {}],
        {"kind": "positive", "n": 40, "seed": 70},
        metrics=["MAPE", "mean_squared_logarithmic_error"],
    ),
    _case(
        "fscores_onehot",
        _SOFTMAX3,
        ["CategoricalCrossentropy", {}],
        {"kind": "onehot", "n": 40, "seed": 71},
        metrics=[
            ["F1Score", {"average": "macro"}],
            ["F1Score", {"average": "micro", "threshold": 0.4, "name": "f1_micro"}],
            ["FBetaScore", {"beta": 2.0, "average": "weighted"}],
            ["loss:CategoricalCrossentropy", {}],
            "accuracy",
        ],
    ),
    _case(
        "loss_object_metrics_sparse",
        _SOFTMAX3,
        ["SparseCategoricalCrossentropy", {}],
        {"kind": "sparse", "n": 40, "seed": 72},
        metrics=[
            ["loss:SparseCategoricalCrossentropy", {"ignore_class": 2, "name": "scce_ignore2"}],
            ["loss:SparseCategoricalCrossentropy", {"reduction": "sum", "name": "scce_sum"}],
        ],
    ),
]


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n, f = d["n"], d["features"]
    x = rng.normal(size=(n, f)).astype(np.float32)
    kind = d["kind"]
    w = rng.uniform(0.2, 2.0, size=n).astype(np.float32)
    if kind in ("sparse", "onehot"):
        labels = np.argmax(x[:, :3] + 0.5 * rng.normal(size=(n, 3)), axis=1)
        if kind == "onehot":
            y = np.eye(3, dtype=np.float32)[labels]
        else:
            y = labels.astype(np.int64)
            if "ignored" in d:
                y[rng.random(n) < 0.25] = d["ignored"]
    elif kind == "binary":
        y = ((x @ rng.normal(size=f) + 0.5 * rng.normal(size=n)) > 0).astype(np.float32).reshape(-1, 1)
    elif kind == "regression":
        y = (x @ rng.normal(size=(f, 2)) + 0.3 * rng.normal(size=(n, 2))).astype(np.float32)
    elif kind == "positive":
        y = rng.poisson(np.exp(0.4 * x @ rng.normal(size=(f, 2)))).astype(np.float32)
    else:
        raise AssertionError(kind)
    return x, y, (w if spec["sample_weight"] else None)


def build(K, spec: dict):
    """The case's compiled model, with ``K`` (``keras`` or ``gradfit.keras``); weights not yet set."""
    layers = [K.Input(shape=tuple(spec["input_shape"]))]
    for class_name, kwargs in spec["layers"]:
        layers.append(getattr(K.layers, class_name)(**kwargs))
    model = K.Sequential(layers)
    loss = spec["loss"]
    if not isinstance(loss, str):
        loss = getattr(K.losses, loss[0])(**loss[1])
    metrics = []
    for m in spec["metrics"]:
        if isinstance(m, str):
            metrics.append(m)
        elif m[0].startswith("loss:"):
            metrics.append(getattr(K.losses, m[0][5:])(**m[1]))
        else:
            metrics.append(getattr(K.metrics, m[0])(**m[1]))
    opt_name, opt_kwargs = spec["optimizer"]
    model.compile(optimizer=getattr(K.optimizers, opt_name)(**opt_kwargs), loss=loss, metrics=metrics)
    return model


def initial_weights(model, spec: dict) -> list[np.ndarray]:
    return glorot_weights(model, np.random.default_rng(spec["data"]["seed"] + 1000))


def record_case(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    keras.backend.clear_session()
    x, y, w = make_data(spec)
    model = build(keras, spec)
    initial = initial_weights(model, spec)
    model.set_weights(initial)
    history = model.fit(x, y, sample_weight=w, **fit_kwargs(spec))
    arrays = {"spec": np.array(json.dumps(spec)), "versions": versions(keras), "x": x, "y": y}
    if w is not None:
        arrays["sample_weight"] = w
    add_trajectory(arrays, history.history, initial, model.get_weights())
    result = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True, batch_size=16)
    arrays["evaluate"] = np.array(json.dumps({k: float(v) for k, v in result.items()}))
    return save(FIXTURES, spec["name"], arrays)


def record_values() -> Path:
    import keras
    import tensorflow as tf

    arrays = {"versions": versions(keras)}
    for i, (cls, kwargs, kind) in enumerate(VALUE_LOSSES):
        y, p, w = value_inputs(kind, seed=100 + i)
        arrays[f"loss/{i}/y"], arrays[f"loss/{i}/p"], arrays[f"loss/{i}/w"] = y, p, w
        for reduction in REDUCTIONS:
            loss = getattr(keras.losses, cls)(**kwargs, reduction=reduction)
            for weighted in (False, True):
                pv = tf.Variable(p)
                with tf.GradientTape() as tape:
                    value = loss(y, pv, sample_weight=w if weighted else None)
                    total = tf.reduce_sum(value)
                key = f"loss/{i}/{reduction}/{int(weighted)}"
                arrays[key + "/value"] = np.asarray(value)
                arrays[key + "/grad"] = np.asarray(tape.gradient(total, pv))
        function = getattr(keras.losses, FUNCTIONS[cls])
        arrays[f"loss/{i}/function"] = np.asarray(function(y, p, **kwargs))
    for i, (cls, kwargs, kind) in enumerate(VALUE_METRICS):
        y, p, w = value_inputs(kind, seed=200 + i)
        metric = getattr(keras.metrics, cls)(**kwargs)
        metric.update_state(y[:6], p[:6])
        arrays[f"metric/{i}/first"] = np.asarray(metric.result())
        metric.update_state(y[6:], p[6:], sample_weight=w[6:])
        arrays[f"metric/{i}/result"] = np.asarray(metric.result())
        arrays[f"metric/{i}/y"], arrays[f"metric/{i}/p"], arrays[f"metric/{i}/w"] = y, p, w
    return save(FIXTURES, "values", arrays)


#: the function form of each loss class above
FUNCTIONS = {
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "Huber": "huber",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "Poisson": "poisson",
    "Hinge": "hinge",
}


def main(argv: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    if not argv:
        path = record_values()
        print(f"{path}  {path.stat().st_size / 1024:.1f} KiB")
    record_all(FIT_CASES, argv, record_case)


if __name__ == "__main__":
    main(sys.argv[1:])
