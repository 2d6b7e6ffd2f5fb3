"""A callable as a layer's activation: gradfit's own functions (``gradfit.nn.relu``, ``gradfit.math.sigmoid``), an
activation layer object (``activation=LeakyReLU(0.2)``, as Keras calls it) and a function of your own given with
its derivative (``gradfit.activations.custom``); a plain function without one is refused, saying how."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit
import gradfit.keras as K
from gradfit import activations
from gradfit.keras import layers as L
from gradfit.schema import ModelFileError
from gradfit.training import compute_gradients

from .finite_differences import numeric, rel


@pytest.mark.parametrize(
    "fn, name",
    [
        (gradfit.keras.activations.relu, "relu"),
        (gradfit.nn.relu, "relu"),
        (gradfit.nn.sigmoid, "sigmoid"),
        (gradfit.nn.softmax, "softmax"),
        (gradfit.nn.leaky_relu, "leaky_relu"),
        (gradfit.math.sigmoid, "sigmoid"),
        (gradfit.math.tanh, "tanh"),
    ],
)
def test_gradfit_s_own_functions_are_the_registered_activations(fn, name):
    layer = L.Dense(2, activation=fn)
    assert layer.activation is gradfit.registry.ACTIVATIONS.lookup(name)
    assert layer.get_config()["activation"] == name


def test_a_gradfit_function_of_another_name_is_not_taken_for_an_activation():
    with pytest.raises(ValueError, match="'exp'.*custom"):
        L.Dense(2, activation=gradfit.math.exp)


def test_a_plain_function_is_refused_saying_how_to_give_its_derivative():
    def my_activation(z):
        return z * 2

    with pytest.raises(ValueError, match=r"my_activation.*no derivative.*gradfit\.activations\.custom"):
        L.Dense(2, activation=my_activation)
    with pytest.raises(ValueError, match="custom"):
        L.Activation(lambda z: z)


LAYER_ACTIVATIONS = {
    "leaky_relu": lambda: L.LeakyReLU(0.2),
    "relu_capped": lambda: L.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.1),
    "activation_tanh": lambda: L.Activation("tanh"),
    "softmax": lambda: L.Softmax(),
}


@pytest.mark.parametrize("kind", sorted(LAYER_ACTIVATIONS))
def test_an_activation_layer_object_is_the_layer_s_g_and_its_derivative(float64, kind):
    obj = LAYER_ACTIVATIONS[kind]()
    layer = L.Dense(3, activation=obj)
    assert isinstance(layer.activation, activations.LayerActivation) and layer.activation.layer is obj
    x = np.random.default_rng(0).normal(size=(6, 4))
    out = np.asarray(layer(x))
    z = x @ layer.kernel + layer.bias
    np.testing.assert_allclose(out, np.asarray(obj(z)), rtol=1e-12)
    # the backward pass is the layer's, checked by finite differences of a weighted sum of the outputs
    weights = np.random.default_rng(1).normal(size=out.shape)
    layer.forward(x, training=True)
    dx = layer.backward(weights)
    fd = numeric(lambda: float((np.asarray(layer.forward(x)) * weights).sum()), x)
    assert rel(dx, fd) < 1e-7
    fd_kernel = numeric(lambda: float((np.asarray(layer.forward(x)) * weights).sum()), layer.kernel)
    layer.forward(x, training=True)
    layer.backward(weights)
    assert rel(layer.grad_kernel, fd_kernel) < 1e-7


def test_the_config_is_keras_s_and_the_model_saves_and_loads(tmp_path):
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input((4,)), L.Dense(5, activation=L.LeakyReLU(0.2)), L.Dense(3, activation=L.Softmax())])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    config = model.layers[0].get_config()["activation"]
    assert config == {
        "module": "keras.layers",
        "class_name": "LeakyReLU",
        "config": {"name": config["config"]["name"], "trainable": True, "dtype": "float32", "negative_slope": 0.2},
        "registered_name": None,
    }
    x = np.random.default_rng(2).normal(size=(10, 4)).astype(np.float32)
    y = np.arange(10) % 3
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    again = K.models.load_model(path)
    assert isinstance(again.layers[0].activation.layer, L.LeakyReLU)
    assert again.layers[0].activation.layer.negative_slope == 0.2
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # Keras's own file form (its dtype policy dict) loads too, through the layer's schema
    keras_form = json.loads(model.to_json())
    keras_form["config"]["layers"][1]["config"]["activation"]["config"]["dtype"] = {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    assert isinstance(K.models.model_from_json(json.dumps(keras_form)).layers[0].activation.layer, L.LeakyReLU)


def test_a_softmax_layer_as_the_output_activation_is_fused_with_the_cross_entropy(float64):
    # as Keras: the loss comes from the logits (TensorFlow's softmax marks its output with them)
    x = np.array([[0.0, 0.0]])
    y = np.array([0])
    losses = []
    for act in ("softmax", L.Softmax()):
        model = K.Sequential([K.Input((2,)), L.Dense(2, activation=act)])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.set_weights([np.zeros((2, 2)), np.array([0.0, 60.0])])
        losses.append(model.evaluate(x, y, verbose=0))
    assert losses[0] == pytest.approx(60.0) and losses[1] == pytest.approx(60.0)


@pytest.mark.parametrize(
    "value, pattern",
    [
        ({"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}}, "unknown activation layer"),
        ({"module": "keras.layers", "class_name": "LeakyReLU", "config": {"negative_slope": "0.2"}}, "negative_slope"),
        ({"module": "keras.layers", "class_name": "LeakyReLU", "config": {"slope": 0.2}}, "unknown setting 'slope'"),
        ({"module": "keras.layers", "class_name": "ReLU", "config": {}, "registered_name": "x>y"}, "custom objects"),
        ({"module": "keras.layers", "class_name": "__lambda__", "config": {}}, "never runs code"),
        ({"module": "os.path", "class_name": "LeakyReLU", "config": {}}, "never imports"),
    ],
)
def test_hostile_activation_layers_in_a_file_are_refused(value, pattern):
    model = K.Sequential([K.Input((3,)), L.Dense(2, activation="tanh"), L.Dense(1)])
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["activation"] = value
    with pytest.raises(ModelFileError, match=pattern):
        K.models.model_from_json(json.dumps(config))


def test_a_layer_with_weights_is_refused_as_an_activation():
    with pytest.raises(ValueError, match="only the weightless activation layers"):
        L.Dense(2, activation=L.Dense(2))
    with pytest.raises(NotImplementedError, match="activity_regularizer"):
        L.Dense(2, activation=L.ReLU(activity_regularizer="l2"))


def _swish(z):
    return z / (1 + np.exp(-1.5 * z))


def _swish_derivative(z):
    s = 1 / (1 + np.exp(-1.5 * z))
    return s + 1.5 * z * s * (1 - s)


def test_a_custom_activation_with_its_derivative_trains_and_its_gradient_is_right(float64):
    act = activations.custom(_swish, derivative=_swish_derivative)
    assert act.__name__ == "_swish" and gradfit.activations.custom is activations.custom
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input((3,)), L.Dense(4, activation=act), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    _, grads = compute_gradients(model, x, y)
    fd = numeric(lambda: compute_gradients(model, x, y)[0], model.parameters)
    assert (
        rel(np.concatenate([g.ravel() for g in grads]), np.concatenate([g.ravel() for g in model.weight_views(fd)]))
        < 1e-7
    )
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


@pytest.mark.filterwarnings("ignore::gradfit.advice.GradfitAdvice")  # it cannot know the custom output's range
def test_a_custom_activation_named_as_a_registered_one_is_not_fused_with_the_loss():
    def sigmoid(z):  # the user's own, with a derivative: the loss must read its output, not assume its logits
        return 1 / (1 + np.exp(-z))

    act = activations.custom(sigmoid, derivative=lambda z: sigmoid(z) * (1 - sigmoid(z)))
    assert act.__name__ == "custom_sigmoid"
    model = K.Sequential([K.Input((2,)), L.Dense(1, activation=act)])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.set_weights([np.zeros((2, 1), np.float32), np.array([50.0], np.float32)])
    # from the clipped probability (Keras's 1e-7 clip, in float32: about 15.9), not from the logit 50
    assert 15 < model.evaluate(np.zeros((1, 2)), np.zeros((1, 1)), verbose=0) < 17


def test_a_custom_activation_cannot_be_saved_and_says_why(tmp_path):
    model = K.Sequential([K.Input((3,)), L.Dense(4, activation=activations.custom(_swish, _swish_derivative))])
    with pytest.raises(ValueError, match="'_swish'.*function of your own.*holds no code"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_custom_refuses_what_it_cannot_use():
    with pytest.raises(TypeError, match="derivative"):
        activations.custom(_swish, derivative=None)
    with pytest.raises(TypeError, match="fn"):
        activations.custom(3, derivative=_swish_derivative)
    bad = activations.custom(_swish, derivative=lambda z: z.sum(axis=1))
    layer = L.Dense(2, activation=bad)
    layer(np.ones((3, 2)))
    with pytest.raises(ValueError, match="element by element"):
        layer.backward(np.ones((3, 2)))
