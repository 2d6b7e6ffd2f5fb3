"""``activity_regularizer``: Keras 3 adds ``R(a) / m`` (the penalty of a layer's output over a batch of ``m``) to
the loss, in training and in evaluation; gradfit's layers store it in ``activity_penalty`` and add its gradient in
their backward pass (for a fused output layer, carried through the activation: ``dR/da * g'(z)``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradfit
import gradfit.keras as K
from gradfit.keras import layers as L
from gradfit.keras import regularizers
from gradfit.schema import ModelFileError
from gradfit.training import compute_gradients

from .finite_differences import numeric, rel


def _data(m=12, n=4, seed=0, classes=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n))
    if classes is None:
        y = (x @ rng.normal(size=n) > 0).astype(float).reshape(-1, 1)
    else:
        y = rng.integers(0, classes, size=m)
    return x, y


def test_forward_stores_the_penalty_of_the_output_divided_by_the_batch_size(float64):
    reg = regularizers.L1L2(l1=0.03, l2=0.2)
    layer = L.Dense(3, activation="tanh", activity_regularizer=reg)
    x = np.random.default_rng(1).normal(size=(7, 4))
    a = np.asarray(layer(x))
    expected = (0.03 * np.abs(a).sum() + 0.2 * np.square(a).sum()) / 7
    assert layer.activity_penalty == pytest.approx(expected, rel=1e-12)
    layer(x, training=True)
    assert layer.activity_penalty == pytest.approx(expected, rel=1e-12)
    # the same examples twice: the same penalty (Keras 3 divides by the batch size)
    layer(np.concatenate([x, x]))
    assert layer.activity_penalty == pytest.approx(expected, rel=1e-12)


def test_a_layer_without_one_pays_nothing_and_setting_it_later_works(float64):
    layer = L.Dense(2)
    assert "forward" not in vars(layer) and "backward" not in vars(layer)  # the class's own methods, unwrapped
    assert layer.activity_regularizer is None and layer.activity_penalty == 0.0
    x = np.ones((4, 3))
    layer(x)
    assert layer.activity_penalty == 0.0
    layer.activity_regularizer = "l2"  # Keras's default factor 0.01
    out = np.asarray(layer(x))
    assert layer.activity_penalty == pytest.approx(0.01 * np.square(out).sum() / 4)
    layer.activity_regularizer = None
    assert "forward" not in vars(layer)
    layer(x)
    assert layer.activity_penalty == 0.0


def test_refuses_what_is_not_a_regularizer():
    with pytest.raises(ValueError, match="regularizer"):
        L.Dense(2, activity_regularizer="l3")
    with pytest.raises(ValueError, match="regularizer"):
        L.Dropout(0.5, activity_regularizer=3)


MODELS = {
    # hidden layers of several kinds with a penalty, a fused sigmoid output with one
    "bce_sigmoid": lambda: [
        L.Dense(5, activation="tanh", activity_regularizer=regularizers.L2(0.1)),
        L.LayerNormalization(activity_regularizer=regularizers.L1(0.05)),
        L.Dense(1, activation="sigmoid", activity_regularizer=regularizers.L1L2(l1=0.1, l2=0.3)),
    ],
    # an activation layer object as Dense's activation; a ReLU layer; the fused Softmax layer with a penalty
    "sparse_softmax_layer": lambda: [
        L.Dense(5, activation=L.LeakyReLU(0.3), activity_regularizer=regularizers.L2(0.2)),
        L.ReLU(activity_regularizer=regularizers.L1(0.02)),
        L.Dense(3),
        L.Softmax(activity_regularizer=regularizers.L2(0.5)),
    ],
    # Dense with softmax fused, and a BatchNormalization (inference mode in compute_gradients) with a penalty
    "sparse_softmax_dense": lambda: [
        L.Dense(5, activation="elu"),
        L.BatchNormalization(activity_regularizer=regularizers.L2(0.1)),
        L.Dense(3, activation="softmax", activity_regularizer=regularizers.L1L2(l1=0.05, l2=0.1)),
    ],
    # not fused: mse on a linear output with a penalty
    "mse": lambda: [L.Dense(4, activation="sigmoid"), L.Dense(2, activity_regularizer=regularizers.L2(0.3))],
}


def _model(kind):
    K.utils.set_random_seed(3)
    classes = 3 if kind.startswith("sparse") else None
    x, y = _data(classes=classes)
    if kind == "mse":
        y = np.random.default_rng(5).normal(size=(len(x), 2))
    model = K.Sequential([K.Input((4,)), *MODELS[kind]()])
    loss = {"bce_sigmoid": "binary_crossentropy", "mse": "mse"}.get(kind, "sparse_categorical_crossentropy")
    model.compile(optimizer="sgd", loss=loss)
    return model, x, y


def _penalties_by_hand(model, x) -> float:
    """The activity penalties of a forward pass in inference mode, from each layer's output, by hand."""
    total, a = 0.0, x
    for layer in model.layers:
        a = np.asarray(layer(a, training=False))
        reg = layer.activity_regularizer
        if reg is not None:
            total += (reg.l1 * np.abs(a).sum() + reg.l2 * np.square(a).sum()) / len(x)
    return total


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_cost_includes_the_penalties_and_its_gradient_matches_finite_differences(float64, kind):
    model, x, y = _model(kind)
    value, _ = compute_gradients(model, x, y)
    plain = K.Sequential.from_config(model.get_config())  # the same model without its activity penalties
    for layer in plain.layers:
        layer.activity_regularizer = None
    plain.set_weights(model.get_weights())
    plain.compile(optimizer="sgd", loss=model.loss)
    assert value == pytest.approx(compute_gradients(plain, x, y)[0] + _penalties_by_hand(model, x), rel=1e-10)

    _, grads = compute_gradients(model, x, y)
    analytic = np.concatenate([g.ravel() for g in grads])
    params = model.parameters
    fd = numeric(lambda: compute_gradients(model, x, y)[0], params)
    flat = np.concatenate([g.ravel() for g in model.weight_views(fd)])
    assert rel(analytic, flat) < 1e-6
    # and the penalties matter to it: without them the gradient differs
    _, plain_grads = compute_gradients(plain, x, y)
    assert rel(analytic, np.concatenate([g.ravel() for g in plain_grads])) > 1e-4


def test_evaluate_and_fit_report_the_penalty_in_the_loss(float64):
    model, x, y = _model("bce_sigmoid")
    loss, _ = compute_gradients(model, x, y)
    assert model.evaluate(x, y, batch_size=len(x), verbose=0) == pytest.approx(loss, rel=1e-10)
    history = model.fit(x, y, batch_size=len(x), epochs=1, validation_data=(x, y), verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-10)  # the loss before the step


def test_config_written_only_when_set_and_saved_and_loaded(tmp_path):
    model, x, y = _model("sparse_softmax_layer")
    configs = [layer.get_config() for layer in model.layers]
    assert configs[0]["activity_regularizer"] == {
        "module": "keras.regularizers",
        "class_name": "L2",
        "config": {"l2": 0.2},
        "registered_name": None,
    }
    assert "activity_regularizer" not in configs[2]  # as Keras: the key only when a regularizer is set
    path = tmp_path / "m.keras"
    model.save(path)
    again = K.models.load_model(path)
    for a, b in zip(model.layers, again.layers, strict=True):
        assert type(a.activity_regularizer) is type(b.activity_regularizer)
        if a.activity_regularizer is not None:
            assert a.activity_regularizer.get_config() == b.activity_regularizer.get_config()
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_hostile_activity_regularizer_configs_are_refused():
    model, _, _ = _model("mse")
    for bad, pattern in [
        ({"class_name": "L2", "config": {"l2": "0.1"}}, "l2: must be a finite"),
        ({"module": "builtins", "class_name": "eval", "config": {}}, "unknown regularizer"),
        ({"module": "os", "class_name": "L2", "config": {}}, "never imports"),
        ({"class_name": "__lambda__", "config": {}}, "never runs code"),
        ("l3", "Unknown regularizer"),
    ]:
        config = json.loads(model.to_json())
        config["config"]["layers"][1]["config"]["activity_regularizer"] = bad
        with pytest.raises(ModelFileError, match=pattern):
            gradfit.keras.models.model_from_json(json.dumps(config))
