"""Replay the optimizer trajectories recorded with Keras (``fixtures/optimizers/*.npz``, made by
``record_optimizers.py``) in gradfit: the loss and every weight after each epoch, and the optimizer's variables at
the end (in Keras's order, which is also what a saved file holds), within 1e-4.

``rules_float64.npz`` holds Keras's float64 steps for the hand-written rules of ``tests/optimizer_rules.py``:
the rules must agree with Keras itself, so that the step-by-step tests check gradfit against Keras.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import registry

from .. import optimizer_rules as rules
from .compare import ATOL, RTOL
from .compare import load as _load
from .record_optimizers import CASES, FIXTURES, build, train

PATHS = sorted(p for p in FIXTURES.glob("*.npz") if p.stem != "rules_float64")


def _close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    worst = float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), ATOL / RTOL), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=f"{what} (worst {worst:.1e})")


def test_every_case_has_a_fixture():
    assert sorted(p.stem for p in PATHS) == sorted(c["name"] for c in CASES)


def test_every_registered_optimizer_has_a_recorded_trajectory():
    from .cases import CASES as MODEL_CASES  # test_keras_parity.py's cases

    recorded = {c["optimizer"][0] for c in CASES} | {(c["optimizer"] or ["RMSprop"])[0] for c in MODEL_CASES}
    for entry in registry.OPTIMIZERS:
        assert entry.name in recorded, f"optimizer {entry.name} has no TensorFlow trajectory (record_optimizers.py)"


def test_fixtures_stay_small():
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 512 * 1024


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_replays_keras_trajectory(path):
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    assert spec == json.loads(json.dumps(next(c for c in CASES if c["name"] == path.stem)))  # re-record on change
    model = build(K, spec)
    n = sum(1 for key in data if key.startswith("initial/"))
    model.set_weights([data[f"initial/{i}"] for i in range(n)])
    losses, weights = train(model, spec, data["x"], data["y"])
    for epoch, (loss, ws) in enumerate(zip(losses, weights)):
        _close(loss, data["loss"][epoch], f"{path.stem}: loss of epoch {epoch + 1}")
        for i, w in enumerate(ws):
            _close(w, data[f"epoch{epoch}/{i}"], f"{path.stem}: weight {i} after epoch {epoch + 1}")
    # the optimizer's state as Keras lists it: iterations, the learning rate (unless a schedule), then the rest
    names = [str(s) for s in data["optimizer_variable_names"]]
    opt = model.optimizer
    ours = [np.asarray(opt.iterations)]
    if not isinstance(spec["optimizer"][1].get("learning_rate"), list):
        ours.append(np.asarray(float(opt.learning_rate)))
    ours += [value for _, value in opt.keras_variables()]
    assert len(ours) == len(names), f"{path.stem}: gradfit has {len(ours)} optimizer variables, Keras {names}"
    for i, (name, value) in enumerate(zip(names, ours)):
        _close(value, data[f"optimizer/{i}"], f"{path.stem}: optimizer variable {i} ({name})")


SAVED = [c for c in CASES if c.get("save_after")]


def test_every_optimizer_added_with_the_registry_has_a_keras_file():
    saved = {c["optimizer"][0] for c in SAVED}
    for name in ("Nadam", "Adamax", "Lion", "Adadelta", "Ftrl"):
        assert name in saved, f"{name} has no Keras-saved .keras file in record_optimizers.py"


@pytest.mark.parametrize("spec", SAVED, ids=[c["name"] for c in SAVED])
def test_continues_training_from_a_keras_file(spec):
    """A file Keras saved mid-training, optimizer state included (Nadam's u_product too): gradfit loads it and
    its next epochs follow Keras's."""
    data = _load(FIXTURES / f"{spec['name']}.npz")
    model = K.models.load_model(FIXTURES / f"{spec['name']}.keras")
    done = spec["save_after"]
    assert type(model.optimizer).__name__ == spec["optimizer"][0]
    assert model.optimizer.iterations == done * 4  # 64 examples, batch 16
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, data[f"epoch{done - 1}/{i}"])
    losses, weights = train(model, spec, data["x"], data["y"], epochs=spec["epochs"] - done)
    for k, (loss, ws) in enumerate(zip(losses, weights)):
        epoch = done + k
        _close(loss, data["loss"][epoch], f"{spec['name']}: loss of epoch {epoch + 1} after loading")
        for i, w in enumerate(ws):
            _close(w, data[f"epoch{epoch}/{i}"], f"{spec['name']}: weight {i} after epoch {epoch + 1} after loading")


def test_hand_written_rules_are_keras_rules():
    keras = _load(FIXTURES / "rules_float64.npz")
    assert sorted(k for k in keras if k != "versions") == sorted(c[0] for c in rules.CASES)
    for case_id, _, _, rule, rule_kwargs in rules.CASES:
        np.testing.assert_allclose(np.stack(rule(**rule_kwargs)), keras[case_id], rtol=1e-11, err_msg=case_id)


def test_every_registered_optimizer_has_a_hand_written_rule():
    covered = {c[1] for c in rules.CASES}
    for entry in registry.OPTIMIZERS:
        assert entry.name in covered, f"optimizer {entry.name} has no hand-written Keras rule in optimizer_rules.py"
