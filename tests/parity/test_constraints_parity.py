"""Replay the Keras recordings of weight constraints, activity regularizers and activation layers used as an
activation (``fixtures/constraints/*.npz``, made by ``record_constraints.py``) in gradfit.

Trained cases: the same float32 initial weights and data, ``shuffle=False``, 2 epochs: gradfit must reproduce the
per-epoch History (the activity penalties are in the loss, in training and in validation), the weights after each
epoch (the constraints applied after every update), ``predict``, ``evaluate`` and the activity penalties of one
call, within 1e-4. Every recorded Keras layer config loads in gradfit (through the safe loader's schemas) and
gradfit writes the same constraints, regularizers and activation. ``values.npz``: each constraint on fixed arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import registry
from gradfit.schema import construct

from .compare import close, load
from .record_constraints import CASES, FIXTURES, initial_weights, make_data
from .recording import build_sequential, fit_kwargs

PATHS = sorted(p for p in FIXTURES.glob("*.npz") if p.stem != "values")
VALUES = FIXTURES / "values.npz"


def test_every_case_is_recorded():
    assert sorted(p.stem for p in PATHS) == sorted(c["name"] for c in CASES)
    assert sorted(p.stem for p in FIXTURES.glob("*.keras")) == sorted(c["name"] for c in CASES)
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 512 * 1024


def _case(path: Path) -> tuple[dict, dict]:
    data = load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in record_constraints.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in CASES if c["name"] == path.stem)))
    return data, spec


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_training_matches_keras(path):
    data, spec = _case(path)
    x, y = make_data(spec)
    np.testing.assert_array_equal(x, data["x"])
    model = build_sequential(K, spec)
    initial = initial_weights(spec, model)
    n = sum(1 for key in data if key.startswith("initial/"))
    assert n == len(initial)
    for i, w in enumerate(initial):
        np.testing.assert_array_equal(w, data[f"initial/{i}"])
    model.set_weights(initial)

    per_epoch = []

    class Snapshot(K.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            per_epoch.append([np.array(w) for w in self.model.get_weights()])

    history = model.fit(x, y, **fit_kwargs(spec), callbacks=[Snapshot()])
    for key in (k for k in data if k.startswith("history/")):
        close(history.history[key.split("/", 1)[1]], data[key], f"{spec['name']}: {key}")
    for e, weights in enumerate(per_epoch):
        for i, w in enumerate(weights):
            close(w, data[f"epoch/{e}/{i}"], f"{spec['name']}: weight {i} after epoch {e + 1}")
    for i, w in enumerate(model.get_weights()):
        close(w, data[f"final/{i}"], f"{spec['name']}: final weight {i}")
    close(model.predict(x, verbose=0), data["predict"], f"{spec['name']}: predict")
    close(model.evaluate(x, y, verbose=0), data["evaluate"], f"{spec['name']}: evaluate")

    model(x[:10], training=False)
    penalties = [layer.activity_penalty for layer in model.layers if layer.activity_regularizer is not None]
    close(penalties, data["activity_losses"][: len(penalties)], f"{spec['name']}: activity penalties")


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_keras_configs_load_and_gradfit_writes_the_same(path):
    data, spec = _case(path)
    for config, (class_name, _) in zip(json.loads(str(data["configs"])), spec["layers"], strict=True):
        cls = registry.LAYERS.require(class_name)
        layer = construct(cls, config, f"layers[{config['name']}]", "layer")  # the safe loader's path
        ours = layer.get_config()
        for key, theirs in config.items():
            if key.endswith(("_constraint", "_regularizer")) or key == "activation":
                assert _comparable(ours.get(key)) == _comparable(theirs), (class_name, key)


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_keras_saved_model_loads_and_predicts_the_same(path):
    data, spec = _case(path)
    model = K.models.load_model(path.with_suffix(".keras"))
    close(model.predict(data["x"], verbose=0), data["predict"], f"{spec['name']}: predict of Keras's file")
    close(
        model.evaluate(data["x"], data["y"], verbose=0), data["evaluate"], f"{spec['name']}: evaluate of Keras's file"
    )
    for (class_name, kwargs), layer in zip(spec["layers"], model.layers, strict=True):
        for key, value in kwargs.items():
            if key.endswith("_constraint") or key == "activity_regularizer":
                assert type(getattr(layer, key)).__name__ == value["class_name"], (class_name, key)


def _comparable(value):
    """A serialized object without what differs by design (a layer's name and dtype policy form)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in ("name", "dtype")}
    return value


def test_constraint_values_match_keras():
    data = load(VALUES)
    inputs = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("input/")}
    for name, serialized in json.loads(str(data["cases"])):
        c = K.constraints.get(serialized)
        assert K.constraints.serialize(c) == json.loads(str(data[f"config/{name}"])), name
        for key, arr in inputs.items():
            expected = data.get(f"value/{name}/{key}")
            if expected is None:
                continue
            got = c(arr)
            assert got.dtype == np.float32, name
            close(got, expected, f"{name} on {key}")
            w = arr.copy()
            c.apply(w)  # the training step's in-place form gives the same
            close(w, expected, f"{name}.apply on {key}")
