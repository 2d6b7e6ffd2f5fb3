"""The safe loader derives everything from the registries and each class's ``config_schema``: what a file may
name, what each setting may hold (nested losses, optimizers, initializers, regularizers and schedules included),
which weights a layer makes. A class registered anywhere loads without an edit in ``gradfit/saving/``.

Also: initializers, regularizers and schedules declared once (registry + schema), with Keras 3's names.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import re
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import gradfit
from gradfit import backend, initializers, registry, regularizers, saving, schedules
from gradfit.keras import Input, Sequential, layers
from gradfit.layers.base import Layer
from gradfit.saving import ModelFileError
from gradfit.schema import REQUIRED, Number, Off, Schema

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")


def _compiled_config(**compile_kwargs) -> dict:
    model = Sequential([Input((3,)), layers.Dense(2, activation="relu"), layers.Dense(1)])
    model.compile(**compile_kwargs)
    return json.loads(model.to_json())


# ------------------------------------------------------------------------------------------- nested objects


def test_loss_config_with_a_string_for_a_boolean_is_refused():
    config = _compiled_config(optimizer="adam", loss=gradfit.keras.losses.BinaryCrossentropy())
    assert saving.model_from_config(copy.deepcopy(config)).loss.from_logits is False
    config["compile_config"]["loss"]["config"]["from_logits"] = "false"  # once loaded as True
    with pytest.raises(ModelFileError, match=r"compile_config\.loss\.from_logits: expected true or false, got 'false'"):
        saving.model_from_config(config)


def test_optimizer_config_with_a_string_for_a_number_is_refused():
    config = _compiled_config(optimizer=gradfit.keras.optimizers.SGD(clipnorm=1.0), loss="mse")
    assert saving.model_from_config(copy.deepcopy(config)).optimizer.clipnorm == 1.0
    config["compile_config"]["optimizer"]["config"]["clipnorm"] = "1.0"  # once loaded, then failed at step 1
    with pytest.raises(ModelFileError, match=r"compile_config\.optimizer\.clipnorm: must be a finite number"):
        saving.model_from_config(config)


@pytest.mark.parametrize(
    "key, value, pattern",
    [
        (
            "kernel_initializer",
            {"class_name": "RandomNormal", "config": {"stddev": "0.1"}},
            r"stddev: must be a finite",
        ),
        ("kernel_initializer", {"class_name": "GlorotUniform", "config": {"seed": 1.5}}, r"seed: must be an integer"),
        ("kernel_initializer", {"class_name": "GlorotUniform", "config": {"input_axes": [0]}}, "does not support"),
        ("kernel_initializer", "glorot_uniformm", r"Did you mean 'glorot_uniform'"),
        ("kernel_regularizer", {"class_name": "L2", "config": {"l2": -1}}, r"l2: must be a finite number in \[0"),
        ("kernel_regularizer", "l1_l2", r"Unknown regularizer 'l1_l2'"),  # not a Keras 3 identifier
        ("activation", {"class_name": "function", "config": "rellu"}, "unknown activation function 'rellu'"),
        ("units", "3", r"units: must be an integer"),
        ("use_bias", 1, r"use_bias: expected true or false"),
        ("kernel_constraint", {"class_name": "MaxNorm", "config": {"max_value": -1}}, r"max_value: must be a finite"),
        ("kernel_constraint", {"class_name": "MaxNorm", "config": {"max_value": "3"}}, r"max_value: must be a finite"),
        ("kernel_constraint", {"module": "os", "class_name": "NonNeg", "config": {}}, "never imports"),
        ("lora_rank", 4, "does not support lora_rank"),
    ],
)
def test_layer_settings_are_checked_by_the_class_schema(key, value, pattern):
    config = _compiled_config(optimizer="adam", loss="mse")
    config["config"]["layers"][1]["config"][key] = value
    with pytest.raises(ModelFileError, match=pattern):
        saving.model_from_config(config)


def test_schedule_settings_are_checked_by_the_schedule_schema():
    lr = schedules.ExponentialDecay(0.1, 10, 0.5)
    config = _compiled_config(optimizer=gradfit.keras.optimizers.SGD(lr), loss="mse")
    assert isinstance(saving.model_from_config(copy.deepcopy(config)).optimizer._learning_rate, type(lr))
    bad = copy.deepcopy(config)
    bad["compile_config"]["optimizer"]["config"]["learning_rate"]["config"]["decay_steps"] = "10"
    with pytest.raises(ModelFileError, match=r"learning_rate\.decay_steps: must be a finite number"):
        saving.model_from_config(bad)
    bad = copy.deepcopy(config)
    bad["compile_config"]["optimizer"]["config"]["learning_rate"]["config"]["decay_steps"] = 0
    with pytest.raises(ModelFileError, match=r"decay_steps` must be > 0"):
        saving.model_from_config(bad)
    bad = copy.deepcopy(config)
    bad["compile_config"]["optimizer"]["config"]["learning_rate"]["class_name"] = "LearningRateSchedule"
    with pytest.raises(ModelFileError, match="unknown learning-rate schedule"):
        saving.model_from_config(bad)


# ------------------------------------------------------------------------------------------- derived from registries


class Scale(Layer):
    """``y = x * w``, one weight per feature: a layer the loader has never heard of, registered by a test."""

    config_schema = Schema({"start": Number(1.0)}, base=Layer.config_schema)

    def __init__(self, start=1.0, **kwargs):
        c, kwargs = self.config_schema.check_with_base("Scale", {"start": start}, kwargs)
        super().__init__(**kwargs)
        self.start = c["start"]

    def keras_weights(self, input_shape):
        return [("w", (input_shape[-1],), True, self.dtype or backend.floatx())]

    def build(self, input_shape):
        self.add_weight("w", (input_shape[-1],), initializers.Constant(self.start))
        self._finish_build(input_shape)

    def forward(self, x, training=False):
        self.x = x
        return x * self.w

    def backward(self, dy):
        self.grad_w[...] = (dy * self.x).sum(axis=0)
        return dy * self.w

    def get_config(self):
        return {**super().get_config(), "start": self.start}


@pytest.fixture
def scale_registered():
    registry.LAYERS.register(Scale)
    try:
        yield Scale
    finally:  # the registry has no public way out: this test's class must not leak into other tests
        entry = registry.LAYERS._entries.pop("Scale")
        registry.LAYERS._lookup.pop("Scale")
        registry.LAYERS._by_id.pop(id(entry.obj))


def test_a_newly_registered_layer_saves_and_loads_without_touching_saving(scale_registered, tmp_path):
    backend.set_seed(0)
    model = Sequential([Input((3,)), Scale(start=2.0), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is Scale and "Scale" in saving.supported_layers()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with zipfile.ZipFile(tmp_path / "m.keras") as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as f:
        assert f["layers/scale/vars/0"].shape == (3,)  # registry.snake_case names the group, as Keras would
    bad = json.loads(model.to_json())
    bad["config"]["layers"][1]["config"]["start"] = "2"
    with pytest.raises(ModelFileError, match=r"Scale 'scale.*'\)\.start: must be a finite number"):
        saving.model_from_config(bad)


def test_unregistered_layer_is_refused_by_the_allow_list():
    assert "Scale" not in registry.LAYERS
    entry = {"module": "keras.layers", "class_name": "Scale", "config": {}}
    with pytest.raises(ModelFileError, match=r"unknown layer 'keras\.layers\.Scale'; gradfit has: .*Dense"):
        saving.layer_from_entry(entry, "layer")


def test_every_registered_layer_declares_a_schema_matching_its_constructor():
    for kind in (registry.LAYERS, registry.INITIALIZERS, registry.REGULARIZERS, registry.SCHEDULES):
        for entry in kind:
            cls = entry.obj
            schema = cls.__dict__.get("config_schema") or cls.config_schema
            params = {}
            for klass in cls.__mro__:  # follow **kwargs up to the constructors they reach
                init = klass.__dict__.get("__init__")
                if init is None:
                    continue
                sig = inspect.signature(init).parameters.values()
                params.update(
                    {p.name: p.default for p in sig if p.name not in params and p.kind == p.POSITIONAL_OR_KEYWORD}
                )
                if not any(p.kind == p.VAR_KEYWORD for p in sig):
                    break
            for key, field in schema.fields.items():
                where = f"{entry.keras_path}.{key}"
                if isinstance(field, Off) or key in schema.ignored:
                    continue
                if (
                    issubclass(cls, Layer)
                    and key in Layer.config_schema
                    and cls is not registry.LAYERS.lookup("InputLayer")
                ):
                    continue  # the base class's settings (its constructor takes them through **kwargs)
                assert key in params, f"{where} is not a constructor parameter"
                default = params[key]
                if field.default is REQUIRED:
                    assert default is inspect.Parameter.empty, where
                else:
                    assert default == field.default, f"{where}: schema {field.default!r}, constructor {default!r}"


def test_no_hand_kept_tables_in_the_saving_package():
    source = "\n".join(p.read_text() for p in sorted(Path(saving.__file__).parent.glob("*.py")))
    for name in ("_LAYER_KINDS", "_OPTIMIZERS", "_REGULARIZERS", "_SCHEDULES", "_LOSS_FUNCTIONS", "_optimizer_layout"):
        assert name not in source
    for knowledge in (r"slot_buffer", r"\bscale\b", r"_scales", r"_matrix_order", r"weight_views", r"isinstance\(opt"):
        assert not re.search(knowledge, source), knowledge


def _deep_archive(path, n: int):
    model = Sequential([Input((4,)), *[layers.Activation("relu") for _ in range(n - 1)], layers.Dense(2)])
    config = json.loads(model.to_json())
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:  # a layer without weights needs no group (Keras writes an empty one)
        f["layers/dense/vars/0"] = model.layers[-1].kernel
        f["layers/dense/vars/1"] = model.layers[-1].bias
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.getvalue())
    return model, config


def _best_load_time(path) -> tuple[float, Sequential]:
    best, loaded = float("inf"), None
    for _ in range(2):  # the better of two: the machine may be busy
        start = time.perf_counter()
        loaded = saving.load_model(path)
        best = min(best, time.perf_counter() - start)
    return best, loaded


def test_a_10000_layer_stack_loads_in_time_linear_in_its_depth(tmp_path):
    """The loader's checks are linear in the number of layers: 10x the layers takes about 10x the time (a
    ratio from one run, not an absolute threshold; a quadratic step would make it ~100x)."""
    n = saving.config.MAX_LAYERS
    model, config = _deep_archive(tmp_path / "deep.keras", n)
    _deep_archive(tmp_path / "shallow.keras", n // 10)
    deep, loaded = _best_load_time(tmp_path / "deep.keras")
    shallow, _ = _best_load_time(tmp_path / "shallow.keras")
    assert len(loaded.layers) == n
    np.testing.assert_array_equal(loaded.predict(np.ones((2, 4)), verbose=0), model.predict(np.ones((2, 4)), verbose=0))
    assert deep < 25 * shallow, (deep, shallow)
    config["config"]["layers"].insert(1, copy.deepcopy(config["config"]["layers"][1]))
    config["config"]["layers"][1]["config"]["name"] = "one_too_many"
    with pytest.raises(ModelFileError, match="at most 10000 layers"):
        saving.model_from_config(config)


# ------------------------------------------------------------------------------------------- Keras 3's names


def test_regularizers_are_keras_3s():
    assert regularizers.l1_l2 is regularizers.L1L2 and regularizers.l1 is regularizers.L1
    assert regularizers.l1_l2(l1=0.001)(np.ones(3)) == pytest.approx(0.003)  # l2 defaults to 0, as in Keras 3
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get("l2").get_config() == {"l2": 0.01} and regularizers.get("L1").l1 == 0.01
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l1_l2'\. Did you mean"):
        regularizers.get("l1_l2")
    assert regularizers.L1L2(None, 0.1).get_config() == {"l1": 0.0, "l2": 0.1}
    with pytest.raises(ValueError, match=r"L2: l2 must be a finite number in \[0"):
        regularizers.L2(-1.0)
    assert regularizers.serialize(regularizers.L2(0.5)) == {
        "module": "keras.regularizers",
        "class_name": "L2",
        "config": {"l2": 0.5},
        "registered_name": None,
    }
    assert sorted(registry.REGULARIZERS.names()) == ["L1", "L1L2", "L2"]


def test_initializers_follow_keras_names():
    for name, cls in (
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("he_normal", initializers.HeNormal),
        ("uniform", initializers.RandomUniform),
        ("normal", initializers.RandomNormal),
        ("zero", initializers.Zeros),
        ("one", initializers.Ones),
    ):
        assert type(initializers.get(name)) is cls, name
    with pytest.raises(ValueError, match=r"Unknown initializer 'he_normall'\. Did you mean 'he_normal'\?"):
        initializers.get("he_normall")
    with pytest.raises(ValueError, match="stddev"):
        initializers.RandomNormal(stddev="big")
    assert initializers.serialize(initializers.RandomUniform(-1, 1, seed=3)) == {
        "module": "keras.initializers",
        "class_name": "RandomUniform",
        "config": {"minval": -1.0, "maxval": 1.0, "seed": 3},
        "registered_name": None,
    }
    again = initializers.get({"class_name": "Constant", "config": {"value": 2}})
    assert again((2,)).tolist() == [2.0, 2.0]


def test_schedules_come_from_the_registry():
    assert registry.SCHEDULES.lookup("CosineDecay") is schedules.CosineDecay
    assert "LearningRateSchedule" not in registry.SCHEDULES  # the abstract base is not something to load
    s = schedules.get(
        {
            "class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 1.0, "decay_steps": 2, "decay_rate": 0.5},
        }
    )
    assert s(2) == 0.5 and schedules.get(s) is s
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'Cosine'.*Known: CosineDecay"):
        schedules.get({"class_name": "Cosine", "config": {}})
