"""Keras 3.15's training-loop semantics (issue #11), beyond the recorded parity cases
(tests/parity/test_training_semantics_parity.py): class weights, trailing layers without an activation, steps,
validation_freq, callbacks, loss_weights, weighted_metrics, and the hooks other features plug into."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import data, training


def _data(n: int = 24, seed: int = 0, classes: int | None = None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    if classes:
        return x, rng.integers(0, classes, size=n)
    return x, (x[:, :1] > 0).astype(np.float32)


def _model(*trailing, units: int = 1, activation: str = "sigmoid", loss="binary_crossentropy", **compile):
    layers = [K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(units, activation), *trailing]
    model = K.Sequential(layers)
    model.compile(loss=loss, optimizer=K.optimizers.SGD(0.1), **compile)
    return model


# ------------------------------------------------------------------------------------------- class weights


def test_a_class_missing_from_class_weight_weighs_one():
    x, y = _data()
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    ha = a.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, class_weight={1: 3.0}).history
    hb = b.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, class_weight={0: 1.0, 1: 3.0}).history
    assert ha == hb


def test_class_weights_weight_the_training_part_of_a_validation_split_only():
    x, y = _data()
    model = _model()
    history = model.fit(
        x, y, epochs=1, batch_size=32, verbose=0, shuffle=False, validation_split=0.25, class_weight={0: 1.0, 1: 10.0}
    ).history
    unweighted = model.evaluate(x[18:], y[18:], verbose=0)
    assert history["val_loss"][0] == pytest.approx(unweighted, rel=1e-6)


def test_class_weights_round_soft_labels_and_take_the_argmax_of_one_hot_rows():
    y_soft = np.array([[0.2], [0.7], [0.5], [1.5]])  # np.round: 0, 1, 0 (half to even), 2
    np.testing.assert_array_equal(data.sample_weights(None, {1: 4.0, 2: 9.0}, y_soft, 4), [1.0, 4.0, 1.0, 9.0])
    one_hot = np.eye(3)[[2, 0, 1]]
    np.testing.assert_array_equal(data.sample_weights(None, {2: 5.0}, one_hot, 3), [5.0, 1.0, 1.0])


# ------------------------------------------------------------------------------------------- trailing layers

TRAILING = {
    "dropout": lambda: K.layers.Dropout(0.5, seed=3),
    "batchnorm": lambda: K.layers.BatchNormalization(),
    "gaussian_noise": lambda: K.layers.GaussianNoise(0.1, seed=3),
    "gaussian_dropout": lambda: K.layers.GaussianDropout(0.2, seed=3),
    "layernorm": lambda: K.layers.LayerNormalization(),
    "rescaling": lambda: K.layers.Rescaling(0.5),
    "identity": lambda: K.layers.Identity(),
    "flatten": lambda: K.layers.Flatten(),
}


@pytest.mark.parametrize("name", sorted(TRAILING))
@pytest.mark.parametrize("task", ["binary", "sparse"])
def test_a_model_ending_in_a_layer_without_activation_trains_evaluates_and_predicts(name, task):
    x, y = _data(classes=3 if task == "sparse" else None)
    kwargs = (
        {"units": 3, "activation": "softmax", "loss": "sparse_categorical_crossentropy"} if task == "sparse" else {}
    )
    model = _model(TRAILING[name](), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the advice on a linear-looking output
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25).history
        loss = model.evaluate(x, y, verbose=0)
        out = model.predict(x, verbose=0)
        model.train_on_batch(x, y)
        model.test_on_batch(x, y)
        model.compute_gradients(x, y)
    assert np.isfinite(history["loss"]).all() and np.isfinite(history["val_loss"]).all()
    assert np.isfinite(loss) and out.shape == (len(x), 3 if task == "sparse" else 1)


def test_the_loss_reads_logits_through_pass_through_layers_in_each_mode():
    dropout = _model(K.layers.Dropout(0.5))
    dense = dropout.layers[1]
    assert dropout._fused_output(training=False) is dense  # inference: Dropout returns its input
    assert dropout._fused_output(training=True) is None  # training: a new tensor, the output is clipped
    assert _model(K.layers.Dropout(0.0))._fused_output(training=True) is not None
    assert _model(K.layers.Identity(), K.layers.Dropout(0.3))._fused_output(False) is not None
    for layer in (K.layers.BatchNormalization(), K.layers.Rescaling(1.0), K.layers.Flatten()):
        model = _model(layer)
        assert model._fused_output(False) is None and model._fused_output(True) is None


def test_saturated_logits_through_a_trailing_dropout_give_keras_loss_of_50():
    model = K.Sequential([K.Input((1,)), K.layers.Dense(1, activation="sigmoid"), K.layers.Dropout(0.5)])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    model.set_weights([np.full((1, 1), 50.0, np.float32), np.zeros(1, np.float32)])
    assert model.evaluate(np.ones((1, 1)), np.zeros((1, 1)), verbose=0) == pytest.approx(50.0)


def test_gradients_through_a_fused_trailing_dropout_match_finite_differences():
    x, y = _data(8)
    model = _model(K.layers.Dropout(0.5))
    loss, grads = model.compute_gradients(x, y)  # inference mode: fused through the Dropout
    w = model.layers[1].kernel
    eps = 1e-3
    w[0, 0] += eps
    up = model.evaluate(x, y, verbose=0, batch_size=8)
    w[0, 0] -= 2 * eps
    down = model.evaluate(x, y, verbose=0, batch_size=8)
    w[0, 0] += eps
    assert grads[2][0, 0] == pytest.approx((up - down) / (2 * eps), rel=1e-2)


# ------------------------------------------------------------------------------------------- steps


def test_epoch_batches_follow_keras_epoch_iterator():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fewer = data.EpochBatches(8, 2, steps=3)
        runs = [fewer.epoch() for _ in range(4)]
    assert [len(spans) for spans, _ in runs] == [3, 1, 3, 1]  # an epoch continues the pass, ends with it
    assert [new for _, new in runs] == [True, False, True, False]
    assert runs[1][0] == [(6, 8)]
    assert sum("ran out of data" in str(w.message) for w in caught) == 2
    assert data.EpochBatches(8, None, steps=3).batch_size == 3  # ceil(n / steps)
    assert data.EpochBatches(8, None).batch_size == 32
    more = data.EpochBatches(8, 2, steps=6)
    with pytest.warns(UserWarning, match="steps=6 is more than the 4 batch"):
        assert len(more.epoch()[0]) == 4
    assert more.steps == 6  # what the progress bar counts, as Keras's num_batches


def test_predict_and_evaluate_with_steps_use_only_those_batches():
    x, y = _data(8)
    model = _model()
    assert model.predict(x, batch_size=2, steps=1, verbose=0).shape == (2, 1)
    assert model.predict(x, steps=1, verbose=0).shape == (8, 1)  # batch_size None: ceil(8 / 1)
    assert model.evaluate(x, y, batch_size=2, steps=1, verbose=0) == pytest.approx(
        model.evaluate(x[:2], y[:2], verbose=0)
    )


def test_validation_steps_restart_the_validation_data_every_epoch():
    x, y = _data(8)
    xv, yv = _data(4, seed=5)
    model = _model()
    seen = []

    class Count(K.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    model.fit(
        x, y, epochs=3, batch_size=2, validation_data=(xv, yv), validation_steps=1, verbose=0, callbacks=[Count()]
    )
    assert seen == [0, 0, 0]


# ------------------------------------------------------------------------------------------- arguments


def test_validation_freq_as_a_list_names_the_epochs():
    x, y = _data()
    history = _model().fit(x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=[2, 4]).history
    assert len(history["loss"]) == 4 and len(history["val_loss"]) == 2


def test_a_single_callback_is_taken_as_keras_takes_it():
    x, y = _data()
    stop = K.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = _model().fit(x, y, epochs=5, verbose=0, callbacks=stop)
    assert len(history.history["loss"]) == 2
    assert training.callback_list([[stop], (stop,)]) == [stop, stop]


@pytest.mark.parametrize(
    ("loss_weights", "message"),
    [
        (2, "write 2.0, not 2"),
        ([1.0, 2.0], "1 loss, got 2"),
        ({}, "1 loss, got 0"),
        ([float("nan")], "finite"),
        ("2.0", "must be a float"),
    ],
)
def test_bad_loss_weights_are_refused_at_compile(loss_weights, message):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    with pytest.raises(ValueError, match=message):
        model.compile(loss="mse", loss_weights=loss_weights)
    assert not model.compiled


def test_loss_weights_scale_the_loss_not_the_penalties():
    x, y = _data()
    reg = {"kernel_regularizer": K.regularizers.L2(0.5)}
    plain = K.Sequential([K.Input((3,)), K.layers.Dense(1, **reg)])
    plain.compile(loss="mse")
    weighted = K.Sequential([K.Input((3,)), K.layers.Dense(1, **reg)])
    weighted.compile(loss="mse", loss_weights=3.0)
    weighted.set_weights(plain.get_weights())
    penalty = sum(plain.losses)
    assert weighted.evaluate(x, y, verbose=0) - penalty == pytest.approx(
        3 * (plain.evaluate(x, y, verbose=0) - penalty)
    )


def test_weighted_metrics_are_named_as_keras_logs_them():
    def metrics(names):
        return [K.metrics.get(n) for n in names]

    named = data.keras_metric_names(metrics(["mse", "mse", "mae"]), metrics(["mse", "mse", "accuracy", "mae"]))
    assert [m.name for m in named] == [
        "mse",
        "mse_1",
        "mae",
        "weighted_mse",
        "weighted_mse_1",
        "accuracy",
        "weighted_mae",
    ]


def test_weighted_metrics_take_the_sample_weights_and_plain_metrics_do_not():
    x, y = _data(8)
    sw = np.array([1, 0, 0, 0, 0, 0, 0, 0], np.float32)
    model = _model(metrics=["mse"], weighted_metrics=["mse"])
    logs = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    assert logs["weighted_mse"] == pytest.approx(float(((out[0] - y[0]) ** 2).item()), rel=1e-5)
    assert logs["mse"] == pytest.approx(float(((out - y) ** 2).mean()), rel=1e-5)


# ------------------------------------------------------------------------------------------- hooks


def test_constraints_are_applied_after_every_update():
    x, y = _data()
    model = K.Sequential(
        [K.Input((3,)), K.layers.Dense(2, kernel_constraint=K.constraints.NonNeg()), K.layers.Dense(1)]
    )
    model.compile(loss="mse", optimizer=K.optimizers.SGD(0.5))
    model.fit(x, -10 * y, epochs=2, verbose=0)
    assert (model.layers[0].kernel >= 0).all()


def test_activity_penalties_count_in_the_loss():
    x, y = _data()
    penalized = K.Sequential([K.Input((3,)), K.layers.Dense(1, activity_regularizer=K.regularizers.L2(1.0))])
    penalized.compile(loss="mse")
    plain = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    plain.compile(loss="mse")
    plain.set_weights(penalized.get_weights())
    out = plain.predict(x, verbose=0)
    activity = float((out.astype(np.float64) ** 2).sum() / len(x))
    assert penalized.evaluate(x, y, verbose=0, batch_size=len(x)) == pytest.approx(
        plain.evaluate(x, y, verbose=0, batch_size=len(x)) + activity, rel=1e-4
    )


def test_finalize_variable_values_runs_once_before_on_train_end(monkeypatch):
    x, y = _data()
    model = _model()
    order = []
    monkeypatch.setattr(
        model.optimizer, "finalize_variable_values", lambda params: order.append("finalize"), raising=False
    )

    class End(K.callbacks.Callback):
        def on_train_end(self, logs=None):
            order.append("on_train_end")

    model.fit(x, y, epochs=2, verbose=0, callbacks=[End()])
    assert order == ["finalize", "on_train_end"]


def test_crossentropy_is_resolved_from_the_data():
    x, y = _data(classes=3)
    model = _model(units=3, activation="softmax", loss="crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert type(model._loss).__name__ == "SparseCategoricalCrossentropy"


def test_predict_calls_keras_predict_hooks():
    x, _ = _data(10)
    calls = []

    class Record(K.callbacks.Callback):
        def on_predict_begin(self, logs=None):
            calls.append("begin")

        def on_predict_batch_end(self, batch, logs=None):
            calls.append((batch, logs["outputs"].shape))

        def on_predict_end(self, logs=None):
            calls.append("end")

    _model().predict(x, batch_size=4, verbose=0, callbacks=Record())
    assert calls == ["begin", (0, (4, 1)), (1, (4, 1)), (2, (2, 1)), "end"]
