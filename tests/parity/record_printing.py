"""Record what TensorFlow 2.21 / Keras 3.15 print for what a learner prints: run by hand in a throwaway environment
with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_printing.py

Writes ``fixtures/printing.json``, read by ``tests/course/test_printing.py``:

- ``tensors``: ``str()`` and ``repr()`` of ``tf.constant`` values (scalar, 1-D, 2-D, multi-line, int, bool, empty,
  summarised) and of a Dense layer's output;
- ``math``: ``tf.math`` / ``tf.nn`` calls on Python values (``MATH_CASES``): the values, dtype and shape;
- ``variables``: ``repr(layer.weights)`` / ``repr(model.weights)`` of layers standalone, in a Sequential, in a
  named model and after ``fit`` (weights set to fixed values first, so that the values print the same);
- ``summaries``: ``model.summary()``'s text as printed to a pipe (``COLUMNS`` fixed, so that the width does not
  depend on the terminal the recorder runs in), and as handed to ``print_fn``.

Each case starts from ``keras.backend.clear_session()``, so that the default layer names are not numbered on.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["COLUMNS"] = "80"  # shutil.get_terminal_size()'s answer in a pipe, in Jupyter and under pytest

OUT = Path(__file__).resolve().parent / "fixtures" / "printing.json"

#: the 40-character layer name of the wrapping case, and a longer one without underscores to break at
LONG_NAME = "classifier_output_layer_for_ten_digits_1"
LONGER_NAME = "averyveryverylonglayernamewithoutanybreaksinsideitatallxyz"


#: ``(module, function, positional arguments, keyword arguments)``: the calls course code and tutorials make
MATH_CASES = [
    ("math", "sigmoid", [0.5], {}),
    ("math", "sigmoid", [[-1.0, 0.0, 2.0]], {}),
    ("math", "exp", [[0.0, 1.0]], {}),
    ("math", "log", [[1.0, 2.0]], {}),
    ("math", "log1p", [0.5], {}),
    ("math", "sqrt", [[4.0, 2.0]], {}),
    ("math", "square", [3], {}),
    ("math", "square", [[1.5, -2.0]], {}),
    ("math", "abs", [-3], {}),
    ("math", "tanh", [[0.5, -1.0]], {}),
    ("math", "softplus", [0.5], {}),
    ("math", "sign", [[-2.0, 0.0, 3.0]], {}),
    ("math", "round", [[0.5, 1.5, 2.5, -0.5, -1.5]], {}),
    ("math", "add", [[1.0, 2.0], 1.0], {}),
    ("math", "add", [[1, 2], 3], {}),
    ("math", "subtract", [[1.0, 2.0], [0.5, 0.5]], {}),
    ("math", "multiply", [[1.0, 2.0], 3.0], {}),
    ("math", "divide", [1, 2], {}),
    ("math", "divide", [[1.0, 2.0], 4.0], {}),
    ("math", "maximum", [[1.0, 5.0], [3.0, 2.0]], {}),
    ("math", "minimum", [[1.0, 5.0], [3.0, 2.0]], {}),
    ("math", "pow", [2.0, 3.0], {}),
    ("math", "equal", [[1, 2], [1, 3]], {}),
    ("math", "greater", [[1.0, 2.0], 1.5], {}),
    ("math", "less", [[1.0, 2.0], 1.5], {}),
    ("math", "reduce_sum", [[[1.0, 2.0], [3.0, 4.0]]], {}),
    ("math", "reduce_sum", [[[1, 2], [3, 4]]], {"axis": 0, "keepdims": True}),
    ("math", "reduce_sum", [[[1.0, 2.0], [3.0, 4.0]]], {"axis": [0, 1]}),
    ("math", "reduce_mean", [[[1.0, 2.0], [3.0, 4.0]]], {"axis": 1}),
    ("math", "reduce_mean", [[1, 2]], {}),
    ("math", "reduce_mean", [[-1, -2]], {}),
    ("math", "reduce_max", [[[1.0, 5.0], [3.0, 2.0]]], {"axis": -1}),
    ("math", "reduce_min", [[[1.0, 5.0], [3.0, 2.0]]], {}),
    ("math", "reduce_prod", [[[1, 2], [3, 4]]], {"axis": 1}),
    ("math", "argmax", [[[1, 5], [3, 2]]], {}),
    ("math", "argmax", [[[1.0, 5.0, 2.0], [3.0, 2.0, 9.0]]], {"axis": 1}),
    ("math", "argmin", [[[1, 5], [3, 2]]], {}),
    ("nn", "sigmoid", [[0.0, 1.0]], {}),
    ("nn", "relu", [[-1.0, 2.0]], {}),
    ("nn", "softmax", [[1.0, 2.0, 3.0, 4.0]], {}),
    ("nn", "softmax", [[[1.0, 2.0], [3.0, 5.0]]], {"axis": 0}),
    ("nn", "log_softmax", [[1.0, 2.0, 3.0]], {}),
    ("nn", "tanh", [[0.5]], {}),
    ("nn", "l2_normalize", [[3.0, 4.0]], {}),
    ("nn", "l2_normalize", [[[3.0, 4.0], [6.0, 8.0]]], {"axis": 1}),
    ("nn", "sigmoid_cross_entropy_with_logits", [], {"labels": [1.0, 0.0], "logits": [0.5, -1.0]}),
    ("nn", "softmax_cross_entropy_with_logits", [], {"labels": [[1.0, 0.0]], "logits": [[0.5, -1.0]]}),
    ("nn", "sparse_softmax_cross_entropy_with_logits", [], {"labels": [1, 0], "logits": [[0.5, -1.0], [2.0, 0.0]]}),
]


def record_math(tf) -> list:
    out = []
    for module, name, args, kwargs in MATH_CASES:
        value = getattr(getattr(tf, module), name)(*args, **kwargs)
        out.append(
            {
                "call": [module, name, args, kwargs],
                "numpy": value.numpy().tolist(),
                "dtype": value.dtype.name,
                "shape": list(value.shape),
            }
        )
    return out


def _values(shape, start: float = 0.0):
    """Fixed, distinct weight values ``start + 0.01 * k`` of ``shape`` (float32)."""
    import numpy as np

    n = int(np.prod(shape))
    return (start + 0.01 * np.arange(n, dtype=np.float32)).reshape(shape).astype(np.float32)


def _fixed_weights(model) -> None:
    model.set_weights([_values(w.shape, start=i) for i, w in enumerate(model.get_weights())])


def record_tensors(tf, keras) -> dict:
    import numpy as np

    values = {
        "scalar": tf.constant(0.5),
        "vector": tf.constant([1.0, 2.0, 3.0]),
        "matrix_1x1": tf.constant([[0.02]]),
        "matrix_multiline": tf.constant(np.arange(45, dtype=np.float32).reshape(3, 15) / 7),
        "int_vector": tf.constant([1, 2, 3]),
        "bool_scalar": tf.constant(True),
        "empty": tf.constant(np.zeros((2, 0), dtype=np.float32)),
        "summarised": tf.constant(np.arange(2000, dtype=np.float32)),
        "float64_vector": tf.constant(np.array([0.25, 0.5])),
    }
    keras.backend.clear_session()
    linear_layer = keras.layers.Dense(units=1, activation="linear")  # C2_W1 Lab 01, "Neurons and Layers"
    x_train = np.array([[1.0], [2.0]], dtype=np.float32)
    linear_layer(x_train[0].reshape(1, 1))
    linear_layer.set_weights([np.array([[200]]), np.array([100])])
    values["dense_output"] = linear_layer(x_train[0].reshape(1, 1))
    out = {}
    for name, value in values.items():
        out[name] = {"numpy": value.numpy().tolist(), "dtype": value.dtype.name, "str": str(value), "repr": repr(value)}
    return out


def record_variables(keras) -> dict:
    import numpy as np

    K = keras
    out = {}

    K.backend.clear_session()
    layer = K.layers.Dense(2)
    layer(np.zeros((1, 3), dtype=np.float32))
    layer.set_weights([_values((3, 2)), _values((2,), 1.0)])
    out["standalone_dense"] = repr(layer.weights)

    K.backend.clear_session()
    model = K.Sequential([K.Input(shape=(3,)), K.layers.Dense(2), K.layers.Dense(1)])
    _fixed_weights(model)
    out["sequential_with_input"] = repr(model.weights)
    out["sequential_second_layer"] = repr(model.layers[1].weights)

    K.backend.clear_session()
    model = K.Sequential(
        [K.Input(shape=(4,)), K.layers.Dense(3), K.layers.Dense(15), K.layers.Dense(1)], name="my_model"
    )
    _fixed_weights(model)
    out["named_model_last_layer"] = repr(model.layers[2].weights)
    out["named_model_kernel_str"] = str(model.layers[2].weights[0])

    K.backend.clear_session()
    model = K.Sequential([K.layers.Dense(2), K.layers.Dense(1)])
    model.compile(optimizer=K.optimizers.SGD(0.0), loss="mse")
    x = np.ones((4, 3), dtype=np.float32)
    model.fit(x, np.zeros((4, 1), dtype=np.float32), epochs=1, verbose=0, shuffle=False)
    _fixed_weights(model)
    out["built_by_fit"] = repr(model.weights)

    K.backend.clear_session()
    prebuilt = K.layers.Dense(2)
    prebuilt.build((None, 3))
    model = K.Sequential([K.Input(shape=(3,)), prebuilt], name="outer")
    _fixed_weights(model)
    out["built_before_model"] = repr(model.weights)

    K.backend.clear_session()
    norm = K.layers.Normalization()
    model = K.Sequential([K.Input(shape=(2,)), norm])
    norm.adapt(np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32))
    out["normalization"] = repr(model.weights)
    out["trainable_flags"] = [[w.path, bool(w.trainable), w.name] for w in model.weights]
    return out


def _printed_summary(model, **kwargs) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary(**kwargs)
    return buffer.getvalue()


def record_summaries(keras) -> dict:
    import numpy as np

    K = keras
    rng = np.random.default_rng(0)
    out = {}

    def course_model():
        K.backend.clear_session()
        return K.Sequential(
            [
                K.Input(shape=(400,)),
                K.layers.Dense(25, activation="sigmoid"),
                K.layers.Dense(15, activation="sigmoid"),
                K.layers.Dense(1, activation="sigmoid"),
            ],
            name="my_model",
        )

    x = rng.normal(size=(8, 400)).astype(np.float32)
    y = (rng.uniform(size=(8, 1)) > 0.5).astype(np.float32)
    model = course_model()
    out["course_before_fit"] = _printed_summary(model)
    captured = []
    model.summary(print_fn=captured.append)
    out["course_print_fn"] = captured
    for columns in ("120", "60"):
        os.environ["COLUMNS"] = columns
        out[f"course_columns_{columns}"] = _printed_summary(model)
    os.environ["COLUMNS"] = "80"
    model.compile(loss=K.losses.BinaryCrossentropy(), optimizer=K.optimizers.Adam(0.001))
    out["course_compiled_not_fit"] = _printed_summary(model)
    model.fit(x, y, epochs=1, verbose=0)
    out["course_after_fit_adam"] = _printed_summary(model)

    model = course_model()
    model.compile(loss=K.losses.BinaryCrossentropy())  # RMSprop: one slot per weight
    model.fit(x, y, epochs=1, verbose=0)
    out["course_after_fit_rmsprop"] = _printed_summary(model)

    model = course_model()
    model.compile(loss=K.losses.BinaryCrossentropy(), optimizer=K.optimizers.SGD(0.1, momentum=0.9))
    model.fit(x, y, epochs=1, verbose=0)
    out["course_after_fit_sgd_momentum"] = _printed_summary(model)

    K.backend.clear_session()
    model = K.Sequential(
        [K.Input(shape=(4,)), K.layers.Dense(8, activation="relu"), K.layers.Dense(10, name=LONG_NAME)]
    )
    out["long_name"] = _printed_summary(model)

    K.backend.clear_session()
    model = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(3, name=LONGER_NAME)])
    out["longer_name"] = _printed_summary(model)

    K.backend.clear_session()
    norm = K.layers.Normalization()
    model = K.Sequential([K.Input(shape=(3,)), norm, K.layers.Dense(2)], name="normalized")
    norm.adapt(rng.normal(size=(10, 3)).astype(np.float32))
    out["normalization"] = _printed_summary(model)

    K.backend.clear_session()
    model = K.Sequential([K.layers.Dense(2), K.layers.Dense(1)])
    out["unbuilt"] = _printed_summary(model)

    model = course_model()
    out["course_layer_range"] = _printed_summary(model, layer_range=["dense_1", "dense_2"])
    out["course_layer_range_reversed"] = _printed_summary(model, layer_range=["dense_2", "dense"])

    K.backend.clear_session()
    model = K.Sequential(
        [
            K.Input(shape=(4,)),
            K.layers.Dense(8, activation="relu", trainable=False),
            K.layers.Dropout(0.5),
            K.layers.Dense(1, activation="sigmoid"),
        ]
    )
    out["show_trainable"] = _printed_summary(model, show_trainable=True)
    os.environ["COLUMNS"] = "120"
    out["show_trainable_columns_120"] = _printed_summary(model, show_trainable=True)
    os.environ["COLUMNS"] = "80"
    return out


def main() -> None:
    import keras
    import tensorflow as tf

    fixtures = {
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "tensors": record_tensors(tf, keras),
        "math": record_math(tf),
        "variables": record_variables(keras),
        "summaries": record_summaries(keras),
    }
    OUT.write_text(json.dumps(fixtures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
