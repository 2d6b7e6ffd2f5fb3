"""gradfit.data: the checks and the preparation every fit, evaluate and predict does once, before its loop."""

from __future__ import annotations

import numpy as np
import pytest

from gradfit import data
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense


def _model(units: int = 1, loss: str = "binary_crossentropy", metrics=None):
    model = Sequential([Input(shape=(3,)), Dense(units, activation="sigmoid" if units == 1 else "softmax")])
    model.compile(loss=loss, optimizer="sgd", metrics=metrics)
    return model


def test_argument_checks():
    assert data.positive_int(5, "epochs") == 5
    assert data.positive_int(None, "batch_size", allow_none=True, default=32) == 32
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match="epochs must be a positive integer"):
            data.positive_int(bad, "epochs")
    assert [data.verbosity(v) for v in ("auto", 0, 1, 2, True)] == [1, 0, 1, 2, 1]
    with pytest.raises(ValueError, match="verbose"):
        data.verbosity(3)
    assert data.batches(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert data.batches(0, 2) == []


def test_array_checks_say_what_is_wrong():
    np.testing.assert_array_equal(data.numeric_array([[1, 2]], "x"), [[1, 2]])
    with pytest.raises(ValueError, match="x is missing"):
        data.numeric_array(None, "x")
    with pytest.raises(ValueError, match="rectangular"):
        data.numeric_array([[1, 2], [3]], "x")
    with pytest.raises(ValueError, match="must hold numbers"):
        data.numeric_array(["a", "b"], "y")
    with pytest.raises(ValueError, match="single number"):
        data.numeric_array(3.0, "x")
    assert data.all_finite(np.array([1.0, 2.0])) and not data.all_finite(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="2 NaN or infinite"):
        data.check_finite(np.array([np.nan, 1.0, -np.inf]), "x")


def test_as_input_array_casts_to_the_model_type_and_checks_the_features():
    model = _model()
    arr = data.as_input_array(model, [[1, 2, 3]])
    assert arr.dtype == np.float32 and arr.flags.c_contiguous
    assert data.model_dtype(model) == np.float32
    with pytest.raises(ValueError, match="one row per example"):
        data.as_input_array(model, [1, 2, 3])
    with pytest.raises(ValueError, match="4 features per example"):
        data.as_input_array(model, np.zeros((2, 4)))


def test_data_prepares_targets_weights_and_metric_targets_once():
    model = _model(units=3, loss="sparse_categorical_crossentropy", metrics=["accuracy", "mse"])
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    y = np.array([[0], [2], [1], [2]])  # a column: 'mse' compares (m, 1) with (m, 3) by broadcasting, as Keras
    prepared = data.Data(model, x, y, class_weight={0: 1, 1: 1, 2: 3})
    assert prepared.n == 4 and prepared.x.dtype == np.float32
    np.testing.assert_array_equal(prepared.sample_weight, [1.0, 3.0, 1.0, 3.0])
    assert prepared.kinds["sparse"] is prepared.y_loss  # shared with the loss
    assert set(prepared.kinds) == {"sparse", "dense"}  # one array per kind of target the metrics need
    arrays = prepared.arrays()
    assert arrays[0] is prepared.x and arrays[1] is prepared.y_loss and len(arrays) == 4
    first, second = prepared.split(3)
    assert (first.n, second.n) == (3, 1)
    for kind, array in prepared.kinds.items():
        np.testing.assert_array_equal(second.kinds[kind], array[3:])


def test_sample_and_class_weights_are_checked():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="one weight per example"):
        data.sample_weights(np.ones(2), None, y, 3)
    with pytest.raises(ValueError, match="must not be negative"):
        data.sample_weights(np.array([1.0, -1.0, 1.0]), None, y, 3)
    # Keras: a class missing from class_weight weighs 1.0; class_weight with sample_weight is refused
    np.testing.assert_array_equal(data.sample_weights(None, {0: 2.0}, y, 3), [2.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="class_weight or sample_weight, not both"):
        data.sample_weights(np.ones(3), {0: 1.0}, y, 3)
    assert data.sample_weights(None, None, y, 3) is None


def test_fit_data_checks_validation_data_before_the_model_is_built():
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    x, y = np.zeros((10, 3)), np.zeros(10)
    with pytest.raises(ValueError, match="validation_data: x has shape"):
        data.fit_data(model, x, y, validation_data=(np.zeros((4, 5)), np.zeros(4)))
    assert not model.built
    with pytest.raises(ValueError, match="leaves no training"):
        data.fit_data(model, x, y, validation_split=0.95)
    train, val = data.fit_data(model, x, y, validation_split=0.2)
    assert (train.n, val.n) == (8, 2) and model.built
