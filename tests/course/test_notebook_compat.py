"""The TensorFlow surface the Course 2 notebooks touch beside Keras, with their code as the course has it (only the
imports changed): ``tf.get_logger()``, ``tf.math`` / ``tf.nn`` on arrays (values and dtypes as TensorFlow 2.21
gives them, recorded in ``tests/parity/fixtures/printing.json``), and the assignments' public tests, written for
Keras 2 (``model.input.shape.as_list() == [None, 400]``)."""

from __future__ import annotations

import json
import logging
import math as stdlib_math
import warnings
from pathlib import Path

import numpy as np
import pytest

import gradfit
import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import linear, relu, sigmoid
from gradfit.keras.layers import Dense
from gradfit.tensor import Tensor, TensorShape

FIXTURE = Path(__file__).resolve().parents[1] / "parity" / "fixtures" / "printing.json"
MATH_CASES = json.loads(FIXTURE.read_text(encoding="utf-8"))["math"]


# ------------------------------------------------------------------ the assignments' public tests (Keras 2 style)
def test_c1(target):
    """C2_W1 Assignment, ``public_tests.test_c1``, as the course has it."""
    assert len(target.layers) == 3, f"Wrong number of layers. Expected 3 but got {len(target.layers)}"
    assert target.input.shape.as_list() == [None, 400], (
        f"Wrong input shape. Expected [None,  400] but got {target.input.shape.as_list()}"
    )
    i = 0
    expected = [[Dense, [None, 25], sigmoid], [Dense, [None, 15], sigmoid], [Dense, [None, 1], sigmoid]]

    for layer in target.layers:
        assert type(layer) == expected[i][0], (  # noqa: E721 (the course's comparison)
            f"Wrong type in layer {i}. Expected {expected[i][0]} but got {type(layer)}"
        )
        assert layer.output.shape.as_list() == expected[i][1], (
            f"Wrong number of units in layer {i}. Expected {expected[i][1]} but got {layer.output.shape.as_list()}"
        )
        assert layer.activation == expected[i][2], (
            f"Wrong activation in layer {i}. Expected {expected[i][2]} but got {layer.activation}"
        )
        i = i + 1

    print("\033[92mAll tests passed!")


def test_model(target, classes, input_size):
    """C2_W2 Assignment, ``public_tests.test_model``, as the course has it."""
    target.build(input_shape=(None, input_size))

    assert len(target.layers) == 3, f"Wrong number of layers. Expected 3 but got {len(target.layers)}"
    assert target.input.shape.as_list() == [None, input_size], (
        f"Wrong input shape. Expected [None,  {input_size}] but got {target.input.shape.as_list()}"
    )
    i = 0
    expected = [[Dense, [None, 25], relu], [Dense, [None, 15], relu], [Dense, [None, classes], linear]]

    for layer in target.layers:
        assert type(layer) == expected[i][0], (  # noqa: E721 (the course's comparison)
            f"Wrong type in layer {i}. Expected {expected[i][0]} but got {type(layer)}"
        )
        assert layer.output.shape.as_list() == expected[i][1], (
            f"Wrong number of units in layer {i}. Expected {expected[i][1]} but got {layer.output.shape.as_list()}"
        )
        assert layer.activation == expected[i][2], (
            f"Wrong activation in layer {i}. Expected {expected[i][2]} but got {layer.activation}"
        )
        i = i + 1

    print("\033[92mAll tests passed!")


def test_my_softmax(target):
    """C2_W2 Assignment, ``public_tests.test_my_softmax``: against ``tf.nn.softmax`` at 1e-10 (float64 kept)."""
    z = np.array([1.0, 2.0, 3.0, 4.0])
    a = target(z)
    atf = tf.nn.softmax(z)
    assert np.allclose(a, atf, atol=1e-10), f"Wrong values. Expected {atf}, got {a}"
    z = np.array([np.log(0.1)] * 10)
    a = target(z)
    atf = tf.nn.softmax(z)
    assert np.allclose(a, atf, atol=1e-10), f"Wrong values. Expected {atf}, got {a}"
    print("\033[92m All tests passed.")


for _helper in (test_c1, test_model, test_my_softmax):
    _helper.__test__ = False  # helpers named as in the assignments, not pytest tests


def my_softmax(z):
    """The C2_W2 assignment's exercise 1, vectorised."""
    ez = np.exp(z)
    return ez / np.sum(ez)


def test_c2_w1_assignment_model_passes_the_keras_2_public_test(capsys):
    tf.get_logger().setLevel("ERROR")  # the notebook's first cell
    model = Sequential(
        [
            tf.keras.Input(shape=(400,)),  # specify input size
            Dense(units=25, activation="sigmoid"),
            Dense(units=15, activation="sigmoid"),
            Dense(units=1, activation="sigmoid"),
        ],
        name="my_model",
    )
    test_c1(model)
    assert "All tests passed!" in capsys.readouterr().out


def test_c2_w1_public_test_after_fit_on_a_model_without_input():
    model = Sequential(
        [Dense(25, activation="sigmoid"), Dense(15, activation="sigmoid"), Dense(1, activation="sigmoid")]
    )
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.001))
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 400)).astype(np.float32), rng.integers(0, 2, size=(16, 1)), epochs=1, verbose=0)
    test_c1(model)


@pytest.mark.parametrize("with_input", [True, False])
def test_c2_w2_assignment_model_passes_the_keras_2_public_tests(with_input):
    tf.random.set_seed(1234)  # for consistent results
    first = [tf.keras.Input(shape=(400,))] if with_input else []
    model = Sequential(
        first
        + [
            Dense(units=25, activation="relu"),
            Dense(units=15, activation="relu"),
            Dense(units=10, activation="linear"),
        ],
        name="my_model",
    )
    test_model(model, 10, 400)
    test_my_softmax(my_softmax)


def test_layer_input_and_output_shapes_are_tuples_with_as_list():
    model = Sequential([tf.keras.Input(shape=(400,)), Dense(25), Dense(1)])
    first = model.layers[0]
    assert first.input.shape == (None, 400) and first.input.shape.as_list() == [None, 400]
    assert first.output.shape == (None, 25) and model.layers[1].input.shape.as_list() == [None, 25]
    assert model.output.shape.as_list() == [None, 1] and [t.shape for t in model.outputs] == [(None, 1)]
    assert model.inputs[0].shape == (None, 400)
    with pytest.raises(AttributeError, match="build the model first"):
        Dense(3).output  # noqa: B018 (the attribute read is the test)


def test_tensor_shape_is_a_tuple_with_tensorflows_methods():
    shape = TensorShape((None, 400))
    assert isinstance(shape, tuple) and shape == (None, 400) and (None, 400) == shape
    assert hash(shape) == hash((None, 400)) and {shape: 1}[(None, 400)] == 1
    assert shape.as_list() == [None, 400] and shape.rank == shape.ndims == len(shape) == 2
    assert shape[1] == 400 and shape[1:] == (400,) and isinstance(shape[1:], TensorShape)
    assert not shape.is_fully_defined() and shape.num_elements() is None
    assert TensorShape([2, 3]).num_elements() == 6 and TensorShape([2, 3]).is_fully_defined()
    batch, features = shape
    assert (batch, features) == (None, 400) and str(shape) == "(None, 400)"
    assert tf.keras.Input(shape=(20, 20)).shape.as_list() == [None, 20, 20]


# ------------------------------------------------------------------------------------------------ get_logger
def test_get_logger_is_tensorflows_logger():
    logger = tf.get_logger()
    assert isinstance(logger, logging.Logger) and logger.name == "tensorflow"
    assert logger is logging.getLogger("tensorflow")
    old = logger.level
    try:
        tf.get_logger().setLevel("ERROR")
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(old)


def test_the_logger_level_does_not_silence_gradfit_advice():
    """Advice is a Python warning, as Keras's own warnings are: the labs' ``setLevel('ERROR')`` leaves it on."""
    logger = tf.get_logger()
    old = logger.level
    try:
        logger.setLevel("ERROR")
        model = Sequential([tf.keras.Input(shape=(2,)), Dense(4), Dense(1, activation="sigmoid")])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.compile(loss="binary_crossentropy")
        assert any(issubclass(w.category, gradfit.GradfitAdvice) for w in caught)
    finally:
        logger.setLevel(old)


# ------------------------------------------------------------------------------------------------ tf.math / tf.nn
def _case_id(case) -> str:
    module, name, args, kwargs = case["call"]
    return f"{module}.{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"


@pytest.mark.parametrize("case", MATH_CASES, ids=_case_id)
def test_math_and_nn_agree_with_tensorflow(case):
    module, name, args, kwargs = case["call"]
    got = getattr(getattr(tf, module), name)(*args, **kwargs)
    assert isinstance(got, Tensor) and type(got.numpy()) is np.ndarray
    assert got.dtype.name == case["dtype"], f"dtype {got.dtype.name}, TensorFlow gives {case['dtype']}"
    assert list(got.shape) == case["shape"]
    want = np.array(case["numpy"], dtype=case["dtype"])
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(got.numpy(), want)


def test_lab_code_on_tf_math():
    """C2_W1 Lab 02 ("Coffee Roasting") and the optional softmax lab call these on arrays and take ``.numpy()``."""
    yhat = np.array([[-2.0], [0.0], [3.0]], dtype=np.float32)
    yhat = tf.math.sigmoid(yhat)
    assert yhat.dtype == np.float32 and yhat.numpy().shape == (3, 1)
    p_preferred = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    sm_preferred = tf.nn.softmax(p_preferred).numpy()
    assert np.allclose(sm_preferred.sum(axis=1), 1.0)
    predictions = np.array([[0.2], [0.7]])
    yhat = (tf.math.greater_equal(predictions, 0.5)).numpy().astype(int)
    assert yhat.tolist() == [[0], [1]]
    assert tf.math.argmax(sm_preferred, axis=1).numpy().tolist() == [2]


def test_tf_math_keeps_numpy_dtypes_and_refuses_strings():
    assert tf.math.exp(np.array([1.0])).dtype == np.float64  # NumPy arrays keep their dtype, as TensorFlow
    assert tf.math.reduce_sum(np.arange(3, dtype=np.int64)).dtype == np.int64
    assert tf.math.exp(1).dtype == np.float32  # integers are computed in float32 (TensorFlow refuses them)
    with pytest.raises(TypeError, match="numbers"):
        tf.math.exp(["a"])
    with pytest.raises(ValueError, match="shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0], logits=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[2], logits=[[0.5, 1.0]])


def test_constant_and_dtypes():
    assert tf.constant(1.5).dtype == tf.float32 and tf.constant([1, 2]).dtype == tf.int32
    assert tf.constant([1, 2], dtype=tf.float32).dtype == np.float32
    assert tf.constant(0.0, shape=(2, 3)).shape == (2, 3)
    assert tf.convert_to_tensor(np.zeros(2)).dtype == np.float64


def test_stdlib_math_is_not_shadowed():
    assert stdlib_math.pi == pytest.approx(3.14159265) and tf.math is gradfit.math
    assert hasattr(tf.math, "reduce_sum") and not hasattr(stdlib_math, "reduce_sum")
    namespace: dict = {}
    exec("import math\nfrom gradfit import *", namespace)  # a star import must not replace the stdlib's math
    assert namespace["math"] is stdlib_math


# ------------------------------------------------------------------------------------------------ weight paths
def test_layer_weights_read_first_through_model_layers_carry_the_model_path():
    model = Sequential([tf.keras.Input(shape=(4,)), Dense(3), Dense(1)], name="first_read")
    assert model.layers[1].weights[0].path == f"first_read/{model.layers[1].name}/kernel"
