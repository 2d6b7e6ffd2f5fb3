"""Replay Keras's moving average of the weights (``use_ema``) and gradient accumulation
(``gradient_accumulation_steps``), recorded by ``record_optimizers_ema.py`` (``fixtures/optimizers_ema/``):

* step by step, the optimizer alone (``optimizer.apply``, fixed gradients): the weights and every optimizer
  variable, in Keras's order and under Keras's names, after each step;
* one ``fit(epochs=3)``: the loss of each epoch, the weights at each epoch's end and after ``fit`` (where Keras
  writes the average into the model), the optimizer's variables at the end;
* a model Keras saved in the middle of ``fit`` (averages and part-filled accumulators included): gradfit loads
  it and its remaining epochs end where Keras's did.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit.keras as K
from gradfit.parameters import ParameterStore

from .. import optimizer_rules as rules
from .compare import close, load
from .record_optimizers import build, make_optimizer
from .record_optimizers_ema import (
    EPOCHS,
    FIT_CASES,
    FIXTURES,
    STEP_CASES,
    STEP_SHAPES,
    epoch_weights_callback,
    step_data,
)

SAVED = [c for c in FIT_CASES if c.get("save_after")]


def _keras_name(label: str) -> str:
    # gradfit's "momentum/3" for Keras's "sequential_dense_1_bias_momentum": the slot name ends Keras's
    return "_" + label.split("/")[0]


def test_every_case_has_a_fixture():
    assert sorted(p.stem for p in FIXTURES.glob("*.npz")) == sorted(
        [c["name"] for c in FIT_CASES] + ["steps", "rules_float64"]
    )
    assert sorted(p.stem for p in FIXTURES.glob("*.keras")) == sorted(c["name"] for c in SAVED)
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 512 * 1024


def _our_variables(opt, with_lr: bool) -> list[tuple[str, np.ndarray]]:
    ours = [("iteration", np.asarray(opt._iterations))]
    if with_lr:
        ours.append(("learning_rate", np.asarray(float(opt.learning_rate))))
    return ours + opt.keras_variables()


def _check_variables(opt, names: list[str], values: list[np.ndarray], with_lr: bool, what: str) -> None:
    ours = _our_variables(opt, with_lr)
    assert len(ours) == len(names), f"{what}: gradfit has {[n for n, _ in ours]}, Keras {names}"
    for (label, value), name, want in zip(ours, names, values):
        if "/" in label:  # a slot ("average/0"); Keras leaves Nadam's u_product unnamed ("variable_14")
            assert name.endswith(_keras_name(label)), f"{what}: gradfit's {label} where Keras has {name}"
        close(value, want, f"{what}: optimizer variable {name}")


@pytest.mark.parametrize("spec", STEP_CASES, ids=[c["name"] for c in STEP_CASES])
def test_steps_follow_keras(spec):
    data = load(FIXTURES / "steps.npz")
    assert json.loads(str(data["cases"])) == json.loads(json.dumps(STEP_CASES))  # re-record on change
    initial, grads = step_data()
    store = ParameterStore(STEP_SHAPES, "float32")
    for w, value in zip(store.weights(), initial):
        w[...] = value
    opt = make_optimizer(K, spec)
    opt.build(store)
    name = spec["name"]
    names = [str(n) for n in data[f"{name}/names"]]
    with_lr = not isinstance(spec["optimizer"][1].get("learning_rate"), list)
    for step, g in enumerate(grads):
        for view, x in zip(store.gradients(), g):  # the store's layout (a kernel may be column-major)
            view[...] = x
        opt.apply(store.values, store.grads)
        for i, w in enumerate(store.weights()):
            close(w, data[f"{name}/weight{i}"][step], f"{name}: weight {i} after step {step + 1}")
        values = [data[f"{name}/optimizer{i}"][step] for i in range(len(names))]
        _check_variables(opt, names, values, with_lr, f"{name} after step {step + 1}")


def _fit(model, data, epochs: int):
    weights: list = []
    history = model.fit(
        data["x"],
        data["y"],
        batch_size=16,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[epoch_weights_callback(K, weights)],
    )
    return history.history["loss"], weights


def _check_final(model, data, name: str) -> None:
    for i, w in enumerate(model.get_weights()):
        close(w, data[f"final/{i}"], f"{name}: weight {i} after fit (finalize_variable_values)")


@pytest.mark.parametrize("spec", FIT_CASES, ids=[c["name"] for c in FIT_CASES])
def test_fit_follows_keras(spec):
    data = load(FIXTURES / f"{spec['name']}.npz")
    assert json.loads(str(data["spec"])) == json.loads(json.dumps(spec))  # re-record on change
    model = build(K, spec)
    n = sum(1 for key in data if key.startswith("initial/"))
    model.set_weights([data[f"initial/{i}"] for i in range(n)])
    losses, weights = _fit(model, data, EPOCHS)
    for epoch, (loss, ws) in enumerate(zip(losses, weights)):
        close(loss, data["loss"][epoch], f"{spec['name']}: loss of epoch {epoch + 1}")
        for i, w in enumerate(ws):
            close(w, data[f"epoch{epoch}/{i}"], f"{spec['name']}: weight {i} at the end of epoch {epoch + 1}")
    assert model.optimizer.iterations == int(data["iterations"])
    names = [str(s) for s in data["optimizer_variable_names"]]
    with_lr = not isinstance(spec["optimizer"][1].get("learning_rate"), list)
    values = [data[f"optimizer/{i}"] for i in range(len(names))]
    _check_variables(model.optimizer, names, values, with_lr, spec["name"])
    _check_final(model, data, spec["name"])


@pytest.mark.parametrize("spec", SAVED, ids=[c["name"] for c in SAVED])
def test_continues_from_a_keras_file_saved_in_the_middle_of_fit(spec):
    data = load(FIXTURES / f"{spec['name']}.npz")
    model = K.models.load_model(FIXTURES / f"{spec['name']}.keras")
    done = spec["save_after"]
    opt = model.optimizer
    assert type(opt).__name__ == spec["optimizer"][0]
    settings = spec["optimizer"][1]
    for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "gradient_accumulation_steps"):
        if key in settings:
            assert getattr(opt, key) == settings[key], key
    assert opt._iterations == done * 4  # micro-steps: 64 examples, batch 16
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, data[f"epoch{done - 1}/{i}"])
    losses, weights = _fit(model, data, EPOCHS - done)
    for k, (loss, ws) in enumerate(zip(losses, weights)):
        epoch = done + k
        close(loss, data["loss"][epoch], f"{spec['name']}: loss of epoch {epoch + 1} after loading")
        for i, w in enumerate(ws):
            close(w, data[f"epoch{epoch}/{i}"], f"{spec['name']}: weight {i} after epoch {epoch + 1} after loading")
    _check_final(model, data, spec["name"])


def test_hand_written_rules_are_keras_rules():
    """tests/optimizer_rules.keras_apply (EMA, accumulation) agrees with Keras itself in float64."""
    keras = load(FIXTURES / "rules_float64.npz")
    want = {c[0] for c in rules.EMA_CASES}
    assert {k.split("/")[0] for k in keras if k != "versions"} == want
    for case_id, _, _, step, kwargs in rules.EMA_CASES:
        weights, averages = rules.keras_apply(step, **kwargs)
        np.testing.assert_allclose(np.stack(weights), keras[case_id], rtol=1e-11, atol=1e-14, err_msg=case_id)
        if kwargs.get("use_ema"):
            np.testing.assert_allclose(np.stack(averages), keras[case_id + "/average"], rtol=1e-11, atol=1e-14)
