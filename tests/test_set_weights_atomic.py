"""``set_weights`` (model and layer) and weight assignment check every array before assigning any: a refused
call leaves every weight and the optimizer state bit-identical."""

from __future__ import annotations

import numpy as np
import pytest

from gradfit import backend
from gradfit.keras import Input, Sequential, layers

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")


def _trained():
    backend.set_seed(2)
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.BatchNormalization(), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
    return model


def _snapshot(model):
    opt = model.optimizer
    state = [np.array(v).tobytes() for _, v in opt.keras_variables()] + [opt.iterations]
    return [w.tobytes() for w in model.get_weights()], state, model.parameters.tobytes()


def _bad(weights, index, value):
    out = [w.copy() for w in weights]
    out[index] = value
    return out


def _cases(weights):
    """(weights with one bad array, the pattern its message must have); the bad array is never the first."""
    nan_third = _bad(weights, 2, np.full_like(weights[2], np.nan))
    return [
        (nan_third, r"'batch_normalization'.*'gamma'.*finite"),
        (_bad(weights, 3, np.full(weights[3].shape, np.inf, "f4")), r"'beta'.*finite"),
        (_bad(weights, 6, np.full(weights[6].shape, 1e300)), r"'dense_1'.*'kernel'.*float32.*infinity"),
        (_bad(weights, 7, np.zeros(weights[7].shape, complex)), r"'dense_1'.*'bias'.*numbers, got dtype complex128"),
        (_bad(weights, 7, np.array(["a", "b"])), r"'bias'.*numbers, got dtype <U1"),
        (_bad(weights, 7, np.array([None, None])), r"'bias'.*numbers, got dtype object"),
        (_bad(weights, 7, np.zeros(2, dtype=[("a", "f4")])), r"'bias'.*numbers"),
        (_bad(weights, 7, np.ones(2, bool)), r"'bias'.*numbers, got dtype bool"),
        (_bad(weights, 7, np.float32(1.0)), r"'bias'.*shape \(2,\).*\(\)"),
        (_bad(weights, 6, weights[6].T), r"'kernel'.*shape \(3, 2\).*\(2, 3\)"),
    ]


def test_model_set_weights_refuses_before_assigning_anything():
    model = _trained()
    weights = model.get_weights()
    before = _snapshot(model)
    for bad, pattern in _cases(weights):
        with pytest.raises(ValueError, match=pattern):
            model.set_weights(bad)
        assert _snapshot(model) == before, pattern


def test_model_set_weights_refuses_a_ragged_list_naming_the_weight():
    model = _trained()
    weights = model.get_weights()
    before = _snapshot(model)
    bad = _bad(weights, 7, [[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"'bias'"):
        model.set_weights(bad)
    assert _snapshot(model) == before


def test_layer_set_weights_refuses_before_assigning_anything():
    model = _trained()
    layer = model.layers[1]  # BatchNormalization: gamma, beta, moving_mean, moving_variance
    before = _snapshot(model)
    good = layer.get_weights()
    for index in (1, 2, 3):
        with pytest.raises(ValueError, match="finite"):
            layer.set_weights(_bad(good, index, np.full_like(good[index], np.nan)))
        assert _snapshot(model) == before
    with pytest.raises(ValueError, match="infinity"):
        layer.set_weights(_bad(good, 3, np.full(good[3].shape, -1e300)))
    assert _snapshot(model) == before


def test_assigning_a_weight_beyond_float32_is_refused():
    model = _trained()
    dense = model.layers[0]
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"'kernel' is float32.*infinity"):
        dense.kernel = np.full((4, 3), 1e39)
    assert _snapshot(model) == before
    dense.kernel = np.full((4, 3), 1e38)  # within range: fine
    assert dense.kernel.max() == np.float32(1e38)


def test_valid_weights_still_assign_and_restoring_the_models_own_nan_still_works():
    model = _trained()
    weights = [w * 0.5 for w in model.get_weights()]
    model.set_weights([w.astype("f8") for w in weights])
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b.astype("f4"))
    nan = _bad(weights, 2, np.full_like(weights[2], np.nan))
    model.set_weights(nan, check_finite=False)  # EarlyStopping restores the model's own values, NaN or not
    assert np.isnan(model.get_weights()[2]).all()


def test_integer_weights_take_whole_numbers_only():
    norm = layers.Normalization(axis=-1)
    norm.build((None, 2))
    mean, variance, count = norm.get_weights()
    with pytest.raises(ValueError, match=r"'count'.*whole numbers"):
        norm.set_weights([mean, variance, np.float64(2.5)])
    with pytest.raises(ValueError, match=r"'count'.*beyond its range"):
        norm.set_weights([mean, variance, np.float64(1e30)])
    assert norm.get_weights()[2] == count
    norm.set_weights([mean + 1, variance, np.float64(3)])
    assert norm.get_weights()[2] == 3
