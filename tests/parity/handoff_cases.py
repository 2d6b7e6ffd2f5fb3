"""The cases of the hand-off to Keras: models that gradfit trains for a few epochs and saves mid-training as
``.keras`` files, which Keras 3 then loads and trains on (``record_handoff.py``) and gradfit continues too
(``test_handoff_parity.py``).

Each case is a small model (the course's sigmoid network with binary cross-entropy, accuracy and AUC; a logits
network with sparse categorical cross-entropy and an L2 kernel penalty; a regression network with
BatchNormalization, a rate-0 Dropout and mean squared error; an adapted Normalization in front of a regression)
with one optimizer: every optimizer gradfit has, several with a schedule so that the step count matters, with
``use_ema``, with gradients accumulated over steps, with a frozen layer, with the rate lowered before saving.
gradfit trains it ``save_after`` epochs (``shuffle=False``) and saves it, or ``ModelCheckpoint`` saves it during a
longer fit; then ``continue_epochs`` more epochs follow in one ``fit``. 50 examples in batches of 16 make 4 steps
an epoch, the last one of 2 examples, so that step counts that are not multiples of the accumulation or of the
EMA's overwrite period are saved.

This module imports neither TensorFlow nor gradfit: the functions take the ``keras`` module to use (``keras`` or
``gradfit.keras``). ``write_gradfit_file`` is what makes the committed ``fixtures/handoff/<case>.keras``.
"""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "handoff"

N, FEATURES, BATCH = 50, 4, 16

#: ``model``: ``sigmoid``, ``logits``, ``regression`` or ``normalized`` (see ``build``); ``optimizer``: [class name
#: in keras.optimizers, kwargs], a ``learning_rate`` given as ``[schedule class name, kwargs]`` being that schedule
#: of ``keras.optimizers.schedules``; ``frozen``: layers made non-trainable; ``learning_rate_at_save``: the rate
#: set just before saving; ``checkpoint``: the file is ModelCheckpoint's, written during a longer fit; ``floatx``:
#: the float type both libraries run in (float32 unless given)
CASES: list[dict] = [
    {
        "name": "sgd_momentum_nesterov",
        "model": "sigmoid",
        "optimizer": ["SGD", {"learning_rate": 0.5, "momentum": 0.9, "nesterov": True}],
    },
    {
        "name": "sgd_momentum_exponential_decay",
        "model": "regression",
        "optimizer": [
            "SGD",
            {
                "learning_rate": [
                    "ExponentialDecay",
                    {"initial_learning_rate": 0.05, "decay_steps": 3, "decay_rate": 0.7},
                ],
                "momentum": 0.8,
            },
        ],
    },
    {"name": "adam", "model": "logits", "optimizer": ["Adam", {"learning_rate": 0.02}]},
    {
        "name": "adam_amsgrad_cosine_decay",
        "model": "sigmoid",
        "optimizer": [
            "Adam",
            {
                "learning_rate": ["CosineDecay", {"initial_learning_rate": 0.05, "decay_steps": 30, "alpha": 0.1}],
                "amsgrad": True,
            },
        ],
    },
    {"name": "adamw", "model": "regression", "optimizer": ["AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}]},
    {"name": "rmsprop", "model": "sigmoid", "optimizer": ["RMSprop", {"learning_rate": 0.01}]},
    {
        "name": "rmsprop_momentum_centered",
        "model": "logits",
        "optimizer": ["RMSprop", {"learning_rate": 0.005, "momentum": 0.5, "centered": True}],
    },
    {"name": "adagrad", "model": "regression", "optimizer": ["Adagrad", {"learning_rate": 0.1}]},
    {
        "name": "nadam_piecewise_constant",
        "model": "logits",
        "optimizer": [
            "Nadam",
            {"learning_rate": ["PiecewiseConstantDecay", {"boundaries": [6, 14], "values": [0.02, 0.01, 0.005]}]},
        ],
    },
    {"name": "adamax", "model": "sigmoid", "optimizer": ["Adamax", {"learning_rate": 0.05}]},
    {"name": "adadelta", "model": "regression", "optimizer": ["Adadelta", {"learning_rate": 1.0}]},
    {
        "name": "ftrl",
        "model": "logits",
        "optimizer": ["Ftrl", {"learning_rate": 0.2, "l1_regularization_strength": 0.001}],
    },
    {"name": "lion", "model": "regression", "optimizer": ["Lion", {"learning_rate": 0.003}]},
    {
        # a float64 model (Keras continues it with floatx float64): the rate reaches Keras unrounded
        "name": "adam_float64",
        "model": "logits",
        "floatx": "float64",
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "learning_rate_at_save": 0.0123456789,
    },
    {
        "name": "adam_ema_overwrite_3",
        "model": "sigmoid",
        "optimizer": [
            "Adam",
            {"learning_rate": 0.02, "use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3},
        ],
    },
    {
        "name": "sgd_accumulate_3_global_clipnorm",
        "model": "logits",
        "optimizer": [
            "SGD",
            {"learning_rate": 0.1, "momentum": 0.5, "gradient_accumulation_steps": 3, "global_clipnorm": 1.0},
        ],
    },
    {
        "name": "sgd_inverse_time_decay",
        "model": "sigmoid",
        "optimizer": [
            "SGD",
            {
                "learning_rate": [
                    "InverseTimeDecay",
                    {"initial_learning_rate": 1.0, "decay_steps": 4, "decay_rate": 0.5},
                ]
            },
        ],
    },
    {
        # a learning rate lowered by hand (or by ReduceLROnPlateau) before saving: the file's rate must win
        "name": "rmsprop_learning_rate_lowered",
        "model": "logits",
        "optimizer": ["RMSprop", {"learning_rate": 0.02, "rho": 0.8}],
        "learning_rate_at_save": 0.004,
    },
    {
        # a frozen middle layer: the optimizer's variables cover the trainable weights only
        "name": "adam_frozen_layer",
        "model": "sigmoid",
        "frozen": ["hidden_2"],
        "optimizer": ["Adam", {"learning_rate": 0.03, "clipvalue": 0.5}],
    },
    {
        "name": "adagrad_normalization",
        "model": "normalized",
        "optimizer": ["Adagrad", {"learning_rate": 0.05, "initial_accumulator_value": 0.5}],
    },
    # ModelCheckpoint's file after epoch `save_after` of one longer fit; gradfit continuing itself is the rest of
    # that fit (weights not yet replaced by their averages, accumulators part-filled, a warm-up under way)
    {
        "name": "adam_ema_checkpoint",
        "model": "regression",
        "checkpoint": True,
        "optimizer": ["Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.8}],
    },
    {
        "name": "nadam_accumulate_3_checkpoint",
        "model": "logits",
        "checkpoint": True,
        "optimizer": ["Nadam", {"learning_rate": 0.01, "gradient_accumulation_steps": 3}],
    },
    {
        "name": "adamw_cosine_warmup_checkpoint",
        "model": "regression",
        "checkpoint": True,
        "optimizer": [
            "AdamW",
            {
                "learning_rate": [
                    "CosineDecay",
                    {
                        "initial_learning_rate": 0.0,
                        "decay_steps": 12,
                        "warmup_target": 0.02,
                        "warmup_steps": 10,
                        "alpha": 0.05,
                    },
                ],
                "weight_decay": 0.01,
            },
        ],
    },
]
for _case in CASES:
    _case.setdefault("save_after", 2)
    _case.setdefault("continue_epochs", 3)


@contextlib.contextmanager
def float_type(K, spec: dict):
    """``K``'s ``floatx`` set to the case's ``floatx`` (float32 unless it says) for the duration."""
    before = K.backend.floatx()
    K.backend.set_floatx(spec.get("floatx", "float32"))
    try:
        yield
    finally:
        K.backend.set_floatx(before)


def make_data(model: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for the model kind: labels 0/1 (a column), labels 0..2, or two regression targets (for the
    ``normalized`` model, from features far from zero mean and unit variance)."""
    rng = np.random.default_rng({"sigmoid": 11, "logits": 12, "regression": 13, "normalized": 14}[model])
    x = rng.normal(size=(N, FEATURES)).astype(np.float32)
    if model == "sigmoid":
        y = (x[:, :1] - 0.5 * x[:, 1:2] + 0.3 * rng.normal(size=(N, 1)) > 0).astype(np.float32)
        return x, y
    if model == "logits":
        centers = rng.normal(scale=1.5, size=(3, FEATURES))
        labels = rng.integers(0, 3, size=N)
        return (x + centers[labels]).astype(np.float32), labels.astype(np.int64)
    a = rng.normal(size=(FEATURES, 2))
    y = (np.sin(x @ a) + 0.1 * rng.normal(size=(N, 2))).astype(np.float32)
    if model == "normalized":
        x = (x * np.array([3.0, 0.5, 10.0, 1.0]) + np.array([5.0, -2.0, 0.0, 40.0])).astype(np.float32)
    return x, y


def build(K, spec: dict):
    """The case's compiled model, built with ``K`` (``keras`` or ``gradfit.keras``); initial weights not yet set.
    Every name is given: the file's config must not depend on how many models the process made before."""
    kind = spec["model"]
    if kind == "sigmoid":  # the course's network: sigmoid units, a sigmoid output, binary cross-entropy
        layers = [
            K.layers.Dense(6, activation="sigmoid", name="hidden"),
            K.layers.Dense(4, activation="sigmoid", name="hidden_2"),
            K.layers.Dense(1, activation="sigmoid", name="output"),
        ]
        loss, metrics = K.losses.BinaryCrossentropy(), ["accuracy", K.metrics.AUC(name="auc")]
    elif kind == "logits":
        layers = [
            K.layers.Dense(8, activation="relu", kernel_regularizer=K.regularizers.L2(0.01), name="hidden"),
            K.layers.Dense(3, name="logits"),
        ]
        loss, metrics = K.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"]
    elif kind == "regression":
        layers = [
            K.layers.Dense(8, activation="tanh", name="hidden"),
            K.layers.BatchNormalization(momentum=0.9, name="batch_normalization"),
            K.layers.Dropout(0.0, name="dropout"),
            K.layers.Dense(2, name="output"),
        ]
        loss, metrics = K.losses.MeanSquaredError(), ["mae"]
    else:
        normalization = K.layers.Normalization(name="normalization")
        normalization.adapt(make_data(kind)[0])
        layers = [normalization, K.layers.Dense(6, activation="relu", name="hidden"), K.layers.Dense(2, name="output")]
        loss, metrics = K.losses.MeanSquaredError(), [K.metrics.RootMeanSquaredError(name="rmse")]
    model = K.Sequential([K.Input(shape=(FEATURES,), name="features"), *layers], name=spec["name"])
    for name in spec.get("frozen", ()):
        model.get_layer(name).trainable = False
    model.compile(optimizer=make_optimizer(K, spec), loss=loss, metrics=metrics)
    return model


def make_optimizer(K, spec: dict):
    name, kwargs = spec["optimizer"]
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, list):
        kwargs["learning_rate"] = getattr(K.optimizers.schedules, lr[0])(**lr[1])
    return getattr(K.optimizers, name)(**kwargs)


def initial_weights(model, spec: dict) -> list[np.ndarray]:
    """Glorot-uniform kernels and small non-zero biases from NumPy (seeded by the case's name); the other
    layers' weights as built or adapted, so that the start depends on neither library's random numbers."""
    rng = np.random.default_rng(zlib.crc32(spec["name"].encode()))
    out = []
    for layer in model.layers:
        weights = [np.asarray(w) for w in layer.get_weights()]
        if type(layer).__name__ != "Dense":
            out.extend(weights)
            continue
        kernel, bias = weights
        limit = np.sqrt(6.0 / (kernel.shape[0] + kernel.shape[1]))
        out.append(rng.uniform(-limit, limit, size=kernel.shape).astype(np.float32))
        out.append(rng.uniform(-0.1, 0.1, size=bias.shape).astype(np.float32))
    return out


def fit_kwargs(epochs: int, **more) -> dict:
    return {"batch_size": BATCH, "epochs": epochs, "shuffle": False, "verbose": 0, **more}


def _result(model, history: dict, first_epoch: int = 0) -> dict:
    return {
        "history": {key: np.asarray(values[first_epoch:], dtype=np.float64) for key, values in history.items()},
        "weights": [np.asarray(w) for w in model.get_weights()],
    }


def continue_training(model, spec: dict) -> dict:
    """``continue_epochs`` more epochs in one ``fit`` (the same data, unshuffled, the same batch size): the
    History and the weights at the end."""
    x, y = make_data(spec["model"])
    return _result(model, model.fit(x, y, **fit_kwargs(spec["continue_epochs"])).history)


def _train_until_save(model, spec: dict, x, y) -> None:
    model.fit(x, y, **fit_kwargs(spec["save_after"]))
    if "learning_rate_at_save" in spec:
        model.optimizer.learning_rate = spec["learning_rate_at_save"]


def gradfit_model_at_save(spec: dict):
    """A plain case's gradfit model as it is saved (not for ``checkpoint`` cases, saved in the middle of a fit)."""
    import gradfit.keras as G

    if spec.get("checkpoint"):
        raise ValueError(f"{spec['name']} is saved by ModelCheckpoint in the middle of a fit")
    with float_type(G, spec):
        model = build(G, spec)
        model.set_weights(initial_weights(model, spec))
        _train_until_save(model, spec, *make_data(spec["model"]))
    return model


def gradfit_hand_off(spec: dict, folder: Path) -> tuple[Path, object, dict]:
    """gradfit's side: ``(the file saved after save_after epochs, the model, its own continuation)``.

    A plain case trains ``save_after`` epochs in one ``fit``, saves (after setting ``learning_rate_at_save``)
    and continues with a second ``fit`` of ``continue_epochs``. A ``checkpoint`` case runs one ``fit`` of both
    with ``ModelCheckpoint`` saving after every epoch: the file of epoch ``save_after``, and the rest of that fit.
    """
    import gradfit.keras as G

    folder = Path(folder)
    with float_type(G, spec):
        model = build(G, spec)
        model.set_weights(initial_weights(model, spec))
        x, y = make_data(spec["model"])
        if spec.get("checkpoint"):
            checkpoint = G.callbacks.ModelCheckpoint(str(folder / (spec["name"] + "_epoch{epoch}.keras")))
            epochs = spec["save_after"] + spec["continue_epochs"]
            history = model.fit(x, y, **fit_kwargs(epochs, callbacks=[checkpoint])).history
            return (
                folder / f"{spec['name']}_epoch{spec['save_after']}.keras",
                model,
                _result(model, history, spec["save_after"]),
            )
        _train_until_save(model, spec, x, y)
        path = folder / f"{spec['name']}.keras"
        model.save(path)
        return path, model, continue_training(model, spec)


def write_gradfit_file(spec: dict, path: Path) -> None:
    """What makes the committed ``fixtures/handoff/<case>.keras``: gradfit's file at the hand-off point."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        saved, _, _ = gradfit_hand_off(spec, Path(tmp))
        shutil.copyfile(saved, path)
