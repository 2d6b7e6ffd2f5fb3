"""GaussianNoise, GaussianDropout, LayerNormalization, Rescaling and Identity: formulas, float64 finite-difference
gradients (input and weights), the noise layers' statistics and inference mode, Keras's configs and errors.
Parity with recorded Keras trajectories is in ``tests/parity/test_layers_new_parity.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit
from gradfit import registry

from .finite_differences import numeric as _numeric
from .finite_differences import rel as _rel

K = gradfit.keras
L = gradfit.keras.layers


def _check(layer, x, training=False, before=None) -> dict[str, float]:
    """backward(dy) against finite differences of ``sum(forward(x) * dy)``, for ``x`` and every trainable weight;
    ``before()`` runs before each forward pass (to replay the same random draw). Returns the relative errors."""
    x = np.array(x, dtype=np.float64)
    layer(x, training=training)  # builds
    dy = np.random.default_rng(7).normal(size=layer.forward(x, training).shape)

    def f():
        if before is not None:
            before()
        return float(np.sum(layer.forward(x, training) * dy))

    f()
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    errors = {"x": _rel(dx, _numeric(f, x))}
    for spec in layer.trainable_specs:
        f()
        layer.backward(dy)
        analytic = np.array(getattr(layer, "grad_" + spec.name))
        errors[spec.name] = _rel(analytic, _numeric(f, getattr(layer, spec.name)))
    return errors


RNG = np.random.default_rng(0)
X2 = RNG.normal(scale=2.0, size=(6, 5)) + 1.0
X3 = RNG.normal(scale=2.0, size=(4, 3, 5))


def _perturb(layer):
    """gamma and beta away from 1 and 0, so that their gradients and their effect on dJ/dx are all seen."""
    rng = np.random.default_rng(3)
    for spec in layer._specs:
        w = getattr(layer, spec.name)
        w[...] = rng.uniform(0.5, 1.5, size=w.shape) if spec.name == "gamma" else rng.normal(size=w.shape)


# ------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "kwargs, x",
    [
        ({}, X2),
        ({"center": False}, X2),
        ({"scale": False}, X2),
        ({"center": False, "scale": False}, X2),
        ({"epsilon": 0.5}, X2),
        ({"axis": 1}, X3),
        ({"axis": [1, 2]}, X3),
        ({"axis": [-1, 1]}, X3),
        ({"rms_scaling": True}, X2),
        ({"rms_scaling": True, "axis": [1, 2]}, X3),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else "",
)
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.filterwarnings("ignore:LayerNormalization. rms_scaling")
def test_layer_normalization_gradients(float64, kwargs, x, training):
    layer = L.LayerNormalization(**kwargs)
    layer.build((None,) + x.shape[1:])
    _perturb(layer)
    errors = _check(layer, x, training)
    assert max(errors.values()) < 1e-7, errors
    names = ["gamma"] * (kwargs.get("scale", True) or kwargs.get("rms_scaling", False))
    names += ["beta"] * (kwargs.get("center", True) and not kwargs.get("rms_scaling", False))
    assert sorted(errors) == sorted(["x", *names])


@pytest.mark.parametrize("scale, offset", [(0.5, 0.0), (1 / 255, -1.0), ([1.0, -2.0, 0.5, 3.0, 0.25], [0.1] * 5)])
def test_rescaling_gradient(float64, scale, offset):
    assert _check(L.Rescaling(scale, offset), X2)["x"] < 1e-6  # rounding of x * scale + offset: ~1e-16 / 1e-6


def test_rescaling_gradient_when_the_scale_broadcasts_the_input_wider(float64):
    layer = L.Rescaling([1.0, 2.0, 3.0])
    x = RNG.normal(size=(4, 1))
    assert layer(x).shape == (4, 3)
    dy = np.ones((4, 3))
    np.testing.assert_allclose(layer.backward(dy), np.full((4, 1), 6.0))


def test_identity_gradient(float64):
    assert _check(L.Identity(), X3)["x"] < 1e-9


@pytest.mark.parametrize("layer", [L.GaussianNoise(0.3, seed=5), L.GaussianDropout(0.4, seed=5)], ids=repr)
@pytest.mark.parametrize("training", [False, True])
def test_noise_layer_gradients_with_the_same_draw(float64, layer, training):
    def same_draw():
        layer._rng = None  # a seeded layer restarts its own stream: the same noise in every forward pass

    assert _check(layer, X3, training, before=same_draw)["x"] < 1e-8


def test_check_gradients_on_a_model_with_every_new_layer(float64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3, 4)) * 3 + 1
    y = rng.integers(0, 3, size=20)
    model = K.Sequential(
        [
            K.Input((3, 4)),
            L.Rescaling(0.5, offset=0.2),
            L.GaussianNoise(0.1),
            L.Flatten(),
            L.Dense(8, activation="tanh"),
            L.LayerNormalization(),
            L.GaussianDropout(0.3),
            L.Identity(),
            L.Dense(6),
            L.LayerNormalization(axis=-1, center=False, gamma_regularizer="l2"),
            L.Dense(3),
            L.Softmax(),
        ]
    )
    model.compile(loss=K.losses.SparseCategoricalCrossentropy(), optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)  # gamma and beta away from 1 and 0
    assert not np.allclose(model.layers[4].gamma, 1)
    assert gradfit.check_gradients(model, x, y, max_entries_per_weight=None) < 1e-6


# ------------------------------------------------------------------------------------------- formulas


def test_layer_normalization_formula_per_example():
    x = X2.astype(np.float32)
    layer = L.LayerNormalization(epsilon=0.01)
    y = layer(x)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 0.01), rtol=1e-5, atol=1e-6)
    # the same in training: no batch statistics, no moving statistics
    np.testing.assert_array_equal(layer(x, training=True), y)
    # each example is normalised on its own: a batch of one gives the same row
    np.testing.assert_allclose(layer(x[2:3]), y[2:3], rtol=1e-6)


def test_layer_normalization_axes_and_weight_shapes_as_keras():
    layer = L.LayerNormalization(axis=[2, 1])
    layer.build((None, 3, 5))
    assert layer.axis == [1, 2]  # sorted, as Keras keeps it
    assert layer.gamma.shape == (3, 5) and layer.beta.shape == (3, 5)
    # Keras sorts the axes as given: [-1, 1] gives the weights the shape (5, 3), reshaped (not transposed)
    odd = L.LayerNormalization(axis=[1, -1])
    assert [w[:2] for w in odd.keras_weights((None, 3, 5))] == [("gamma", (5, 3)), ("beta", (5, 3))]
    x = X3.astype(np.float32)
    y = L.LayerNormalization(axis=[1, 2])(x)
    mu, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    with pytest.warns(UserWarning, match="deprecated"):  # as Keras warns
        rms = L.LayerNormalization(rms_scaling=True)
    np.testing.assert_allclose(rms(x), x / np.sqrt(x.var(axis=2, keepdims=True) + 1e-3), rtol=1e-5, atol=1e-6)
    assert [w[0] for w in rms.keras_weights((None, 3, 5))] == ["gamma"]


@pytest.mark.parametrize(
    "kwargs", [{}, {"center": False}, {"scale": False}, {"rms_scaling": True}, {"axis": [1, 2], "dtype": "float64"}]
)
@pytest.mark.filterwarnings("ignore:LayerNormalization. rms_scaling")
def test_layer_normalization_keras_weights_predict_build(kwargs):
    layer = L.LayerNormalization(**kwargs)
    predicted = layer.keras_weights((None, 3, 5))
    layer.build((None, 3, 5))
    built = [(s.name, s.shape, s.trainable, str(getattr(layer, s.name).dtype)) for s in layer._specs]
    assert predicted == built


def test_rescaling_values_and_integer_inputs():
    pixels = np.array([[0, 128, 255]], dtype=np.uint8)
    np.testing.assert_allclose(L.Rescaling(1 / 255)(pixels), [[0, 128 / 255, 1]], rtol=1e-6)
    np.testing.assert_allclose(L.Rescaling(1 / 127.5, offset=-1)(pixels), [[-1, 128 / 127.5 - 1, 1]], atol=1e-7)
    per_channel = L.Rescaling([1.0, 10.0], offset=[0.0, 1.0])(np.ones((2, 3, 2), np.float32))
    np.testing.assert_array_equal(per_channel[..., 0], 1.0)
    np.testing.assert_array_equal(per_channel[..., 1], 11.0)
    assert L.Rescaling(2.0)(pixels, training=True).dtype == np.float32


def test_identity_passes_everything_through():
    x = X3.astype(np.float32)
    np.testing.assert_array_equal(L.Identity()(x), x)
    np.testing.assert_array_equal(L.Identity()(x, training=True), x)


# ------------------------------------------------------------------------------------------- noise statistics


def test_noise_layers_are_the_identity_at_inference(binary_data):
    x, y = binary_data
    for layer in (L.GaussianNoise(0.5), L.GaussianDropout(0.5)):
        assert layer(x[:5]) is not None
        np.testing.assert_array_equal(layer(x), x.astype(np.float32))
        model = K.Sequential([K.Input((x.shape[1],)), layer, L.Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        w = model.layers[1].kernel
        np.testing.assert_allclose(model.predict(x, verbose=0), 1 / (1 + np.exp(-(x @ w + model.layers[1].bias))),
                                   rtol=1e-5)  # fmt: skip


def test_gaussian_noise_statistics():
    x = np.full((400, 250), 3.0, np.float32)
    y = L.GaussianNoise(0.2, seed=1)(x, training=True)
    noise = np.asarray(y, np.float64) - 3.0
    assert abs(noise.mean()) < 0.002  # 1e5 draws: the mean's standard error is 0.2 / 316
    assert abs(noise.std() - 0.2) < 0.002
    assert abs(np.mean(np.abs(noise) < 0.2) - 0.6827) < 0.005  # Gaussian, not uniform
    assert np.all(L.GaussianNoise(0.0)(x, training=True) == x)


def test_gaussian_dropout_statistics():
    rate = 0.3
    x = np.full((400, 250), 2.0, np.float32)
    layer = L.GaussianDropout(rate, seed=2)
    n = np.asarray(layer(x, training=True), np.float64) / 2.0
    sd = np.sqrt(rate / (1 - rate))
    assert abs(n.mean() - 1) < 0.005  # multiplicative noise centred on 1: the expected output is x
    assert abs(n.std() - sd) < 0.005
    assert abs(np.mean(np.abs(n - 1) < sd) - 0.6827) < 0.005
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), n.astype(np.float32))  # the same draw


def test_noise_is_fresh_each_batch_and_reproducible_by_seed():
    x = np.zeros((3, 4), np.float32)
    for cls, arg in ((L.GaussianNoise, 0.5), (L.GaussianDropout, 0.5)):
        x_in = x + 1
        a = cls(arg, seed=11)
        first, second = np.array(a(x_in, training=True)), np.array(a(x_in, training=True))
        assert not np.array_equal(first, second)
        b = cls(arg, seed=11)
        np.testing.assert_array_equal(b(x_in, training=True), first)
        K.utils.set_random_seed(4)
        g1 = np.array(cls(arg)(x_in, training=True))
        K.utils.set_random_seed(4)
        np.testing.assert_array_equal(cls(arg)(x_in, training=True), g1)


def test_gaussian_dropout_rate_one_fails_only_when_training():
    layer = L.GaussianDropout(1.0)  # Keras accepts it too
    np.testing.assert_array_equal(layer(np.ones((2, 2))), np.ones((2, 2)))
    with pytest.raises(ValueError, match="infinite"):
        layer(np.ones((2, 2)), training=True)


# ------------------------------------------------------------------------------------------- configs and errors

#: the keys of Keras 3.15's get_config for each layer (besides name, trainable, dtype)
KERAS_KEYS = {
    "GaussianNoise": {"stddev", "seed"},
    "GaussianDropout": {"rate", "seed"},
    "LayerNormalization": {
        "axis",
        "epsilon",
        "center",
        "scale",
        "rms_scaling",
        "beta_initializer",
        "gamma_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
    },  # fmt: skip
    "Rescaling": {"scale", "offset"},
    "Identity": set(),
}

NEW = [
    L.GaussianNoise(0.1, seed=3),
    L.GaussianDropout(0.25),
    L.LayerNormalization(axis=[1, 2], epsilon=0.01, center=False, gamma_regularizer="l2", beta_initializer="ones"),
    L.Rescaling([0.5, 2.0], offset=-1),
    L.Identity(),
]


@pytest.mark.parametrize("layer", NEW, ids=lambda layer: type(layer).__name__)
def test_config_has_keras_keys_and_round_trips(layer):
    config = layer.get_config()
    assert set(config) - {"name", "trainable", "dtype"} == KERAS_KEYS[type(layer).__name__]
    json.dumps(config)
    again = type(layer).from_config(config)
    assert again.get_config() == config
    # the loader's path: the schema reads the JSON config, the registry finds the class
    cls = registry.LAYERS.lookup(type(layer).__name__)
    assert cls is type(layer)
    kwargs = cls.config_schema.load(json.loads(json.dumps(config)), "config", type(layer).__name__)
    assert cls.from_config(kwargs).get_config() == config


@pytest.mark.parametrize("layer", NEW, ids=lambda layer: type(layer).__name__)
def test_schema_defaults_are_the_constructor_defaults(layer):
    import inspect

    cls = type(layer)
    params = inspect.signature(cls.__init__).parameters
    defaults = cls.config_schema.defaults()
    for key, p in params.items():
        if key in ("self", "kwargs"):
            continue
        assert key in cls.config_schema, key
        if p.default is inspect.Parameter.empty:
            assert cls.config_schema.fields[key].required, key
        else:
            assert defaults[key] == p.default, key


def _keras_initializer(name: str) -> dict:
    return {"module": "keras.initializers", "class_name": name, "config": {}, "registered_name": None}


def test_keras_configs_are_accepted():
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    ln = L.LayerNormalization.from_config(
        {
            "name": "ln",
            "trainable": True,
            "dtype": policy,
            "axis": [-1],
            "epsilon": 0.001,
            "center": True,
            "scale": True,
            "rms_scaling": False,
            "beta_initializer": _keras_initializer("Zeros"),
            "gamma_initializer": _keras_initializer("Ones"),
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        }
    )
    assert ln.axis == [-1] and ln.dtype == "float32"
    assert L.GaussianNoise.from_config({"name": "g", "dtype": policy, "stddev": 0.1, "seed": None}).stddev == 0.1


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.GaussianNoise(1.5), ValueError, "stddev"),
        (lambda: L.GaussianNoise(-0.1), ValueError, "stddev"),
        (lambda: L.GaussianNoise("0.1"), ValueError, "stddev"),
        (lambda: L.GaussianNoise(0.1, seed=1.5), ValueError, "seed"),
        (lambda: L.GaussianDropout(1.01), ValueError, "rate"),
        (lambda: L.GaussianDropout(True), ValueError, "rate"),
        (lambda: L.LayerNormalization(axis="last"), ValueError, "axis"),
        (lambda: L.LayerNormalization(axis=[]), ValueError, "axis"),
        (lambda: L.LayerNormalization(epsilon=0), ValueError, "epsilon"),
        (lambda: L.LayerNormalization(center="yes"), ValueError, "center"),
        (lambda: L.LayerNormalization(gamma_constraint="non_negg"), ValueError, "Did you mean 'non_neg'"),
        (lambda: L.LayerNormalization(beta_initializer="zeroes"), ValueError, "zeros"),
        (lambda: L.Rescaling("1/255"), ValueError, "scale"),
        (lambda: L.Rescaling(float("nan")), ValueError, "scale"),
        (lambda: L.Rescaling(1.0, offset=[]), ValueError, "offset"),
        (lambda: L.Identity(units=3), TypeError, "units"),
    ],
)
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("axis", [0, 3, -4, [1, 1]])
def test_layer_normalization_refuses_bad_axes_at_build(axis):
    with pytest.raises(ValueError, match="axis"):
        L.LayerNormalization(axis=axis).build((None, 3, 5))


def test_new_layers_are_registered_under_their_keras_names():
    for name in KERAS_KEYS:
        entry = registry.LAYERS.entry(name)
        assert entry is not None and entry.keras_path == f"keras.layers.{name}"
        assert getattr(L, name) is entry.obj
        assert name in L.__all__


def test_layers_all_lists_exactly_the_registered_layers():
    registered = {e.name for e in registry.LAYERS if e.obj.__module__.startswith("gradfit.layers.")}
    assert set(L.__all__) - {"Input", "Layer"} == registered


def test_layer_names_as_keras():
    names = [L.GaussianNoise(0.1).name, L.GaussianDropout(0.1).name, L.LayerNormalization().name]
    assert [n.rsplit("_", 1)[0] if n[-1].isdigit() else n for n in names] == [
        "gaussian_noise", "gaussian_dropout", "layer_normalization"
    ]  # fmt: skip
    assert L.Rescaling(1.0).name.startswith("rescaling") and L.Identity().name.startswith("identity")


def test_rescaling_whose_scale_cannot_broadcast_is_refused_at_build_and_load():
    import json

    import gradfit as tf
    from gradfit.saving import ModelFileError

    K = tf.keras
    with pytest.raises(ValueError, match="cannot apply to inputs of shape"):
        K.Sequential([K.Input((4,)), K.layers.Rescaling([1.0, 2.0])])
    model = K.Sequential([K.Input((4,)), K.layers.Dense(5), K.layers.Rescaling([1.0] * 5), K.layers.Dense(1)])
    config = json.loads(model.to_json())
    config["config"]["layers"][2]["config"]["scale"] = [1.0, 2.0]
    with pytest.raises(ModelFileError, match="cannot apply to inputs"):
        K.models.model_from_json(json.dumps(config))
