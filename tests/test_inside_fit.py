"""Looking inside fit: compute_gradients, check_gradients, explain(), GradientLogger."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradfit
from gradfit import activations
from gradfit.keras import Input, Sequential, losses
from gradfit.keras.layers import Dense, Normalization
from gradfit.keras.regularizers import L1, L1L2, L2

SMOOTH = ["sigmoid", "tanh", "linear", "elu", "selu", "softplus", "softsign", "silu", "gelu", "exponential"]
KINKED = ["relu", "leaky_relu", "relu6", "hard_sigmoid"]


def _data(m=24, n=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n))
    return x, rng


@pytest.mark.parametrize("hidden", SMOOTH + KINKED)
@pytest.mark.parametrize(
    "loss_name",
    [
        "bce_sigmoid",
        "bce_logits",
        "sparse_softmax",
        "sparse_logits",
        "cce_softmax",
        "cce_logits",
        "mse",
        "mae",
        "huber",
    ],
)
def test_check_gradients_every_activation_and_loss(float64, hidden, loss_name):
    # a fixed seed: with random weights a unit can land within eps of a kink (relu, |e|) or where
    # exponential's curvature makes the centred difference itself inexact; seed 0 avoids both
    gradfit.keras.utils.set_random_seed(0)
    x, rng = _data()
    classes = 3
    labels = rng.integers(0, classes, len(x))
    out_act, loss, y = {
        "bce_sigmoid": ("sigmoid", losses.BinaryCrossentropy(), (labels > 0).astype(float)),
        "bce_logits": ("linear", losses.BinaryCrossentropy(from_logits=True), (labels > 0).astype(float)),
        "sparse_softmax": ("softmax", losses.SparseCategoricalCrossentropy(), labels),
        "sparse_logits": ("linear", losses.SparseCategoricalCrossentropy(from_logits=True), labels),
        "cce_softmax": ("softmax", losses.CategoricalCrossentropy(), np.eye(classes)[labels]),
        "cce_logits": ("linear", losses.CategoricalCrossentropy(from_logits=True), np.eye(classes)[labels]),
        "mse": ("linear", losses.MeanSquaredError(), rng.normal(size=(len(x), 1))),
        "mae": ("tanh", losses.MeanAbsoluteError(), rng.normal(size=(len(x), 1))),
        "huber": ("linear", losses.Huber(delta=0.5), rng.normal(size=(len(x), 1))),
    }[loss_name]
    units = classes if loss_name.startswith(("sparse", "cce")) else 1
    model = Sequential(
        [
            Input(shape=(4,)),
            Dense(5, activation=hidden, kernel_regularizer=L2(0.01)),
            Dense(4, activation=hidden, use_bias=False, bias_regularizer=None, kernel_regularizer=L1L2(0.001, 0.01)),
            Dense(units, activation=out_act, bias_regularizer=L1(0.001)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.GradfitAdvice)  # linear hidden layers are part of the sweep
        model.compile(loss=loss, optimizer="sgd")
    worst = gradfit.check_gradients(model, x, y, max_entries_per_weight=None)
    # kinks (relu at 0, |e| at 0, hard_sigmoid's corners) are measure-zero for random data: stay strict
    assert worst < 1e-6, worst


def test_check_gradients_detects_a_wrong_derivative(float64, monkeypatch):
    """The checker must fail when backprop is wrong: break tanh's derivative and watch it."""
    x, rng = _data()
    model = Sequential([Input(shape=(4,)), Dense(3, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    y = rng.integers(0, 2, len(x))
    assert gradfit.check_gradients(model, x, y) < 1e-7
    monkeypatch.setattr(activations.tanh, "backward", lambda z, a, da: da * (1 - a))  # wrong: g' = 1 - a^2
    assert gradfit.check_gradients(model, x, y) > 1e-3


def test_check_gradients_leaves_a_float32_model_exactly_as_it_was():
    x, rng = _data()
    model = Sequential([Input(shape=(4,)), Dense(3, activation="sigmoid"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    y = rng.integers(0, 2, len(x))
    model.fit(x, y, epochs=2, verbose=0)
    before = model.get_weights()
    worst = gradfit.check_gradients(model, x, y)
    assert worst < 1e-6  # computed in float64 even though the model is float32
    after = model.get_weights()
    assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(after, before))
    assert model.parameters.dtype == np.float32
    history = model.fit(x, y, epochs=1, verbose=0)  # and it still trains
    assert np.isfinite(history.history["loss"][0])


def test_check_gradients_with_normalization_in_front(float64):
    x, rng = _data()
    x = x * [10.0, 0.1, 3.0, 1.0] + 50
    norm = Normalization()
    norm.adapt(x)
    model = Sequential([Input(shape=(4,)), norm, Dense(3, activation="sigmoid"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    assert gradfit.check_gradients(model, x, rng.integers(0, 2, len(x))) < 1e-6


def test_compute_gradients_matches_a_hand_written_backprop(float64):
    """One sigmoid layer + BCE: dJ/dW = X.T (a - y) / m, dJ/db = mean(a - y): the course's logistic regression."""
    x, rng = _data(m=10, n=3)
    y = rng.integers(0, 2, (10, 1)).astype(float)
    model = Sequential([Input(shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    W, b = model.get_weights()
    cost, (dW, db) = model.compute_gradients(x, y)
    f = 1 / (1 + np.exp(-(x @ W + b)))
    expected_cost = np.mean(-y * np.log(f) - (1 - y) * np.log(1 - f))
    np.testing.assert_allclose(cost, expected_cost, rtol=1e-12)
    np.testing.assert_allclose(dW, x.T @ (f - y) / 10, rtol=1e-10)
    np.testing.assert_allclose(db, np.mean(f - y, axis=0), rtol=1e-10)
    np.testing.assert_array_equal(model.get_weights()[0], W)  # no update


def test_compute_gradients_order_and_shapes(digits01):
    X, y = digits01
    model = Sequential(
        [Dense(25, activation="sigmoid"), Dense(15, activation="sigmoid"), Dense(1, activation="sigmoid")]
    )
    model.compile(loss=losses.BinaryCrossentropy())
    cost, grads = model.compute_gradients(X[:64], y[:64])
    assert [g.shape for g in grads] == [w.shape for w in model.trainable_weights]
    assert [g.shape for g in grads] == [(400, 25), (25,), (25, 15), (15,), (15, 1), (1,)]
    assert 0.3 < cost < 3


def test_explain_shows_the_real_shapes_formulas_cost_and_update():
    model = Sequential([Input(shape=(400,)), Dense(25, activation="sigmoid"), Dense(15, activation="sigmoid"),
                        Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile(loss=losses.BinaryCrossentropy())
    lines = []
    text = model.explain(print_fn=lines.append)
    assert lines == [text]
    assert "a[1] = sigmoid(X @ W[1] + b[1])  (m,400)@(400,25) -> (m,25)" in text
    assert "a[2] = sigmoid(a[1] @ W[2] + b[2])  (m,25)@(25,15) -> (m,15)" in text
    assert "a[3] = sigmoid(a[2] @ W[3] + b[3])  (m,15)@(15,1) -> (m,1)" in text
    assert "L = -y log(f(x)) - (1 - y) log(1 - f(x))" in text
    assert "logits" in text  # the fused sigmoid + cross-entropy
    assert "RMSprop" in text and "learning_rate=0.001" in text and "rho=0.9" in text


def test_explain_adam_and_regularizer_and_unbuilt_model():
    model = Sequential([Dense(4, activation="relu", kernel_regularizer=L2(0.1)), Dense(3)])
    model.compile(
        loss=losses.SparseCategoricalCrossentropy(from_logits=True), optimizer=gradfit.keras.optimizers.Adam(0.01)
    )
    with pytest.raises(ValueError, match="not built"):
        model.explain()
    model.build((None, 2))
    text = model.explain(print_fn=lambda s: None)
    assert "a[2] = linear(a[1] @ W[2] + b[2])  (m,4)@(4,3) -> (m,3)" in text
    assert "L2" in text and "0.1" in text
    assert "Adam" in text and "learning_rate=0.01" in text


def test_gradient_logger_records_vanishing_gradients_in_the_history():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6))
    y = (x[:, 0] + x[:, 1] > 0).astype(float)
    model = Sequential(
        [Input(shape=(6,))] + [Dense(8, activation="sigmoid") for _ in range(5)] + [Dense(1, activation="sigmoid")]
    )
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    logger = gradfit.callbacks.GradientLogger()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[logger])
    keys = [f"grad_norm/{layer.name}" for layer in model.layers]
    for key in keys:
        assert len(history.history[key]) == 3
        assert logger.history[key] == history.history[key]
    first, last = history.history[keys[0]][0], history.history[keys[-1]][0]
    assert first < last / 10  # sigmoid stacks: the first layer's gradient is far smaller than the last's


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_gradient_logger_records_the_gradient_itself_not_the_update(optimizer):
    # one batch per epoch: the logged norm is ||dJ/dW|| at the weights the step started from, whatever the
    # optimizer does with the gradient afterwards (SGD once scaled it by the learning rate in place)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    _, grads = model.compute_gradients(x, y)
    expected = [float(np.linalg.norm(g)) for g in grads[::2]]  # the kernels
    logger = gradfit.callbacks.GradientLogger()
    history = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[logger])
    got = [history.history[f"grad_norm/{layer.name}"][0] for layer in model.layers]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
