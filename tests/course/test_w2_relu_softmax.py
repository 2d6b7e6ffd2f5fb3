"""C2_W2 optional labs "ReLU activation", "Softmax Function" and "Multi-class Classification".

* ReLU: ``tf.nn.relu`` / ``tf.keras.activations.relu``, and a ReLU layer whose units each switch on one
  segment of a piecewise-linear target (the lab sets the weights by hand).
* Softmax: ``my_softmax`` against ``tf.nn.softmax``; the 4-class blobs trained with a softmax output and
  ``SparseCategoricalCrossentropy()``, then with the "preferred" linear output and ``from_logits=True``.
* Multi-class: the 2-unit ReLU network on 100 blobs, ``Adam(0.01)``, 200 epochs.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import linear, relu
from gradfit.keras.layers import Dense
from gradfit.keras.losses import SparseCategoricalCrossentropy
from gradfit.keras.optimizers import Adam

from .helpers import make_blobs

centers = [[-5, 2], [-2, -2], [1, 2], [5, -2]]


def my_softmax(z):
    """The softmax lab's NumPy softmax."""
    ez = np.exp(z)  # element-wise exponenial
    sm = ez / np.sum(ez)
    return sm


# ------------------------------------------------------------------------------------------- activations


def test_softmax_matches_my_softmax():
    z = np.array([1.0, 2.0, 3.0, 4.0])
    a = my_softmax(z)
    atf = tf.nn.softmax(z)
    np.testing.assert_allclose(atf.numpy(), a, rtol=1e-6)
    assert np.array2string(a, precision=2) == "[0.03 0.09 0.24 0.64]"
    assert atf.numpy().sum() == pytest.approx(1.0)
    # one softmax per row of a batch, through tf.nn and tf.keras.activations alike
    Z = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0, 0.0]])
    expected = np.array([my_softmax(z) for z in Z[:2]])
    np.testing.assert_allclose(tf.nn.softmax(Z).numpy()[:2], expected, rtol=1e-6)
    np.testing.assert_allclose(tf.keras.activations.softmax(Z)[:2], expected, rtol=1e-6)
    np.testing.assert_allclose(tf.nn.softmax(Z).numpy()[2], [1.0, 0.0, 0.0, 0.0])  # no overflow
    np.testing.assert_allclose(tf.nn.softmax(Z).numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_relu_and_sigmoid_on_arrays():
    z = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(tf.nn.relu(z).numpy(), np.maximum(0, z))
    np.testing.assert_array_equal(tf.keras.activations.relu(z), np.maximum(0, z))
    np.testing.assert_allclose(tf.nn.sigmoid(z).numpy(), 1 / (1 + np.exp(-z)), rtol=1e-6)
    np.testing.assert_allclose(tf.keras.activations.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-6)
    np.testing.assert_array_equal(tf.keras.activations.linear(z), z)
    assert tf.nn.relu(z).shape == z.shape


def test_keras_activation_results_have_numpy():
    z = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(tf.keras.activations.softmax(z).numpy(), tf.nn.softmax(z).numpy())
    np.testing.assert_array_equal(tf.keras.activations.relu(z).numpy(), z)
    np.testing.assert_allclose(tf.keras.activations.sigmoid(z).numpy(), tf.nn.sigmoid(z).numpy())


def test_from_logits_loss_is_the_numerically_stable_one():
    """The lab's point: ``from_logits=True`` computes ``-log softmax(z)_y`` without rounding ``softmax(z)`` first."""
    y = np.array([0, 1])
    z = np.array([[1.0, 2.0, 3.0, 4.0], [50.0, -50.0, 0.0, 0.0]])
    expected = np.mean([-np.log(my_softmax(z[0])[0]), 100.0 + np.log1p(2 * np.exp(-50.0) + np.exp(-100.0))])
    from_logits = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, z)
    assert float(from_logits) == pytest.approx(expected, rel=1e-6)
    # through the probabilities the tiny p = e^-100 is clipped to epsilon: a much smaller, wrong loss
    via_probs = tf.keras.losses.SparseCategoricalCrossentropy()(y, tf.nn.softmax(z).numpy())
    assert float(via_probs) < 0.2 * float(from_logits)


def test_loss_results_have_numpy():
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), np.array([[1.0, 2.0]]))
    assert loss.numpy() == pytest.approx(np.log1p(np.exp(-1.0)))


def test_relu_units_stitch_together_linear_segments():
    """The ReLU lab: with hand-set weights each ReLU unit switches on one segment of a piecewise-linear target."""
    X = np.linspace(0, 3, 31).reshape(-1, 1)
    # target: slope -2 on [0, 1], slope 1 on [1, 2], slope 3 on [2, 3]; continuous
    y = np.where(X < 1, 2 - 2 * X, np.where(X < 2, X - 1, 3 * X - 5))
    model = Sequential(
        [
            tf.keras.Input(shape=(1,)),
            Dense(3, activation="relu", name="l1"),
            Dense(1, activation="linear", name="l2"),
        ]
    )
    l1, l2 = model.layers
    assert l1.activation is relu and l2.activation is linear
    # unit 0 is on for x < 1, unit 1 for x > 1, unit 2 for x > 2
    l1.set_weights([np.array([[-2.0, 1.0, 2.0]]), np.array([2.0, -1.0, -4.0])])
    l2.set_weights([np.array([[1.0], [1.0], [1.0]]), np.array([0.0])])
    np.testing.assert_allclose(model.predict(X, verbose=0), y, atol=1e-5)
    a1 = l1(X).numpy()
    assert (a1[X[:, 0] > 1, 0] == 0).all() and (a1[X[:, 0] < 1, 1] == 0).all() and (a1[X[:, 0] < 2, 2] == 0).all()
    # the same weights with linear units cannot bend: the output is a straight line
    flat = Sequential([tf.keras.Input(shape=(1,)), Dense(3, activation="linear"), Dense(1, activation="linear")])
    flat.set_weights(model.get_weights())
    out = flat.predict(X, verbose=0)[:, 0]
    np.testing.assert_allclose(np.diff(out, 2), 0, atol=1e-4)


# ------------------------------------------------------------------------------------------- softmax lab


@pytest.fixture(params=["sklearn", "numpy"])
def blobs_2000(request, monkeypatch):
    """The softmax lab's data: 2000 examples in 4 blobs (scikit-learn's make_blobs, else a NumPy stand-in)."""
    if request.param == "numpy":
        monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # `from sklearn.datasets import …` fails
    else:
        pytest.importorskip("sklearn")
    X_train, y_train = make_blobs(n_samples=2000, centers=centers, cluster_std=1.0, random_state=30)
    assert X_train.shape == (2000, 2) and y_train.shape == (2000,)
    assert set(np.unique(y_train)) == {0, 1, 2, 3}
    return X_train, y_train


def test_softmax_output_then_preferred_from_logits(blobs_2000):
    X_train, y_train = blobs_2000
    tf.random.set_seed(1234)
    model = Sequential(
        [
            Dense(25, activation="relu"),
            Dense(15, activation="relu"),
            Dense(4, activation="softmax"),  # < softmax activation here
        ]
    )
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(),
        optimizer=tf.keras.optimizers.Adam(0.001),
    )
    history = model.fit(X_train, y_train, epochs=10, verbose=0)
    assert type(model.loss) is SparseCategoricalCrossentropy
    assert model.loss.get_config()["from_logits"] is False
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    p_nonpreferred = model.predict(X_train, verbose=0)
    assert p_nonpreferred.shape == (2000, 4)
    assert np.min(p_nonpreferred) >= 0 and np.max(p_nonpreferred) <= 1  # "largest value", "smallest value"
    np.testing.assert_allclose(p_nonpreferred.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(np.argmax(p_nonpreferred, axis=1) == y_train) >= 0.9

    preferred_model = Sequential(
        [
            Dense(25, activation="relu"),
            Dense(15, activation="relu"),
            Dense(4, activation="linear"),  # <-- Note
        ]
    )
    preferred_model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # <-- Note
        optimizer=tf.keras.optimizers.Adam(0.001),
    )
    history = preferred_model.fit(X_train, y_train, epochs=10, verbose=0)
    assert type(preferred_model.loss) is SparseCategoricalCrossentropy
    assert preferred_model.loss.get_config()["from_logits"] is True
    assert type(preferred_model.optimizer) is Adam
    assert float(preferred_model.optimizer.learning_rate) == pytest.approx(0.001)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]

    p_preferred = preferred_model.predict(X_train, verbose=0)
    assert p_preferred.shape == (2000, 4)
    # "the outputs are not probabilities": logits range well outside [0, 1]
    assert np.min(p_preferred) < 0 and np.max(p_preferred) > 1
    sm_preferred = tf.nn.softmax(p_preferred).numpy()
    assert type(sm_preferred) is np.ndarray and sm_preferred.shape == (2000, 4)
    assert np.min(sm_preferred) >= 0 and np.max(sm_preferred) <= 1
    np.testing.assert_allclose(sm_preferred.sum(axis=1), 1.0, rtol=1e-5)
    # "to select the most likely category, the softmax is not required"
    np.testing.assert_array_equal(np.argmax(sm_preferred, axis=1), np.argmax(p_preferred, axis=1))
    categories = [int(np.argmax(p_preferred[i])) for i in range(5)]  # the lab prints "category: …" for five
    assert categories == np.argmax(sm_preferred[:5], axis=1).tolist()
    assert np.mean(np.argmax(p_preferred, axis=1) == y_train) >= 0.9


# ------------------------------------------------------------------------------------------- multi-class lab


def test_multiclass_lab_two_relu_units():
    """C2_W2 "Multi-class Classification": 100 blobs, Dense(2, relu) + Dense(4, linear), from_logits, 200 epochs."""
    classes = 4
    m = 100
    std = 1.0
    X_train, y_train = make_blobs(n_samples=m, centers=centers, cluster_std=std, random_state=30)
    assert len(np.unique(y_train)) == classes
    tf.random.set_seed(1234)  # applied to achieve consistent results
    model = Sequential(
        [
            Dense(2, activation="relu", name="L1"),
            Dense(4, activation="linear", name="L2"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(0.01),
    )
    history = model.fit(X_train, y_train, epochs=200, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 200 and losses[-1] < 0.5 * losses[0]
    l1 = model.get_layer("L1")
    W1, b1 = l1.get_weights()
    l2 = model.get_layer("L2")
    W2, b2 = l2.get_weights()
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((2, 2), (2,), (2, 4), (4,))
    assert l1.output.shape == (None, 2) and l2.output.shape == (None, 4)
    yhat = np.argmax(model.predict(X_train, verbose=0), axis=1)
    assert np.mean(yhat == y_train) >= 0.9
