"""Handing off to Keras: a ``.keras`` file gradfit saved mid-training, loaded in Keras 3.15 and trained on, follows
gradfit continuing itself (``fixtures/handoff/``, recorded by ``record_handoff.py``; cases in ``handoff_cases.py``).

For each case gradfit trains ``save_after`` epochs and then:

* its saved file must be the committed ``<case>.keras`` (every HDF5 entry bit for bit, the same config), the file
  Keras continued from;
* it continues ``continue_epochs`` more epochs without saving: the History, the final weights and the optimizer's
  variables (step count, learning rate, slots, in Keras's order) must equal Keras's continuation within 1e-4;
* saving, loading the file back in gradfit and continuing must give exactly what continuing without saving gives
  where the optimizer holds its state as Keras does (SGD, Adagrad, Adadelta, Ftrl, Lion, centered RMSprop), and
  within a float32 rounding of the moments elsewhere (Adam and its kin keep them scaled; the file holds Keras's).
"""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

import gradfit.keras as G
from gradfit.saving.optimizer_state import optimizer_values

from .compare import close, load, worst
from .handoff_cases import CASES, FIXTURES, continue_training, float_type, gradfit_hand_off, gradfit_model_at_save

IDS = [c["name"] for c in CASES]


def _archive(path) -> tuple[dict, dict]:
    """A ``.keras`` file's config and every HDF5 dataset of its weights member, by path."""
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        data = zf.read("model.weights.h5")
    arrays = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(
            lambda name, obj: arrays.__setitem__(name, np.asarray(obj)) if isinstance(obj, h5py.Dataset) else None
        )
    return config, arrays


def _with_optimizer(model, result: dict) -> dict:
    return {**result, "optimizer": optimizer_values(model)}


def _holds_keras_form(opt) -> bool:
    """Whether the optimizer holds its state as Keras does (every slot unscaled, no scalar kept in float64), so
    that the float32 file holds it exactly. Adam-like optimizers keep their moments divided by ``1 - beta``
    (cheaper steps: ``gradfit/optimizers/adam.py``); the file holds Keras's moments rounded to float32, so their
    state reads back within a float32 rounding, not bit for bit."""
    return not opt.scalar_specs() and all(opt.slot_buffer(s.name)[1] == 1 for s in opt._all_slot_specs())


def test_every_case_has_its_files():
    names = sorted(c["name"] for c in CASES)
    assert sorted(p.stem for p in FIXTURES.glob("*.npz")) == names
    assert sorted(p.stem for p in FIXTURES.glob("*.keras")) == names
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 1024 * 1024


@pytest.mark.parametrize("spec", CASES, ids=IDS)
def test_keras_continues_gradfits_file_as_gradfit_does(spec, tmp_path):
    recorded = load(FIXTURES / f"{spec['name']}.npz")
    assert json.loads(str(recorded["spec"])) == spec, "the case changed: re-record with record_handoff.py"
    saved, model, ours = gradfit_hand_off(spec, tmp_path)
    ours = _with_optimizer(model, ours)

    committed_config, committed = _archive(FIXTURES / f"{spec['name']}.keras")
    config, arrays = _archive(saved)
    assert config == committed_config, "gradfit now writes another config: re-record with record_handoff.py"
    assert sorted(arrays) == sorted(committed), "gradfit now lays its weights file out otherwise: re-record"
    for key, value in arrays.items():
        np.testing.assert_array_equal(value, committed[key], err_msg=f"{key}: not the committed file's; re-record")

    history = {k.split("/", 1)[1]: v for k, v in recorded.items() if k.startswith("history/")}
    assert sorted(ours["history"]) == sorted(history)
    errors = []
    for key, values in history.items():
        close(ours["history"][key], values, f"History {key!r}")
        errors.append(worst(ours["history"][key], values))
    assert len(ours["weights"]) == len([k for k in recorded if k.startswith("final/")])
    for i, w in enumerate(ours["weights"]):
        close(w, recorded[f"final/{i}"], f"final weight {i}")
        errors.append(worst(w, recorded[f"final/{i}"]))
    names = recorded["optimizer_variable_names"]
    assert len(ours["optimizer"]) == len(names), f"Keras's optimizer variables: {list(names)}"
    assert int(ours["optimizer"][0]) == int(recorded["optimizer/0"]), "iterations"
    for i, value in enumerate(ours["optimizer"][1:], start=1):
        assert value.shape == recorded[f"optimizer/{i}"].shape, names[i]
        close(value, recorded[f"optimizer/{i}"], f"optimizer variable {names[i]}")
        errors.append(worst(value, recorded[f"optimizer/{i}"]))
    if spec.get("floatx") == "float64":
        # Keras continues with the very rate gradfit had (a float32 file entry rounded it: 1e-7 off after 3
        # epochs), and the float64 trajectories agree far beyond the float32 tolerance
        assert recorded["loaded/1"].dtype == np.float64 and float(recorded["loaded/1"]) == spec["learning_rate_at_save"]
        assert max(errors) < 1e-7, f"float64 continuation: worst relative error {max(errors):.1e}"
    print(f"{spec['name']}: worst relative error {max(errors):.1e}")


@pytest.mark.parametrize("spec", CASES, ids=IDS)
def test_gradfit_continues_its_own_file_as_without_saving(spec, tmp_path):
    saved, model, without_saving = gradfit_hand_off(spec, tmp_path)
    without_saving = _with_optimizer(model, without_saving)
    exact = _holds_keras_form(model.optimizer)
    for path in (saved, FIXTURES / f"{spec['name']}.keras"):
        with float_type(G, spec):
            loaded_model = G.saving.load_model(path)
            loaded = _with_optimizer(loaded_model, continue_training(loaded_model, spec))
        assert sorted(loaded["history"]) == sorted(without_saving["history"])
        assert len(loaded["weights"]) == len(without_saving["weights"])
        assert len(loaded["optimizer"]) == len(without_saving["optimizer"])
        pairs = [(f"History {k!r}", loaded["history"][k], v) for k, v in without_saving["history"].items()]
        pairs += [(f"weight {i}", a, b) for i, (a, b) in enumerate(zip(loaded["weights"], without_saving["weights"]))]
        pairs += [
            (f"optimizer variable {i}", a, b)
            for i, (a, b) in enumerate(zip(loaded["optimizer"], without_saving["optimizer"]))
        ]
        for what, a, b in pairs:
            if exact:
                np.testing.assert_array_equal(a, b, err_msg=f"{what}, continued from {path.name}")
            else:  # the moments' float32 rounding at the hand-off (see below), carried through the epochs after it
                np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6, err_msg=f"{what}, continued from {path.name}")


def _internal_state(model) -> list[tuple[str, np.ndarray]]:
    """Everything the next step reads: the weights, the step count, the optimizer's slots as it holds them and
    its scalars."""
    opt = model.optimizer
    out = [(f"weight {i}", np.asarray(w)) for i, w in enumerate(model.get_weights())]
    out += [("iterations", np.asarray(opt._iterations)), ("learning_rate", np.asarray(float(opt.learning_rate)))]
    out += [(s.name, np.array(opt.slot_buffer(s.name)[0])) for s in opt._all_slot_specs()]
    return out + [(s.name, np.asarray(getattr(opt, s.name), np.float64)) for s in opt.scalar_specs()]


@pytest.mark.parametrize("spec", [c for c in CASES if not c.get("checkpoint")], ids=lambda c: c["name"])
def test_gradfits_file_reads_back_its_state_within_one_rounding(spec, tmp_path):
    """Loading the file gives back the weights, the step count and the rate exactly, and the optimizer's slots
    exactly where it holds them as Keras does, else within a float32 rounding each way (a relative 2**-23:
    the moment times ``1 - beta`` rounded to float32 in the file, divided again when read). Scalars such as
    Nadam's ``u_product``, held in float64, come back as the file's float32."""
    model = gradfit_model_at_save(spec)
    model.save(tmp_path / "m.keras")
    with float_type(G, spec):
        loaded = G.saving.load_model(tmp_path / "m.keras")
    scalars = {s.name for s in model.optimizer.scalar_specs()}
    slots = {s.name: model.optimizer.slot_buffer(s.name)[1] for s in model.optimizer._all_slot_specs()}
    for (what, a), (_, b) in zip(_internal_state(loaded), _internal_state(model), strict=True):
        if what in scalars:
            np.testing.assert_allclose(a, b, rtol=2.0**-24, atol=0, err_msg=what)
        elif slots.get(what, 1) != 1:
            np.testing.assert_allclose(a, b, rtol=2.0**-22, atol=1e-30, err_msg=what)
        else:
            np.testing.assert_array_equal(a, b, err_msg=what)


def test_a_float64_files_rate_is_read_unrounded(tmp_path):
    """A float64 model's learning rate is read as the file holds it: a rate that differs from the config's only
    beyond float32's precision is the file's after loading (the state wins over the config, as in Keras)."""
    spec = next(c for c in CASES if c.get("floatx") == "float64")
    model = gradfit_model_at_save(spec)
    model.save(tmp_path / "m.keras")
    rate = spec["learning_rate_at_save"] * (1 + 1e-12)
    assert np.float32(rate) == np.float32(spec["learning_rate_at_save"])
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        assert f["optimizer/vars/1"].dtype == np.float64
        f["optimizer/vars/1"][()] = rate
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with float_type(G, spec):
        loaded = G.saving.load_model(tmp_path / "edited.keras")
    assert float(loaded.optimizer.learning_rate) == rate
