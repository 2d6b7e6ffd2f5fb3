"""``keras.constraints``: Keras's formulas (epsilon included), names, configs and files, the layers that take
them, and training: the step projects each constrained trainable weight after every optimizer update."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit
import gradfit.keras as K
from gradfit import constraints, registry
from gradfit.keras import layers as L
from gradfit.schema import ModelFileError

EPS = 1e-7  # keras.backend.epsilon()


def _norms(w, axis):
    ax = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt(np.sum(w.astype(np.float64) ** 2, axis=ax, keepdims=True))


# the formulas of keras/src/constraints/constraints.py, in float64
REFERENCE = {
    "MaxNorm": lambda w, max_value=2, axis=0: w * (np.clip(_norms(w, axis), 0, max_value) / (EPS + _norms(w, axis))),
    "NonNeg": lambda w: np.maximum(w, 0),
    "UnitNorm": lambda w, axis=0: w / (EPS + _norms(w, axis)),
    "MinMaxNorm": lambda w, min_value=0.0, max_value=1.0, rate=1.0, axis=0: (
        w
        * (
            (rate * np.clip(_norms(w, axis), min_value, max_value) + (1 - rate) * _norms(w, axis))
            / (EPS + _norms(w, axis))
        )
    ),
}
ARGS = {
    "MaxNorm": [{}, {"max_value": 0.7}, {"max_value": 1.0, "axis": 1}, {"max_value": 3, "axis": [0, 1]}],
    "NonNeg": [{}],
    "UnitNorm": [{}, {"axis": 1}, {"axis": [0, 1]}],
    "MinMaxNorm": [
        {},
        {"min_value": 0.5, "max_value": 0.9, "rate": 0.4},
        {"min_value": 1.5, "max_value": 2, "axis": 1},
    ],
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_formulas_are_keras_s(name):
    w = np.random.default_rng(0).normal(scale=0.7, size=(5, 4)).astype(np.float32)
    for kwargs in ARGS[name]:
        c = registry.CONSTRAINTS.require(name)(**kwargs)
        got = c(w)
        assert got.dtype == np.float32 and got.shape == w.shape
        np.testing.assert_allclose(got, REFERENCE[name](w, **kwargs), rtol=2e-6, atol=1e-8, err_msg=str(kwargs))
        assert hasattr(got, "numpy")  # like a TensorFlow tensor
        inplace = w.copy()
        c.apply(inplace)
        np.testing.assert_allclose(inplace, got, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(w, np.random.default_rng(0).normal(scale=0.7, size=(5, 4)).astype(np.float32))


def test_epsilon_and_edge_values():
    # a norm already below max_value is still scaled by norm / (eps + norm), as in Keras
    w = np.array([[1e-4], [0.0]], np.float64)
    assert constraints.MaxNorm(2)(w)[0, 0] == pytest.approx(1e-4 * 1e-4 / (1e-7 + 1e-4), rel=1e-12)
    # an all-zero column stays zero (no division by zero)
    np.testing.assert_array_equal(constraints.UnitNorm()(np.zeros((3, 2))), np.zeros((3, 2)))
    np.testing.assert_array_equal(constraints.MinMaxNorm(1, 2)(np.zeros((3, 2))), np.zeros((3, 2)))
    # a Python list becomes floatx, as Keras's convert_to_tensor makes it float32
    assert constraints.NonNeg()([-1.0, 2.0]).tolist() == [0.0, 2.0]
    assert constraints.NonNeg()([-1.0, 2.0]).dtype == np.float32
    # the base class returns w unchanged
    assert constraints.Constraint()([1.0, -1.0]).tolist() == [1.0, -1.0]


def test_names_aliases_and_get():
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm and constraints.min_max_norm is constraints.MinMaxNorm
    for name, cls in [
        ("max_norm", "MaxNorm"),
        ("MaxNorm", "MaxNorm"),
        ("non_neg", "NonNeg"),
        ("unit_norm", "UnitNorm"),
    ]:
        assert type(constraints.get(name)).__name__ == cls
    assert constraints.get(None) is None
    c = constraints.MaxNorm(3)
    assert constraints.get(c) is c
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    assert constraints.get({"class_name": "MinMaxNorm", "config": {"rate": 0.5}}).rate == 0.5
    with pytest.raises(ValueError, match="Did you mean 'max_norm'"):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier 3"):
        constraints.get(3)
    # tf.keras.constraints, as the course's code writes it
    assert gradfit.keras.constraints.MaxNorm is constraints.MaxNorm
    assert gradfit.keras.constraints.get("non_neg").get_config() == {}
    assert "max_norm" in registry.CONSTRAINTS.all_names() and "Constraint" not in registry.CONSTRAINTS.names()


@pytest.mark.parametrize("entry", list(registry.CONSTRAINTS), ids=lambda e: e.name)
def test_config_round_trips_and_serializes_as_keras(entry):
    cls = entry.obj
    c = cls()
    again = cls.from_config(c.get_config())
    assert type(again) is cls and again.get_config() == c.get_config()
    serialized = constraints.serialize(c)
    assert serialized == {
        "module": "keras.constraints",
        "class_name": cls.__name__,
        "config": c.get_config(),
        "registered_name": None,
    }
    assert constraints.deserialize(json.loads(json.dumps(serialized))).get_config() == c.get_config()
    assert set(c.get_config()) <= set(cls.config_schema.fields)


def test_keras_defaults_and_configs():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert constraints.NonNeg().get_config() == {}


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: constraints.MaxNorm(-1), "max_value"),
        (lambda: constraints.MaxNorm("2"), "max_value"),
        (lambda: constraints.MaxNorm(float("nan")), "max_value"),
        (lambda: constraints.MaxNorm(2, axis="0"), "axis"),
        (lambda: constraints.UnitNorm(axis=1.5), "axis"),
        (lambda: constraints.MinMaxNorm(min_value=2, max_value=1), "min_value"),
        (lambda: constraints.MinMaxNorm(rate=1.5), "rate"),
        (lambda: constraints.MinMaxNorm(rate=-0.1), "rate"),
    ],
)
def test_bad_arguments_are_refused_naming_them(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_layers_take_constraints_and_declare_them_on_their_weights():
    dense = L.Dense(3, kernel_constraint="max_norm", bias_constraint=constraints.NonNeg())
    bn = L.BatchNormalization(gamma_constraint="non_neg", beta_constraint=constraints.MaxNorm(1))
    ln = L.LayerNormalization(gamma_constraint="unit_norm", beta_constraint="min_max_norm")
    model = K.Sequential([K.Input((4,)), dense, bn, ln])
    specs = {(layer.name, s.name): s.constraint for layer in model.layers for s in layer._specs}
    assert isinstance(specs[(dense.name, "kernel")], constraints.MaxNorm)
    assert isinstance(specs[(dense.name, "bias")], constraints.NonNeg)
    assert isinstance(specs[(bn.name, "gamma")], constraints.NonNeg)
    assert isinstance(specs[(bn.name, "beta")], constraints.MaxNorm)
    assert specs[(bn.name, "moving_mean")] is None
    assert isinstance(specs[(ln.name, "gamma")], constraints.UnitNorm)
    assert isinstance(specs[(ln.name, "beta")], constraints.MinMaxNorm)
    config = dense.get_config()
    assert config["kernel_constraint"] == {
        "module": "keras.constraints",
        "class_name": "MaxNorm",
        "config": {"max_value": 2, "axis": 0},
        "registered_name": None,
    }
    # Keras 3.15's Dense config, key for key and in its order (activity_regularizer only when set)
    assert list(config) == [
        "name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
        "kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint", "quantization_config",
    ]  # fmt: skip
    assert bn.get_config()["gamma_constraint"]["class_name"] == "NonNeg"
    assert ln.get_config()["beta_constraint"]["class_name"] == "MinMaxNorm"
    assert L.Dense(2).get_config()["kernel_constraint"] is None


def _train(kernel_constraint=None, bias_constraint=None, epochs=3, seed=0):
    K.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 2)) * 3).astype(np.float32)
    hidden = L.Dense(6, "tanh", kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
    model = K.Sequential([K.Input((5,)), hidden, L.Dense(2)])
    model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse")
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)
    return model, hidden, x, y


def test_training_keeps_the_weights_within_their_constraints():
    free, free_layer, _, _ = _train()
    assert _norms(free_layer.kernel, 0).max() > 0.8 and free_layer.bias.min() < 0  # they would bind
    model, layer, x, y = _train(constraints.MaxNorm(0.8), constraints.NonNeg())
    assert _norms(layer.kernel, 0).max() <= 0.8 * (1 + 1e-6)
    assert layer.bias.min() >= 0
    # train_on_batch is a step too
    layer.kernel[...] = layer.kernel * 10
    model.train_on_batch(x[:8], y[:8])
    assert _norms(layer.kernel, 0).max() <= 0.8 * (1 + 1e-6)


def test_a_frozen_layer_s_constraint_is_not_applied():
    # Keras applies constraints to the trainable variables it updated, only
    K.utils.set_random_seed(1)
    layer = L.Dense(4, "tanh", kernel_constraint="non_neg")
    model = K.Sequential([K.Input((3,)), layer, L.Dense(1)])
    layer.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    before = layer.get_weights()
    assert before[0].min() < 0
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_function_or_a_subclass_works_as_a_constraint():
    class ClipTo(constraints.Constraint):  # Keras's documented way: override __call__ only
        def __call__(self, w):
            return np.clip(w, -0.1, 0.1)

    _, layer, _, _ = _train(ClipTo(), lambda w: np.minimum(w, 0.05))
    assert np.abs(layer.kernel).max() <= 0.1 + 1e-7
    assert layer.bias.max() <= 0.05 + 1e-7
    # a function cannot be saved: a model file holds no code
    with pytest.raises(ValueError, match="plain Python function.*no code"):
        constraints.serialize(layer.bias_constraint)


def test_a_constraint_that_changes_the_shape_is_refused():
    with pytest.raises(ValueError, match="keep the weight's shape"):
        _train(bias_constraint=lambda w: w[:2])


def test_saved_and_loaded_with_the_model(tmp_path):
    model, layer, x, y = _train(constraints.MinMaxNorm(0.2, 0.6, rate=0.5, axis=0), "non_neg", epochs=1)
    for path in (tmp_path / "m.keras",):
        model.save(path)
        again = K.models.load_model(path)
        c = again.layers[0].kernel_constraint
        assert isinstance(c, constraints.MinMaxNorm) and c.get_config() == layer.kernel_constraint.get_config()
        assert isinstance(again.layers[0].bias_constraint, constraints.NonNeg)
        # and keeps applying them where the model left off
        again.fit(x, y, epochs=1, verbose=0, shuffle=False)
        assert again.layers[0].bias.min() >= 0
    assert json.loads(model.to_json())["config"]["layers"][1]["config"]["bias_constraint"]["class_name"] == "NonNeg"


@pytest.mark.parametrize(
    "value, pattern",
    [
        ({"class_name": "MaxNorm", "config": {"max_value": "2"}}, r"max_value: must be a finite number"),
        ({"class_name": "MaxNorm", "config": {"max_value": 2, "axis": "0"}}, r"axis: must be an axis"),
        ({"class_name": "MaxNorm", "config": {"max_norm": 2}}, r"unknown setting 'max_norm'"),
        ({"class_name": "MinMaxNorm", "config": {"rate": 7}}, r"rate: must be a finite number in \[0, 1\]"),
        ({"class_name": "MinMaxNorm", "config": {"min_value": 3, "max_value": 1}}, r"min_value"),
        ({"module": "builtins", "class_name": "exec", "config": {}}, r"unknown constraint 'builtins.exec'"),
        ({"module": "os", "class_name": "NonNeg", "config": {}}, r"never imports"),
        ({"class_name": "__lambda__", "config": {"code": "..."}}, r"never runs code"),
        ({"class_name": "NonNeg", "config": {}, "registered_name": "my>NonNeg"}, r"custom objects are never loaded"),
        ({"class_name": "function", "config": "max_nrom"}, r"unknown constraint function"),
        ("max_nrom", r"Did you mean 'max_norm'"),
        (3, r"expected a serialized constraint"),
    ],
)
def test_hostile_constraint_configs_are_refused(value, pattern):
    model, _, _, _ = _train(epochs=1)
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["kernel_constraint"] = value
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ModelFileError, match=pattern):
        K.models.model_from_json(json.dumps(config))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_names_load_from_a_file():
    model, _, _, _ = _train(epochs=1)
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["kernel_constraint"] = "max_norm"
    config["config"]["layers"][1]["config"]["bias_constraint"] = {"class_name": "function", "config": "non_neg"}
    again = K.models.model_from_json(json.dumps(config))
    assert isinstance(again.layers[0].kernel_constraint, constraints.MaxNorm)
    assert isinstance(again.layers[0].bias_constraint, constraints.NonNeg)
