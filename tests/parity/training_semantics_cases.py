"""The cases of ``record_training_semantics.py`` and ``test_training_semantics_parity.py`` (no TensorFlow import):
each builds the same model with ``keras`` or ``gradfit.keras``; ``case_data`` makes its data with NumPy."""

from __future__ import annotations

import numpy as np

BINARY = {"loss": ["BinaryCrossentropy", {}], "optimizer": ["SGD", {"learning_rate": 0.1}], "task": "binary"}
SPARSE = {
    "loss": ["SparseCategoricalCrossentropy", {}],
    "optimizer": ["SGD", {"learning_rate": 0.1}],
    "task": "sparse",
}
HIDDEN = ["Dense", {"units": 4, "activation": "tanh"}]
SIGMOID = ["Dense", {"units": 1, "activation": "sigmoid"}]
SOFTMAX = ["Dense", {"units": 3, "activation": "softmax"}]


def _case(name, base, layers, fit, seed, n=16, features=3, **extra):
    return {"name": name, **base, "layers": layers, "fit": fit, "seed": seed, "n": n, "features": features, **extra}


CASES = [
    # class weights: split first, so the validation loss is unweighted; a class missing from class_weight weighs 1.0
    _case(
        "class_weight_validation_split",
        BINARY,
        [HIDDEN, SIGMOID],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25, "class_weight": {0: 1.0, 1: 3.0}},
        1,
    ),
    _case(
        "class_weight_missing_class",
        SPARSE,
        [HIDDEN, SOFTMAX],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25, "class_weight": {0: 2.5}},
        2,
    ),
    # a last layer without its own activation
    *[
        _case(
            f"trailing_{tag}",
            BINARY,
            [HIDDEN, SIGMOID, trailing],
            {"epochs": 2, "batch_size": 4, "validation_split": 0.25},
            3 + i,
        )
        for i, (tag, trailing) in enumerate(
            [
                ("dropout0", ["Dropout", {"rate": 0.0}]),
                ("batchnorm", ["BatchNormalization", {}]),
                ("identity", ["Identity", {}]),
                ("layernorm", ["LayerNormalization", {}]),
                ("rescaling", ["Rescaling", {"scale": 0.5}]),
                ("flatten", ["Flatten", {}]),
                ("linear", ["Activation", {"activation": "linear"}]),
                ("gaussian_noise0", ["GaussianNoise", {"stddev": 0.0}]),
            ]
        )
    ],
    _case(
        "trailing_batchnorm_softmax",
        SPARSE,
        [HIDDEN, SOFTMAX, ["BatchNormalization", {}]],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25},
        20,
    ),
    # steps with arrays
    _case("steps_fewer_than_batches", BINARY, [SIGMOID], {"epochs": 3, "batch_size": 2, "steps_per_epoch": 3}, 30, n=8),
    _case("steps_more_than_batches", BINARY, [SIGMOID], {"epochs": 2, "batch_size": 2, "steps_per_epoch": 6}, 31, n=8),
    _case("steps_without_batch_size", BINARY, [SIGMOID], {"epochs": 2, "steps_per_epoch": 2}, 32, n=8),
    _case(
        "validation_steps",
        BINARY,
        [SIGMOID],
        {"epochs": 2, "batch_size": 2, "validation_steps": 1},
        33,
        n=8,
        n_val=4,
        evaluate={"steps": 1, "batch_size": 2},
        predict={"steps": 1, "batch_size": 2},
    ),
    _case(
        "validation_steps_without_batch_size",
        BINARY,
        [SIGMOID],
        {"epochs": 2, "steps_per_epoch": 4, "validation_split": 0.25, "validation_steps": 2},
        34,
        n=12,
        evaluate={"steps": 3},
        predict={"steps": 3},
    ),
    _case(
        "evaluate_steps_more_than_batches",
        BINARY,
        [SIGMOID],
        {"epochs": 1, "batch_size": 2},
        35,
        n=8,
        evaluate={"steps": 10, "batch_size": 2},
        predict={"steps": 10, "batch_size": 2},
    ),
    # loss_weights (with an L2 penalty: is it weighted too?) and weighted_metrics
    _case(
        "loss_weights_float",
        BINARY,
        [["Dense", {"units": 4, "activation": "tanh", "kernel_regularizer": "l2"}], SIGMOID],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25},
        40,
        compile={"loss_weights": 0.5, "metrics": ["accuracy"]},
    ),
    _case(
        "loss_weights_list",
        BINARY,
        [["Dense", {"units": 4, "activation": "tanh", "kernel_regularizer": "l2"}], SIGMOID],
        {"epochs": 2, "batch_size": 4},
        41,
        compile={"loss_weights": [2.0]},
    ),
    _case(
        "loss_weights_dict",
        BINARY,
        [HIDDEN, SIGMOID],
        {"epochs": 2, "batch_size": 4},
        42,
        compile={"loss_weights": {"any_name": 3.0}},
    ),
    _case(
        "weighted_metrics_sample_weight",
        BINARY,
        [HIDDEN, SIGMOID],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25},
        43,
        sample_weight=True,
        compile={"metrics": ["mse", "accuracy"], "weighted_metrics": ["mse", "accuracy", "mae"]},
    ),
    _case(
        "weighted_metrics_class_weight",
        SPARSE,
        [HIDDEN, SOFTMAX],
        {"epochs": 2, "batch_size": 4, "validation_split": 0.25, "class_weight": {0: 0.5, 1: 2.0, 2: 1.5}},
        44,
        compile={"weighted_metrics": ["accuracy"]},
    ),
]

#: the trailing layers whose cross-entropy on saturated logits is recorded (``record_logits``)
LOGIT_CASES = {
    "none": [],
    "dropout": [["Dropout", {"rate": 0.5}]],
    "dropout0": [["Dropout", {"rate": 0.0}]],
    "dropout_dropout": [["Dropout", {"rate": 0.5}], ["Dropout", {"rate": 0.3}]],
    "gaussian_noise": [["GaussianNoise", {"stddev": 0.1}]],
    "gaussian_dropout": [["GaussianDropout", {"rate": 0.1}]],
    "identity": [["Identity", {}]],
    "linear": [["Activation", {"activation": "linear"}]],
    "batchnorm": [["BatchNormalization", {}]],
    "layernorm": [["LayerNormalization", {}]],
    "rescaling1": [["Rescaling", {"scale": 1.0}]],
    "flatten": [["Flatten", {}]],
    "identity_flatten": [["Identity", {}], ["Flatten", {}]],
}


def case_data(spec: dict) -> dict:
    rng = np.random.default_rng(100 + spec["seed"])
    n, features = spec["n"], spec["features"]

    def xy(count):
        x = rng.normal(size=(count, features)).astype(np.float32)
        if spec["task"] == "binary":
            y = (x[:, :1] + 0.3 * rng.normal(size=(count, 1)) > 0).astype(np.float32)
        else:
            y = rng.integers(0, 3, size=count).astype(np.int64)
        return x, y

    x, y = xy(n)
    out = {"x": x, "y": y}
    if spec.get("n_val"):
        out["validation_data"] = xy(spec["n_val"])
    if spec.get("sample_weight"):
        out["sample_weight"] = rng.uniform(0.2, 2.0, size=n).astype(np.float32)
    return out
