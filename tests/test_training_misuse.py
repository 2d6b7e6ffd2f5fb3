"""Misuse of the training API (issue #11): each refused call names the problem, and leaves the weights and the
optimizer's state bit-identical; a non-finite loss during fit stops with an error and the last finite state back."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit.keras as K
from gradfit.training import NonFiniteLossError


def _model(units: int = 1, activation: str = "sigmoid", loss="binary_crossentropy", optimizer=None):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(units, activation)])
    model.compile(loss=loss, optimizer=optimizer or K.optimizers.Adam(0.01))
    return model


def _data(n: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32)


def _state(model) -> dict:
    """Every weight and every optimizer variable (slots, iterations), copied."""
    opt = model.optimizer
    return {
        "weights": [w.copy() for w in model.get_weights()],
        "optimizer": [np.array(v, copy=True) for v in opt.variables] if opt.built else None,
        "iterations": opt.iterations,
    }


def _assert_same(before: dict, after: dict) -> None:
    assert len(before["weights"]) == len(after["weights"])
    for a, b in zip(before["weights"], after["weights"]):
        assert a.tobytes() == b.tobytes()
    assert before["iterations"] == after["iterations"]
    if before["optimizer"] is not None:
        assert len(before["optimizer"]) == len(after["optimizer"])
        for a, b in zip(before["optimizer"], after["optimizer"]):
            assert a.tobytes() == b.tobytes()


@pytest.fixture
def trained():
    """A model trained one epoch (its optimizer has state)."""
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    return model, x, y


BAD_FIT_CALLS = [
    ("class_weight_nan", {"class_weight": {0: float("nan"), 1: 1.0}}, r"class_weight\[0\] is nan"),
    ("class_weight_negative", {"class_weight": {0: 1.0, 1: -2.0}}, r"class_weight\[1\].*negative"),
    ("class_weight_huge", {"class_weight": {0: 1e300, 1: 1.0}}, r"class_weight\[0\].*float32"),
    ("class_weight_inf", {"class_weight": {0: float("inf")}}, r"class_weight\[0\] is inf"),
    ("class_weight_string_key", {"class_weight": {"a": 1.0}}, r"class indices \(integers\), got 'a'"),
    ("class_weight_string_value", {"class_weight": {0: "big"}}, r"class_weight\[0\] must be a number"),
    ("class_weight_and_sample_weight", {"class_weight": {0: 1.0}, "sample_weight": np.ones(20)}, "not both"),
    ("sample_weight_huge", {"sample_weight": np.full(20, 1e300)}, "sample_weight has 20 value.*float32"),
    ("validation_freq_0", {"validation_freq": 0, "validation_split": 0.2}, "validation_freq must be a positive"),
    ("validation_freq_float", {"validation_freq": 1.5}, "validation_freq must be a positive"),
    ("validation_freq_tuple", {"validation_freq": (1, 2)}, "validation_freq must be a positive"),
    ("validation_freq_list_of_0", {"validation_freq": [0, 2]}, "validation_freq as a list"),
    ("steps_per_epoch_0", {"steps_per_epoch": 0}, "steps_per_epoch must be a positive integer"),
    ("validation_steps_float", {"validation_steps": 1.5}, "validation_steps must be a positive integer"),
    ("callbacks_not_callbacks", {"callbacks": "early"}, "callbacks must be"),
]


@pytest.mark.parametrize(("kwargs", "message"), [c[1:] for c in BAD_FIT_CALLS], ids=[c[0] for c in BAD_FIT_CALLS])
def test_bad_fit_arguments_are_refused_and_change_nothing(trained, kwargs, message):
    model, x, y = trained
    before = _state(model)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(x, y, epochs=2, verbose=0, **kwargs)
    _assert_same(before, _state(model))


def test_class_weight_key_of_10_to_the_12_does_not_allocate_a_table(trained):
    model, x, y = trained
    history = model.fit(x, y, epochs=1, verbose=0, class_weight={10**12: 5.0, 0: 2.0})
    assert np.isfinite(history.history["loss"][0])


def test_train_on_batch_refuses_class_weight_with_sample_weight(trained):
    model, x, y = trained
    before = _state(model)
    with pytest.raises(ValueError, match="sample_weight or class_weight, not both"):
        model.train_on_batch(x, y, sample_weight=np.ones(len(x)), class_weight={0: 1.0})
    _assert_same(before, _state(model))


@pytest.mark.parametrize("who", ["fit", "evaluate", "predict"])
def test_float64_data_beyond_float32_is_refused_naming_x(trained, who):
    model, x, y = trained
    big = x.astype(np.float64)
    big[3, 1] = 1e39  # finite in float64, inf in the model's float32
    before = _state(model)
    with pytest.raises(ValueError, match=r"x has 1 value\(s\) beyond the range of float32"):
        if who == "fit":
            model.fit(big, y, verbose=0)
        elif who == "evaluate":
            model.evaluate(big, y, verbose=0)
        else:
            model.predict(big, verbose=0)
    _assert_same(before, _state(model))


def test_targets_beyond_float32_are_refused_naming_y():
    x, y = _data()
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"y has 1 value\(s\) beyond the range of float32"):
        model.fit(x, np.where(np.arange(20)[:, None] == 2, 1e40, y.astype(np.float64)), verbose=0)


class _Unreadable:
    """Neither an array nor a source of batches gradfit knows (no __iter__, __array__, tocsr …)."""


@pytest.mark.parametrize("source", ["generator", "iterator"])
def test_a_stream_given_where_one_batch_is_needed_gets_its_own_message(trained, source):
    # fit / evaluate / predict read generators batch by batch (tests/test_adapters.py); *_on_batch take one batch
    model, x, y = trained
    batches = ((x[i : i + 5], y[i : i + 5]) for i in range(0, 20, 5)) if source == "generator" else iter(list(x))
    before = _state(model)
    for call in (lambda: model.predict_on_batch(batches), lambda: model.test_on_batch(batches, y)):
        with pytest.raises(ValueError, match="source of batches"):
            call()
    with pytest.raises(ValueError, match="source of batches"):
        model.train_on_batch(batches, y)
    _assert_same(before, _state(model))


def test_an_unreadable_x_is_refused_naming_its_type(trained):
    model, _, y = trained
    before = _state(model)
    for call in (lambda: model.fit(_Unreadable(), y, verbose=0), lambda: model.predict(_Unreadable(), verbose=0)):
        with pytest.raises(ValueError, match="x is a _Unreadable, which gradfit cannot read"):
            call()
    _assert_same(before, _state(model))


# ------------------------------------------------------------------------------------------- non-finite losses


class _EpochStates(K.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.states: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        self.states.append(_state(self.model))


class _PoisonAt(K.callbacks.Callback):
    """Makes the first weight NaN after training batch ``batch`` of epoch ``epoch`` (the next loss is NaN)."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            self.model.layers[0].kernel[0, 0] = np.nan


def test_non_finite_loss_stops_fit_and_puts_back_the_last_finite_epoch():
    x, y = _data(40)
    model = _model()
    states = _EpochStates()
    with pytest.raises(NonFiniteLossError, match=r"epoch 3/5, batch 2 .*is nan.*end of epoch 2"):
        model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[states, _PoisonAt(2, 1)])
    assert len(states.states) == 2
    _assert_same(states.states[-1], _state(model))  # weights, Adam's moments and iterations as after epoch 2


def test_non_finite_loss_in_the_first_epoch_puts_back_the_start_of_fit(trained):
    model, x, y = trained
    before = _state(model)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1/2, batch 1 .*the start of fit"):
        model.fit(x, y, epochs=2, batch_size=5, verbose=0, callbacks=[_PoisonAt(0, 0)])
    _assert_same(before, _state(model))


class _FreezeFirstAt(K.callbacks.Callback):
    """Freezes the first layer after training batch ``batch`` of epoch ``epoch`` (fit re-gathers the weights)."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            self.model.layers[0].trainable = False


def test_non_finite_loss_after_a_layer_was_frozen_puts_back_every_weight_and_moving_statistic():
    """The copy of the end of epoch 2 is put back through the layers, though a callback froze one since (the
    weights were re-gathered) and BatchNormalization's moving statistics moved."""
    x, y = _data(40)
    model = K.Sequential(
        [
            K.Input((3,)),
            K.layers.Dense(4, activation="tanh"),
            K.layers.BatchNormalization(),
            K.layers.Dense(1, "sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer=K.optimizers.Adam(0.01))
    states = _EpochStates()
    with pytest.raises(NonFiniteLossError, match=r"epoch 3/4, batch 2 .*end of epoch 2"):
        model.fit(
            x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
            callbacks=[states, _FreezeFirstAt(2, 0), _PoisonAt(2, 1)],
        )  # fmt: skip
    for a, b in zip(states.states[-1]["weights"], model.get_weights()):
        assert a.tobytes() == b.tobytes()
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, verbose=0)  # still usable
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_huge_inputs_train_to_an_error_not_to_nan_weights():
    x, y = _data()
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="relu"), K.layers.Dense(1)])
    model.compile(loss="mse", optimizer=K.optimizers.SGD(0.01))
    model.optimizer.build(model.parameter_store)
    before = _state(model)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError, match="epoch 1/3"):
        model.fit(x.astype(np.float64) * 1e30, y, epochs=3, verbose=0)
    after = _state(model)
    _assert_same(before, after)
    assert all(np.isfinite(w).all() for w in after["weights"])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NumPy's, as before: Keras's way is silent NaN
def test_terminate_on_nan_follows_keras_instead(capsys):
    x, y = _data(40)
    model = _model()
    history = model.fit(
        x, y, epochs=5, batch_size=8, verbose=0, callbacks=[_PoisonAt(1, 0), K.callbacks.TerminateOnNaN()]
    )
    assert len(history.history["loss"]) == 2  # stopped during epoch 2, which still ends (on_epoch_end)
    assert not np.isfinite(model.get_weights()[0]).all()  # left as they are, as Keras does
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_the_finite_check_costs_one_copy_per_epoch_not_per_step(monkeypatch):
    from gradfit import training

    taken = []
    original = training._LastFiniteState.take
    monkeypatch.setattr(
        training._LastFiniteState,
        "take",
        lambda self, epoch, store: (taken.append(epoch), original(self, epoch, store)),
    )
    x, y = _data(40)
    _model().fit(x, y, epochs=4, batch_size=4, verbose=0)
    assert taken == [None, 0, 1, 2]  # the start of fit, then after each epoch but the last
