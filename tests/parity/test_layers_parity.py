"""Replay the recorded Keras trajectories of models with the new layers (``fixtures/layers/*.npz``, made by
``record_layers.py``) in gradfit.

Each case starts from the same float32 weights on the same data with ``shuffle=False``, so gradfit must reproduce
Keras's per-epoch History (loss, metrics, val_*), BatchNormalization's weights and moving statistics after every
epoch, the final weights, ``predict`` (inference mode) and ``evaluate``. Each layer must also accept the Keras
``get_config()`` recorded for it and give the same config back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .compare import close as _close
from .compare import load as _load
from .record_layers import DIGITS, LAYER_CASES, build, fit_kwargs, initial_weights, load_digits, weight_names

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "layers").glob("*.npz"))


def _inputs(data: dict, spec: dict) -> np.ndarray:
    if "x" in data:
        return data["x"]
    if not DIGITS.is_file():
        pytest.skip(f"data file {DIGITS} is not available")
    X, y = load_digits(spec)
    np.testing.assert_array_equal(y, data["y"])  # the same rows as recorded
    return X


def test_every_case_has_a_fixture():
    assert sorted(p.stem for p in FIXTURES) == sorted(c["name"] for c in LAYER_CASES)


def test_fixtures_stay_small():
    assert sum(p.stat().st_size for p in FIXTURES) < 1024 * 1024


def test_every_new_layer_is_replayed():
    used = {name for case in LAYER_CASES for name, _ in case["layers"]}
    assert {"Flatten", "Activation", "ReLU", "LeakyReLU", "Softmax", "Dropout", "BatchNormalization"} <= used


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_replays_keras_trajectory(path):
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in record_layers.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in LAYER_CASES if c["name"] == path.stem)))
    x, y = _inputs(data, spec), data["y"]

    model = build(K, spec)
    n_weights = sum(1 for key in data if key.startswith("initial/"))
    initial = [data[f"initial/{i}"] for i in range(n_weights)]
    for a, b in zip(initial, initial_weights(spec, model), strict=True):  # same draw as the recorder
        np.testing.assert_array_equal(a, b)
    model.set_weights(initial)

    snapshots = []

    class Snapshot(K.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([np.array(w) for w in self.model.get_weights()])

    history = model.fit(x, y, callbacks=[Snapshot()], **fit_kwargs(spec)).history

    assert sorted(history) == list(data["history_keys"])
    epochs = spec["fit"]["epochs"]
    for key in data["history_keys"]:
        assert len(history[key]) == epochs
        _close(history[key], data["history/" + key], f"History[{key!r}]")

    names = weight_names(spec)
    for e, weights in enumerate(snapshots):
        for i, w in enumerate(weights):
            if f"epoch{e}/{i}" in data:
                _close(w, data[f"epoch{e}/{i}"], f"{names[i][0]}.{names[i][1]} after epoch {e + 1}")

    final = model.get_weights()
    assert len(final) == sum(1 for key in data if key.startswith("final/"))
    for i, w in enumerate(final):
        assert w.dtype == np.float32
        _close(w, data[f"final/{i}"], f"final {names[i][0]}.{names[i][1]} (shape {w.shape})")

    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.float32 and pred.shape == data["pred"].shape
    _close(pred, data["pred"], "predict(x)")

    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(evaluated) == list(data["evaluate_keys"])
    _close([evaluated[k] for k in data["evaluate_keys"]], data["evaluate"], "evaluate(x, y)")


NEW_LAYERS = ("Activation", "BatchNormalization", "Dropout", "Flatten", "LeakyReLU", "ReLU", "Softmax")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_keras_configs_round_trip(path):
    """Each recorded Keras ``get_config()`` of a new layer builds the same layer in gradfit, whose config says
    the same (Keras 3 writes the dtype as a DTypePolicy dict, gradfit as its name)."""
    serialized = json.loads(str(_load(path)["keras_configs"]))
    checked = 0
    for entry in serialized:
        if entry["class_name"] not in NEW_LAYERS:
            continue
        config = entry["config"]
        layer = getattr(K.layers, entry["class_name"]).from_config(config)
        ours = json.loads(json.dumps(layer.get_config(), default=list))
        assert ours.pop("dtype") == config["dtype"]["config"]["name"]
        assert ours == {k: v for k, v in config.items() if k != "dtype"}, entry["class_name"]
        checked += 1
    assert checked
