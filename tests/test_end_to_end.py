"""End to end: the seeds' course code, with only its imports changed, trains to the course's results."""

from __future__ import annotations

import numpy as np
import pytest


def _seed_model_gradfit_keras(X, Y):
    """Lecture code, ``tensorflow.keras`` -> ``gradfit.keras``; nothing else changed."""
    from gradfit.keras import Sequential
    from gradfit.keras.layers import Dense
    from gradfit.keras.losses import BinaryCrossentropy

    model = Sequential(
        [
            Dense(units=25, activation="sigmoid"),
            Dense(units=15, activation="sigmoid"),
            Dense(units=1, activation="sigmoid"),
        ]
    )
    model.compile(loss=BinaryCrossentropy())
    history = model.fit(X, Y, epochs=100)
    return model, history


def _seed_model_import_as_tf(X, Y):
    """The same network written against ``import gradfit as tf`` (``tf.keras.…`` everywhere)."""
    import gradfit as tf

    model = tf.keras.Sequential(
        [
            tf.keras.layers.Dense(units=25, activation="sigmoid"),
            tf.keras.layers.Dense(units=15, activation="sigmoid"),
            tf.keras.layers.Dense(units=1, activation="sigmoid"),
        ]
    )
    model.compile(loss=tf.keras.losses.BinaryCrossentropy())
    history = model.fit(X, Y, epochs=100)
    return model, history


@pytest.mark.parametrize("build", [_seed_model_gradfit_keras, _seed_model_import_as_tf], ids=["gradfit.keras", "tf"])
def test_acceptance_binary_digits(digits01, build, capsys):
    """The acceptance run: 25-15-1 sigmoid, BCE, default RMSprop, 100 epochs, >= 99% training accuracy."""
    import gradfit as tf

    X, y = digits01
    assert X.shape == (1000, 400) and y.shape == (1000, 1)
    tf.random.set_seed(1234)
    model, history = build(X, y)
    out = capsys.readouterr().out
    assert "Epoch 100/100" in out  # fit's default verbose prints progress
    assert isinstance(model.optimizer, tf.keras.optimizers.RMSprop)
    assert model.count_params() == 10_431
    losses = history.history["loss"]
    assert len(losses) == 100
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.05 * losses[0]
    assert np.mean(np.diff(losses) < 0) > 0.9  # falls nearly every epoch
    p = model.predict(X)
    assert type(p) is np.ndarray and p.dtype == np.float32 and p.shape == (1000, 1)
    assert np.all((p >= 0) & (p <= 1))
    accuracy = np.mean((p >= 0.5).astype(int) == y)
    assert accuracy >= 0.99
    # the lab's single-example prediction
    prediction = model.predict(X[0].reshape(1, 400))
    yhat = 1 if prediction >= 0.5 else 0
    assert yhat == y[0, 0] == 0
    prediction = model.predict(X[500].reshape(1, 400))
    assert (1 if prediction >= 0.5 else 0) == y[500, 0] == 1


def test_week1_lab_code_with_input_layer_and_adam(digits01, capsys):
    """The week-1 practice lab's code (Input, names, summary, get_weights, Adam), imports changed only."""
    import gradfit as tf
    from gradfit.keras import Sequential
    from gradfit.keras.layers import Dense

    X, y = digits01
    tf.random.set_seed(1234)
    model = Sequential(
        [
            tf.keras.Input(shape=(400,)),
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
    )
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "my_model"' in text and "layer1 (Dense)" in text and "Total params: 10,431" in text
    L1_num_params = 400 * 25 + 25
    L2_num_params = 25 * 15 + 15
    L3_num_params = 15 * 1 + 1
    assert L1_num_params + L2_num_params + L3_num_params == model.count_params()
    [layer1, layer2, layer3] = model.layers
    W1, b1 = layer1.get_weights()
    W2, b2 = layer2.get_weights()
    W3, b3 = layer3.get_weights()
    assert (W1.shape, b1.shape, W2.shape, b2.shape, W3.shape, b3.shape) == (
        (400, 25),
        (25,),
        (25, 15),
        (15,),
        (15, 1),
        (1,),
    )
    assert len(model.layers[2].weights) == 2
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.001))
    history = model.fit(X, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.1
    yhat = (model.predict(X, verbose=0) >= 0.5).astype(int)
    assert np.mean(yhat == y) >= 0.98


def test_acceptance_multiclass_digits(digits0to9):
    """Week-2 lab: 25-15 relu + 10 linear, sparse CE from logits, Adam(0.001), 40 epochs: <= 50 errors of 5000."""
    import gradfit as tf
    from gradfit.keras import Sequential
    from gradfit.keras.layers import Dense

    X, y = digits0to9
    assert X.shape == (5000, 400) and y.shape == (5000, 1)
    tf.random.set_seed(1234)
    model = Sequential(
        [
            tf.keras.Input(shape=(400,)),
            Dense(25, activation="relu", name="L1"),
            Dense(15, activation="relu", name="L2"),
            Dense(10, activation="linear", name="L3"),
        ],
        name="my_model",
    )
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
    )
    history = model.fit(X, y, epochs=40, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 40
    assert losses[0] > 0.5 and losses[-1] < 0.1
    prediction = model.predict(X, verbose=0)
    assert prediction.dtype == np.float32 and prediction.shape == (5000, 10)
    errors = int(np.sum(np.argmax(prediction, axis=1) != y[:, 0]))
    assert errors <= 50
    # the lab's single-image prediction through tf.nn.softmax
    image_of_two = X[1015]
    prediction = model.predict(image_of_two.reshape(1, 400), verbose=0)
    prediction_p = tf.nn.softmax(prediction)
    np.testing.assert_allclose(prediction_p.numpy().sum(), 1.0, rtol=1e-5)
    assert np.argmax(prediction_p) == y[1015, 0] == 2


@pytest.mark.parametrize("spelling", ["gradfit.keras", "tf"])
def test_mean_squared_error_regression(regression_data, spelling):
    """The seeds' regression variant, compile(loss=MeanSquaredError()), reaches a loss near the noise level."""
    x, y = regression_data
    if spelling == "tf":
        import gradfit as tf

        tf.keras.utils.set_random_seed(0)
        Sequential, Dense, MeanSquaredError = (
            tf.keras.Sequential,
            tf.keras.layers.Dense,
            tf.keras.losses.MeanSquaredError,
        )
        Adam = tf.keras.optimizers.Adam
    else:
        from gradfit.keras.layers import Dense
        from gradfit.keras.losses import MeanSquaredError
        from gradfit.keras.models import Sequential
        from gradfit.keras.optimizers import Adam
        from gradfit.keras.utils import set_random_seed

        set_random_seed(0)
    model = Sequential([Dense(units=8, activation="relu"), Dense(units=1)])
    model.compile(loss=MeanSquaredError(), optimizer=Adam(0.01))
    history = model.fit(x, y, epochs=150, batch_size=32, verbose=0)
    assert history.history["loss"][0] > 1.0
    assert history.history["loss"][-1] < 0.01
    assert model.evaluate(x, y, verbose=0) < 0.01
    p = model.predict(x, verbose=0)
    assert p.dtype == np.float32 and p.shape == (200, 1)
    np.testing.assert_allclose(p, y, atol=0.3)


def test_binary_synthetic_end_to_end_without_data_files():
    """Runs even where ../shared/data is absent: the seeds' network learns a 2-D XOR-like rule."""
    import gradfit as tf

    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(400, 2))
    Y = ((X[:, 0] * X[:, 1]) > 0).astype(np.float32).reshape(-1, 1)
    tf.random.set_seed(5)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Dense(units=25, activation="sigmoid"),
            tf.keras.layers.Dense(units=15, activation="sigmoid"),
            tf.keras.layers.Dense(units=1, activation="sigmoid"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.01), metrics=["accuracy"]
    )
    history = model.fit(X, Y, epochs=100, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_missing_data_file_skips_cleanly(monkeypatch, tmp_path):
    from tests import conftest

    monkeypatch.setattr(conftest, "DATA_DIR", tmp_path)
    with pytest.raises(pytest.skip.Exception, match="not available"):
        conftest.load_npz("course_digits_01.npz")
