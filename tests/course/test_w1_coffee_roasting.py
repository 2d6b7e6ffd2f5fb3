"""C2_W1_Lab02 "Coffee Roasting in Tensorflow": Normalization, a 2-3-1 sigmoid network, the lab's own weights.

``load_coffee_data`` is the lab's generator (``lab_coffee_utils``); it reproduces the lab's printed ranges
exactly, so the predictions with the lab's printed weights can be compared with its printout too.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense

from .helpers import check_summary


def load_coffee_data():
    """Creates a coffee roasting data set.
    roasting duration: 12-15 minutes is best
    temperature range: 175-260C is best
    """
    rng = np.random.default_rng(2)
    X = rng.random(400).reshape(-1, 2)
    X[:, 1] = X[:, 1] * 4 + 11.5  # 12-15 min is best
    X[:, 0] = X[:, 0] * (285 - 150) + 150  # 350-500 F (175-260 C) is best
    Y = np.zeros(len(X))

    i = 0
    for t, d in X:
        y = -3 / (260 - 175) * t + 21
        if t > 175 and t < 260 and d > 12 and d < 15 and d <= y:
            Y[i] = 1
        else:
            Y[i] = 0
        i += 1

    return (X, Y.reshape(-1, 1))


# the weights the lab prints "from a previous training run" and then sets by hand
LAB_W1 = np.array([[-8.94, 0.29, 12.89], [-0.17, -7.34, 10.79]])
LAB_b1 = np.array([-9.87, -9.28, 1.01])
LAB_W2 = np.array([[-31.38], [-27.86], [-32.79]])
LAB_b2 = np.array([15.54])

X_test = np.array([[200, 13.9], [200, 17]])  # postive example, negative example


@pytest.fixture(scope="module")
def coffee():
    X, Y = load_coffee_data()
    norm_l = tf.keras.layers.Normalization(axis=-1)
    norm_l.adapt(X)  # learns mean, variance
    return X, Y, norm_l


def test_data_and_normalization(coffee):
    X, Y, norm_l = coffee
    assert X.shape == (200, 2) and Y.shape == (200, 1)
    assert int(Y.sum()) == 43
    # the lab's printout, pre and post normalization
    assert f"{np.max(X[:, 0]):0.2f}, {np.min(X[:, 0]):0.2f}" == "284.99, 151.32"
    assert f"{np.max(X[:, 1]):0.2f}, {np.min(X[:, 1]):0.2f}" == "15.45, 11.51"
    Xn = norm_l(X)
    assert Xn.shape == (200, 2)
    assert f"{np.max(Xn[:, 0]):0.2f}, {np.min(Xn[:, 0]):0.2f}" == "1.66, -1.69"
    assert f"{np.max(Xn[:, 1]):0.2f}, {np.min(Xn[:, 1]):0.2f}" == "1.79, -1.70"
    # z-score per feature: mean 0, (population) variance 1
    np.testing.assert_allclose(Xn.numpy().mean(axis=0), [0.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(Xn.numpy().var(axis=0), [1.0, 1.0], rtol=1e-4)
    np.testing.assert_allclose(norm_l.mean, X.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(norm_l.variance, X.var(axis=0), rtol=1e-5)


def test_model_structure(coffee, capsys):
    tf.random.set_seed(1234)  # applied to achieve consistent results
    model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            Dense(3, activation="sigmoid", name="layer1"),
            Dense(1, activation="sigmoid", name="layer2"),
        ]
    )
    model.summary()
    check_summary(
        capsys.readouterr().out,
        "sequential",
        [("layer1", "Dense", "(None, 3)", "9"), ("layer2", "Dense", "(None, 1)", "4")],
        "13",
        "13",
    )
    L1_num_params = 2 * 3 + 3  # W1 parameters  + b1 parameters
    L2_num_params = 3 * 1 + 1  # W2 parameters  + b2 parameters
    assert L1_num_params + L2_num_params == model.count_params() == 13
    W1, b1 = model.get_layer("layer1").get_weights()
    W2, b2 = model.get_layer("layer2").get_weights()
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((2, 3), (3,), (3, 1), (1,))
    assert not b1.any() and not b2.any()


def test_lab_training_run(coffee, capsys):
    """The lab's run: data tiled x1000 (200,000 examples), BCE, Adam(0.01), 10 epochs of 6250 steps."""
    X, Y, norm_l = coffee
    Xn = norm_l(X)
    Xt = np.tile(Xn, (1000, 1))
    Yt = np.tile(Y, (1000, 1))
    assert Xt.shape == (200000, 2) and Yt.shape == (200000, 1)

    tf.random.set_seed(1234)  # applied to achieve consistent results
    model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            Dense(3, activation="sigmoid", name="layer1"),
            Dense(1, activation="sigmoid", name="layer2"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    )
    history = model.fit(
        Xt,
        Yt,
        epochs=10,
    )
    out = capsys.readouterr().out
    assert "Epoch 1/10" in out and "Epoch 10/10" in out
    assert out.count("6250/6250 ") == 10  # the lab's 6250 steps per epoch
    losses = history.history["loss"]
    assert len(losses) == 10 and all(np.isfinite(losses))
    assert losses[-1] < 0.25 * losses[0]
    assert losses[-1] < 0.05

    W1, b1 = model.get_layer("layer1").get_weights()
    W2, b2 = model.get_layer("layer2").get_weights()
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((2, 3), (3,), (3, 1), (1,))
    assert np.abs(W1).max() > 1  # the weights moved well away from glorot's initial range

    X_testn = norm_l(X_test)
    predictions = model.predict(X_testn, verbose=0)
    assert predictions.shape == (2, 1)
    assert predictions[0, 0] > 0.5 and predictions[1, 0] < 0.5
    yhat = np.zeros_like(predictions)
    for i in range(len(predictions)):
        if predictions[i] >= 0.5:
            yhat[i] = 1
        else:
            yhat[i] = 0
    np.testing.assert_array_equal(yhat, [[1.0], [0.0]])
    assert np.mean((model.predict(Xn, verbose=0) >= 0.5) == Y) >= 0.97


def test_lab_weights_reproduce_the_lab_predictions(coffee):
    """``set_weights`` with the lab's printed weights gives the lab's printed predictions, 9.63e-01 and 3.03e-08."""
    X, Y, norm_l = coffee
    model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            Dense(3, activation="sigmoid", name="layer1"),
            Dense(1, activation="sigmoid", name="layer2"),
        ]
    )
    model.get_layer("layer1").set_weights([LAB_W1, LAB_b1])
    model.get_layer("layer2").set_weights([LAB_W2, LAB_b2])
    X_testn = norm_l(X_test)
    predictions = model.predict(X_testn, verbose=0)
    np.testing.assert_allclose(predictions[:, 0], [9.63e-01, 3.03e-08], rtol=0.01)
    yhat = (predictions >= 0.5).astype(int)
    np.testing.assert_array_equal(yhat, [[1], [0]])
    # the lab's decision plot: these weights classify every training example correctly
    assert np.mean((model.predict(norm_l(X), verbose=0) >= 0.5) == Y) == 1.0
    # layer 1, unit by unit, as the lab's plots show it: each unit is a logistic regression on the normalised data
    a1 = model.get_layer("layer1")(X_testn).numpy()
    np.testing.assert_allclose(a1, 1 / (1 + np.exp(-(X_testn.numpy() @ LAB_W1 + LAB_b1))), rtol=1e-5, atol=1e-7)


def test_normalization_as_a_layer_of_the_model(coffee, capsys):
    """The adapted ``Normalization`` layer inside the model: raw data in, same predictions, stats left alone by fit."""
    X, Y, norm_l = coffee
    inside = tf.keras.layers.Normalization(axis=-1)
    inside.adapt(X)
    model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            inside,
            Dense(3, activation="sigmoid", name="layer1"),
            Dense(1, activation="sigmoid", name="layer2"),
        ]
    )
    model.summary()
    check_summary(
        capsys.readouterr().out,
        "sequential",
        [
            ("normalization", "Normalization", "(None, 2)", "5"),
            ("layer1", "Dense", "(None, 3)", "9"),
            ("layer2", "Dense", "(None, 1)", "4"),
        ],
        "18",
        "13",
        "5",
    )
    model.get_layer("layer1").set_weights([LAB_W1, LAB_b1])
    model.get_layer("layer2").set_weights([LAB_W2, LAB_b2])
    np.testing.assert_allclose(model.predict(X_test, verbose=0)[:, 0], [9.63e-01, 3.03e-08], rtol=0.01)
    mean, variance = inside.mean.copy(), inside.variance.copy()
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.01))
    history = model.fit(X, Y, epochs=5, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    np.testing.assert_array_equal(inside.mean, mean)
    np.testing.assert_array_equal(inside.variance, variance)
    assert np.mean((model.predict(X, verbose=0) >= 0.5) == Y) >= 0.97
