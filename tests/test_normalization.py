"""Normalization: Keras's formula (x - mean) / max(sqrt(var), eps), adapt, and use inside a model."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf


def test_adapt_gives_zero_mean_unit_variance_per_feature():
    rng = np.random.default_rng(0)
    X = rng.normal([200.0, 15.0], [30.0, 2.0], size=(300, 2))
    norm = tf.keras.layers.Normalization(axis=-1)
    norm.adapt(X)
    Xn = norm(X).numpy()
    np.testing.assert_allclose(Xn.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Xn.std(axis=0), 1, rtol=1e-4)
    mean, variance, count = norm.get_weights()
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(variance, X.var(axis=0), rtol=1e-6)  # population variance, as Keras
    assert count == 300


def test_constant_feature_is_divided_by_epsilon_not_zero():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    norm = tf.keras.layers.Normalization()
    norm.adapt(X)
    out = norm(X).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 1], 0)


def test_given_mean_variance_and_invert():
    norm = tf.keras.layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    x = np.array([[3.0, 8.0]])
    np.testing.assert_allclose(norm(x), [[1.0, 2.0]])
    inv = tf.keras.layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(inv(np.array([[1.0, 2.0]])), [[3.0, 8.0]])
    with pytest.raises(ValueError, match="both mean and variance"):
        tf.keras.layers.Normalization(mean=[1.0])


def test_statistics_are_not_trained_by_fit():
    rng = np.random.default_rng(1)
    X = rng.normal(100, 10, size=(64, 3))
    y = (X[:, 0] > 100).astype(float)
    norm = tf.keras.layers.Normalization()
    norm.adapt(X)
    before = [w.copy() for w in norm.get_weights()]
    model = tf.keras.Sequential(
        [norm, tf.keras.layers.Dense(2, activation="sigmoid"), tf.keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(loss="binary_crossentropy", optimizer=tf.keras.optimizers.Adam(0.05))
    history = model.fit(X, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for a, b in zip(norm.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert model.count_params() == 3 + 3 + 1 + 8 + 3 and len(model.trainable_weights) == 4
