"""The parameter store (one flat vector of weights, one of gradients), weight assignment, and linear building."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gradfit import backend, parameters
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Activation, Dense
from gradfit.parameters import ParameterStore, Slot


def _model(seed: int = 0):
    backend.set_seed(seed)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32)


# ------------------------------------------------------------------------------------------- the store


def test_the_model_exposes_its_store_and_the_layers_hold_views_into_it():
    model = _model()
    store = model.parameter_store
    assert isinstance(store, ParameterStore)
    assert model.parameters is store.values and model.parameter_gradients is store.grads
    assert store.shapes == [(4, 3), (3,), (3, 1), (1,)]
    assert [s.stop - s.start for s in store.segments] == [12, 3, 3, 1]
    for layer_weight, view in zip(model.trainable_weights, store.weights()):
        assert np.shares_memory(layer_weight, store.values)
        np.testing.assert_array_equal(layer_weight, view)
    dense = model.layers[0]
    assert np.shares_memory(dense.grad_kernel, store.grads)


def test_views_follow_the_layout_of_each_weight(monkeypatch):
    store = ParameterStore([(400, 25), (25,), (256, 784)], np.float32)
    kernel, bias, large = store.views(store.values)
    assert kernel.flags.f_contiguous and not kernel.flags.c_contiguous  # small: column-major (faster here)
    assert large.flags.c_contiguous and not large.flags.f_contiguous  # large: row-major
    assert bias.shape == (25,)
    monkeypatch.setattr(parameters, "_ROW_MAJOR_SIZE", 1)
    assert all(v.flags.c_contiguous for v in ParameterStore([(4, 3)], np.float32).views(np.zeros(12)))


@pytest.mark.parametrize("shape", [(40, 25), (256, 200)])
def test_outer_into_writes_a_gradient_into_either_layout(shape):
    rng = np.random.default_rng(0)
    store = ParameterStore([shape], np.float64)
    (out,) = store.views(store.grads)
    x, dz = rng.normal(size=(7, shape[0])), rng.normal(size=(7, shape[1]))
    parameters.outer_into(x, dz, out)
    np.testing.assert_allclose(out, x.T @ dz, rtol=1e-12)
    assert np.shares_memory(out, store.grads)


def test_a_slot_keeps_its_scale_inside():
    store = ParameterStore([(2, 3), (3,)], np.float32)
    plain = store.slot()
    assert isinstance(plain, Slot) and plain.value() is plain.buffer and not plain.buffer.any()
    scaled = store.slot(fill=0.5, scale=0.25)
    np.testing.assert_allclose(scaled.buffer, 2.0)  # Keras's 0.5 kept divided by 0.25
    np.testing.assert_allclose(scaled.value(), 0.5)
    with pytest.raises(ValueError):
        scaled.value()[0] = 1.0  # a copy: writing into it would change nothing, so NumPy refuses
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    scaled.assign_weight(0, w)
    np.testing.assert_allclose(scaled.weight(0), w)
    assert scaled.weight(0).flags.c_contiguous
    np.testing.assert_allclose(store.view(scaled.buffer, 0), w / 0.25)
    np.testing.assert_allclose(scaled.weight(1), 0.5)


# ------------------------------------------------------------------------------------------- weight assignment


def test_assigning_a_kernel_after_build_copies_into_the_model():
    x, y = _data()
    model = _model()
    dense = model.layers[1]
    kernel = dense.kernel
    before = model.predict(x, verbose=0)
    dense.kernel = np.full((3, 1), 2.0)
    assert dense.kernel is kernel  # the same view into model.parameters, new values
    np.testing.assert_array_equal(model.parameters[15:18], 2.0)
    assert not np.allclose(model.predict(x, verbose=0), before)
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(dense.kernel.ravel(), model.parameters[15:18])  # fit trains what predicts


@pytest.mark.parametrize(
    "value, message",
    [
        (np.zeros((3, 2)), "shape"),
        (np.full((3, 1), np.nan), "finite"),
        (np.array([["a"], ["b"], ["c"]]), "numbers"),
        (None, "numbers"),
    ],
)
def test_a_bad_assignment_raises_and_changes_nothing(value, message):
    model = _model()
    dense = model.layers[1]
    kernel, params = dense.kernel, model.parameters.copy()
    with pytest.raises(ValueError, match=message):
        dense.kernel = value
    assert dense.kernel is kernel
    np.testing.assert_array_equal(model.parameters, params)


def test_gradients_cannot_be_rebound_either():
    model = _model()
    dense = model.layers[0]
    grad = dense.grad_kernel
    dense.grad_kernel = np.ones((4, 3))
    assert dense.grad_kernel is grad and np.shares_memory(grad, model.parameter_gradients)
    np.testing.assert_array_equal(model.parameter_gradients[:12], 1.0)
    with pytest.raises(ValueError, match="shape"):
        dense.grad_bias = np.zeros(4)
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del dense.kernel


def test_assignment_before_a_model_is_kept_when_the_model_binds():
    x, _ = _data()
    dense = Dense(2)
    dense.build((None, 4))
    dense.bias = np.array([1.0, -1.0])
    model = Sequential([Input(shape=(4,)), dense])
    np.testing.assert_array_equal(model.parameters[-2:], [1.0, -1.0])
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ dense.kernel + [1.0, -1.0], rtol=1e-6)


def test_a_layer_without_bias_can_still_set_its_own_attribute():
    dense = Dense(2, use_bias=False)
    dense.bias = "anything"  # not a weight of this layer: a plain attribute, as before
    assert dense.bias == "anything"


def test_a_reference_kept_from_before_the_binding_cannot_be_written():
    dense = Dense(2)
    dense.build((None, 4))
    old = dense.kernel
    model = Sequential([Input(shape=(4,)), dense])
    assert dense.kernel is not old and np.shares_memory(dense.kernel, model.parameters)
    with pytest.raises(ValueError, match="read-only"):
        old[...] = 0  # would be lost silently otherwise


def test_a_layer_shared_by_two_models_follows_the_one_used_last():
    x, y = _data()
    shared = Dense(3, activation="relu")
    a = Sequential([Input(shape=(4,)), shared, Dense(1, activation="sigmoid")])
    b = Sequential([Input(shape=(4,)), shared, Dense(1, activation="sigmoid")])
    for model in (a, b):
        model.compile(loss="binary_crossentropy", optimizer="sgd")
    b.fit(x, y, epochs=1, verbose=0)
    a.fit(x, y, epochs=1, verbose=0)  # `a` takes the layer back into its own vector
    assert np.shares_memory(shared.kernel, a.parameters)
    np.testing.assert_array_equal(shared.kernel, a.parameter_store.weights()[0])


# ------------------------------------------------------------------------------------------- linear building


def _build_dense_stack(n: int) -> float:
    start = time.perf_counter()
    model = Sequential()
    model.add(Input(shape=(1,)))
    for _ in range(n):
        model.add(Dense(1))
    model.parameter_store  # noqa: B018 (the one binding, at first use)
    return time.perf_counter() - start


def test_a_ten_thousand_layer_stack_builds_in_linear_time():
    backend.clear_session()
    assert _build_dense_stack(10_000) < 10.0  # 47 s for 2,000 layers when every add rebound the whole model
    small = min(_build_dense_stack(2_000) for _ in range(2))
    large = min(_build_dense_stack(4_000) for _ in range(2))
    assert large / small < 3  # quadratic would be 4


def test_an_incrementally_built_model_binds_once_and_trains():
    x, y = _data()
    model = Sequential()
    model.add(Input(shape=(4,)))
    model.add(Dense(3, activation="relu"))
    first = model.layers[0]
    model.add(Dense(1, activation="sigmoid"))
    assert model.built and model.output_shape == (None, 1)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=1, verbose=0)
    assert np.shares_memory(first.kernel, model.parameters)
    assert model.count_params() == 4 * 3 + 3 + 3 + 1
    popped = model.pop()
    assert model.output_shape == (None, 3) and popped.units == 1
    assert model.parameters.size == 15


def test_adding_an_incompatible_layer_leaves_the_model_as_it_was():
    model = Sequential([Input(shape=(4,)), Dense(3)])
    other = Dense(2)
    other.build((None, 7))
    with pytest.raises(ValueError, match="built for inputs"):
        model.add(other)
    assert [layer.name for layer in model.layers] == [model.layers[0].name]
    model.add(Activation("relu"))
    assert model.output_shape == (None, 3)


def test_a_weight_another_instance_declared_reads_none_where_this_one_has_none():
    # weight attributes are declared on the class by the first layer that makes the weight; a layer of the same
    # class without that weight (center=False, or not built yet) must still read None, not fail on its storage
    import gradfit as tf

    with_beta = tf.keras.layers.LayerNormalization()
    with_beta.build((None, 4))
    without = tf.keras.layers.LayerNormalization(center=False)
    assert without.beta is None and without.grad_beta is None
    without.build((None, 4))
    assert without.beta is None and without.gamma.shape == (4,)
    without.describe("X", "a[1]", 1)


def test_a_weight_assigned_before_build_is_refused_not_dropped():
    # build creates the weights and would replace the assigned value without a word
    import gradfit as tf

    layer = tf.keras.layers.Dense(3)
    layer.kernel = np.ones((4, 3), np.float32)
    model = tf.keras.Sequential([layer])
    with pytest.raises(AttributeError, match="assigned before the layer was built"):
        model.build((None, 4))
    fresh = tf.keras.layers.Dense(3)
    fresh.build((None, 4))
    fresh.kernel = np.ones((4, 3))
    np.testing.assert_array_equal(fresh.kernel, 1)
