"""Optimizer misuse: every bad argument is refused where it is given (the constructor, the setter, the step),
with a ValueError naming the argument, and a refused call leaves the weights and the optimizer state exactly as
they were (bit for bit).

For every registered optimizer (``registry.OPTIMIZERS``), every field of its config schema is tried with values of
the wrong type and out of range, as Python code gives them (the safe loader's JSON mode is tested with files).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradfit import optimizers, registry, schedules, schema

ENTRIES = list(registry.OPTIMIZERS)
IDS = [e.name for e in ENTRIES]


def _state(opt, w) -> dict:
    """Everything a step could change, copied."""
    return {
        "w": w.copy(),
        "iterations": opt._iterations,
        "slots": {k: v.copy() for k, v in opt._slots.items()},
        "scalars": {s.name: getattr(opt, s.name) for s in opt.scalar_specs()},
        "lr": opt._learning_rate,
    }


def _assert_same(before: dict, after: dict) -> None:
    np.testing.assert_array_equal(after["w"], before["w"])
    assert after["iterations"] == before["iterations"]
    assert after["scalars"] == before["scalars"] and after["lr"] is before["lr"]
    assert set(after["slots"]) == set(before["slots"])
    for k, v in before["slots"].items():
        assert after["slots"][k].tobytes() == v.tobytes(), k


# ------------------------------------------------------------------------------------- the constructors


def test_a_learning_rate_that_is_not_a_number_names_the_argument():
    with pytest.raises(ValueError, match=r"learning_rate must be a non-negative number or a schedule, got 'fast'"):
        optimizers.Adam(learning_rate="fast")
    for bad in (float("nan"), float("inf"), -0.1, True, [0.1]):
        with pytest.raises(ValueError, match="learning_rate"):
            optimizers.SGD(learning_rate=bad)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: optimizers.Adam(beta_1=1.0), "beta_1"),  # Keras accepts it and its weights become NaN
        (lambda: optimizers.AdamW(beta_1=1.0), "beta_1"),
        (lambda: optimizers.Adamax(beta_1=1.0), "beta_1"),
        (lambda: optimizers.Nadam(beta_2=1.0), "beta_2"),
        (lambda: optimizers.Adam(beta_1=1.5), "beta_1"),
        (lambda: optimizers.Adam(beta_2=-0.1), "beta_2"),
        (lambda: optimizers.RMSprop(rho=1.1), "rho"),
        (lambda: optimizers.RMSprop(momentum=-0.5), "momentum"),
        (lambda: optimizers.SGD(momentum=1.5), "momentum"),
        (lambda: optimizers.Adadelta(rho=-1.0), "rho"),
        (lambda: optimizers.Lion(beta_1=0.0), "beta_1"),
        (lambda: optimizers.Adam(epsilon=-1e-7), "epsilon"),
        (lambda: optimizers.Ftrl(learning_rate=0.0), "learning_rate"),  # the rule divides by it
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_out_of_range_settings_are_refused_at_construction(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_beta_1_just_below_1_trains():
    w = np.array([1.0, -1.0])
    opt = optimizers.Adam(0.1, beta_1=0.999999)
    for _ in range(3):
        opt.apply(w, np.array([1.0, -1.0]))
    assert np.isfinite(w).all()


@pytest.mark.parametrize("key", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_clipping_is_checked_at_construction(entry, key):
    for bad in ("1.0", -1.0, 0.0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match=key):
            entry.obj(**{key: bad})


#: values no numeric, boolean or count setting accepts (a string, a list, NaN, infinity)
_WRONG = ["1.0", [1], float("nan"), float("inf")]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_setting_of_every_optimizer_is_checked_in_python(entry):
    fields = entry.obj.config_schema.fields
    for key in fields:
        if key == "name":
            continue
        for bad in _WRONG:
            with pytest.raises((ValueError, NotImplementedError), match=key):
                entry.obj(**{key: bad})


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_setting_of_every_optimizer_is_checked_in_files(entry):
    config = entry.obj().get_config()
    for key in config:
        if key == "name":
            continue
        for bad in ("1.0", [1], True if not isinstance(config[key], bool) else "false"):
            with pytest.raises(schema.ModelFileError, match=key):
                schema.construct(entry.obj, {**config, key: bad}, "optimizer", "optimizer")


def test_setting_a_bad_learning_rate_is_refused_and_keeps_the_old():
    opt = optimizers.Adam(0.01)
    for bad in ("fast", float("nan"), -1.0):
        with pytest.raises(ValueError, match="learning_rate"):
            opt.learning_rate = bad
    assert float(opt.learning_rate) == 0.01


# ------------------------------------------------------------------------------------- the step


def _trained(opt, n=3):
    w = np.linspace(-1, 1, 6)
    for k in range(n):
        opt.apply(w, np.cos(np.arange(6.0) + k))
    return w


def _full(cls=optimizers.Adam, **kwargs):
    return cls(
        0.05, use_ema=True, ema_overwrite_frequency=2, gradient_accumulation_steps=2, **kwargs
    )  # every piece of state the base class has


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_a_gradient_of_the_wrong_shape_is_refused_before_anything_changes(entry):
    opt = entry.obj(0.05, use_ema=True, gradient_accumulation_steps=2)
    w = _trained(opt)
    before = _state(opt, w)
    for bad in (np.ones(5), np.ones((6, 1)), np.ones(7)):
        with pytest.raises(ValueError, match="gradient"):
            opt.apply(w, bad)
        _assert_same(before, _state(opt, w))


class _Returns(schedules.LearningRateSchedule):
    def __init__(self, value):
        self.value = value

    def __call__(self, step):
        return self.value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, "fast", None])
def test_a_schedule_returning_garbage_is_refused_before_anything_changes(value):
    opt = _full(optimizers.Nadam, weight_decay=0.1)
    opt.learning_rate = _Returns(0.01)
    w = _trained(opt, 4)
    before = {**_state(opt, w), "lr": None}
    opt._learning_rate = bad_schedule = _Returns(value)
    with pytest.raises(ValueError, match=r"learning_rate schedule .* returned"):
        opt.apply(w, np.ones(6))
    _assert_same(before, {**_state(opt, w), "lr": None})
    assert opt._learning_rate is bad_schedule


def test_ftrl_refuses_a_schedule_reaching_zero_before_anything_changes():
    opt = optimizers.Ftrl(_Returns(0.1), weight_decay=0.1)
    w = _trained(opt)
    opt._learning_rate = _Returns(0.0)
    before = _state(opt, w)
    with pytest.raises(ValueError, match="learning rate, which must stay positive"):
        opt.apply(w, np.ones(6))
    _assert_same(before, _state(opt, w))


def test_assigning_keras_variables_of_a_wrong_shape_changes_nothing():
    opt = _full()
    w = _trained(opt)
    before = _state(opt, w)
    values = [v for _, v in opt.keras_variables()]
    values[-1] = np.zeros(7)  # the last one is wrong: the others must not have been written either
    values[0] = values[0] + 1.0
    with pytest.raises(ValueError, match="velocity/0"):
        opt.assign_keras_variables(values)
    _assert_same(before, _state(opt, w))


def test_the_checks_accept_numpy_scalars():
    opt = optimizers.Adam(
        np.float32(0.01),
        beta_1=np.float64(0.8),
        use_ema=np.bool_(True),
        ema_overwrite_frequency=np.int64(3),
        gradient_accumulation_steps=np.int32(2),
    )
    assert opt.ema_overwrite_frequency == 3 and opt.gradient_accumulation_steps == 2 and opt.use_ema is True
    assert math.isclose(float(opt.learning_rate), 0.01, rel_tol=1e-7)
