"""C2_W2_Assignment "Neural Networks for Handwritten Digit Recognition, Multiclass" on the course's 0-9 digits.

The acceptance run: ``tf.random.set_seed(1234)``, 400-25-15-10 (relu, relu, linear), 10,575 parameters,
``SparseCategoricalCrossentropy(from_logits=True)``, ``Adam(0.001)``, 40 epochs: the loss falls and at most
50 of the 5000 training images are misclassified; ``X[1015]`` is a 2. Then two variants engineers write
next: a validation set with ``EarlyStopping(restore_best_weights=True)``, and 20x20 images through ``Flatten``.
Skips cleanly when ``../shared/data/course_digits_0to9.npz`` is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import linear, relu
from gradfit.keras.layers import Dense
from gradfit.keras.losses import SparseCategoricalCrossentropy
from gradfit.keras.optimizers import Adam

from .helpers import check_summary

FIRST_LAYERS = {
    "InputLayer": lambda: tf.keras.layers.InputLayer((400,)),
    "tf.keras.Input": lambda: tf.keras.Input(shape=(400,)),
}


def my_softmax(z):
    """The assignment's exercise 1 (UNQ_C1), with loops."""
    N = len(z)
    a = np.zeros(N)
    ez_sum = 0
    for k in range(N):
        ez_sum += np.exp(z[k])
    for j in range(N):
        a[j] = np.exp(z[j]) / ez_sum
    return a


def build_model(first: str = "InputLayer") -> Sequential:
    """The assignment's exercise 2 (UNQ_C2)."""
    tf.random.set_seed(1234)  # for consistent results
    model = Sequential(
        [
            FIRST_LAYERS[first](),
            Dense(25, activation="relu", name="L1"),
            Dense(15, activation="relu", name="L2"),
            Dense(10, activation="linear", name="L3"),
        ],
        name="my_model",
    )
    return model


def test_model(target, classes, input_size):
    """The assignment's public test of exercise 2 (``public_tests.test_model``), shapes as tuples."""
    target.build(input_shape=(None, input_size))
    assert len(target.layers) == 3, f"Wrong number of layers. Expected 3 but got {len(target.layers)}"
    assert target.input.shape == (None, input_size), f"Wrong input shape. Expected [None,  {input_size}]"
    i = 0
    expected = [[Dense, (None, 25), relu], [Dense, (None, 15), relu], [Dense, (None, classes), linear]]
    for layer in target.layers:
        assert type(layer) is expected[i][0], f"Wrong type in layer {i}"
        assert layer.output.shape == expected[i][1], f"Wrong number of units in layer {i}"
        assert layer.activation == expected[i][2], f"Wrong activation in layer {i}"
        i = i + 1


test_model.__test__ = False  # a helper named as in the assignment, not a pytest test


def display_errors(model, X, y):
    """``autils.display_errors`` without the plot: the number of misclassified images."""
    f = model.predict(X, verbose=0)
    yhat = np.argmax(f, axis=1)
    idxs = np.where(yhat != y[:, 0])[0]
    return len(idxs)


def compile_model(model: Sequential) -> None:
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
    )


@pytest.fixture(scope="module")
def trained(digits0to9):
    """The assignment's training run, done once for the tests that read its results."""
    X, y = digits0to9
    model = build_model()
    compile_model(model)
    history = model.fit(X, y, epochs=40, verbose=0)
    return model, history


def test_my_softmax():
    z = np.array([1.0, 2.0, 3.0, 4.0])
    a = my_softmax(z)
    atf = tf.nn.softmax(z)
    assert np.array2string(a, precision=2) == "[0.03 0.09 0.24 0.64]"
    np.testing.assert_allclose(atf.numpy(), a, rtol=1e-6)


def test_data(digits0to9):
    X, y = digits0to9
    assert X.shape == (5000, 400) and y.shape == (5000, 1)
    assert y[0, 0] == 0 and y[-1, 0] == 9
    assert np.bincount(y[:, 0]).tolist() == [500] * 10


@pytest.mark.parametrize("first", list(FIRST_LAYERS))
def test_model_summary_and_weights(first, capsys):
    model = build_model(first)
    model.summary()
    check_summary(
        capsys.readouterr().out,
        "my_model",
        [
            ("L1", "Dense", "(None, 25)", "10,025"),
            ("L2", "Dense", "(None, 15)", "390"),
            ("L3", "Dense", "(None, 10)", "160"),
        ],
        "10,575",
        "10,575",
    )
    test_model(model, 10, 400)
    assert model.count_params() == 10575
    assert model.input.shape == (None, 400)
    [layer1, layer2, layer3] = model.layers
    W1, b1 = layer1.get_weights()
    W2, b2 = layer2.get_weights()
    W3, b3 = layer3.get_weights()
    assert (W1.shape, b1.shape) == ((400, 25), (25,))
    assert (W2.shape, b2.shape) == ((25, 15), (15,))
    assert (W3.shape, b3.shape) == ((15, 10), (10,))


def test_same_seed_same_initial_weights():
    """``tf.random.set_seed(1234)`` before building makes the initial weights repeat exactly."""
    first = build_model().get_weights()
    second = build_model().get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_acceptance_training_run(trained, digits0to9):
    """Loss falls over 40 epochs; <= 50 training errors out of 5000 (the course shows about 15-25)."""
    X, y = digits0to9
    model, history = trained
    assert type(model.loss) is SparseCategoricalCrossentropy
    assert model.loss.get_config()["from_logits"] is True
    assert type(model.optimizer) is Adam
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
    assert 1e-4 < model.optimizer.learning_rate * 2 < 1e-2  # usable as a number

    losses = history.history["loss"]
    assert list(history.history) == ["loss"]
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert losses[0] > 0.5 and losses[-1] < 0.1  # course: about 1.6 to about 0.03
    assert np.mean(np.diff(losses) < 0) >= 0.85
    assert min(losses[-5:]) < 0.1 * losses[0]

    errors = display_errors(model, X, y)
    assert errors <= 50, f"{errors} errors out of {len(X)} images"


def test_predicting_a_two(trained, digits0to9):
    """The assignment's cell: X[1015] predicted as a 2, through ``tf.nn.softmax``."""
    X, y = digits0to9
    model, _ = trained
    image_of_two = X[1015]
    prediction = model.predict(image_of_two.reshape(1, 400), verbose=0)  # prediction
    assert prediction.shape == (1, 10)
    assert np.argmax(prediction) == 2  # " Largest Prediction index"
    prediction_p = tf.nn.softmax(prediction)
    assert f"{np.sum(prediction_p):0.3f}" == "1.000"  # "Total of predictions"
    yhat = np.argmax(prediction_p)
    assert yhat == y[1015, 0] == 2
    assert prediction_p.numpy()[0, 2] > 0.5
    # the whole set through softmax: probability rows
    probs = tf.nn.softmax(model.predict(X, verbose=0)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_validation_data_and_early_stopping(digits0to9):
    """A held-out fifth, ``metrics=['accuracy']``, ``EarlyStopping(restore_best_weights=True)``."""
    X, y = digits0to9
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))  # the rows are sorted by label: shuffle before splitting
    train, val = order[:4000], order[4000:]
    model = build_model()
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
        metrics=["accuracy"],
    )
    early = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = model.fit(X[train], y[train], epochs=40, validation_data=(X[val], y[val]), callbacks=[early], verbose=0)
    logs = history.history
    assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    n = len(logs["loss"])
    assert 1 <= n <= 40
    assert all(len(v) == n for v in logs.values())
    assert history.epoch == list(range(n))
    if n < 40:  # it stopped early: patience epochs without improvement
        assert early.stopped_epoch == n - 1
        assert early.stopped_epoch - early.best_epoch == 3
    assert logs["val_loss"][early.best_epoch] == min(logs["val_loss"])
    # the best epoch's weights are back in the model
    val_loss, val_acc = model.evaluate(X[val], y[val], verbose=0)
    assert val_loss == pytest.approx(min(logs["val_loss"]), rel=1e-4)
    assert val_acc == pytest.approx(logs["val_accuracy"][early.best_epoch], abs=1e-6)
    assert val_acc >= 0.9
    assert logs["accuracy"][-1] >= 0.9


def test_flatten_20x20_images(trained, digits0to9, capsys):
    """The images as 20x20 arrays through ``Flatten``: same parameter count, and the very same training run."""
    X, y = digits0to9
    images = X.reshape(-1, 20, 20)
    tf.random.set_seed(1234)
    model = Sequential(
        [
            tf.keras.Input(shape=(20, 20)),
            tf.keras.layers.Flatten(),
            Dense(25, activation="relu", name="L1"),
            Dense(15, activation="relu", name="L2"),
            Dense(10, activation="linear", name="L3"),
        ],
        name="my_model",
    )
    model.summary()
    check_summary(
        capsys.readouterr().out,
        "my_model",
        [
            ("flatten", "Flatten", "(None, 400)", "0"),
            ("L1", "Dense", "(None, 25)", "10,025"),
            ("L2", "Dense", "(None, 15)", "390"),
            ("L3", "Dense", "(None, 10)", "160"),
        ],
        "10,575",
        "10,575",
    )
    assert model.input.shape == (None, 20, 20)
    assert model.layers[0].output.shape == (None, 400)
    compile_model(model)
    history = model.fit(images, y, epochs=40, verbose=0)
    logits = model.predict(images, verbose=0)
    assert logits.shape == (5000, 10)
    assert display_errors(model, images, y) <= 50
    # Flatten of a 20x20 image is the original row, the seed gives the same initial weights and shuffles:
    # the run is the acceptance run
    reference, reference_history = trained
    np.testing.assert_allclose(history.history["loss"], reference_history.history["loss"], rtol=1e-4)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(reference.predict(X, verbose=0), logits, rtol=1e-3, atol=1e-4)
