"""Replay the Keras recordings of ``LayerNormalization``, ``Rescaling``, ``Identity``, ``GaussianNoise`` and
``GaussianDropout`` (``fixtures/layers_new/*.npz``, made by ``record_layers_new.py``) in gradfit.

Trained cases: the same float32 weights, data and ``shuffle=False``, so gradfit must reproduce the per-epoch
History, the LayerNormalization weights after every epoch, the final weights, ``predict`` and ``evaluate``, within
1e-4. ``inference`` cases (the noise layers with their noise on, whose draws cannot match TensorFlow's): ``predict``
and ``evaluate`` with the recorded weights. Every case: the output shapes, and each recorded Keras config builds
the same layer, whose config says the same. And ``layer_normalization.keras``, saved by Keras, loads in gradfit.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .compare import ATOL, RTOL
from .compare import load as _load
from .record_layers import fit_kwargs
from .record_layers_new import CASES, FIXTURES, KERAS_FILE, build, initial_weights, weight_names

PATHS = sorted(FIXTURES.glob("*.npz"))
PATHS = [p for p in PATHS if not p.name.endswith(".expected.npz")]

NEW_LAYERS = ("GaussianDropout", "GaussianNoise", "Identity", "LayerNormalization", "Rescaling")


def _close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    worst = float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), ATOL / RTOL), initial=0.0))
    np.testing.assert_allclose(
        actual, expected, rtol=RTOL, atol=ATOL, err_msg=f"{what} differs from Keras (worst relative error {worst:.2e})"
    )


def _case(path: Path) -> dict:
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in record_layers_new.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in CASES if c["name"] == path.stem)))
    return data, spec


def _model(spec: dict, data: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rms_scaling's deprecation, as Keras warns
        model = build(K, spec)
    n = sum(1 for key in data if key.startswith("initial/"))
    initial = [data[f"initial/{i}"] for i in range(n)]
    for a, b in zip(initial, initial_weights(spec, model), strict=True):  # the same draw as the recorder
        np.testing.assert_array_equal(a, b)
    model.set_weights(initial)
    return model


def test_every_case_has_a_fixture_and_every_new_layer_is_used():
    assert sorted(p.stem for p in PATHS) == sorted(c["name"] for c in CASES)
    assert set(NEW_LAYERS) <= {name for case in CASES for name, _ in case["layers"]}
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 512 * 1024


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_replays_keras(path):
    data, spec = _case(path)
    x, y = data["x"], data["y"]
    model = _model(spec, data)
    assert [list(layer.output_shape) for layer in model.layers] == json.loads(str(data["output_shapes"]))

    if not spec.get("inference"):
        snapshots = []

        class Snapshot(K.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                snapshots.append([np.array(w) for w in self.model.get_weights()])

        history = model.fit(x, y, callbacks=[Snapshot()], **fit_kwargs(spec)).history
        assert sorted(history) == list(data["history_keys"])
        for key in data["history_keys"]:
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


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_keras_configs_round_trip(path):
    """Each recorded Keras ``get_config()`` of a new layer builds the same layer in gradfit, whose config says
    the same (Keras 3 writes the dtype as a DTypePolicy dict, gradfit as its name)."""
    serialized = json.loads(str(_load(path)["keras_configs"]))
    checked = 0
    for entry in serialized:
        if entry["class_name"] not in NEW_LAYERS:
            continue
        assert entry["module"] == "keras.layers"
        config = entry["config"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            layer = getattr(K.layers, entry["class_name"]).from_config(config)
        ours = json.loads(json.dumps(layer.get_config(), default=list))
        assert ours.pop("dtype") == config["dtype"]["config"]["name"]
        assert ours == {k: v for k, v in config.items() if k != "dtype"}, entry["class_name"]
        checked += 1
    assert checked


def test_loads_a_keras_file_with_layer_normalization():
    expected = _load(KERAS_FILE.with_suffix(".expected.npz"))
    model = K.models.load_model(KERAS_FILE)
    assert [type(layer).__name__ for layer in model.layers] == [name for name, _ in CASES[0]["layers"]]
    weights = model.get_weights()
    assert len(weights) == int(expected["weights_count"])
    for i, w in enumerate(weights):
        np.testing.assert_array_equal(w, expected[f"weight/{i}"])
    _close(model.predict(expected["x"], verbose=0), expected["pred"], "predict(x) of the loaded model")
