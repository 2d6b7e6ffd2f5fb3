"""C2_W1_Lab01 "Neurons and Layers": a linear neuron and a logistic neuron, their weights set by hand.

The lab's code is kept as written (``import tensorflow as tf`` becomes ``import gradfit as tf``) and each of
its printouts becomes an assertion.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import gradfit
import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import sigmoid
from gradfit.keras.layers import Dense, Input
from gradfit.keras.losses import BinaryCrossentropy, MeanSquaredError  # noqa: F401  (the lab imports them)

from .helpers import check_summary


def sigmoidnp(z):
    """The lab's NumPy sigmoid (from ``lab_neurons_utils``)."""
    return 1 / (1 + np.exp(-z))


def test_lab_preamble_does_not_break():
    """The notebook's first cell quiets TensorFlow's logging; here those calls are accepted and do nothing."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    tf.random.set_seed(1234)
    layer = Dense(units=1, activation="linear")
    assert layer(np.array([[1.0]], dtype=np.float32)).shape == (1, 1)


def test_linear_neuron_house_prices():
    """Neuron without activation: ``f(x) = w x + b`` on the house data, weights set to w=200, b=100."""
    X_train = np.array([[1.0], [2.0]], dtype=np.float32)  # (size in 1000 square feet)
    Y_train = np.array([[300.0], [500.0]], dtype=np.float32)  # (price in 1000s of dollars)

    linear_layer = tf.keras.layers.Dense(units=1, activation="linear")
    # "There are no weights as the weights are not yet instantiated."
    assert linear_layer.get_weights() == []
    assert linear_layer.built is False

    a1 = linear_layer(X_train[0].reshape(1, 1))  # calling the layer on an example builds it
    assert a1.shape == (1, 1)
    assert type(a1.numpy()) is np.ndarray and a1.numpy().dtype == np.float32
    w, b = linear_layer.get_weights()
    assert w.shape == (1, 1) and b.shape == (1,)
    assert b[0] == 0.0  # Keras initialises the bias to zeros
    np.testing.assert_allclose(a1.numpy(), w * 1.0 + b, rtol=1e-6)

    set_w = np.array([[200]])
    set_b = np.array([100])
    # set_weights takes a list of numpy arrays
    linear_layer.set_weights([set_w, set_b])
    w, b = linear_layer.get_weights()
    np.testing.assert_array_equal(w, [[200.0]])
    np.testing.assert_array_equal(b, [100.0])
    assert w.dtype == np.float32  # the layer keeps its own dtype

    a1 = linear_layer(X_train[0].reshape(1, 1))
    alin = np.dot(set_w, X_train[0].reshape(1, 1)) + set_b
    np.testing.assert_allclose(a1.numpy(), [[300.0]])
    np.testing.assert_allclose(a1.numpy(), alin)

    prediction_tf = linear_layer(X_train)
    prediction_np = np.dot(X_train, set_w) + set_b
    np.testing.assert_allclose(prediction_tf.numpy(), prediction_np)
    np.testing.assert_allclose(prediction_tf.numpy(), Y_train)


def test_logistic_neuron(capsys):
    """Neuron with sigmoid: ``Sequential([Dense(1, input_dim=1, activation='sigmoid', name='L1')])``."""
    X_train = np.array([0.0, 1, 2, 3, 4, 5], dtype=np.float32).reshape(-1, 1)  # 2-D Matrix
    Y_train = np.array([0, 0, 0, 1, 1, 1], dtype=np.float32).reshape(-1, 1)  # 2-D Matrix
    pos = Y_train == 1
    neg = Y_train == 0
    assert X_train[pos].tolist() == [3.0, 4.0, 5.0] and X_train[neg].tolist() == [0.0, 1.0, 2.0]

    model = Sequential([tf.keras.layers.Dense(1, input_dim=1, activation="sigmoid", name="L1")])
    model.summary()
    check_summary(capsys.readouterr().out, "sequential", [("L1", "Dense", "(None, 1)", "2")], "2", "2")

    logistic_layer = model.get_layer("L1")
    w, b = logistic_layer.get_weights()
    assert w.shape == (1, 1) and b.shape == (1,)
    assert logistic_layer.activation is sigmoid

    set_w = np.array([[2]])
    set_b = np.array([-4.5])
    # set_weights takes a list of numpy arrays
    logistic_layer.set_weights([set_w, set_b])
    w, b = logistic_layer.get_weights()
    np.testing.assert_array_equal(w, [[2.0]])
    np.testing.assert_array_equal(b, [-4.5])

    a1 = model.predict(X_train[0].reshape(1, 1), verbose=0)
    alog = sigmoidnp(np.dot(set_w, X_train[0].reshape(1, 1)) + set_b)
    assert a1.shape == (1, 1)
    np.testing.assert_allclose(a1, alog, rtol=1e-6)
    np.testing.assert_allclose(a1, [[0.01098694]], rtol=1e-5)

    # the lab's plot compares the layer's output with the formula over all of X_train
    np.testing.assert_allclose(model.predict(X_train, verbose=0), sigmoidnp(X_train * 2 - 4.5), rtol=1e-6)
    np.testing.assert_allclose(model(X_train).numpy(), sigmoidnp(X_train * 2 - 4.5), rtol=1e-6)
    assert ((model.predict(X_train, verbose=0) >= 0.5) == pos).all()


@pytest.mark.parametrize(
    "first",
    [
        lambda: [Dense(1, input_dim=1, activation="sigmoid", name="L1")],
        lambda: [Dense(1, input_shape=(1,), activation="sigmoid", name="L1")],
        lambda: [Input(shape=(1,)), Dense(1, activation="sigmoid", name="L1")],
        lambda: [tf.keras.Input(shape=(1,)), Dense(1, activation="sigmoid", name="L1")],
        lambda: [tf.keras.layers.InputLayer((1,)), Dense(1, activation="sigmoid", name="L1")],
    ],
    ids=["input_dim", "input_shape", "Input", "tf.keras.Input", "InputLayer"],
)
def test_every_way_of_declaring_the_input_builds_the_model(first):
    """Keras 2's ``input_dim`` / ``input_shape`` keywords and Keras 3's ``Input`` all fix the input size up front."""
    model = Sequential(first())
    assert model.built
    assert model.input.shape == (None, 1)
    assert model.layers[0].output.shape == (None, 1)
    assert [layer.name for layer in model.layers] == ["L1"]
    assert model.count_params() == 2
    W, b = model.layers[0].get_weights()
    assert W.shape == (1, 1) and b.shape == (1,)


def test_layer_weight_attributes():
    """``layer.weights``, ``layer.kernel``, ``layer.bias`` and ``set_weights`` with float64 arrays and lists."""
    layer = Dense(units=3, activation="sigmoid")
    assert layer.get_weights() == [] and layer.weights == []
    out = layer(np.ones((2, 4)))
    assert out.shape == (2, 3) and out.numpy().dtype == np.float32
    assert layer.kernel.shape == (4, 3) and layer.bias.shape == (3,)
    kernel, bias = layer.weights
    np.testing.assert_array_equal(kernel.numpy(), layer.kernel)
    np.testing.assert_array_equal(bias.numpy(), layer.bias)
    W = np.arange(12, dtype=np.float64).reshape(4, 3) / 10
    b = np.array([0.5, -0.5, 0.0])  # float64
    layer.set_weights([W, b])
    assert layer.kernel.dtype == np.float32
    np.testing.assert_allclose(layer.get_weights()[0], W, rtol=1e-6)
    layer.set_weights([W.tolist(), b.tolist()])  # plain nested lists work too
    np.testing.assert_allclose(layer.kernel, W, rtol=1e-6)
    np.testing.assert_allclose(layer.bias, b)
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(layer(x).numpy(), sigmoidnp(x @ W + b), rtol=1e-6)
    assert layer.activation is gradfit.keras.activations.sigmoid
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([W.T, b])


def test_set_floatx_float64_for_the_whole_lab():
    """``tf.keras.backend.set_floatx('float64')`` (conftest puts float32 back afterwards)."""
    tf.keras.backend.set_floatx("float64")
    assert tf.keras.backend.floatx() == "float64"
    X_train = np.array([0.0, 1, 2, 3, 4, 5]).reshape(-1, 1)
    model = Sequential([tf.keras.layers.Dense(1, input_dim=1, activation="sigmoid", name="L1")])
    model.get_layer("L1").set_weights([np.array([[2.0]]), np.array([-4.5])])
    assert model.get_layer("L1").kernel.dtype == np.float64
    p = model.predict(X_train, verbose=0)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p, sigmoidnp(2 * X_train - 4.5), rtol=1e-12)
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(0.1))
    history = model.fit(X_train, (X_train >= 3).astype(float), epochs=3, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
