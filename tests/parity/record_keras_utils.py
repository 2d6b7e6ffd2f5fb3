"""Records Keras 3.15's ``keras.utils.to_categorical`` / ``normalize`` / ``split_dataset`` values (and the types of
the errors ``split_dataset`` raises) into ``fixtures/keras_utils/keras_utils.npz`` for ``tests/test_keras_utils.py``.

Run by hand in the TensorFlow venv: ``/tmp/tfenv/bin/python tests/parity/record_keras_utils.py``. The case lists
are imported by the test (no TensorFlow there): Keras is imported in ``main`` only.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).parent / "fixtures" / "keras_utils" / "keras_utils.npz"

# (name, x, num_classes)
TO_CATEGORICAL = [
    ("vector", [0, 2, 1, 3], None),
    ("vector_nc", [0, 2, 1], 5),
    ("column", [[1], [0], [2]], None),
    ("matrix", [[0, 1], [2, 1]], None),
    ("floats_truncated", [1.7, 0.2, 2.9], 4),
    ("scalar", 2, 4),
    ("zero_nc_inferred", [1, 3], 0),
    ("rank3_trailing1", np.arange(6).reshape(2, 3, 1) % 4, None),
]


def normalize_inputs() -> dict:
    rng = np.random.default_rng(0)
    return {
        "matrix": rng.normal(size=(4, 3)),
        "matrix_zero_row": np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]]),
        "float32": rng.normal(size=(3, 5)).astype(np.float32),
        "ints": np.array([[3, 4], [1, 0]]),
        "rank3": rng.normal(size=(2, 3, 4)),
        "vector": np.array([3.0, 4.0, 12.0]),
        "column": rng.normal(size=(5, 1)),
    }


# (name, input, axis, order)
NORMALIZE = [
    ("matrix", "matrix", -1, 2),
    ("matrix_axis1", "matrix", 1, 2),
    ("matrix_order1", "matrix", -1, 1),
    ("matrix_order_inf", "matrix", -1, np.inf),
    ("matrix_order3", "matrix", -1, 3),
    ("matrix_axis_none", "matrix", None, 2),
    ("zero_row", "matrix_zero_row", -1, 2),
    ("float32", "float32", -1, 2),
    ("ints", "ints", -1, 2),
    ("rank3_axis1", "rank3", 1, 2),
    ("rank3_last", "rank3", -1, 1),
    ("vector", "vector", -1, 2),
    ("column_axis0", "column", 0, 2),
]

# normalize of a Python list: Keras's tensor branch (ops.normalize)
NORMALIZE_LISTS = [
    ("list_order2", [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [4.0, -5.0, 6.0]], -1, 2),
    ("list_order1", [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], -1, 1),
    ("list_axis0", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], 0, 2),
    ("list_vector", [3.0, 4.0], -1, 2),
]

# (name, kind, left_size, right_size, shuffle, seed); kind: array | tuple | list; seed "global123": seed=None after
# random.seed(123)
SPLITS = [
    ("array_left_float", "array", 0.8, None, False, None),
    ("array_right_int", "array", None, 7, False, None),
    ("array_both", "array", 5, 6, False, None),
    ("array_round_half", "array", 0.25, None, False, None),
    ("array_shuffle_seed", "array", 0.3, None, True, 5),
    ("array_shuffle_global", "array", 9, None, True, "global123"),
    ("tuple_shuffle", "tuple", 0.5, 0.25, True, 1),
    ("list_shuffle", "list", None, 0.35, True, 42),
    ("tuple_both_floats", "tuple", 0.1, 0.9, False, None),
]

# (name, left_size, right_size) on a dataset of 10 examples: Keras raises
SPLIT_ERRORS = [
    ("none", None, None),
    ("zero", 0, None),
    ("full", 10, None),
    ("one_float", 1.0, None),
    ("negative", -3, None),
    ("sum_floats", 0.7, 0.5),
    ("bool", True, None),
    ("numpy_int", np.int64(3), None),
    ("two_strings", "a", "b"),
    ("rounds_to_zero", 0.01, None),
    ("sum_ints", 6, 6),
    ("both_zero", 0, 0),
    ("right_string", 3, "b"),
]


def split_data(kind: str):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20, dtype=np.int64) * 10
    if kind == "array":
        return x
    return (x, y) if kind == "tuple" else [x, y]


def as_arrays(split, kind: str) -> list:
    rows = list(split.as_numpy_iterator())
    if kind == "array":
        return [np.stack(rows)]
    return [np.stack([row[i] for row in rows]) for i in range(2)]


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    out = {}
    for name, x, num_classes in TO_CATEGORICAL:
        out[f"to_categorical/{name}"] = keras.utils.to_categorical(x, num_classes)
    inputs = normalize_inputs()
    for key, value in inputs.items():
        out[f"normalize_input/{key}"] = value
    for name, key, axis, order in NORMALIZE:
        out[f"normalize/{name}"] = keras.utils.normalize(inputs[key], axis=axis, order=order)
    for name, values, axis, order in NORMALIZE_LISTS:
        out[f"normalize_list/{name}"] = np.asarray(keras.utils.normalize(values, axis=axis, order=order))
    for name, kind, left, right, shuffle, seed in SPLITS:
        if seed == "global123":
            random.seed(123)
            seed = None
        left_split, right_split = keras.utils.split_dataset(split_data(kind), left, right, shuffle, seed)
        for side, split in (("left", left_split), ("right", right_split)):
            for i, arr in enumerate(as_arrays(split, kind)):
                out[f"split/{name}/{side}/{i}"] = arr
    errors = {}
    for name, left, right in SPLIT_ERRORS:
        try:
            keras.utils.split_dataset(np.arange(10), left, right)
        except Exception as exc:  # noqa: BLE001 - recording what Keras raises
            errors[name] = type(exc).__name__
        else:
            raise AssertionError(f"Keras accepted split case {name}")
    out["split_errors"] = np.array(json.dumps(errors))
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(FIXTURE, **out)
    print(f"wrote {FIXTURE} ({len(out)} arrays)")


if __name__ == "__main__":
    main()
