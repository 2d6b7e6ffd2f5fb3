"""Keras parity cases for callbacks and learning-rate schedules, and one builder for both libraries.

Each case is a plain dict (stored as JSON in its fixture ``fixtures/callbacks_<name>.npz``):

- ``layers``: ``[units, activation]`` for each ``Dense`` layer;
- ``loss``: a name for ``compile(loss=…)``; ``metrics``: the ``metrics=`` list;
- ``optimizer``: ``[class name in keras.optimizers, kwargs]``; a ``learning_rate`` given as
  ``[class name in keras.optimizers.schedules, kwargs]`` is that schedule;
- ``callbacks``: ``[class name in keras.callbacks, kwargs]`` each; ``LearningRateScheduler`` takes
  ``{"every": k, "factor": f}``: the rate is multiplied by ``f`` at the start of every ``k``-th epoch;
- ``fit``: extra ``fit`` arguments; ``shuffle=False`` and ``verbose=0`` are always added;
- ``data``: how ``record_callbacks.py`` makes ``X`` and ``y`` (the fixture stores the arrays themselves).

This module imports neither TensorFlow nor gradfit: ``build`` takes the ``keras`` module to use.
"""

from __future__ import annotations

CASES: list[dict] = [
    {
        # a wide network on few noisy examples with a large rate: val_loss soon rises, so ReduceLROnPlateau
        # halves the rate (with a cooldown, down to min_lr) and EarlyStopping stops and restores the best epoch
        "name": "callbacks_early_stopping_reduce_lr",
        "layers": [[32, "relu"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": ["SGD", {"learning_rate": 0.5, "momentum": 0.5}],
        "callbacks": [
            ["ReduceLROnPlateau", {"monitor": "val_loss", "factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.1}],
            ["EarlyStopping", {"monitor": "val_loss", "patience": 5, "restore_best_weights": True}],
        ],
        "fit": {"batch_size": 8, "epochs": 60, "validation_split": 0.4},
        "data": {"n": 50, "features": 6, "seed": 21, "label_noise": 0.3},
    },
    {
        # EarlyStopping on a maximised metric (mode 'auto' -> max for accuracy) with min_delta and a baseline
        "name": "callbacks_early_stopping_accuracy_baseline",
        "layers": [[8, "tanh"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "callbacks": [
            [
                "EarlyStopping",
                {
                    "monitor": "val_accuracy",
                    "patience": 3,
                    "min_delta": 0.01,
                    "baseline": 0.6,
                    "restore_best_weights": True,
                    "start_from_epoch": 2,
                },
            ],
        ],
        "fit": {"batch_size": 16, "epochs": 40, "validation_split": 0.3},
        "data": {"n": 90, "features": 4, "seed": 22, "label_noise": 0.2},
    },
    {
        "name": "callbacks_exponential_decay_sgd",
        "layers": [[6, "tanh"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": [
            "SGD",
            {
                "learning_rate": [
                    "ExponentialDecay",
                    {"initial_learning_rate": 0.8, "decay_steps": 4, "decay_rate": 0.6},
                ]
            },
        ],
        "callbacks": [],
        "fit": {"batch_size": 16, "epochs": 6},
        "data": {"n": 64, "features": 5, "seed": 23, "label_noise": 0.1},
    },
    {
        "name": "callbacks_exponential_decay_staircase_adam",
        "layers": [[6, "relu"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": [
            "Adam",
            {
                "learning_rate": [
                    "ExponentialDecay",
                    {"initial_learning_rate": 0.05, "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
                ]
            },
        ],
        "callbacks": [],
        "fit": {"batch_size": 20, "epochs": 6},
        "data": {"n": 70, "features": 4, "seed": 24, "label_noise": 0.1},
    },
    {
        "name": "callbacks_piecewise_constant_sgd_momentum",
        "layers": [[8, "tanh"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": [
            "SGD",
            {
                "learning_rate": ["PiecewiseConstantDecay", {"boundaries": [5, 12], "values": [0.5, 0.1, 0.02]}],
                "momentum": 0.9,
            },
        ],
        "callbacks": [],
        "fit": {"batch_size": 16, "epochs": 5},
        "data": {"n": 64, "features": 4, "seed": 25, "label_noise": 0.1},
    },
    {
        "name": "callbacks_cosine_decay_warmup_rmsprop",
        "layers": [[8, "relu"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": [
            "RMSprop",
            {
                "learning_rate": [
                    "CosineDecay",
                    {
                        "initial_learning_rate": 0.001,
                        "decay_steps": 12,
                        "alpha": 0.1,
                        "warmup_target": 0.02,
                        "warmup_steps": 6,
                    },
                ]
            },
        ],
        "callbacks": [],
        "fit": {"batch_size": 16, "epochs": 7},
        "data": {"n": 60, "features": 5, "seed": 26, "label_noise": 0.1},
    },
    {
        "name": "callbacks_cosine_decay_sgd",
        "layers": [[6, "tanh"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": [
            "SGD",
            {"learning_rate": ["CosineDecay", {"initial_learning_rate": 0.6, "decay_steps": 10, "alpha": 0.05}]},
        ],
        "callbacks": [],
        "fit": {"batch_size": 16, "epochs": 5},
        "data": {"n": 64, "features": 4, "seed": 27, "label_noise": 0.1},
    },
    {
        "name": "callbacks_lr_scheduler_sgd",
        "layers": [[6, "tanh"], [1, "sigmoid"]],
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": ["SGD", {"learning_rate": 0.4}],
        "callbacks": [["LearningRateScheduler", {"every": 2, "factor": 0.5}]],
        "fit": {"batch_size": 16, "epochs": 7},
        "data": {"n": 64, "features": 4, "seed": 28, "label_noise": 0.1},
    },
]


def fit_kwargs(spec: dict) -> dict:
    return {**spec["fit"], "shuffle": False, "verbose": 0}


def _step_schedule(every: int, factor: float):
    def schedule(epoch, lr):
        return float(lr * factor) if epoch > 0 and epoch % every == 0 else float(lr)

    return schedule


def build_optimizer(K, spec: dict):
    name, kwargs = spec["optimizer"]
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, list):
        schedule_name, schedule_kwargs = lr
        kwargs["learning_rate"] = getattr(K.optimizers.schedules, schedule_name)(**schedule_kwargs)
    return getattr(K.optimizers, name)(**kwargs)


def build_callbacks(K, spec: dict) -> list:
    out = []
    for name, kwargs in spec["callbacks"]:
        if name == "LearningRateScheduler":
            out.append(K.callbacks.LearningRateScheduler(_step_schedule(kwargs["every"], kwargs["factor"])))
        else:
            out.append(getattr(K.callbacks, name)(**kwargs))
    return out


def build(K, spec: dict, n_features: int):
    """The case's model, compiled, built with ``K`` (``keras`` or ``gradfit.keras``); weights not yet set."""
    layers = [K.Input(shape=(n_features,))]
    for units, activation in spec["layers"]:
        layers.append(K.layers.Dense(units, activation=activation))
    model = K.Sequential(layers)
    model.compile(optimizer=build_optimizer(K, spec), loss=spec["loss"], metrics=spec["metrics"])
    return model
