"""The base optimizer's Keras settings: the moving average of the weights (``use_ema``, ``ema_momentum``,
``ema_overwrite_frequency``) and gradient accumulation (``gradient_accumulation_steps``).

Step by step against Keras's rules written out by hand (``tests/optimizer_rules.keras_apply``, itself checked
against Keras in ``tests/parity/test_optimizers_ema_parity.py``), then the variables they add (Keras's names and
order), saving and loading, the checks of their values, and the copy of the state a training loop restores.
"""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import optimizers, schedules, schema
from gradfit.parameters import ParameterStore
from gradfit.training import _Step

from . import optimizer_rules as rules


def _make(cls_name: str, kwargs: dict):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), list):
        name, settings = kwargs["learning_rate"]
        kwargs["learning_rate"] = getattr(schedules, name)(**settings)
    return getattr(optimizers, cls_name)(**kwargs)


@pytest.mark.parametrize("case", rules.EMA_CASES, ids=[c[0] for c in rules.EMA_CASES])
def test_each_micro_step_follows_keras_rule(case):
    case_id, cls_name, kwargs, step, rule_kwargs = case
    want, want_averages = rules.keras_apply(step, **rule_kwargs)
    opt = _make(cls_name, kwargs)
    # gradfit's schedules compute in float64 where Keras's compute in float32 (gradfit/schedules.py): the rate
    # then differs by a float32 rounding
    rtol, atol = (1e-6, 1e-7) if "schedule" in rule_kwargs else (1e-12, 1e-15)
    w = rules.W0.copy()
    for k, g in enumerate(rules.GRADS):
        opt.apply(w, g)
        np.testing.assert_allclose(w, want[k], rtol=rtol, atol=atol, err_msg=f"{case_id} step {k + 1}")
        if opt.use_ema:
            np.testing.assert_allclose(opt.averages, want_averages[k], rtol=rtol, atol=atol, err_msg=case_id)


def test_the_average_starts_as_the_weights_and_is_written_at_finalize():
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    w = np.array([1.0, 2.0])
    opt.apply(w, np.array([1.0, 1.0]))  # first step: iterations == 0, so average = w exactly
    np.testing.assert_array_equal(opt.averages, w)
    opt.apply(w, np.array([1.0, 1.0]))
    np.testing.assert_allclose(opt.averages, 0.9 * np.array([0.9, 1.9]) + 0.1 * np.array([0.8, 1.8]), rtol=1e-15)
    assert not np.array_equal(w, opt.averages)  # no overwrite frequency: only finalize writes it
    average = opt.averages.copy()
    opt.finalize_variable_values(w)
    np.testing.assert_array_equal(w, average)


def test_finalize_takes_the_vector_the_store_or_the_weight_list():
    store = ParameterStore([(2, 3), (3,)], "float32")
    store.values[...] = np.arange(store.size, dtype=np.float32)
    opt = optimizers.Adam(0.1, use_ema=True)
    opt.build(store)
    for g in np.random.default_rng(0).normal(size=(3, store.size)).astype(np.float32):
        opt.apply(store.values, g)
    average = opt.averages.copy()
    for target in (store, store.values):
        store.values[...] = 0
        opt.finalize_variable_values(target)
        np.testing.assert_array_equal(store.values, average)
    store.values[...] = 0
    opt.finalize_variable_values(store.weights())
    np.testing.assert_array_equal(store.values, average)
    with pytest.raises(ValueError, match="finalize_variable_values"):
        opt.finalize_variable_values(np.zeros(3, np.float32))


def test_finalize_without_ema_changes_nothing():
    opt = optimizers.Adam(0.1)
    w = np.array([1.0, 2.0])
    opt.apply(w, np.array([1.0, -1.0]))
    before = w.copy()
    opt.finalize_variable_values(w)
    np.testing.assert_array_equal(w, before)
    assert "averages" not in opt._slots  # off: no state, no work per step
    optimizers.Adam(use_ema=True).finalize_variable_values(w)  # not built yet: nothing to write


def test_accumulation_counts_updates_and_the_schedule_counts_micro_steps():
    seen = []

    class Recorded(schedules.LearningRateSchedule):
        def __call__(self, step):
            seen.append(int(step))
            return 0.1

    opt = optimizers.SGD(Recorded(), gradient_accumulation_steps=3)
    w = np.zeros(2)
    for _ in range(7):
        opt.apply(w, np.ones(2))
    assert seen == list(range(7))  # Keras's schedule sees _iterations, every micro-step
    assert opt.iterations == 2 and opt._iterations == 7  # Keras: optimizer.iterations = _iterations // N
    np.testing.assert_allclose(w, [-0.2, -0.2], rtol=1e-15)  # two updates with the mean gradient 1
    np.testing.assert_array_equal(opt.gradient_accumulators, [1.0, 1.0])  # the 7th is waiting


def test_accumulation_leaves_the_weights_alone_between_updates():
    opt = optimizers.Adam(0.1, gradient_accumulation_steps=2)
    w = np.array([1.0, -1.0])
    opt.apply(w, np.array([3.0, 1.0]))
    np.testing.assert_array_equal(w, [1.0, -1.0])
    np.testing.assert_array_equal(opt.momentums, [0.0, 0.0])  # the rule has not run
    opt.apply(w, np.array([1.0, 1.0]))  # the mean (2, 1), Adam's first step: -lr sign(g) to rounding
    np.testing.assert_allclose(w, [0.9, -1.1], rtol=1e-6)
    np.testing.assert_array_equal(opt.gradient_accumulators, [0.0, 0.0])


def test_keras_variables_are_named_and_ordered_as_keras_saves_them():
    # Keras 3.15 (a model.weights.h5 written by TF): iteration, learning_rate, every weight's average, every
    # weight's gradient_accumulator, then the optimizer's own (Adam: momentum and velocity interleaved)
    opt = optimizers.Adam(use_ema=True, gradient_accumulation_steps=2)
    labels = [label for label, _ in opt.keras_variable_specs([(3, 2), (2,)])]
    assert labels == [
        "average/0",
        "average/1",
        "gradient_accumulator/0",
        "gradient_accumulator/1",
        "momentum/0",
        "velocity/0",
        "momentum/1",
        "velocity/1",
    ]
    assert [label for label, _ in optimizers.Adam().keras_variable_specs([(3, 2)])] == ["momentum/0", "velocity/0"]


def test_config_round_trips_and_files_are_checked():
    opt = optimizers.RMSprop(
        0.01, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=4, gradient_accumulation_steps=3
    )
    config = opt.get_config()
    assert (config["use_ema"], config["ema_momentum"], config["ema_overwrite_frequency"]) == (True, 0.5, 4)
    assert config["gradient_accumulation_steps"] == 3
    again = schema.construct(optimizers.RMSprop, json.loads(json.dumps(config)), "optimizer", "optimizer")
    assert again.get_config() == config
    for key, bad in [
        ("use_ema", "true"),
        ("ema_momentum", 1.5),
        ("ema_overwrite_frequency", -1),
        ("ema_overwrite_frequency", 2.0),
        ("gradient_accumulation_steps", 1),
        ("gradient_accumulation_steps", "2"),
    ]:
        with pytest.raises(schema.ModelFileError, match=key):
            schema.construct(optimizers.RMSprop, {**config, key: bad}, "optimizer", "optimizer")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ema_momentum": 1.5},
        {"ema_momentum": -0.1},
        {"ema_momentum": float("nan")},
        {"ema_overwrite_frequency": -2},
        {"ema_overwrite_frequency": 1.5},
        {"gradient_accumulation_steps": 1},
        {"gradient_accumulation_steps": 2.5},
        {"gradient_accumulation_steps": True},
        {"use_ema": "yes"},
    ],
    ids=lambda k: f"{next(iter(k))}={next(iter(k.values()))}",
)
def test_bad_settings_are_refused_naming_the_argument(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        optimizers.Adam(**kwargs)


def test_zero_switches_off_as_in_keras():
    # Keras tests `if gradient_accumulation_steps:` and `if self.ema_overwrite_frequency:`
    opt = optimizers.SGD(0.1, use_ema=True, ema_overwrite_frequency=0, gradient_accumulation_steps=0)
    w = np.array([1.0])
    opt.apply(w, np.array([1.0]))
    np.testing.assert_allclose(w, [0.9])
    assert opt.iterations == 1 and "gradient_accumulators" not in opt._slots


def _model(opt):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(2)])
    model.compile(optimizer=opt, loss="mse")
    model.set_weights([np.random.default_rng(4).normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 2)).astype(np.float32)


def _settings():
    return {"use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 2, "gradient_accumulation_steps": 3}


def test_a_saved_model_continues_exactly(tmp_path):
    x, y = _data()
    straight = _model(optimizers.Adam(0.05, **_settings()))
    for _ in range(4):
        straight.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)  # 3 micro-steps an epoch
    first = _model(optimizers.Adam(0.05, **_settings()))
    for _ in range(2):
        first.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    first.save(tmp_path / "m.keras")
    loaded = K.models.load_model(tmp_path / "m.keras")
    opt = loaded.optimizer
    assert opt.get_config() == first.optimizer.get_config()
    assert opt._iterations == 6 and opt.iterations == 2
    for name in ("averages", "gradient_accumulators", "momentums", "velocities"):
        np.testing.assert_array_equal(opt.slot(name), first.optimizer.slot(name), err_msg=name)
    for _ in range(2):
        loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_snapshot_and_restore_put_every_piece_of_state_back():
    store = ParameterStore([(3, 2), (2,)], "float32")
    store.values[...] = np.random.default_rng(1).normal(size=store.size)
    opt = optimizers.Nadam(0.05, **_settings())  # slots, a scalar (u_product), the average, the accumulators
    opt.build(store)
    grads = np.random.default_rng(2).normal(size=(10, store.size)).astype(np.float32)
    for g in grads[:4]:
        opt.apply(store.values, g)
    reference = copy.deepcopy(opt)  # never diverges: it holds a copy of the store (and the weights in it)
    saved, weights = opt._snapshot(), store.values.copy()
    buffers = {name: buffer for name, buffer in opt._slots.items()}
    opt.learning_rate = 0.5  # a callback changed it
    for g in grads[4:]:
        opt.apply(store.values, g)
    opt._restore(saved)
    store.values[...] = weights
    assert opt._iterations == reference._iterations and opt.u_product == reference.u_product
    assert float(opt.learning_rate) == 0.05
    for name, buffer in opt._slots.items():
        assert buffer is buffers[name]  # in place: the same arrays
        np.testing.assert_array_equal(buffer, reference._slots[name], err_msg=name)
    for g in grads[4:]:  # and it goes on exactly as if nothing had happened
        opt.apply(store.values, g)
        reference.apply(reference._store.values, g)
    np.testing.assert_array_equal(store.values, reference._store.values)


def test_a_snapshot_before_the_first_step_restores_the_initial_state():
    opt = optimizers.Adam(0.1, use_ema=True)
    saved = opt._snapshot()
    w = np.array([1.0, 2.0])
    opt.apply(w, np.array([1.0, 1.0]))
    opt._restore(saved)
    assert opt.iterations == 0
    for buffer in opt._slots.values():
        np.testing.assert_array_equal(buffer, 0.0)


def test_pickling_keeps_the_settings_and_the_state():
    opt = optimizers.SGD(0.1, momentum=0.5, **_settings())
    w = np.array([1.0, 2.0])
    for _ in range(4):
        opt.apply(w, np.array([1.0, -1.0]))
    again = pickle.loads(pickle.dumps(opt))
    assert again.get_config() == opt.get_config() and again._iterations == 4 and again.iterations == 1
    np.testing.assert_array_equal(again.averages, opt.averages)


def test_freezing_a_layer_keeps_each_weights_average_and_accumulator():
    x, y = _data()
    model = _model(optimizers.Adam(0.05, **_settings()))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)  # 6 micro-steps
    opt = model.optimizer
    n0 = sum(w.size for w in model.layers[0].trainable_weights)
    kept = {name: opt.slot(name)[n0:].copy() for name in ("averages", "gradient_accumulators")}
    first = {name: opt.slot(name)[:n0].copy() for name in ("averages", "gradient_accumulators")}
    model.layers[0].trainable = False
    _Step(model)  # what fit does first: the state re-laid out for the last layer's weights only
    for name, value in kept.items():
        np.testing.assert_array_equal(opt.slot(name), value, err_msg=name)
    frozen = model.layers[0].get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(got, want)  # finalize wrote the average of the trainable weights only
    model.layers[0].trainable = True
    _Step(model)
    for name, value in first.items():
        np.testing.assert_array_equal(opt.slot(name)[:n0], value, err_msg=name)  # parked, then back


def test_explain_shows_the_average_and_the_accumulation():
    text = optimizers.SGD(0.1, **_settings()).describe()
    assert text.startswith("SGD: w = w - alpha * dJ/dw")
    assert "every 3 steps, with g the mean of the last 3 gradients" in text
    assert "average = 0.8*average + 0.2*w, and w = average every 2 updates (w = average at the end of fit)" in text
    assert optimizers.SGD(0.1).describe() == "SGD: w = w - alpha * dJ/dw"
