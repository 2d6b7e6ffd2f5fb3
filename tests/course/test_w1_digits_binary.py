"""C2_W1_Assignment "Neural Networks for Handwritten Digit Recognition, Binary" on the course's 0/1 digits.

The Keras model of the assignment (exercise 1), its public test ``test_c1``, the training run, the
single-image predictions, and the NumPy forward pass of exercises 2-3 checked against ``model.predict``.
Skips cleanly when ``../shared/data/course_digits_01.npz`` is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import sigmoid
from gradfit.keras.layers import Dense
from gradfit.keras.losses import BinaryCrossentropy
from gradfit.keras.optimizers import Adam

from .helpers import check_summary

FIRST_LAYERS = {
    "tf.keras.Input": lambda: tf.keras.Input(shape=(400,)),  # specify input size
    "InputLayer": lambda: tf.keras.layers.InputLayer((400,)),
}


def build_model(first: str = "tf.keras.Input") -> Sequential:
    """The assignment's exercise 1 (UNQ_C1)."""
    model = Sequential(
        [
            FIRST_LAYERS[first](),
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
    )
    return model


def test_c1(target):
    """The assignment's public test of exercise 1 (``public_tests.test_c1``), shapes as tuples."""
    assert len(target.layers) == 3, f"Wrong number of layers. Expected 3 but got {len(target.layers)}"
    assert target.input.shape == (None, 400), "Wrong input shape. Expected [None,  400]"
    i = 0
    expected = [[Dense, (None, 25), sigmoid], [Dense, (None, 15), sigmoid], [Dense, (None, 1), sigmoid]]
    for layer in target.layers:
        assert type(layer) is expected[i][0], f"Wrong type in layer {i}"
        assert layer.output.shape == expected[i][1], f"Wrong number of units in layer {i}"
        assert layer.activation == expected[i][2], f"Wrong activation in layer {i}"
        i = i + 1


test_c1.__test__ = False  # a helper named as in the assignment, not a pytest test


def my_dense(a_in, W, b, g):
    """The assignment's exercise 2: one dense layer, unit by unit."""
    units = W.shape[1]
    a_out = np.zeros(units)
    for j in range(units):
        w = W[:, j]
        z = np.dot(w, a_in) + b[j]
        a_out[j] = g(z)
    return a_out


def my_sequential(x, W1, b1, W2, b2, W3, b3):
    a1 = my_dense(x, W1, b1, sigmoid_np)
    a2 = my_dense(a1, W2, b2, sigmoid_np)
    a3 = my_dense(a2, W3, b3, sigmoid_np)
    return a3


def my_dense_v(A_in, W, b, g):
    """The assignment's exercise 3: the vectorised layer, ``g(A_in @ W + b)``."""
    Z = np.matmul(A_in, W) + b
    A_out = g(Z)
    return A_out


def my_sequential_v(X, W1, b1, W2, b2, W3, b3):
    A1 = my_dense_v(X, W1, b1, sigmoid_np)
    A2 = my_dense_v(A1, W2, b2, sigmoid_np)
    A3 = my_dense_v(A2, W3, b3, sigmoid_np)
    return A3


def sigmoid_np(z):
    return 1 / (1 + np.exp(-z))


def test_data(digits01):
    X, y = digits01
    assert X.shape == (1000, 400) and y.shape == (1000, 1)
    assert y[0, 0] == 0 and y[-1, 0] == 1
    assert X[0].reshape((20, 20)).T.shape == (20, 20)


@pytest.mark.parametrize("first", list(FIRST_LAYERS))
def test_model_summary_and_weights(first, capsys):
    model = build_model(first)
    model.summary()
    check_summary(
        capsys.readouterr().out,
        "my_model",
        [
            ("layer1", "Dense", "(None, 25)", "10,025"),
            ("layer2", "Dense", "(None, 15)", "390"),
            ("layer3", "Dense", "(None, 1)", "16"),
        ],
        "10,431",
        "10,431",
    )
    test_c1(model)
    L1_num_params = 400 * 25 + 25  # W1 parameters  + b1 parameters
    L2_num_params = 25 * 15 + 15  # W2 parameters  + b2 parameters
    L3_num_params = 15 * 1 + 1  # W3 parameters  + b3 parameters
    assert (L1_num_params, L2_num_params, L3_num_params) == (10025, 390, 16)
    assert L1_num_params + L2_num_params + L3_num_params == model.count_params() == 10431

    [layer1, layer2, layer3] = model.layers
    W1, b1 = layer1.get_weights()
    W2, b2 = layer2.get_weights()
    W3, b3 = layer3.get_weights()
    assert (W1.shape, b1.shape) == ((400, 25), (25,))
    assert (W2.shape, b2.shape) == ((25, 15), (15,))
    assert (W3.shape, b3.shape) == ((15, 1), (1,))
    # print(model.layers[2].weights): the kernel and bias, as tensors with .numpy()
    kernel, bias = model.layers[2].weights
    assert kernel.shape == (15, 1) and bias.shape == (1,)
    np.testing.assert_array_equal(kernel.numpy(), W3)
    assert layer1.output.shape == (None, 25) and layer3.output.shape == (None, 1)


def test_weights_are_empty_until_the_input_size_is_known():
    """Without an ``Input``, the layers have no weights until the model is built (here by ``build``)."""
    model = Sequential(
        [
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
    )
    assert not model.built
    assert [layer.get_weights() for layer in model.layers] == [[], [], []]
    with pytest.raises((ValueError, AttributeError)):
        model.count_params()
    model.build(input_shape=(None, 400))
    test_c1(model)
    assert [w.shape for w in model.get_weights()] == [(400, 25), (25,), (25, 15), (15,), (15, 1), (1,)]
    assert model.count_params() == 10431


def test_training_run(digits01):
    """compile(BCE, Adam(0.001)), fit 20 epochs; predictions on the lab's 0 (X[0]) and 1 (X[500]); >= 99%."""
    X, y = digits01
    tf.random.set_seed(1234)
    model = build_model()
    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(),
        optimizer=tf.keras.optimizers.Adam(0.001),
    )
    assert type(model.loss) is BinaryCrossentropy
    assert model.loss.get_config()["from_logits"] is False
    assert type(model.optimizer) is Adam
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)

    history = model.fit(X, y, epochs=20, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 20 and all(np.isfinite(losses))
    assert losses[-1] < 0.2 * losses[0]
    assert losses[-1] < 0.1
    assert np.mean(np.diff(losses) < 0) >= 0.9  # the loss falls (almost) every epoch

    prediction = model.predict(X[0].reshape(1, 400), verbose=0)  # a zero
    assert prediction.shape == (1, 1) and prediction[0, 0] < 0.5
    prediction = model.predict(X[500].reshape(1, 400), verbose=0)  # a one
    assert prediction[0, 0] > 0.5
    if prediction >= 0.5:
        yhat = 1
    else:
        yhat = 0
    assert yhat == y[500, 0] == 1

    p = model.predict(X, verbose=0)
    assert p.shape == (1000, 1) and p.dtype == np.float32
    yhat = (p >= 0.5).astype(int)
    assert np.mean(yhat == y) >= 0.99

    # exercises 2 and 3: the NumPy forward pass with the trained weights gives the same predictions
    [layer1, layer2, layer3] = model.layers
    W1_tmp, b1_tmp = layer1.get_weights()
    W2_tmp, b2_tmp = layer2.get_weights()
    W3_tmp, b3_tmp = layer3.get_weights()
    prediction = my_sequential(X[0], W1_tmp, b1_tmp, W2_tmp, b2_tmp, W3_tmp, b3_tmp)
    np.testing.assert_allclose(prediction, p[0], rtol=1e-4, atol=1e-6)
    Prediction = my_sequential_v(X, W1_tmp, b1_tmp, W2_tmp, b2_tmp, W3_tmp, b3_tmp)
    np.testing.assert_allclose(Prediction, p, rtol=1e-4, atol=1e-6)
    # and calling the model on the array gives them too
    np.testing.assert_allclose(model(X).numpy(), p, rtol=1e-6, atol=1e-7)
