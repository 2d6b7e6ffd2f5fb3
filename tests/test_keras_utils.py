"""``gradfit.keras.utils``: to_categorical, normalize and split_dataset against Keras 3.15's values (recorded by
``tests/parity/record_keras_utils.py`` into ``tests/parity/fixtures/keras_utils/keras_utils.npz``), their
argument checks, and the names ``PyDataset`` / ``Sequence``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import gradfit as tf
from gradfit.adapters.pydataset import PyDataset
from gradfit.keras.utils import normalize, split_dataset, to_categorical
from tests.parity.compare import close, load
from tests.parity.record_keras_utils import (
    NORMALIZE,
    NORMALIZE_LISTS,
    SPLIT_ERRORS,
    SPLITS,
    TO_CATEGORICAL,
    split_data,
)

FIXTURE = Path(__file__).parent / "parity" / "fixtures" / "keras_utils" / "keras_utils.npz"


@pytest.fixture(scope="module")
def keras_values() -> dict:
    return load(FIXTURE)


def test_names_are_reachable_as_in_keras():
    assert tf.keras.utils.PyDataset is PyDataset
    assert tf.keras.utils.Sequence is PyDataset  # Keras's older name: the same class
    from gradfit.keras.utils import PyDataset as from_utils
    from gradfit.keras.utils import Sequence

    assert from_utils is Sequence is PyDataset


# ------------------------------------------------------------------------------------------- to_categorical


@pytest.mark.parametrize("name, x, num_classes", TO_CATEGORICAL, ids=[case[0] for case in TO_CATEGORICAL])
def test_to_categorical_matches_keras(keras_values, name, x, num_classes):
    expected = keras_values[f"to_categorical/{name}"]
    actual = to_categorical(x, num_classes)
    assert actual.dtype == expected.dtype == np.float64
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


def test_to_categorical_refuses_out_of_range_labels():
    with pytest.raises(IndexError, match="class index 3.*num_classes=3"):
        to_categorical([0, 3], num_classes=3)
    # Keras silently counts a negative label from the end; gradfit refuses it
    with pytest.raises(IndexError, match="negative class index -1"):
        to_categorical([-1, 1])


@pytest.mark.parametrize("num_classes", [-2, 2.5, True, "3"])
def test_to_categorical_refuses_a_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([0, 1], num_classes)


def test_to_categorical_refuses_what_is_not_class_indices():
    with pytest.raises(ValueError, match="dtype"):
        to_categorical(["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        to_categorical([0.0, np.nan])
    with pytest.raises(ValueError, match="give num_classes"):
        to_categorical([])
    assert to_categorical(np.zeros(0, dtype=int), 3).shape == (0, 3)


# ------------------------------------------------------------------------------------------------ normalize


@pytest.mark.parametrize("name, key, axis, order", NORMALIZE, ids=[case[0] for case in NORMALIZE])
def test_normalize_arrays_match_keras(keras_values, name, key, axis, order):
    x = keras_values[f"normalize_input/{key}"]
    expected = keras_values[f"normalize/{name}"]
    actual = normalize(x, axis=axis, order=order)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    close(actual, expected, f"normalize {name}")


@pytest.mark.parametrize("name, values, axis, order", NORMALIZE_LISTS, ids=[case[0] for case in NORMALIZE_LISTS])
def test_normalize_lists_match_keras_tensor_branch(keras_values, name, values, axis, order):
    expected = keras_values[f"normalize_list/{name}"]
    actual = normalize(values, axis=axis, order=order)
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    assert hasattr(actual, "numpy")  # a Tensor, as Keras's branch returns one
    close(actual, expected, f"normalize {name}")


def test_normalize_axis0_normalizes_columns_where_keras_fails():
    # Keras's `axis or -1` turns axis=0 into -1: a broadcasting error for this (2, 3) array
    x = np.array([[3.0, 1.0, 0.0], [4.0, 0.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), [[0.6, 1.0, 0.0], [0.8, 0.0, 0.0]])


@pytest.mark.parametrize("order", [0, 1.5, "l2", True])
def test_normalize_refuses_a_bad_order_for_lists(order):
    with pytest.raises(ValueError, match="`order` must be an int >= 1"):
        normalize([[1.0, 2.0]], order=order)


def test_normalize_does_not_change_its_input():
    x = np.array([[3.0, 4.0]])
    normalize(x)
    np.testing.assert_array_equal(x, [[3.0, 4.0]])


# -------------------------------------------------------------------------------------------- split_dataset


@pytest.mark.parametrize("name, kind, left, right, shuffle, seed", SPLITS, ids=[case[0] for case in SPLITS])
def test_split_dataset_matches_keras(keras_values, name, kind, left, right, shuffle, seed):
    if seed == "global123":
        random.seed(123)
        seed = None
    dataset = split_data(kind)
    left_split, right_split = split_dataset(dataset, left, right, shuffle, seed)
    for side, split in (("left", left_split), ("right", right_split)):
        parts = [split] if kind == "array" else list(split)
        if kind != "array":
            assert isinstance(split, tuple) and len(split) == 2
        for i, part in enumerate(parts):
            expected = keras_values[f"split/{name}/{side}/{i}"]
            assert part.dtype == expected.dtype
            np.testing.assert_array_equal(part, expected, err_msg=f"{name} {side} part {i}")


@pytest.mark.parametrize("name, left, right", SPLIT_ERRORS, ids=[case[0] for case in SPLIT_ERRORS])
def test_split_dataset_raises_what_keras_raises(keras_values, name, left, right):
    expected = json.loads(str(keras_values["split_errors"]))[name]
    with pytest.raises(Exception) as info:
        split_dataset(np.arange(10), left, right)
    assert type(info.value).__name__ == expected
    assert "size" in str(info.value)


def test_split_dataset_checks_the_dataset():
    with pytest.raises(TypeError, match="Unsupported dataset type"):
        split_dataset({"x": np.zeros(3)}, 1)
    with pytest.raises(ValueError, match="empty list"):
        split_dataset([], 1)
    with pytest.raises(ValueError, match="numpy.ndarray.*index 1"):
        split_dataset((np.zeros(3), [1, 2, 3]), 1)
    with pytest.raises(ValueError, match="different lengths.*index 1"):
        split_dataset((np.zeros(3), np.zeros(4)), 1)
    with pytest.raises(ValueError, match="empty dataset"):
        split_dataset(np.zeros((0, 2)), 1)
    with pytest.raises(ValueError, match="preferred_backend"):
        split_dataset(np.zeros((4, 2)), 1, preferred_backend="torch")


def test_split_dataset_with_a_seed_is_reproducible_and_feeds_fit():
    x = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    (x_train, y_train), (x_val, y_val) = split_dataset((x, y), left_size=0.8, shuffle=True, seed=7)
    again = split_dataset((x, y), left_size=0.8, shuffle=True, seed=7)
    np.testing.assert_array_equal(again[0][0], x_train)
    assert len(x_train) == 24 and len(x_val) == 6
    # every example once, rows kept together
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_val])), np.sort(y))
    rows = {tuple(row) for row in np.concatenate([x_train, x_val])}
    assert rows == {tuple(row) for row in x}
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=1, verbose=0)
