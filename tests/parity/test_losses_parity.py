"""Replay the Keras recordings of the losses and activations added for issue #10 (``fixtures/losses/``, made
by ``record_losses.py``) in gradfit.

* Each trajectory case starts from the same float32 weights on the same data with ``shuffle=False``: gradfit
  must reproduce Keras's per-epoch History, the final weights, ``predict`` and ``evaluate`` within 1e-4.
* ``values.npz``: each new loss called directly (per example, reduced, with sample weights) and its gradient
  as ``tf.GradientTape`` computed it; each new activation's values and gradient; the loss configs; and every
  name Keras's ``get()`` accepts for a loss or activation gradfit has is accepted by gradfit too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import activations, losses, registry

from .compare import RTOL
from .compare import close as _close
from .compare import load as _load
from .record_losses import (
    LOSS_CASES,
    NEW_ACTIVATIONS,
    NEW_LOSSES,
    VALUE_CASES,
    activation_inputs,
    build,
    fit_kwargs,
    initial_weights,
    make_data,
    value_inputs,
)

FOLDER = Path(__file__).parent / "fixtures" / "losses"
TRAJECTORIES = sorted(p for p in FOLDER.glob("*.npz") if p.stem != "values")


@pytest.fixture(scope="module")
def values() -> dict:
    return _load(FOLDER / "values.npz")


def test_every_case_has_a_fixture():
    assert sorted(p.stem for p in TRAJECTORIES) == sorted(c["name"] for c in LOSS_CASES)


def test_fixtures_stay_small():
    assert sum(p.stat().st_size for p in FOLDER.glob("*.npz")) < 512 * 1024


def test_every_new_loss_and_activation_is_trained():
    used_losses = {case["loss"][0] for case in LOSS_CASES}
    used_activations = {kw.get("activation") for case in LOSS_CASES for _, kw in case["layers"]}
    assert set(NEW_LOSSES) <= used_losses
    assert set(NEW_ACTIVATIONS) <= used_activations


@pytest.mark.parametrize("path", TRAJECTORIES, ids=lambda p: p.stem)
def test_replays_keras_trajectory(path):
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in record_losses.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in LOSS_CASES if c["name"] == path.stem)))
    x, y = data["x"], data["y"]
    mx, my = make_data(spec)
    np.testing.assert_array_equal(mx, x)
    np.testing.assert_array_equal(my, y)

    model = build(K, spec)
    initial = [data[f"initial/{i}"] for i in range(sum(1 for k in data if k.startswith("initial/")))]
    for a, b in zip(initial, initial_weights(spec, model), strict=True):  # same draw as the recorder
        np.testing.assert_array_equal(a, b)
    model.set_weights(initial)
    history = model.fit(x, y, **fit_kwargs(spec)).history

    assert sorted(history) == list(data["history_keys"])
    for key in data["history_keys"]:
        _close(history[key], data["history/" + key], f"History[{key!r}]")
    final = model.get_weights()
    assert len(final) == sum(1 for k in data if k.startswith("final/"))
    for i, w in enumerate(final):
        _close(w, data[f"final/{i}"], f"final weight {i} (shape {w.shape})")
    _close(model.predict(x, verbose=0), data["pred"], "predict(x)")
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(evaluated) == list(data["evaluate_keys"])
    _close([evaluated[k] for k in data["evaluate_keys"]], data["evaluate"], "evaluate(x, y)")


@pytest.mark.parametrize("label,class_name,kwargs,kind", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_loss_values_and_gradients_match_keras(values, label, class_name, kwargs, kind):
    y, p = value_inputs()[kind]
    np.testing.assert_array_equal(values[f"input/{kind}/p"], p)
    loss = getattr(losses, class_name)(**kwargs)
    unreduced = getattr(losses, class_name)(**{**kwargs, "reduction": None})
    _close(unreduced(y, p), values[f"{label}/per_sample"], f"{label}: per-example values")
    _close(loss(y, p), values[f"{label}/reduced"], f"{label}: reduced value")
    _close(loss(y, p, sample_weight=values["sample_weight"]), values[f"{label}/weighted"], f"{label}: weighted")
    # the gradient of the summed per-example losses, as the training step gets it
    total, grad = unreduced.batch_sum_and_grad(y, p)
    assert total == pytest.approx(float(np.sum(values[f"{label}/per_sample"], dtype=np.float64)), rel=RTOL)
    _close(grad, values[f"{label}/grad"], f"{label}: gradient")
    assert loss.get_config() == json.loads(str(values["loss_configs"]))[label]


def test_default_configs_match_keras(values):
    for name, config in json.loads(str(values["default_configs"])).items():
        assert getattr(losses, name)().get_config() == config, name
        assert getattr(losses, name).from_config(config).get_config() == config, name


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activation_values_and_gradients_match_keras(values, name):
    z = activation_inputs()
    np.testing.assert_array_equal(values["activation_input"], z)
    act = activations.get(name)
    a = act(z)
    _close(a, values[f"activation/{name}/value"], f"{name}(z)")
    da = np.linspace(0.5, 1.5, z.size).reshape(z.shape).astype(np.float32)
    _close(act.backward(z, np.asarray(a), da), values[f"activation/{name}/grad"], f"{name}'s backward")


def test_every_keras_name_of_a_gradfit_loss_or_activation_is_accepted(values):
    """Each name ``keras.losses.get`` / ``keras.activations.get`` accepts resolves in gradfit to the same loss or
    activation, whenever gradfit has it (under its Keras class or function name)."""
    for table, reg in (("keras_loss_names", registry.LOSSES), ("keras_activation_names", registry.ACTIVATIONS)):
        for name, target in json.loads(str(values[table])).items():
            if target in reg:
                assert reg.lookup(name) is reg.lookup(target), (name, target)
    keras_activations = set(json.loads(str(values["keras_activation_names"])))
    # the ones gradfit lacks, said here so that adding one shows up
    assert keras_activations - set(registry.ACTIVATIONS.all_names()) == {"glu", "sparsemax", "threshold"}
    assert {"bce", "BCE", "kld", "KLD", "mse", "MSE", "mae", "MAE", "swish", "hard_swish"} <= (
        set(registry.LOSSES.all_names()) | set(registry.ACTIVATIONS.all_names())
    )
