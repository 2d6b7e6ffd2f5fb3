"""Keras parity cases: one spec per recorded training trajectory, and one builder for both libraries.

Each case is a plain dict (stored as JSON in its fixture, so the test replays exactly what was recorded):

- ``layers``: ``[units, activation, l2 factor or None]`` for each ``Dense`` layer, in order;
- ``loss``: ``[class name in keras.losses, kwargs]``;
- ``optimizer``: ``[class name in keras.optimizers, kwargs]``, or ``None`` to compile without one (RMSprop);
- ``metrics``: the ``metrics=`` list given to ``compile``;
- ``fit``: extra ``fit`` arguments (``batch_size``, ``epochs``, ``validation_split``); ``shuffle=False`` and
  ``verbose=0`` are always added;
- ``weights``: ``None``, ``"sample_weight"`` or ``"class_weight"``: which weighting the fixture holds;
- ``data``: how ``record_keras.py`` makes ``X`` and ``y`` (the fixture stores the arrays themselves);
- ``init_scale`` (optional): a factor on the initial kernels ``record_keras.py`` draws (default 1).

This module imports neither TensorFlow nor gradfit: ``build`` takes the ``keras`` module to use.
"""

from __future__ import annotations

CASES: list[dict] = [
    {
        "name": "bce_sigmoid_default_rmsprop",
        "layers": [[8, "relu", None], [1, "sigmoid", None]],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": None,  # compile() without an optimizer: RMSprop's defaults
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 10},
        "weights": None,
        "data": {"kind": "binary", "n": 100, "features": 5, "seed": 1},
    },
    {
        "name": "bce_logits_sgd_l2",
        "layers": [[6, "tanh", 0.01], [1, "linear", None]],
        "loss": ["BinaryCrossentropy", {"from_logits": True}],
        "optimizer": ["SGD", {"learning_rate": 0.1}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 50, "epochs": 8},
        "weights": None,
        "data": {"kind": "binary", "n": 120, "features": 4, "seed": 2, "flat_y": True},
    },
    {
        "name": "sparse_logits_adam",
        "layers": [[10, "relu", None], [3, "linear", None]],
        "loss": ["SparseCategoricalCrossentropy", {"from_logits": True}],
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 10},
        "weights": None,
        "data": {"kind": "classes", "n": 150, "features": 4, "classes": 3, "seed": 3, "flat_y": True},
    },
    {
        "name": "sparse_softmax_adagrad",
        "layers": [[12, "tanh", None], [4, "softmax", None]],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["Adagrad", {"learning_rate": 0.05}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 40, "epochs": 8},
        "weights": None,
        "data": {"kind": "classes", "n": 130, "features": 6, "classes": 4, "seed": 4},
    },
    {
        "name": "categorical_softmax_sgd_nesterov",
        "layers": [[8, "sigmoid", None], [3, "softmax", None]],
        "loss": ["CategoricalCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 10},
        "weights": None,
        "data": {"kind": "classes", "n": 100, "features": 4, "classes": 3, "seed": 5, "one_hot": True},
    },
    {
        "name": "categorical_logits_smoothing_sgd_momentum",
        "layers": [[10, "relu", None], [3, "linear", None]],
        "loss": ["CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}],
        "optimizer": ["SGD", {"learning_rate": 0.02, "momentum": 0.8}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 25, "epochs": 8},
        "weights": None,
        "data": {"kind": "classes", "n": 110, "features": 5, "classes": 3, "seed": 6, "one_hot": True},
    },
    {
        "name": "mse_tanh_relu_l2_adam",
        "layers": [[16, "tanh", 0.01], [8, "relu", 0.001], [1, "linear", None]],
        "loss": ["MeanSquaredError", {}],
        "optimizer": ["Adam", {"learning_rate": 0.005}],
        "metrics": ["mae"],
        "fit": {"batch_size": 32, "epochs": 10},
        "weights": None,
        "data": {"kind": "regression", "n": 100, "features": 3, "outputs": 1, "seed": 7},
    },
    {
        "name": "mae_adamw",
        "layers": [[10, "relu", None], [2, "linear", None]],
        "loss": ["MeanAbsoluteError", {}],
        "optimizer": ["AdamW", {"learning_rate": 0.01, "weight_decay": 0.01}],
        "metrics": ["mse"],
        "fit": {"batch_size": 16, "epochs": 8},
        "weights": None,
        "data": {"kind": "regression", "n": 90, "features": 4, "outputs": 2, "seed": 8},
    },
    {
        "name": "huber_rmsprop_l2",
        "layers": [[8, "sigmoid", 0.005], [1, "linear", None]],
        "loss": ["Huber", {"delta": 0.5}],
        "optimizer": ["RMSprop", {"learning_rate": 0.005}],
        "metrics": ["mae"],
        "fit": {"batch_size": 30, "epochs": 10},
        "weights": None,
        "data": {"kind": "regression", "n": 100, "features": 3, "outputs": 1, "seed": 9},
    },
    {
        "name": "bce_sigmoid_validation_split_adam",
        "layers": [[6, "relu", None], [1, "sigmoid", None]],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 8, "validation_split": 0.25},
        "weights": None,
        "data": {"kind": "binary", "n": 120, "features": 5, "seed": 10},
    },
    {
        "name": "sparse_softmax_sample_weight_sgd",
        "layers": [[8, "tanh", None], [3, "softmax", None]],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.5}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 8},
        "weights": "sample_weight",
        "data": {"kind": "classes", "n": 100, "features": 4, "classes": 3, "seed": 11, "flat_y": True},
    },
    {
        "name": "bce_sigmoid_class_weight_rmsprop",
        "layers": [[6, "tanh", None], [1, "sigmoid", None]],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 8, "class_weight": {"0": 1.0, "1": 3.0}},
        "weights": "class_weight",
        "data": {"kind": "binary", "n": 100, "features": 4, "seed": 12, "imbalanced": True},
    },
    {
        # large inputs and weights: sigmoid(z) rounds to 0 or 1 in float32, so only the exact loss from the
        # logits (not the clipped probabilities) gives Keras's loss and gradients
        "name": "bce_sigmoid_saturated_sgd",
        "layers": [[4, "relu", None], [1, "sigmoid", None]],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["SGD", {"learning_rate": 0.01}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 6},
        "weights": None,
        "init_scale": 4.0,
        "data": {"kind": "binary", "n": 80, "features": 3, "seed": 14, "x_scale": 6.0, "label_noise": 0.15},
    },
    {
        "name": "sparse_softmax_saturated_rmsprop",
        "layers": [[6, "relu", None], [3, "softmax", None]],
        "loss": ["SparseCategoricalCrossentropy", {}],
        "optimizer": ["RMSprop", {"learning_rate": 0.002}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 6},
        "weights": None,
        "init_scale": 4.0,
        "data": {
            "kind": "classes",
            "n": 90,
            "features": 3,
            "classes": 3,
            "seed": 15,
            "x_scale": 4.0,
            "label_noise": 0.15,
        },
    },
    {
        "name": "digits_bce_sigmoid_adam",
        "layers": [[25, "sigmoid", None], [15, "sigmoid", None], [1, "sigmoid", None]],
        "loss": ["BinaryCrossentropy", {}],
        "optimizer": ["Adam", {"learning_rate": 0.001}],
        "metrics": ["accuracy"],
        "fit": {"batch_size": 32, "epochs": 10},
        "weights": None,
        "data": {"kind": "digits", "n": 200, "seed": 13},
    },
]


def fit_kwargs(spec: dict, sample_weight=None) -> dict:
    """The ``fit`` arguments of a case, as given to both libraries."""
    kwargs = {**spec["fit"], "shuffle": False, "verbose": 0}
    if "class_weight" in kwargs:  # JSON keys are strings
        kwargs["class_weight"] = {int(k): float(v) for k, v in kwargs["class_weight"].items()}
    if spec["weights"] == "sample_weight":
        kwargs["sample_weight"] = sample_weight
    return kwargs


def build(K, spec: dict, n_features: int):
    """The case's model, compiled, built with ``K`` (``keras`` or ``gradfit.keras``); weights not yet set."""
    layers = [K.Input(shape=(n_features,))]
    for units, activation, l2 in spec["layers"]:
        reg = None if l2 is None else K.regularizers.L2(l2)
        layers.append(K.layers.Dense(units, activation=activation, kernel_regularizer=reg))
    model = K.Sequential(layers)
    loss_name, loss_kwargs = spec["loss"]
    loss = getattr(K.losses, loss_name)(**loss_kwargs)
    if spec["optimizer"] is None:
        model.compile(loss=loss, metrics=list(spec["metrics"]))
    else:
        opt_name, opt_kwargs = spec["optimizer"]
        model.compile(optimizer=getattr(K.optimizers, opt_name)(**opt_kwargs), loss=loss, metrics=list(spec["metrics"]))
    return model
