"""Record the parity fixtures of the optimizers' moving average of the weights (``use_ema``) and gradient
accumulation (``gradient_accumulation_steps``): run by hand in a throwaway environment with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_optimizers_ema.py            # every case
    /tmp/tfenv/bin/python tests/parity/record_optimizers_ema.py NAME ...   # some cases

In ``fixtures/optimizers_ema/``:

* ``<case>.npz`` for each of ``FIT_CASES``: a small model (``record_optimizers.build``) trained by ONE
  ``fit(epochs=3, batch_size=16, shuffle=False)`` (64 examples: 4 steps an epoch), with the weights at every
  ``on_epoch_end`` (before Keras writes the average into the model), the weights after ``fit`` returned (after
  ``finalize_variable_values``), the loss of each epoch and the optimizer's variables at the end.
* ``<case>.keras`` for the cases with ``save_after``: the model saved by a callback at the end of that epoch,
  in the middle of ``fit`` (moving averages and accumulators included, accumulators part-filled where the
  accumulation does not divide the epoch); the test loads it in gradfit, trains the remaining epochs with one
  ``fit`` and must end where Keras ended.
* ``rules_float64.npz``: each case of ``tests/optimizer_rules.EMA_CASES`` run by Keras on a float64 variable
  (the weights and the moving average after each micro-step), to check the hand-written rule against Keras.
* ``steps.npz``: each of ``STEP_CASES`` applied with ``optimizer.apply`` to two float32 variables, one fixed
  gradient per step: the variables and every optimizer variable after each step (``<case>/weight<i>`` and
  ``<case>/optimizer<i>``, row k after step k + 1), the optimizer alone, without a model.

This module imports neither TensorFlow nor gradfit at import time; the test imports ``FIT_CASES``,
``STEP_CASES`` and the helpers from here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "optimizers_ema"

_REGRESSION = {"kind": "regression", "n": 64, "features": 4, "outputs": 2, "seed": 1}
_CLASSES = {"kind": "classes", "n": 64, "features": 4, "classes": 3, "seed": 2}
_DECAY = ["ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}]

#: as record_optimizers.CASES: ``optimizer`` is [class name, kwargs], a list ``learning_rate`` a schedule
FIT_CASES: list[dict] = [
    {"name": "adam_ema", "optimizer": ["Adam", {"learning_rate": 0.02, "use_ema": True}], "data": _REGRESSION},
    {
        "name": "adam_ema_overwrite_3",
        "save_after": 2,
        "optimizer": [
            "Adam",
            {"learning_rate": 0.02, "use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3},
        ],
        "data": _CLASSES,
    },
    {
        "name": "sgd_momentum_ema",
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9, "use_ema": True, "ema_momentum": 0.8}],
        "data": _REGRESSION,
    },
    {
        "name": "sgd_momentum_ema_overwrite_3",
        "optimizer": [
            "SGD",
            {
                "learning_rate": 0.05,
                "momentum": 0.9,
                "use_ema": True,
                "ema_momentum": 0.8,
                "ema_overwrite_frequency": 3,
            },
        ],
        "data": _CLASSES,
    },
    {
        "name": "rmsprop_ema",
        "optimizer": ["RMSprop", {"learning_rate": 0.005, "use_ema": True, "ema_momentum": 0.9}],
        "data": _REGRESSION,
    },
    {
        "name": "rmsprop_ema_overwrite_3",
        "save_after": 1,
        "optimizer": ["RMSprop", {"learning_rate": 0.005, "use_ema": True, "ema_overwrite_frequency": 3}],
        "data": _CLASSES,
    },
    {
        "name": "adam_accumulate_2",
        "optimizer": ["Adam", {"learning_rate": 0.02, "gradient_accumulation_steps": 2}],
        "data": _REGRESSION,
    },
    {
        "name": "adam_accumulate_3_clipnorm_weight_decay",
        "save_after": 1,  # 4 micro-steps: one update done, one gradient in the accumulators
        "optimizer": [
            "Adam",
            {"learning_rate": 0.02, "gradient_accumulation_steps": 3, "clipnorm": 0.2, "weight_decay": 0.05},
        ],
        "data": _CLASSES,
    },
    {
        "name": "sgd_schedule_accumulate_2",
        "optimizer": ["SGD", {"learning_rate": _DECAY, "momentum": 0.5, "gradient_accumulation_steps": 2}],
        "data": _REGRESSION,
    },
    {
        "name": "sgd_schedule_accumulate_3",
        "save_after": 2,
        "optimizer": ["SGD", {"learning_rate": _DECAY, "gradient_accumulation_steps": 3}],
        "data": _CLASSES,
    },
    {
        "name": "adam_accumulate_3_ema_overwrite_2",
        "optimizer": [
            "Adam",
            {
                "learning_rate": 0.02,
                "gradient_accumulation_steps": 3,
                "use_ema": True,
                "ema_momentum": 0.7,
                "ema_overwrite_frequency": 2,
            },
        ],
        "data": _REGRESSION,
    },
]
EPOCHS = 3

#: ``optimizer.apply`` on two variables shaped (3, 2) and (2,), one gradient per step
STEP_SHAPES = [(3, 2), (2,)]
STEPS = 7
STEP_CASES: list[dict] = [
    {"name": "adam_ema", "optimizer": ["Adam", {"learning_rate": 0.1, "use_ema": True}]},
    {
        "name": "adam_ema_3",
        "optimizer": ["Adam", {"learning_rate": 0.1, "use_ema": True, "ema_overwrite_frequency": 3}],
    },
    {
        "name": "sgd_momentum_ema_2",
        "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.9, "use_ema": True, "ema_overwrite_frequency": 2}],
    },
    {"name": "rmsprop_ema", "optimizer": ["RMSprop", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.5}]},
    {"name": "adam_accumulate_2", "optimizer": ["Adam", {"learning_rate": 0.1, "gradient_accumulation_steps": 2}]},
    {
        "name": "adam_accumulate_3_global_clipnorm_weight_decay",
        "optimizer": [
            "Adam",
            {"learning_rate": 0.1, "gradient_accumulation_steps": 3, "global_clipnorm": 0.5, "weight_decay": 0.1},
        ],
    },
    {
        "name": "nadam_accumulate_2_ema",
        "optimizer": ["Nadam", {"learning_rate": 0.1, "gradient_accumulation_steps": 2, "use_ema": True}],
    },
    {
        "name": "sgd_schedule_accumulate_3_ema_2",
        "optimizer": [
            "SGD",
            {
                "learning_rate": _DECAY,
                "momentum": 0.5,
                "gradient_accumulation_steps": 3,
                "use_ema": True,
                "ema_momentum": 0.6,
                "ema_overwrite_frequency": 2,
            },
        ],
    },
]


def step_data() -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The two variables' initial values and the gradients of each step (float32, from a fixed seed)."""
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=s).astype(np.float32) for s in STEP_SHAPES]
    grads = [[rng.normal(scale=2.0, size=s).astype(np.float32) for s in STEP_SHAPES] for _ in range(STEPS)]
    return initial, grads


def epoch_weights_callback(K, store: list, save_after=None, path=None):
    """A callback that appends the model's weights to ``store`` at every epoch's end (and saves the model to
    ``path`` at the end of epoch ``save_after``, 1-based)."""

    class EpochWeights(K.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            store.append([np.array(w) for w in self.model.get_weights()])
            if save_after is not None and epoch + 1 == save_after:
                self.model.save(path)

    return EpochWeights()


def record_fit(spec: dict) -> Path:
    import keras

    sys.path.insert(0, str(HERE))
    from record_optimizers import build, initial_weights, make_data
    from recording import save, versions

    keras.utils.set_random_seed(0)
    X, y = make_data(spec["data"])
    model = build(keras, spec)
    w0 = initial_weights([tuple(w.shape) for w in model.get_weights()], spec["data"]["seed"])
    model.set_weights(w0)
    epochs: list = []
    FIXTURES.mkdir(parents=True, exist_ok=True)
    callback = epoch_weights_callback(keras, epochs, spec.get("save_after"), FIXTURES / f"{spec['name']}.keras")
    history = model.fit(X, y, batch_size=16, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[callback])
    opt = model.optimizer
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "loss": np.asarray(history.history["loss"], dtype=np.float64),
        "versions": versions(keras),
        "optimizer_variable_names": np.array([v.path.split("/", 1)[1] for v in opt.variables]),
        "iterations": np.array(int(opt.iterations.numpy())),
    }
    for i, w in enumerate(w0):
        arrays[f"initial/{i}"] = w
    for epoch, ws in enumerate(epochs):
        for i, w in enumerate(ws):
            arrays[f"epoch{epoch}/{i}"] = w
    for i, w in enumerate(model.get_weights()):
        arrays[f"final/{i}"] = w
    for i, v in enumerate(opt.variables):
        arrays[f"optimizer/{i}"] = np.asarray(v.numpy())
    return save(FIXTURES, spec["name"], arrays)


def record_steps() -> Path:
    import keras

    sys.path.insert(0, str(HERE))
    from record_optimizers import make_optimizer
    from recording import save, versions

    initial, grads = step_data()
    arrays = {"versions": versions(keras), "cases": np.array(json.dumps(STEP_CASES, sort_keys=True))}
    for spec in STEP_CASES:
        opt = make_optimizer(keras, spec)
        variables = [keras.Variable(w.copy()) for w in initial]
        weights, states = [], []
        for g in grads:
            opt.apply([keras.ops.convert_to_tensor(x) for x in g], variables)
            weights.append([np.asarray(v.numpy()) for v in variables])
            states.append([np.asarray(v.numpy()) for v in opt.variables])
        # one array per variable, stacked over the steps (step k is row k)
        for i in range(len(variables)):
            arrays[f"{spec['name']}/weight{i}"] = np.stack([ws[i] for ws in weights])
        for i in range(len(states[0])):
            arrays[f"{spec['name']}/optimizer{i}"] = np.stack([vs[i] for vs in states])
        arrays[f"{spec['name']}/names"] = np.array([v.path.split("/", 1)[1] for v in opt.variables])
    return save(FIXTURES, "steps", arrays)


def record_rules() -> Path:
    """Every case of ``tests/optimizer_rules.EMA_CASES`` in Keras, float64 throughout, one ``apply`` per gradient:
    the weights and the moving average after each micro-step (``rules_float64.npz``)."""
    import keras

    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import optimizer_rules as rules
    from recording import save, versions

    keras.backend.set_floatx("float64")
    try:
        arrays = {"versions": versions(keras)}
        for case_id, cls_name, kwargs, _, _ in rules.EMA_CASES:
            kwargs = dict(kwargs)
            if isinstance(kwargs.get("learning_rate"), list):
                name, settings = kwargs["learning_rate"]
                kwargs["learning_rate"] = getattr(keras.optimizers.schedules, name)(**settings)
            opt = getattr(keras.optimizers, cls_name)(**kwargs)
            var = keras.Variable(rules.W0.copy(), dtype="float64")
            steps, averages = [], []
            for g in rules.GRADS:
                opt.apply([keras.ops.convert_to_tensor(g, "float64")], [var])
                steps.append(np.asarray(var.numpy()))
                if opt.use_ema:
                    averages.append(np.asarray(opt._model_variables_moving_average[0].numpy()))
            arrays[case_id] = np.stack(steps)
            if averages:
                arrays[case_id + "/average"] = np.stack(averages)
    finally:
        keras.backend.set_floatx("float32")
    return save(FIXTURES, "rules_float64", arrays)


def main(names: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    from recording import REPO, record_all

    record_all(FIT_CASES, names, record_fit)
    if not names:
        for path in (record_steps(), record_rules()):
            print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
