"""Hostile optimizer state in a weights file (``/optimizer/vars`` of a ``.weights.h5`` or a ``.keras`` archive).

Each value that would turn the next step's weights into NaN, or that no training can produce, is refused with a
``ModelFileError`` naming the entry, its slot and its weight: a negative second moment (any slot declared
``nonnegative``), a NaN or an infinity in any slot (moving averages and gradient accumulators included) or
scalar, a scalar out of its range (Nadam's ``u_product``), a step count that is negative, fractional or not a
number. After a refused load, the model's weights and its optimizer's state are bit-identical to before.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import registry
from gradfit.saving.h5 import h5py
from gradfit.schema import ModelFileError

ENTRIES = list(registry.OPTIMIZERS)
IDS = [e.name for e in ENTRIES]
#: settings that switch on every slot an optimizer has, plus the base class's average and accumulators
ALL_STATE = {
    "SGD": {"momentum": 0.9},
    "RMSprop": {"centered": True, "momentum": 0.5},
    "Adam": {"amsgrad": True},
    "AdamW": {"amsgrad": True},
}
BASE_STATE = {"use_ema": True, "gradient_accumulation_steps": 2}


def _trained(entry, tmp_path, **extra):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.normal(size=(12, 2)).astype(np.float32)
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(2)])
    model.compile(optimizer=entry.obj(0.05, **ALL_STATE.get(entry.name, {}), **extra), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)  # 3 micro-steps: one gradient waits
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    return model, path


def _labels(model) -> list[str]:
    """The label of each ``/optimizer/vars/<i>``."""
    opt = model.optimizer
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    return ["iteration", "learning_rate"] + [label for label, _ in opt.keras_variable_specs(shapes)]


def _state(model) -> dict:
    opt = model.optimizer
    return {
        "weights": [w.tobytes() for w in model.get_weights()],
        "iterations": opt._iterations,
        "lr": float(opt.learning_rate),
        "slots": {k: v.tobytes() for k, v in opt._slots.items()},
        "scalars": {s.name: getattr(opt, s.name) for s in opt.scalar_specs()},
    }


def _tamper(path, index: int, value) -> None:
    with h5py().File(path, "r+") as f:
        group = f["optimizer/vars"]
        del group[str(index)]
        group[str(index)] = value


def _refused(model, path, *patterns) -> None:
    before = _state(model)
    with pytest.raises(ModelFileError) as info:
        model.load_weights(path)
    for pattern in patterns:
        assert pattern in str(info.value), f"{pattern!r} not in {info.value}"
    assert _state(model) == before


def _with(model, path, label: str, change) -> None:
    index = _labels(model).index(label)
    with h5py().File(path, "r") as f:
        value = np.array(f[f"optimizer/vars/{index}"])
    _tamper(path, index, change(value))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_a_negative_second_moment_is_refused(entry, tmp_path):
    model, path = _trained(entry, tmp_path, **BASE_STATE)
    slots = [s for s in model.optimizer._all_slot_specs() if s.nonnegative]
    for spec in slots:
        model, path = _trained(entry, tmp_path, **BASE_STATE)

        def negative(v):
            v = v.copy()
            v.flat[0] = -1e-3
            return v

        _with(model, path, f"{spec.keras_name}/1", negative)
        _refused(model, path, f"{spec.keras_name}/1", "trainable weight 1", "non-negative")
    expected = {"SGD": 0, "Lion": 0, "Ftrl": 1, "Adagrad": 1, "RMSprop": 1, "Adadelta": 2, "Adamax": 1}
    assert len(slots) == expected.get(entry.name, 2 if entry.name in ("Adam", "AdamW") else 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_a_non_finite_value_in_any_slot_is_refused(entry, bad, tmp_path):
    model, _ = _trained(entry, tmp_path, **BASE_STATE)
    specs = model.optimizer._all_slot_specs()
    assert specs[0].keras_name == "average" and specs[1].keras_name == "gradient_accumulator"
    for spec in specs:
        model, path = _trained(entry, tmp_path, **BASE_STATE)

        def poisoned(v):
            v = v.copy()
            v.flat[-1] = bad
            return v

        _with(model, path, f"{spec.keras_name}/0", poisoned)
        _refused(model, path, f"{spec.keras_name}/0", "trainable weight 0", "finite")


def test_a_nadam_u_product_out_of_range_or_not_finite_is_refused(tmp_path):
    entry = registry.OPTIMIZERS.entry_of_class(K.optimizers.Nadam)
    for bad in (np.nan, np.inf, 1.5, -0.25):
        model, path = _trained(entry, tmp_path)
        _tamper(path, _labels(model).index("u_product"), np.array(bad, np.float32))
        _refused(model, path, "u_product")


@pytest.mark.parametrize(
    "value, pattern",
    [
        (np.array(-3, np.int64), "non-negative"),
        (np.array(2.5), "iterations"),
        (np.array(np.nan), "iterations"),
        (np.array([1, 2], np.int64), "iterations"),
    ],
    ids=["negative", "fractional", "nan", "not_a_scalar"],
)
def test_a_bad_step_count_is_refused(value, pattern, tmp_path):
    entry = registry.OPTIMIZERS.entry_of_class(K.optimizers.Adam)
    model, path = _trained(entry, tmp_path, **BASE_STATE)
    _tamper(path, 0, value)
    _refused(model, path, pattern)


def test_a_non_finite_learning_rate_is_refused(tmp_path):
    entry = registry.OPTIMIZERS.entry_of_class(K.optimizers.SGD)
    model, path = _trained(entry, tmp_path)
    _tamper(path, 1, np.array(np.nan, np.float32))
    _refused(model, path, "learning_rate", "finite")


def test_a_negative_momentum_is_state_training_can_reach(tmp_path):
    entry = registry.OPTIMIZERS.entry_of_class(K.optimizers.Adam)
    model, path = _trained(entry, tmp_path, **BASE_STATE)
    _with(model, path, "momentum/0", lambda v: -np.abs(v) - 1.0)
    _with(model, path, "average/0", lambda v: -np.abs(v) - 1.0)
    model.load_weights(path)  # first moments, averages and accumulators may be negative
    assert (model.optimizer.momentums[: model.trainable_weights[0].size] < 0).all()


def test_a_hostile_keras_archive_is_refused_too(tmp_path):
    import zipfile

    entry = registry.OPTIMIZERS.entry_of_class(K.optimizers.RMSprop)
    model, path = _trained(entry, tmp_path, use_ema=True)
    archive = tmp_path / "m.keras"
    model.save(archive)
    with zipfile.ZipFile(archive) as z:
        members = {name: z.read(name) for name in z.namelist()}
    inner = tmp_path / "inner.weights.h5"
    inner.write_bytes(members["model.weights.h5"])
    index = _labels(model).index("velocity/2")
    with h5py().File(inner, "r+") as f:
        value = np.array(f[f"optimizer/vars/{index}"])
        value.flat[0] = -1.0
        del f[f"optimizer/vars/{index}"]
        f[f"optimizer/vars/{index}"] = value
    members["model.weights.h5"] = inner.read_bytes()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ModelFileError, match=r"velocity/2.*trainable weight 2.*non-negative"):
        K.models.load_model(archive)
    _refused(model, archive, "velocity/2")
