"""The model API: imports, Dense as a model layer, Sequential's structure, weights, compile and the run methods."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit
import gradfit as tf
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense, InputLayer
from gradfit.keras.losses import BinaryCrossentropy, MeanSquaredError


def course_model() -> Sequential:
    """The seeds' 400-25-15-1 sigmoid network, built up front with Input(shape=(400,))."""
    return Sequential(
        [
            Input(shape=(400,)),
            Dense(25, activation="sigmoid"),
            Dense(15, activation="sigmoid"),
            Dense(1, activation="sigmoid"),
        ]
    )


# --------------------------------------------------------------------------------------------- imports


def test_both_spellings_reach_the_same_objects():
    import gradfit.keras.layers
    import gradfit.keras.losses
    import gradfit.keras.models

    assert gradfit.keras.models.Sequential is Sequential
    assert tf.keras.Sequential is Sequential
    assert tf.keras.layers.Dense is Dense
    assert tf.keras.losses.BinaryCrossentropy is BinaryCrossentropy
    assert tf.keras.losses.MeanSquaredError is MeanSquaredError
    assert gradfit.keras.layers.Dense is Dense
    assert isinstance(tf.keras.optimizers.Adam(0.001), gradfit.optimizers.Adam)
    assert tf.keras.optimizers.Adam(0.001).learning_rate == pytest.approx(0.001)
    assert callable(tf.random.set_seed)
    assert callable(tf.keras.utils.set_random_seed)


def test_backend_floatx_epsilon():
    assert tf.keras.backend.floatx() == "float32"
    assert tf.keras.backend.epsilon() == pytest.approx(1e-7)
    tf.keras.backend.set_floatx("float64")
    assert tf.keras.backend.floatx() == "float64"
    assert gradfit.backend.floatx() == "float64"


def test_set_floatx_rejects_unknown_type():
    with pytest.raises(ValueError, match="float32"):
        tf.keras.backend.set_floatx("float33")
    assert tf.keras.backend.floatx() == "float32"


# --------------------------------------------------------------------------------------------- Dense


def test_dense_kernel_shape_glorot_bounds_and_zero_bias():
    tf.random.set_seed(0)
    model = Sequential([Dense(300)])
    model.build((None, 200))
    kernel, bias = model.layers[0].get_weights()
    limit = np.sqrt(6 / (200 + 300))
    assert kernel.shape == (200, 300)
    assert bias.shape == (300,)
    assert np.all(np.abs(kernel) <= limit)
    # a uniform sample of 60,000 values reaches close to both ends and is centred on 0
    assert kernel.max() > 0.99 * limit and kernel.min() < -0.99 * limit
    assert abs(kernel.mean()) < 0.01 * limit
    assert np.all(bias == 0)
    assert kernel.dtype == np.float32 and bias.dtype == np.float32


def test_dense_is_built_lazily_on_first_fit(binary_data):
    x, y = binary_data
    layer = Dense(3, activation="relu")
    model = Sequential([layer, Dense(1, activation="sigmoid")])
    assert not model.built and not layer.built
    assert layer.kernel is None
    with pytest.raises(ValueError, match="not been built"):
        model.count_params()
    model.compile(loss=BinaryCrossentropy())
    assert not model.built  # compile does not build
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and layer.built
    assert layer.kernel.shape == (4, 3)


def test_dense_is_built_lazily_on_first_call(binary_data):
    x, _ = binary_data
    model = Sequential([Dense(3), Dense(2)])
    out = model(x)
    assert model.built
    assert out.shape == (50, 2)
    assert model.layers[0].kernel.shape == (4, 3)
    layer = Dense(5)
    assert layer(x).shape == (50, 5)
    assert layer.built and layer.kernel.shape == (4, 5)


@pytest.mark.parametrize(
    "first",
    [
        lambda: Input(shape=(7,)),
        lambda: InputLayer(shape=(7,)),
        lambda: tf.keras.Input(shape=(7,)),
    ],
    ids=["Input", "InputLayer", "tf.keras.Input"],
)
def test_input_builds_the_model_up_front(first):
    model = Sequential([first(), Dense(3), Dense(1)])
    assert model.built
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]  # the Input is not a layer
    assert model.layers[0].kernel.shape == (7, 3)
    assert model.count_params() == 7 * 3 + 3 + 3 + 1
    assert model.input_shape == (None, 7)
    assert model.output_shape == (None, 1)


def test_input_then_add():
    model = Sequential()
    model.add(Input(shape=(5,)))
    assert not model.built  # nothing to build yet
    model.add(Dense(2))
    assert model.built
    assert model.layers[0].kernel.shape == (5, 2)


def test_model_build_with_shape():
    model = Sequential([Dense(4), Dense(2)])
    model.build((None, 6))
    assert model.built
    assert [w.shape for w in model.get_weights()] == [(6, 4), (4,), (4, 2), (2,)]


def test_input_dim_keyword():
    model = Sequential([Dense(4, input_dim=3), Dense(1)])
    assert model.built
    assert model.layers[0].kernel.shape == (3, 4)


def test_default_layer_names_and_clear_session():
    names = [Dense(1).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]
    assert Sequential().name == "sequential"
    assert Sequential().name == "sequential_1"
    tf.keras.backend.clear_session()
    assert Dense(1).name == "dense"
    assert Sequential().name == "sequential"
    assert Dense(1, name="layer1").name == "layer1"


# --------------------------------------------------------------------------------------------- Sequential


def test_add_pop_layers_get_layer():
    model = Sequential()
    a, b, c = Dense(3, name="a"), Dense(2, name="b"), Dense(1, name="c")
    model.add(a)
    model.add(b)
    model.add(c)
    assert model.layers == [a, b, c]
    assert model.get_layer("b") is b
    assert model.get_layer(index=0) is a
    assert model.get_layer(index=-1) is c
    with pytest.raises(ValueError, match="No layer named 'zz'"):
        model.get_layer("zz")
    assert model.pop() is c
    assert model.layers == [a, b]
    model.build((None, 4))
    assert model.output_shape == (None, 2)


def test_add_rejects_non_layers_and_duplicate_names():
    model = Sequential([Dense(2, name="same")])
    with pytest.raises(TypeError, match="expected a layer"):
        model.add("relu")
    with pytest.raises(ValueError, match="'same'"):
        model.add(Dense(3, name="same"))
    assert len(model.layers) == 1


def test_count_params_course_network():
    model = course_model()
    assert model.count_params() == 10_431
    assert [layer.count_params() for layer in model.layers] == [10_025, 390, 16]


def test_summary_text(capsys):
    model = course_model()
    model.summary()
    text = capsys.readouterr().out
    assert "dense (Dense)" in text and "dense_1 (Dense)" in text and "dense_2 (Dense)" in text
    assert "(None, 25)" in text and "(None, 15)" in text and "(None, 1)" in text
    assert "10,025" in text and "390" in text
    assert "Total params: 10,431" in text
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 10,431" in "\n".join(lines)


def test_get_set_weights_model_and_layer():
    model = course_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(400, 25), (25,), (25, 15), (15,), (15, 1), (1,)]
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float32 for w in weights)
    new = [np.full(w.shape, 0.01 * (i + 1), dtype=np.float32) for i, w in enumerate(weights)]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    # get_weights returns copies: changing them does not change the model
    copy = model.get_weights()
    copy[0][...] = 5.0
    assert model.get_weights()[0][0, 0] == np.float32(0.01)
    layer = model.get_layer(index=1)
    W, b = layer.get_weights()
    layer.set_weights([W * 2, b + 1])
    np.testing.assert_array_equal(model.get_weights()[2], W * 2)
    np.testing.assert_array_equal(model.get_weights()[3], b + 1)


def test_set_weights_wrong_shape_leaves_weights_untouched():
    model = course_model()
    before = model.get_weights()
    bad = [np.zeros_like(w) for w in before]
    bad[3] = np.zeros((16,), dtype=np.float32)  # layer 2's bias has 15 entries
    with pytest.raises(ValueError, match=r"\(15,\)"):
        model.set_weights(bad)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="6 weight arrays"):
        model.set_weights(before[:5])
    layer = model.layers[0]
    with pytest.raises(ValueError, match=r"\(400, 25\)"):
        layer.set_weights([np.zeros((25, 400)), np.zeros(25)])
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_compile_defaults_to_rmsprop():
    model = Sequential([Dense(1)])
    model.compile(loss=MeanSquaredError())
    assert isinstance(model.optimizer, gradfit.optimizers.RMSprop)
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    assert model.optimizer.name == "rmsprop"  # Keras's name, as in get_config()
    model.compile(loss="mse", optimizer="adam")
    assert isinstance(model.optimizer, gradfit.optimizers.Adam)
    assert model.optimizer.name == "adam"
    assert tf.keras.optimizers.SGD().name == "SGD"
    opt = tf.keras.optimizers.Adam(0.001)
    model.compile(loss="mse", optimizer=opt)
    assert model.optimizer is opt


def test_fit_returns_history(binary_data):
    x, y = binary_data
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy())
    history = model.fit(x, y, epochs=3, verbose=0)
    assert isinstance(history, tf.keras.callbacks.History)
    assert model.history is history
    assert list(history.history) == ["loss"]
    assert len(history.history["loss"]) == 3
    assert history.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for v in history.history["loss"])


def test_evaluate_return_forms(binary_data):
    x, y = binary_data
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy())
    model.fit(x, y, epochs=1, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile(loss=BinaryCrossentropy(), metrics=["accuracy"])
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2
    assert values[0] == pytest.approx(loss, rel=1e-6)
    assert 0 <= values[1] <= 1
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert logs["loss"] == pytest.approx(values[0]) and logs["accuracy"] == pytest.approx(values[1])
    assert model.metrics_names == ["loss", "accuracy"]


@pytest.mark.parametrize("batch_size", [None, 1, 7, 50, 64])
def test_predict_shape_dtype_and_batch_size(binary_data, batch_size):
    x, _ = binary_data
    tf.random.set_seed(3)
    model = Sequential([Dense(5, activation="relu"), Dense(3)])
    out = model.predict(x, batch_size=batch_size, verbose=0)
    assert type(out) is np.ndarray
    assert out.dtype == np.float32 and out.shape == (50, 3)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_predict_matches_manual_forward_pass(binary_data):
    x, _ = binary_data
    model = Sequential([Dense(5, activation="relu"), Dense(1, activation="sigmoid")])
    model.build((None, 4))
    W1, b1, W2, b2 = (w.astype(np.float64) for w in model.get_weights())
    a1 = np.maximum(x @ W1 + b1, 0)
    expected = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_model_call_returns_array_with_numpy(binary_data):
    x, _ = binary_data
    model = Sequential([Dense(2, activation="relu"), Dense(1)])
    out = model(x)
    assert isinstance(out, np.ndarray)
    arr = out.numpy()
    assert type(arr) is np.ndarray
    assert arr.shape == (50, 1) and arr.dtype == np.float32
    np.testing.assert_allclose(arr, model.predict(x, verbose=0), rtol=1e-6)
    # a list of lists works as well (course code passes small literals)
    assert model([[0.0, 0.0, 0.0, 0.0]]).numpy().shape == (1, 1)


def test_train_test_predict_on_batch(binary_data):
    x, y = binary_data
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(0.1), metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    assert isinstance(before, list) and len(before) == 2
    weights = model.get_weights()
    loss, acc = model.train_on_batch(x, y)
    # the loss train_on_batch reports is the one before its update
    assert loss == pytest.approx(before[0], rel=1e-5)
    assert acc == pytest.approx(before[1])
    assert any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert model.test_on_batch(x, y)[0] < before[0]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    out = model.predict_on_batch(x)
    assert out.shape == (50, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-6)


def test_float64_weights_and_predictions(binary_data):
    x, y = binary_data
    tf.keras.backend.set_floatx("float64")
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy())
    model.fit(x, y, epochs=2, verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float64
    assert model(x).numpy().dtype == np.float64


def test_float32_is_the_default_even_for_float64_data(binary_data):
    x, y = binary_data
    assert x.dtype == np.float64
    model = Sequential([Dense(3, activation="relu"), Dense(1)])
    model.compile(loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float32
