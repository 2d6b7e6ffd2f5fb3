"""Replay ``record_training_semantics.py``'s Keras recordings in gradfit: class weights with a validation split,
models ending in a layer without its own activation, ``steps_per_epoch`` / ``validation_steps`` /
``evaluate(steps=)`` / ``predict(steps=)``, ``loss_weights`` and ``weighted_metrics``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .compare import close, load
from .training_semantics_cases import CASES, LOGIT_CASES, case_data

FIXTURES = Path(__file__).parent / "fixtures" / "training_semantics"
BY_NAME = {c["name"]: c for c in CASES}


def _build(spec: dict):
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


class _Counter(K.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.counts: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.counts.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.counts[-1] += 1


def test_every_case_has_a_fixture():
    assert sorted(p.stem for p in FIXTURES.glob("*.npz")) == sorted([*BY_NAME, "trailing_logits"])


# Activation('linear') after a sigmoid: gradfit's advice about a linear output layer is expected there
@pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")
@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_replays_keras(name):
    spec = BY_NAME[name]
    recorded = load(FIXTURES / f"{name}.npz")
    assert json.loads(str(recorded["spec"])) == json.loads(json.dumps(spec))  # re-record after changing a case
    data = case_data(spec)
    model = _build(spec)
    n_weights = sum(1 for key in recorded if key.startswith("initial/"))
    model.set_weights([recorded[f"initial/{i}"] for i in range(n_weights)])
    fit = dict(spec["fit"])
    if "validation_data" in data:
        fit["validation_data"] = data["validation_data"]
    if "sample_weight" in data:
        fit["sample_weight"] = data["sample_weight"]
    counter = _Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data["x"], data["y"], shuffle=False, verbose=0, callbacks=[counter], **fit).history
    ran_out = any("ran out of data" in str(w.message) for w in caught)
    assert ran_out == any("ran out of data" in m for m in json.loads(str(recorded["fit_warnings"])))
    assert counter.counts == recorded["batches_per_epoch"].tolist()
    assert sorted(history) == recorded["history_keys"].tolist()
    for key in history:
        close(history[key], recorded["history/" + key], f"{name}: history[{key!r}]")
    for i in range(n_weights):
        close(model.get_weights()[i], recorded[f"final/{i}"], f"{name}: final weight {i}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # steps beyond the batches: the recorded warning
        result = model.evaluate(data["x"], data["y"], verbose=0, return_dict=True, **spec.get("evaluate", {}))
        predicted = model.predict(data["x"], verbose=0, **spec.get("predict", {}))
    assert sorted(result) == recorded["evaluate_keys"].tolist()
    for key, value in result.items():
        close(value, recorded["evaluate/" + key], f"{name}: evaluate {key!r}")
    assert predicted.shape == recorded["predict"].shape
    close(predicted, recorded["predict"], f"{name}: predict")


@pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")
@pytest.mark.parametrize("case", sorted(LOGIT_CASES))
def test_cross_entropy_through_trailing_layers(case):
    """Logit 50 with label 0: 50.0 where Keras reads the logits through the trailing layers, ~16.1 where it clips
    the sigmoid's output (recorded for evaluate, test_on_batch and, for deterministic layers, training)."""
    recorded = load(FIXTURES / "trailing_logits.npz")
    assert json.loads(str(recorded["cases"])) == json.loads(json.dumps(LOGIT_CASES))
    x = np.array([[0.0], [1.0]], np.float32)
    y = np.zeros((2, 1), np.float32)
    layers = [K.Input((1,)), K.layers.Dense(1, activation="sigmoid")]
    layers += [getattr(K.layers, cls)(**kw) for cls, kw in LOGIT_CASES[case]]
    model = K.Sequential(layers)
    model.compile(optimizer=K.optimizers.SGD(0.0), loss=K.losses.BinaryCrossentropy())
    weights = model.get_weights()
    weights[0][...] = 50.0
    weights[1][...] = 0.0
    model.set_weights(weights)
    close(model.evaluate(x, y, verbose=0, batch_size=2), recorded[f"{case}/evaluate"], f"{case}: evaluate")
    close(model.test_on_batch(x, y), recorded[f"{case}/test_on_batch"], f"{case}: test_on_batch")
    if f"{case}/fit" in recorded:
        close(model.train_on_batch(x, y), recorded[f"{case}/train_on_batch"], f"{case}: train_on_batch")
        fitted = model.fit(x, y, batch_size=2, verbose=0, shuffle=False).history["loss"][0]
        close(fitted, recorded[f"{case}/fit"], f"{case}: fit")
