"""Record Keras 3's training-loop semantics for issue #11 (run by hand in a TensorFlow venv, never in the suite):

* class weights with ``validation_split`` (the split comes first: validation is not class-weighted), a class
  missing from ``class_weight`` (weight 1.0);
* a model ending in a layer without its own activation (Dropout, BatchNormalization, Identity, …): History,
  val_loss, ``evaluate`` and the weights after 2 epochs, and the cross-entropy on logits ``[0, 50]`` seen through
  each trailing layer (from the logits or clipped) in ``evaluate``, ``train_on_batch`` and ``test_on_batch``;
* ``steps_per_epoch`` (fewer / more steps than batches, no ``batch_size``), ``validation_steps``,
  ``evaluate(steps=)``, ``predict(steps=)``: the losses, the number of batches each epoch ran and the weights;
* ``compile(loss_weights=)`` with an L2 penalty, ``compile(weighted_metrics=)`` with sample and class weights.

Usage: ``/tmp/tfenv/bin/python tests/parity/record_training_semantics.py`` writes
``fixtures/training_semantics/<case>.npz`` (each: the spec as JSON, data, initial and final weights, History,
and the case's extra values).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.parity.training_semantics_cases import CASES, LOGIT_CASES, case_data  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "training_semantics"


def build(K, spec: dict):
    layers = [K.Input(shape=(spec["features"],))]
    for class_name, kwargs in spec["layers"]:
        layers.append(getattr(K.layers, class_name)(**kwargs))
    model = K.Sequential(layers)
    loss_name, loss_kwargs = spec["loss"]
    model.compile(
        optimizer=getattr(K.optimizers, spec["optimizer"][0])(**spec["optimizer"][1]),
        loss=getattr(K.losses, loss_name)(**loss_kwargs),
        **spec.get("compile", {}),
    )
    return model


class BatchCounter:
    """How many training batches each epoch ran (Keras's on_train_batch_end calls)."""

    def __init__(self, keras):
        outer = self

        class _Counter(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.counts.append(0)

            def on_train_batch_end(self, batch, logs=None):
                outer.counts[-1] += 1

        self.counts: list[int] = []
        self.callback = _Counter()


def record_case(keras, spec: dict) -> Path:
    data = case_data(spec)
    model = build(keras, spec)
    rng = np.random.default_rng(spec["seed"])
    initial = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in model.get_weights()]
    # BatchNormalization's moving variance must stay positive
    initial = [np.abs(w) + 0.5 if "variance" in p else w for w, p in zip(initial, _paths(model))]
    model.set_weights(initial)
    fit = dict(spec["fit"])
    if "validation_data" in data:
        fit["validation_data"] = data["validation_data"]
    if "sample_weight" in data:
        fit["sample_weight"] = data["sample_weight"]
    counter = BatchCounter(keras)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data["x"], data["y"], shuffle=False, verbose=0, callbacks=[counter.callback], **fit)
    arrays = {
        "spec": np.array(json.dumps(spec)),
        "history_keys": np.array(sorted(history.history)),
        "batches_per_epoch": np.array(counter.counts),
        "fit_warnings": np.array(json.dumps([str(w.message) for w in caught])),
    }
    for key, values in history.history.items():
        arrays["history/" + key] = np.asarray(values, np.float64)
    for i, w in enumerate(initial):
        arrays[f"initial/{i}"] = w
    for i, w in enumerate(model.get_weights()):
        arrays[f"final/{i}"] = w
    ev = spec.get("evaluate", {})
    result = model.evaluate(data["x"], data["y"], verbose=0, return_dict=True, **ev)
    arrays["evaluate_keys"] = np.array(sorted(result))
    for key, value in result.items():
        arrays["evaluate/" + key] = np.float64(value)
    arrays["predict"] = model.predict(data["x"], verbose=0, **spec.get("predict", {}))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{spec['name']}.npz"
    np.savez_compressed(path, **arrays)
    return path


def _paths(model) -> list[str]:
    return [v.path for v in model.weights]


def record_logits(keras) -> Path:
    """The binary cross-entropy of label 0 on logits [0, 50] (one example each) through each trailing layer: 50.0
    (and 0.693) when Keras reads the logits, about 16.1 when it clips the sigmoid's output."""
    x = np.array([[0.0], [1.0]], np.float32)
    y = np.zeros((2, 1), np.float32)
    out = {}
    for name, trailing in LOGIT_CASES.items():
        layers = [keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")]
        layers += [getattr(keras.layers, cls)(**kw) for cls, kw in trailing]
        model = keras.Sequential(layers)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss=keras.losses.BinaryCrossentropy())
        weights = model.get_weights()
        weights[0][...] = 50.0
        weights[1][...] = 0.0
        model.set_weights(weights)
        out[f"{name}/evaluate"] = np.float64(model.evaluate(x, y, verbose=0, batch_size=2))
        out[f"{name}/test_on_batch"] = np.float64(model.test_on_batch(x, y))
        # in training mode (SGD(0) changes nothing): the deterministic trailing layers only
        if not any(
            cls in ("Dropout", "GaussianNoise", "GaussianDropout") and list(kw.values())[0] > 0 for cls, kw in trailing
        ):
            out[f"{name}/train_on_batch"] = np.float64(model.train_on_batch(x, y))
            out[f"{name}/fit"] = np.float64(model.fit(x, y, batch_size=2, verbose=0, shuffle=False).history["loss"][0])
    out["cases"] = np.array(json.dumps(LOGIT_CASES))
    path = OUT / "trailing_logits.npz"
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return path


def main(names: list[str]) -> None:
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    for spec in CASES:
        if names and spec["name"] not in names:
            continue
        keras.utils.set_random_seed(0)
        path = record_case(keras, spec)
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    if not names or "trailing_logits" in names:
        print(record_logits(keras))


if __name__ == "__main__":
    main(sys.argv[1:])
