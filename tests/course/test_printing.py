"""What a learner prints looks as it does with TensorFlow 2.21 / Keras 3.15: ``print(layer(x))``,
``print(model.weights)``, ``model.summary()`` (compared character for character with the texts
``tests/parity/record_printing.py`` recorded in Keras, ``tests/parity/fixtures/printing.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Input, Sequential, backend, layers, losses, optimizers
from gradfit.tensor import Tensor, Variable

FIXTURE = Path(__file__).resolve().parents[1] / "parity" / "fixtures" / "printing.json"
RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))
LONG_NAME = "classifier_output_layer_for_ten_digits_1"
LONGER_NAME = "averyveryverylonglayernamewithoutanybreaksinsideitatallxyz"

#: NumPy's own printing of the values sits inside TensorFlow's; the fixtures were printed by NumPy 2
numpy_2 = pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2, reason="the texts were recorded with NumPy 2")


@pytest.fixture(autouse=True)
def pipe_width(monkeypatch):
    """A pipe's terminal size (80 columns) whatever terminal pytest runs in, as the recorder fixed it."""
    monkeypatch.setenv("COLUMNS", "80")


def _values(shape, start: float = 0.0) -> np.ndarray:
    n = int(np.prod(shape))
    return (start + 0.01 * np.arange(n, dtype=np.float32)).reshape(shape).astype(np.float32)


def _fixed_weights(model) -> None:
    model.set_weights([_values(w.shape, start=i) for i, w in enumerate(model.get_weights())])


# ------------------------------------------------------------------------------------------------ tensors
@numpy_2
@pytest.mark.parametrize("case", sorted(set(RECORDED["tensors"]) - {"dense_output"}))
def test_tensor_str_and_repr_are_tensorflows(case):
    recorded = RECORDED["tensors"][case]
    value = np.array(recorded["numpy"], dtype=recorded["dtype"]).view(Tensor)
    assert str(value) == recorded["str"]
    assert repr(value) == recorded["repr"]


@numpy_2
def test_print_layer_output_as_the_lab_does(capsys):
    """C2_W1 Lab 01 ("Neurons and Layers"): ``a1 = linear_layer(X_train[0].reshape(1,1)); print(a1)``."""
    backend.clear_session()
    X_train = np.array([[1.0], [2.0]], dtype=np.float32)
    linear_layer = tf.keras.layers.Dense(units=1, activation="linear")
    a1 = linear_layer(X_train[0].reshape(1, 1))
    set_w = np.array([[200]])
    set_b = np.array([100])
    linear_layer.set_weights([set_w, set_b])
    a1 = linear_layer(X_train[0].reshape(1, 1))
    print(a1)
    assert capsys.readouterr().out == RECORDED["tensors"]["dense_output"]["str"] + "\n"
    assert repr(a1) == RECORDED["tensors"]["dense_output"]["repr"]
    # still the array it was: NumPy arithmetic, indexing and .numpy()
    assert isinstance(a1, np.ndarray) and type(a1.numpy()) is np.ndarray and a1.shape == (1, 1)
    assert float(a1[0, 0] + 1) == 301.0


def test_model_output_prints_as_a_tensor():
    model = Sequential([Input(shape=(2,)), layers.Dense(3)])
    out = model(np.ones((1, 2), dtype=np.float32))
    assert str(out).startswith("tf.Tensor([[") and str(out).endswith("]], shape=(1, 3), dtype=float32)")
    assert repr(out).startswith("<tf.Tensor: shape=(1, 3), dtype=float32, numpy=array([[")


def test_math_results_print_as_tensors():
    assert str(tf.math.reduce_sum([[1, 2], [3, 4]], axis=0, keepdims=True)) == (
        "tf.Tensor([[4 6]], shape=(1, 2), dtype=int32)"
    )
    assert repr(tf.constant(0.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=0.5>"


# ------------------------------------------------------------------------------------------------ variables
@numpy_2
def test_standalone_layer_weights_repr():
    backend.clear_session()
    layer = layers.Dense(2)
    layer(np.zeros((1, 3), dtype=np.float32))
    layer.set_weights([_values((3, 2)), _values((2,), 1.0)])
    assert repr(layer.weights) == RECORDED["variables"]["standalone_dense"]


@numpy_2
def test_sequential_weights_repr_carry_the_model_path(capsys):
    backend.clear_session()
    model = Sequential([Input(shape=(3,)), layers.Dense(2), layers.Dense(1)])
    _fixed_weights(model)
    print(model.weights)
    assert capsys.readouterr().out == RECORDED["variables"]["sequential_with_input"] + "\n"
    assert repr(model.layers[1].weights) == RECORDED["variables"]["sequential_second_layer"]


@numpy_2
def test_named_model_layer_weights_repr():
    """``print(layer.weights)`` of the course's ``my_model``: ``<Variable path=my_model/dense_2/kernel, …>``."""
    backend.clear_session()
    model = Sequential([Input(shape=(4,)), layers.Dense(3), layers.Dense(15), layers.Dense(1)], name="my_model")
    _fixed_weights(model)
    assert len(model.weights) == 6
    assert repr(model.layers[2].weights) == RECORDED["variables"]["named_model_last_layer"]
    assert str(model.layers[2].weights[0]) == RECORDED["variables"]["named_model_kernel_str"]


@numpy_2
def test_weights_of_a_model_built_by_fit(capsys):
    backend.clear_session()
    model = Sequential([layers.Dense(2, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    model.fit(np.ones((4, 3), dtype=np.float32), np.zeros((4, 1), dtype=np.float32), epochs=1, verbose=0)
    _fixed_weights(model)
    assert repr(model.weights) == RECORDED["variables"]["built_by_fit"]


@numpy_2
def test_a_layer_built_before_the_model_keeps_its_own_path():
    backend.clear_session()
    prebuilt = layers.Dense(2)
    prebuilt(np.zeros((1, 3), dtype=np.float32))
    model = Sequential([Input(shape=(3,)), prebuilt], name="outer")
    _fixed_weights(model)
    assert repr(model.weights) == RECORDED["variables"]["built_before_model"]


def test_normalization_weights_path_trainable_and_count_dtype():
    backend.clear_session()
    norm = layers.Normalization()
    model = Sequential([Input(shape=(2,)), norm])
    norm.adapt(np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32))
    assert [[w.path, bool(w.trainable), w.name] for w in model.weights] == RECORDED["variables"]["trainable_flags"]
    assert [w.dtype.name for w in model.weights] == ["float32", "float32", "int64"]


def test_variable_is_a_view_with_kerass_methods():
    backend.clear_session()
    model = Sequential([Input(shape=(3,)), layers.Dense(2)], name="m")
    kernel, bias = model.weights
    assert isinstance(kernel, Variable) and isinstance(kernel, np.ndarray)
    assert (kernel.path, kernel.name, kernel.trainable) == ("m/dense/kernel", "kernel", True)
    kernel.assign(np.full((3, 2), 0.5, dtype=np.float32))
    np.testing.assert_array_equal(model.layers[0].kernel, 0.5)
    np.testing.assert_array_equal(model.get_weights()[0], 0.5)
    bias.assign_add([1.0, 2.0])
    np.testing.assert_array_equal(model.layers[0].bias, [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        kernel.assign(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        kernel.assign(np.full((3, 2), np.nan))
    np.testing.assert_array_equal(model.layers[0].kernel, 0.5)  # a refused assign changes nothing
    copy = kernel.numpy()
    kernel.assign(np.zeros((3, 2)))
    assert type(copy) is np.ndarray and copy[0, 0] == 0.5  # numpy() is a copy, as TensorFlow's
    # arithmetic and indexing give tensors, not the weight
    assert type(kernel + 1) is Tensor and type(kernel[0]) is Tensor and type(kernel.value) is Tensor
    assert type(model.get_weights()[0]) is np.ndarray
    model.layers[0].trainable = False  # Keras's layer.trainable setter sets its variables' flag too
    assert [w.trainable for w in model.weights] == [False, False]


# ------------------------------------------------------------------------------------------------ summary
def _course_model():
    backend.clear_session()
    return Sequential(
        [
            Input(shape=(400,)),
            layers.Dense(25, activation="sigmoid"),
            layers.Dense(15, activation="sigmoid"),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="my_model",
    )


def _summary(model, capsys) -> str:
    capsys.readouterr()
    model.summary()
    return capsys.readouterr().out


def _course_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 400)).astype(np.float32)
    y = (rng.uniform(size=(8, 1)) > 0.5).astype(np.float32)
    return x, y


def test_summary_of_the_course_model_before_and_after_fit(capsys):
    x, y = _course_data()
    model = _course_model()
    assert _summary(model, capsys) == RECORDED["summaries"]["course_before_fit"]
    model.compile(loss=losses.BinaryCrossentropy(), optimizer=optimizers.Adam(0.001))
    assert _summary(model, capsys) == RECORDED["summaries"]["course_compiled_not_fit"]  # no step yet: no line
    model.fit(x, y, epochs=1, verbose=0)
    assert _summary(model, capsys) == RECORDED["summaries"]["course_after_fit_adam"]


@pytest.mark.parametrize(
    "case, optimizer",
    [("course_after_fit_rmsprop", None), ("course_after_fit_sgd_momentum", lambda: optimizers.SGD(0.1, momentum=0.9))],
)
def test_summary_counts_the_optimizers_variables(case, optimizer, capsys):
    """``Optimizer params``: ``iterations`` (int64: 8 bytes), the learning rate and one slot per weight."""
    x, y = _course_data()
    model = _course_model()
    if optimizer is None:
        model.compile(loss=losses.BinaryCrossentropy())
    else:
        model.compile(loss=losses.BinaryCrossentropy(), optimizer=optimizer())
    model.fit(x, y, epochs=1, verbose=0)
    assert _summary(model, capsys) == RECORDED["summaries"][case]


@pytest.mark.parametrize("columns", ["120", "60"])
def test_summary_width_follows_the_terminal(columns, monkeypatch, capsys):
    """``min(88, columns - 4)``: 88 on a wide terminal, 56 on a 60-column one."""
    monkeypatch.setenv("COLUMNS", columns)
    assert _summary(_course_model(), capsys) == RECORDED["summaries"][f"course_columns_{columns}"]


def test_summary_print_fn_gets_the_whole_text_at_once():
    lines = []
    _course_model().summary(print_fn=lines.append)
    assert lines == RECORDED["summaries"]["course_print_fn"]


def test_summary_line_length_argument():
    lines = []
    _course_model().summary(line_length=56, print_fn=lines.append)
    assert lines[0] == RECORDED["summaries"]["course_columns_60"]  # 60 columns give Keras a 56-wide line
    with pytest.raises(ValueError, match="line_length"):
        _course_model().summary(line_length=8)


@pytest.mark.parametrize("case, name", [("long_name", LONG_NAME), ("longer_name", LONGER_NAME)])
def test_summary_wraps_long_layer_names_as_keras(case, name, capsys):
    backend.clear_session()
    if case == "long_name":
        model = Sequential([Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(10, name=name)])
    else:
        model = Sequential([Input(shape=(4,)), layers.Dense(3, name=name)])
    assert _summary(model, capsys) == RECORDED["summaries"][case]


def test_summary_sizes_normalizations_int64_count_as_8_bytes(capsys):
    backend.clear_session()
    norm = layers.Normalization()
    model = Sequential([Input(shape=(3,)), norm, layers.Dense(2)], name="normalized")
    norm.adapt(np.random.default_rng(1).normal(size=(10, 3)).astype(np.float32))
    assert _summary(model, capsys) == RECORDED["summaries"]["normalization"]


def test_summary_of_an_unbuilt_model(capsys):
    backend.clear_session()
    model = Sequential([layers.Dense(2), layers.Dense(1)])
    assert _summary(model, capsys) == RECORDED["summaries"]["unbuilt"]


@pytest.mark.parametrize("case, layer_range", [("", ["dense_1", "dense_2"]), ("_reversed", ["dense_2", "dense"])])
def test_summary_layer_range(case, layer_range, capsys):
    model = _course_model()
    capsys.readouterr()
    model.summary(layer_range=layer_range)
    assert capsys.readouterr().out == RECORDED["summaries"]["course_layer_range" + case]
    with pytest.raises(ValueError, match="does not match the layer names"):
        model.summary(layer_range=["nope", "dense"])
    with pytest.raises(ValueError, match="two layer names"):
        model.summary(layer_range=["dense"])


@pytest.mark.parametrize("columns", ["80", "120"])
def test_summary_show_trainable(columns, monkeypatch, capsys):
    """A frozen Dense is ``N``, a Dropout (no weights) ``-``; the ``Trainable`` header is cut as Keras cuts it."""
    monkeypatch.setenv("COLUMNS", columns)
    backend.clear_session()
    model = Sequential(
        [
            Input(shape=(4,)),
            layers.Dense(8, activation="relu", trainable=False),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    capsys.readouterr()
    model.summary(show_trainable=True)
    key = "show_trainable" if columns == "80" else "show_trainable_columns_120"
    assert capsys.readouterr().out == RECORDED["summaries"][key]
