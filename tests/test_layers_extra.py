"""Dropout, Flatten, Activation, ReLU, LeakyReLU, Softmax and BatchNormalization: formulas, gradients, Keras's
behaviour (training vs inference, moving statistics, loss fusion with a sigmoid/softmax output layer), configs
and errors. Parity with recorded Keras trajectories is in ``tests/parity/test_layers_parity.py``."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import gradfit
from gradfit.training import _Step, output_is_fused

from .finite_differences import numeric as _numeric
from .finite_differences import rel as _rel

K = gradfit.keras
L = gradfit.keras.layers


def _check_dx(layer, x, training=False, before=None):
    """backward(dy) against finite differences of sum(forward(x) * dy); returns the relative error."""
    x = np.array(x, dtype=np.float64)
    layer(x, training=training)  # builds
    dy = np.random.default_rng(7).normal(size=layer.forward(x, training).shape)

    def f():
        if before is not None:
            before()
        return float(np.sum(layer.forward(x, training) * dy))

    if before is not None:
        before()
    layer.forward(x, training)
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    return _rel(dx, _numeric(f, x))


def _away_from(x, kinks, margin=0.05):
    """Move entries of ``x`` that sit within ``margin`` of a kink, where the derivative jumps."""
    x = np.array(x)
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 2
    return x


RNG = np.random.default_rng(0)
X2 = RNG.normal(scale=2.0, size=(6, 5))
X3 = RNG.normal(scale=2.0, size=(4, 3, 5))


# ------------------------------------------------------------------------------------------- gradients (float64)


@pytest.mark.parametrize(
    "name", ["linear", "sigmoid", "tanh", "relu", "elu", "selu", "softplus", "softsign", "silu", "gelu", "softmax"]
)
def test_activation_layer_gradient(float64, name):
    x = _away_from(X2, [0.0])
    assert _check_dx(L.Activation(name), x) < 1e-8
    assert _check_dx(L.Activation(name), _away_from(X3, [0.0])) < 1e-8


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_value": 6.0},
        {"max_value": 1.5},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 3.0, "negative_slope": 0.2, "threshold": 0.5},
        {"max_value": 6, "negative_slope": 0.1},
    ],
)
def test_relu_layer_gradient(float64, kwargs):
    kinks = [0.0, kwargs.get("threshold", 0.0)] + ([kwargs["max_value"]] if "max_value" in kwargs else [])
    x = _away_from(X2 * 2, kinks)
    assert _check_dx(L.ReLU(**kwargs), x) < 1e-8


def test_leaky_relu_gradient(float64):
    assert _check_dx(L.LeakyReLU(), _away_from(X2, [0.0])) < 1e-8
    assert _check_dx(L.LeakyReLU(negative_slope=0.01), _away_from(X3, [0.0])) < 1e-8


@pytest.mark.parametrize("axis", [-1, 1, 2, [1, 2], -2])
def test_softmax_gradient(float64, axis):
    assert _check_dx(L.Softmax(axis=axis), X3) < 1e-8


def test_softmax_gradient_2d(float64):
    assert _check_dx(L.Softmax(), X2) < 1e-8


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_gradient(float64, data_format):
    assert _check_dx(L.Flatten(data_format=data_format), X3) < 1e-8
    assert _check_dx(L.Flatten(data_format=data_format), RNG.normal(size=(2, 3, 4, 2))) < 1e-8


def test_dropout_gradient_uses_the_same_mask(float64):
    layer = L.Dropout(0.4)
    # the mask is random: re-seed before every forward pass so each one draws the same mask
    assert _check_dx(layer, X3, training=True, before=lambda: K.utils.set_random_seed(5)) < 1e-8
    assert _check_dx(L.Dropout(0.4), X3, training=False) < 1e-8


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (8, 4)),
        ({"momentum": 0.5, "epsilon": 0.1}, (8, 4)),
        ({"center": False}, (8, 4)),
        ({"scale": False}, (8, 4)),
        ({"axis": 1}, (5, 3, 4)),
        ({"axis": -1}, (5, 3, 4)),
        ({"synchronized": True}, (8, 4)),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_gradients(float64, kwargs, shape, training):
    """dJ/dx, dJ/dgamma and dJ/dbeta; in training mode the batch statistics depend on x (the full derivative)."""
    rng = np.random.default_rng(3)
    x = rng.normal(loc=2.0, scale=3.0, size=shape)
    layer = L.BatchNormalization(**kwargs)
    layer.build((None,) + shape[1:])
    n = layer.moving_mean.shape[0]
    if layer.scale:
        layer.gamma[...] = rng.uniform(0.5, 1.5, size=n)
    if layer.center:
        layer.beta[...] = rng.uniform(-0.5, 0.5, size=n)
    layer.moving_mean[...] = rng.normal(size=n)
    layer.moving_variance[...] = rng.uniform(0.5, 2.0, size=n)
    dy = rng.normal(size=shape)

    def cost():
        return float(np.sum(layer.forward(x, training) * dy))

    assert _check_dx(layer, x, training=training) < 1e-7
    layer.forward(x, training)
    layer.backward(dy)
    if layer.scale:
        assert _rel(layer.grad_gamma, _numeric(cost, layer.gamma)) < 1e-7
    if layer.center:
        assert _rel(layer.grad_beta, _numeric(cost, layer.beta)) < 1e-7


def test_batch_normalization_training_gradient_is_not_the_inference_one(float64):
    # with the batch statistics, the sum of dJ/dx over the batch is 0 for every feature (mu absorbs any shift)
    x = np.random.default_rng(0).normal(size=(10, 3))
    layer = L.BatchNormalization()
    layer(x, training=True)
    dx = layer.backward(np.random.default_rng(1).normal(size=(10, 3)))
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)


# ------------------------------------------------------------------------------------------- forward formulas


def test_activation_layer_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(L.Activation("sigmoid")(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(L.Activation("tanh")(x), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(L.Activation("relu")(x), np.maximum(x, 0))
    np.testing.assert_allclose(L.Activation(None)(x), x)
    np.testing.assert_allclose(L.Activation(K.activations.elu)(x), np.where(x > 0, x, np.exp(x) - 1), rtol=1e-6)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(L.Activation("softmax")(x), e / e.sum(), rtol=1e-6)
    assert L.Activation("sigmoid").activation is K.activations.sigmoid


def test_relu_layer_values():
    x = np.array([-10.0, -5.0, 0.0, 0.3, 1.0, 5.0, 10.0], dtype=np.float32)
    np.testing.assert_allclose(L.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(L.ReLU(max_value=6)(x), np.minimum(np.maximum(x, 0), 6))
    # Keras's docstring example: max_value=10, negative_slope=0.5
    np.testing.assert_allclose(L.ReLU(max_value=10, negative_slope=0.5)(x), [-5, -2.5, 0, 0.3, 1, 5, 10])
    # g(z) = max_value above, z between threshold and max_value, slope (z - threshold) below threshold
    t, m, s = 0.5, 4.0, 0.2
    expected = np.where(x >= m, m, np.where(x > t, x, s * (x - t)))
    np.testing.assert_allclose(L.ReLU(max_value=m, negative_slope=s, threshold=t)(x), expected, rtol=1e-6)
    # Keras: relu(x, threshold=5) zeroes everything up to 5
    np.testing.assert_allclose(L.ReLU(threshold=5.0)(x), [0, 0, 0, 0, 0, 0, 10])


def test_leaky_relu_values_and_default_slope():
    x = np.array([-10.0, -5.0, 0.0, 5.0, 10.0], dtype=np.float32)
    assert L.LeakyReLU().negative_slope == 0.3  # Keras 3's layer default (the function's default is 0.2)
    np.testing.assert_allclose(L.LeakyReLU()(x), np.where(x > 0, x, 0.3 * x), rtol=1e-6)
    np.testing.assert_allclose(L.LeakyReLU(negative_slope=0.5)(x), [-5, -2.5, 0, 5, 10])
    np.testing.assert_allclose(L.Activation("leaky_relu")(x), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    with pytest.warns(UserWarning, match="alpha"):
        assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1


@pytest.mark.parametrize("axis", [-1, 1, 2, [1, 2]])
def test_softmax_values(axis):
    x = X3.astype(np.float32)
    ax = tuple(axis) if isinstance(axis, list) else axis
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    np.testing.assert_allclose(L.Softmax(axis=axis)(x), e / e.sum(axis=ax, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(L.Softmax()(np.array([[1.0, 2.0, 1.0]])), [[0.21194157, 0.5761169, 0.21194157]])


def test_flatten_values_c_order_and_shapes():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    out = L.Flatten()(x).numpy()
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], x[1].reshape(-1))  # C order: last axis fastest
    assert out[0, 4 * 1 + 2] == x[0, 1, 2]
    first = L.Flatten(data_format="channels_first")(x).numpy()
    np.testing.assert_array_equal(first, np.moveaxis(x, 1, -1).reshape(2, -1))
    assert L.Flatten().compute_output_shape((None, 20, 20)) == (None, 400)
    assert L.Flatten().compute_output_shape((None, None, 3)) == (None, None)
    assert L.Flatten().compute_output_shape((None,)) == (None, 1)
    assert L.Flatten()(np.array([1.0, 2.0])).shape == (2, 1)


def test_batch_normalization_training_and_inference_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, scale=2.0, size=(16, 4)).astype(np.float32)
    layer = L.BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build((None, 4))
    gamma, beta = np.float32([1.5, 0.5, 1.0, 2.0]), np.float32([0.1, -0.2, 0.0, 0.3])
    mm0, mv0 = np.float32([0.5, 0.0, -1.0, 2.0]), np.float32([1.0, 2.0, 0.5, 1.5])
    layer.set_weights([gamma, beta, mm0, mv0])
    mu, var = x.mean(axis=0), x.var(axis=0)  # biased batch variance
    y = layer(x, training=True).numpy()
    np.testing.assert_allclose(y, gamma * (x - mu) / np.sqrt(var + 1e-3) + beta, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean, 0.9 * mm0 + 0.1 * mu, rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance, 0.9 * mv0 + 0.1 * var, rtol=1e-6)
    # inference: the moving statistics, which inference does not change
    mm, mv = np.array(layer.moving_mean), np.array(layer.moving_variance)
    y = layer(x, training=False).numpy()
    np.testing.assert_allclose(y, gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean, mm)


def test_batch_normalization_axis1_normalises_per_channel():
    x = np.random.default_rng(1).normal(size=(8, 3, 5)) * np.array([1.0, 5.0, 0.1])[:, None] + 4.0
    layer = L.BatchNormalization(axis=1, epsilon=1e-9)
    y = layer(x, training=True).numpy()
    assert layer.gamma.shape == (3,)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-4)


def test_batch_normalization_weights_in_keras_order():
    layer = L.BatchNormalization()
    layer.build((None, 3))
    assert [s.name for s in layer._specs] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    gamma, beta, mm, mv = layer.get_weights()
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(mm, 0)
    np.testing.assert_array_equal(mv, 1)
    assert layer.count_params() == 12
    no_gamma = L.BatchNormalization(scale=False)
    no_gamma.build((None, 3))
    assert [s.name for s in no_gamma._specs] == ["beta", "moving_mean", "moving_variance"]


def test_layer_names_as_keras():
    assert [L.ReLU().name, L.LeakyReLU().name, L.BatchNormalization().name] == [
        "re_lu",
        "leaky_re_lu",
        "batch_normalization",
    ]
    assert [L.Dropout(0.1).name, L.Flatten().name, L.Softmax().name, L.Activation("relu").name] == [
        "dropout",
        "flatten",
        "softmax",
        "activation",
    ]


# ------------------------------------------------------------------------------------------- Dropout


def test_dropout_is_identity_without_training():
    x = np.random.default_rng(0).normal(size=(50, 20)).astype(np.float32)
    layer = L.Dropout(0.5)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    np.testing.assert_array_equal(L.Dropout(0.0)(x, training=True), x)


def test_dropout_training_zeros_about_rate_and_scales_the_rest():
    K.utils.set_random_seed(0)
    x = np.ones((400, 250), dtype=np.float32)
    rate = 0.3
    layer = L.Dropout(rate)
    y = layer(x, training=True).numpy()
    dropped = np.mean(y == 0)
    assert abs(dropped - rate) < 4 * np.sqrt(rate * (1 - rate) / x.size)  # 4 standard deviations
    np.testing.assert_allclose(y[y != 0], 1 / (1 - rate), rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01  # the expected value is kept
    # backward: the same mask, the same scale
    dy = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(dx == 0, y == 0)
    np.testing.assert_allclose(dx[y != 0], dy[y != 0] / (1 - rate), rtol=1e-6)


def test_dropout_is_reproducible_with_set_random_seed():
    x = np.ones((20, 30))
    K.utils.set_random_seed(42)
    a = L.Dropout(0.5)(x, training=True).numpy()
    b = L.Dropout(0.5)(x, training=True).numpy()
    K.utils.set_random_seed(42)
    c = L.Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    # seed= gives a layer its own stream
    s1, s2 = L.Dropout(0.5, seed=3), L.Dropout(0.5, seed=3)
    np.testing.assert_array_equal(s1(x, training=True), s2(x, training=True))


def test_dropout_noise_shape_broadcasts_the_mask():
    K.utils.set_random_seed(1)
    x = np.ones((6, 4, 5))
    y = L.Dropout(0.5, noise_shape=(None, 1, 5))(x, training=True).numpy()
    for i in range(6):  # the same units are dropped at every step
        assert (y[i] == y[i, :1]).all()
    assert 0 < np.mean(y == 0) < 1


def test_dropout_rate_one_zeros_everything_as_keras():
    x = np.ones((3, 4))
    layer = L.Dropout(1.0)
    np.testing.assert_array_equal(layer(x, training=True), 0)
    np.testing.assert_array_equal(layer.backward(np.ones((3, 4))), 0)


def test_dropout_in_fit_but_not_in_predict(binary_data):
    x, y = binary_data
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input((4,)), L.Dense(16, activation="relu"), L.Dropout(0.5), L.Dense(1)])
    model.compile(loss=K.losses.BinaryCrossentropy(from_logits=True), optimizer=K.optimizers.Adam(0.01))
    plain = K.Sequential([K.Input((4,)), L.Dense(16, activation="relu"), L.Dense(1)])
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    history = model.fit(x, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # fit drew a new mask for every batch: the same data, same weights, training=True gives other outputs
    out = [model(x, training=True).numpy() for _ in range(2)]
    assert not np.array_equal(out[0], out[1])
    np.testing.assert_array_equal(model(x).numpy(), model.predict(x, verbose=0))


# ------------------------------------------------------------------------------------------- Flatten in a model


def test_flatten_trains_dense_on_images(digits0to9):
    X, y = digits0to9
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(X))[:2000]
    images, labels = X[rows].reshape(-1, 20, 20), y[rows].reshape(-1)
    K.utils.set_random_seed(0)
    model = K.Sequential([L.Flatten(), L.Dense(25, activation="relu"), L.Dense(10)])
    model.compile(
        loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=K.optimizers.Adam(0.003),
        metrics=["accuracy"],
    )
    history = model.fit(images, labels, epochs=8, batch_size=32, verbose=0)
    assert model.layers[0].output_shape == (None, 400)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.85
    # the same weights on the rows of the original (m, 400) matrix give the same predictions
    flat = K.Sequential([K.Input((400,)), L.Dense(25, activation="relu"), L.Dense(10)])
    flat.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(images, verbose=0), flat.predict(X[rows], verbose=0), rtol=1e-5)


# ------------------------------------------------------------------------------------------- BatchNormalization


def test_batch_normalization_moving_statistics_follow_the_recursion():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 3.0, 0.5], size=(70, 3)).astype(np.float32)
    y = rng.normal(size=(70, 1)).astype(np.float32)
    model = K.Sequential([K.Input((3,)), L.BatchNormalization(momentum=0.8), L.Dense(1)])
    model.compile(loss="mse", optimizer=K.optimizers.SGD(0.01))
    model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    mm, mv = np.zeros(3), np.ones(3)
    for _ in range(2):
        for start in range(0, 70, 32):  # batches of 32, 32 and 6
            batch = x[start : start + 32].astype(np.float64)
            mm = 0.8 * mm + 0.2 * batch.mean(axis=0)
            mv = 0.8 * mv + 0.2 * batch.var(axis=0)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean, mm, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance, mv, rtol=1e-5)
    # gamma and beta were trained; the moving statistics are not trainable weights
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    # inference (predict) uses the moving statistics
    gamma, beta, _, _, kernel, bias = model.get_weights()
    expected = (gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta) @ kernel + bias
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    assert model.predict(x[:1], verbose=0)[0] == pytest.approx(model.predict(x, verbose=0)[0], rel=1e-5)


def test_frozen_batch_normalization_runs_in_inference_mode():
    x = np.random.default_rng(0).normal(loc=3.0, size=(32, 2)).astype(np.float32)
    layer = L.BatchNormalization(trainable=False)
    model = K.Sequential([K.Input((2,)), layer, L.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    before = layer.get_weights()
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(layer(x, training=True), (x - 0) / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert len(model.trainable_weights) == 2


def test_batch_normalization_regularizer_adds_to_the_cost():
    layer = L.BatchNormalization(gamma_regularizer=K.regularizers.L2(0.1))
    layer.build((None, 3))
    assert layer.losses == [pytest.approx(0.1 * 3)]


# ------------------------------------------------------------------------------------------- loss fusion


def _fusion_model(last, loss):
    model = K.Sequential([K.Input((4,)), L.Dense(3, activation="tanh"), L.Dense(last[0]), last[1]])
    model.compile(loss=loss, optimizer=K.optimizers.SGD(0.1))
    return model


def test_activation_and_softmax_output_layers_are_fused_with_the_loss():
    bce, sce = K.losses.BinaryCrossentropy(), K.losses.SparseCategoricalCrossentropy()
    assert output_is_fused(_fusion_model((1, L.Activation("sigmoid")), bce))
    assert output_is_fused(_fusion_model((3, L.Activation("softmax")), sce))
    assert output_is_fused(_fusion_model((3, L.Softmax()), sce))
    assert output_is_fused(_fusion_model((3, L.Softmax(axis=1)), sce))  # the last axis of (m, 3)
    assert not output_is_fused(_fusion_model((3, L.Activation("tanh")), K.losses.MeanSquaredError()))
    assert not output_is_fused(_fusion_model((1, L.Activation("sigmoid")), sce))


def test_softmax_over_another_axis_is_not_fused():
    model = K.Sequential([K.Input((4, 3)), L.Dense(3), L.Softmax(axis=1)])
    model.compile(loss=K.losses.CategoricalCrossentropy(), optimizer="sgd")
    assert not output_is_fused(model)
    assert not hasattr(model.layers[-1], "backward_from_logits")
    last_axis = K.Sequential([K.Input((4, 3)), L.Dense(3), L.Softmax(axis=2)])
    last_axis.compile(loss=K.losses.CategoricalCrossentropy(), optimizer="sgd")
    assert output_is_fused(last_axis)


@pytest.mark.parametrize(
    "separate, combined, loss, y",
    [
        (L.Activation("sigmoid"), "sigmoid", "binary_crossentropy", "binary"),
        (L.Activation("softmax"), "softmax", "sparse_categorical_crossentropy", "classes"),
        (L.Softmax(), "softmax", "sparse_categorical_crossentropy", "classes"),
    ],
)
def test_activation_layer_trains_exactly_like_the_dense_activation(separate, combined, loss, y):
    # large weights saturate the output: only the exact loss from the logits gives the same trajectory
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * 5).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.float32).reshape(-1, 1) if y == "binary" else rng.integers(0, 3, size=64)
    units = 1 if y == "binary" else 3
    a = K.Sequential([K.Input((4,)), L.Dense(6, activation="relu"), L.Dense(units), separate])
    b = K.Sequential([K.Input((4,)), L.Dense(6, activation="relu"), L.Dense(units, activation=combined)])
    weights = [w * 4 for w in a.get_weights()]
    a.set_weights(weights)
    b.set_weights(weights)
    histories = []
    for model in (a, b):
        model.compile(loss=loss, optimizer=K.optimizers.SGD(0.05))
        histories.append(model.fit(x, labels, epochs=4, batch_size=16, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------- whole-model gradients


def _model_with_every_layer():
    return K.Sequential(
        [
            K.Input((3, 4)),
            L.Flatten(),
            L.Dense(8),
            L.BatchNormalization(momentum=0.9),
            L.Activation("tanh"),
            L.Dense(7),
            L.ReLU(negative_slope=0.1, max_value=3.0),
            L.Dropout(0.3),
            L.Dense(6),
            L.LeakyReLU(),
            L.Dense(3),
            L.Softmax(),
        ]
    )


def test_check_gradients_on_a_model_with_every_new_layer(float64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3, 4))
    y = rng.integers(0, 3, size=20)
    model = _model_with_every_layer()
    model.compile(loss=K.losses.SparseCategoricalCrossentropy(), optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)  # moving statistics away from their initial values
    bn = model.layers[2]
    assert not np.allclose(bn.moving_mean, 0)
    assert gradfit.check_gradients(model, x, y, max_entries_per_weight=None) < 1e-6


def test_training_mode_gradients_of_a_model_match_finite_differences(float64):
    """With BatchNormalization in training mode (batch statistics) inside a model, and the fused softmax loss."""
    rng = np.random.default_rng(1)
    x = rng.normal(loc=1.0, scale=2.0, size=(12, 3, 4))
    y = rng.integers(0, 3, size=12)
    model = _model_with_every_layer()
    model.layers[6].rate = 0.0  # dropout's mask is random; its own gradient is checked above
    model.compile(loss=K.losses.SparseCategoricalCrossentropy(), optimizer="sgd")
    model.build((None, 3, 4))
    step = _Step(model)
    model.parameter_gradients[...] = 0
    step.gradients(x, y, None, training=True)
    analytic = np.array(model.parameter_gradients)

    def cost():
        a = x
        for layer in model.layers:
            a = layer.forward(a, True)
        return step.loss_and_output_grad(y, None, len(x))[0]

    numeric = _numeric(cost, model.parameters)
    assert _rel(analytic, numeric) < 1e-6


# ------------------------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "layer",
    [
        L.Dropout(0.25, noise_shape=(None, 1), seed=3),
        L.Flatten(),
        L.Flatten(data_format="channels_first"),
        L.Activation("tanh"),
        L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
        L.LeakyReLU(negative_slope=0.2),
        L.Softmax(axis=[1, 2]),
        L.BatchNormalization(axis=1, momentum=0.9, epsilon=0.01, center=False, gamma_regularizer="l2"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert type(again) is type(layer)


def test_keras_config_with_dtype_policy_is_accepted():
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    config = {
        "name": "batch_normalization",
        "trainable": True,
        "dtype": policy,
        "axis": -1,
        "momentum": 0.99,
        "epsilon": 0.001,
        "center": True,
        "scale": True,
        "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}},
        "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}},
        "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}},
        "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}},
        "beta_regularizer": None,
        "gamma_regularizer": None,
        "beta_constraint": None,
        "gamma_constraint": None,
        "synchronized": False,
        "renorm": False,
        "renorm_clipping": None,
        "renorm_momentum": 0.99,
    }
    layer = L.BatchNormalization.from_config(config)
    assert layer.dtype == "float32" and layer.momentum == 0.99
    dropout = L.Dropout.from_config(
        {"name": "d", "trainable": True, "dtype": policy, "rate": 0.5, "seed": None, "noise_shape": None}
    )
    assert dropout.rate == 0.5


def test_configured_activations_pickle_with_their_arguments():
    layer = L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)
    act = pickle.loads(pickle.dumps(layer.activation))
    x = np.linspace(-2, 2, 17)
    np.testing.assert_array_equal(act(x), layer.activation(x))
    softmax = pickle.loads(pickle.dumps(L.Softmax(axis=1).activation))
    np.testing.assert_allclose(softmax(X3).sum(axis=1), 1)


def test_sequential_get_config_lists_the_new_layers():
    model = K.Sequential([K.Input((4,)), L.Dense(3), L.BatchNormalization(), L.ReLU(), L.Dropout(0.1)])
    names = [entry["class_name"] for entry in model.get_config()["layers"]]
    assert names == ["InputLayer", "Dense", "BatchNormalization", "ReLU", "Dropout"]


# ------------------------------------------------------------------------------------------- misuse


@pytest.mark.parametrize("rate", [1.5, -0.1, "0.5", None, True])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(rate)


def test_dropout_rejects_bad_noise_shapes():
    with pytest.raises(ValueError, match="noise_shape"):
        L.Dropout(0.5, noise_shape="batch")
    with pytest.raises(ValueError, match="noise_shape"):
        L.Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match="noise_shape"):
        L.Dropout(0.5, noise_shape=(None, 3))(np.ones((2, 4)), training=True)


def test_activation_rejects_unknown_names_with_a_suggestion():
    with pytest.raises(ValueError, match="Did you mean 'sigmoid'"):
        L.Activation("sigmoidd")
    with pytest.raises(ValueError, match="Unknown activation"):
        L.Activation("not_an_activation")


def test_batch_normalization_rejects_unknown_axes():
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        L.BatchNormalization(axis=3)(np.ones((4, 2)))
    with pytest.raises(ValueError, match="batch axis"):
        L.BatchNormalization(axis=0)(np.ones((4, 2)))
    with pytest.raises(ValueError, match="one integer"):
        L.BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="out of range"):  # as soon as the model knows its input shape
        K.Sequential([K.Input((5,)), L.BatchNormalization(axis=2)])


def test_batch_normalization_rejects_unsupported_options():
    with pytest.raises(NotImplementedError, match="renorm"):
        L.BatchNormalization(renorm=True)
    with pytest.raises(NotImplementedError, match="renorm_clipping"):
        L.BatchNormalization(renorm_clipping={"rmax": 3.0})
    with pytest.raises(ValueError, match="Did you mean 'non_neg'"):
        L.BatchNormalization(gamma_constraint="non_negg")
    with pytest.raises(ValueError, match="epsilon"):
        L.BatchNormalization(epsilon=0)


def test_relu_and_leaky_relu_reject_negative_arguments():
    with pytest.raises(ValueError, match="max_value"):
        L.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope"):
        L.ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        L.ReLU(threshold=None)
    with pytest.raises(ValueError, match="negative_slope"):
        L.LeakyReLU(negative_slope=-1)


def test_softmax_and_flatten_reject_bad_arguments():
    with pytest.raises(ValueError, match="out of range"):
        L.Softmax(axis=3)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis"):
        L.Softmax(axis="last")
    with pytest.raises(ValueError, match="data_format"):
        L.Flatten(data_format="nhwc")


def test_new_layers_need_no_advice_when_used_as_intended(binary_data):
    x, y = binary_data
    model = K.Sequential([K.Input((4,)), L.Dense(8), L.ReLU(), L.Dense(1), L.Activation("sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", gradfit.GradfitAdvice)
        model.fit(x, y, epochs=2, verbose=0)
