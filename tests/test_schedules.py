"""Learning-rate schedules (``keras.optimizers.schedules``): values against their formulas, use by optimizers
and ``fit``, configs, and errors. ``test_callbacks_parity.py`` checks fits with them against Keras."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradfit as tf
from gradfit import schedules

K = tf.keras
S = K.optimizers.schedules

STEPS = [0, 1, 2, 5, 9, 10, 11, 25, 100]


def test_import_paths():
    from gradfit.keras.optimizers.schedules import ExponentialDecay
    from gradfit.optimizers.schedules import CosineDecay

    assert ExponentialDecay is schedules.ExponentialDecay is tf.optimizers.schedules.ExponentialDecay
    assert CosineDecay is S.CosineDecay
    for name in ("LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay"):
        assert hasattr(S, name)


@pytest.mark.parametrize("step", STEPS)
def test_exponential_decay(step):
    assert S.ExponentialDecay(0.1, 10, 0.5)(step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-12)
    assert S.ExponentialDecay(0.1, 10, 0.5, staircase=True)(step) == pytest.approx(
        0.1 * 0.5 ** math.floor(step / 10), rel=1e-12
    )


def test_schedules_return_python_floats_and_accept_numpy_steps():
    lr = S.ExponentialDecay(0.1, 10, 0.5)
    assert type(lr(3)) is float
    assert lr(np.int64(3)) == lr(3.0) == lr(3)
    assert type(S.PiecewiseConstantDecay([1], [1, 2])(0)) is float


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 1.0), (9, 1.0), (10, 1.0), (10.5, 0.5), (11, 0.5), (20, 0.5), (21, 0.1), (1000, 0.1)],
)
def test_piecewise_constant_decay(step, expected):
    # values[0] up to and including the first boundary, then values[i] for boundaries[i-1] < step <= boundaries[i]
    assert S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])(step) == expected


@pytest.mark.parametrize("step", STEPS)
def test_cosine_decay(step):
    init, decay_steps, alpha = 0.2, 20, 0.1
    s = min(step, decay_steps)
    expected = init * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)
    assert S.CosineDecay(init, decay_steps, alpha=alpha)(step) == pytest.approx(expected, rel=1e-12)
    assert S.CosineDecay(init, decay_steps)(decay_steps + 5) == 0.0  # alpha 0: down to 0 and stays


@pytest.mark.parametrize("step", [0, 1, 3, 4, 5, 6, 10, 24, 25, 40])
def test_cosine_decay_with_warmup(step):
    init, target, warmup, decay_steps, alpha = 0.0, 0.1, 5, 20, 0.05
    lr = S.CosineDecay(init, decay_steps, alpha=alpha, warmup_target=target, warmup_steps=warmup)
    if step < warmup:  # linear from init to target
        expected = init + (target - init) * step / warmup
    else:  # then cosine from target over decay_steps
        s = min(step - warmup, decay_steps)
        expected = target * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)
    assert lr(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("step", STEPS)
def test_polynomial_and_inverse_time_decay(step):
    s = min(step, 10)
    expected = (0.1 - 0.01) * (1 - s / 10) ** 2 + 0.01
    assert S.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)(step) == pytest.approx(expected, rel=1e-12)
    # cycle: decay_steps becomes the first multiple of 10 at or above the step
    period = 10 * max(1, math.ceil(step / 10))
    cycled = (0.1 - 0.01) * (1 - step / period) ** 2 + 0.01
    assert S.PolynomialDecay(0.1, 10, 0.01, power=2.0, cycle=True)(step) == pytest.approx(cycled, rel=1e-12)
    assert S.InverseTimeDecay(0.1, 10, 0.5)(step) == pytest.approx(0.1 / (1 + 0.5 * step / 10), rel=1e-12)
    assert S.InverseTimeDecay(0.1, 10, 0.5, staircase=True)(step) == pytest.approx(
        0.1 / (1 + 0.5 * math.floor(step / 10)), rel=1e-12
    )


@pytest.mark.parametrize(
    ("step", "start", "period", "restart"), [(0, 0, 10, 0), (5, 0, 10, 0), (15, 10, 20, 1), (40, 30, 40, 2)]
)
def test_cosine_decay_restarts(step, start, period, restart):
    # first period 10 steps, then 20 (t_mul 2), then 40; each restart starts at init * m_mul ** i
    init, alpha, m_mul = 0.1, 0.1, 0.5
    fraction = (step - start) / period
    expected = init * ((1 - alpha) * 0.5 * m_mul**restart * (1 + math.cos(math.pi * fraction)) + alpha)
    lr = S.CosineDecayRestarts(init, 10, t_mul=2.0, m_mul=m_mul, alpha=alpha)
    assert lr(step) == pytest.approx(expected, rel=1e-9)
    same_length = S.CosineDecayRestarts(init, 10, t_mul=1.0, alpha=alpha)
    assert same_length(step) == pytest.approx(
        init * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * (step % 10) / 10)) + alpha), rel=1e-9
    )


@pytest.mark.parametrize(
    "schedule",
    [
        S.ExponentialDecay(0.1, 10, 0.5, staircase=True),
        S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
        S.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.2, warmup_steps=10),
        S.PolynomialDecay(0.1, 10, 0.01, 2.0, cycle=True),
        S.InverseTimeDecay(0.1, 10, 0.5),
        S.CosineDecayRestarts(0.1, 10, 2.0, 0.5, 0.1),
    ],
    ids=lambda s: type(s).__name__,
)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    again = type(schedule).from_config(config)
    assert again.get_config() == config
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]
    serialized = S.serialize(schedule)
    assert serialized == {
        "module": "keras.optimizers.schedules",
        "class_name": type(schedule).__name__,
        "config": config,
        "registered_name": None,
    }
    assert S.deserialize(serialized).get_config() == config


def test_keras_config_names():
    assert S.ExponentialDecay(0.1, 10, 0.5).get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "decay_rate": 0.5,
        "staircase": False,
        "name": "ExponentialDecay",
    }
    assert S.PiecewiseConstantDecay([1], [1.0, 0.5]).get_config()["name"] == "PiecewiseConstant"
    assert S.CosineDecay(0.1, 10).get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "alpha": 0.0,
        "name": "CosineDecay",
        "warmup_target": None,
        "warmup_steps": 0,
    }


# ------------------------------------------------------------------------------------------- with optimizers


class Halving(S.LearningRateSchedule):
    def __init__(self, every):
        self.every = every

    def __call__(self, step):
        return 1.0 / 2 ** (step // self.every)

    def get_config(self):
        return {"every": self.every}


@pytest.mark.parametrize("cls", [K.optimizers.SGD, K.optimizers.Adam, K.optimizers.RMSprop, K.optimizers.Adagrad])
def test_optimizers_take_a_schedule(cls):
    schedule = S.ExponentialDecay(0.1, 4, 0.5)
    opt = cls(learning_rate=schedule)
    # as Keras 3, learning_rate reads as the schedule's value at the current step
    assert opt.learning_rate == pytest.approx(0.1)
    params, grads = np.ones(3, np.float32), np.ones(3, np.float32)
    for _ in range(4):
        opt.apply(params, grads.copy())
    assert opt.iterations == 4
    assert opt.learning_rate == pytest.approx(0.05)
    assert opt.learning_rate.numpy() == pytest.approx(0.05)
    # and it cannot be set to a number, as Keras
    with pytest.raises(TypeError, match="learning rate is not settable"):
        opt.learning_rate = 0.01
    opt.learning_rate = S.PiecewiseConstantDecay([2], [1.0, 0.5])  # another schedule is fine
    assert opt.learning_rate == pytest.approx(0.5)


def test_optimizer_config_with_a_schedule():
    opt = K.optimizers.SGD(learning_rate=S.CosineDecay(0.1, 50, alpha=0.2), momentum=0.9)
    config = opt.get_config()
    assert config["learning_rate"] == {
        "module": "keras.optimizers.schedules",
        "class_name": "CosineDecay",
        "config": S.CosineDecay(0.1, 50, alpha=0.2).get_config(),
        "registered_name": None,
    }
    again = K.optimizers.SGD.from_config(config)
    assert isinstance(again._learning_rate, S.CosineDecay)
    assert again.momentum == 0.9 and again.learning_rate == pytest.approx(0.1)


def test_custom_schedule_subclass():
    opt = K.optimizers.SGD(Halving(2))
    params = np.zeros(1, np.float32)
    for _ in range(5):
        opt.apply(params, np.ones(1, np.float32))
    # steps 0..4 used rates 1, 1, 0.5, 0.5, 0.25
    assert params[0] == pytest.approx(-3.25)
    assert opt.learning_rate == pytest.approx(0.25)
    config = S.serialize(Halving(3))
    assert config["class_name"] == "Halving" and config["config"] == {"every": 3}
    assert S.deserialize(config, custom_objects={"Halving": Halving}).every == 3
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'Halving'.*custom_objects"):
        S.deserialize(config)


def test_fit_with_exponential_decay_matches_a_hand_rolled_loop():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 3))
    y = x @ np.array([[1.5], [-0.5], [2.0]]) - 0.25
    model = K.Sequential([K.Input(shape=(3,)), K.layers.Dense(1)])
    schedule = S.ExponentialDecay(0.2, decay_steps=3, decay_rate=0.5)
    model.compile(optimizer=K.optimizers.SGD(schedule), loss="mse")
    w, b = (v.astype(np.float64) for v in model.get_weights())
    model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)

    t = 0
    for _ in range(4):
        for start in range(0, 24, 8):
            xb, yb = x[start : start + 8], y[start : start + 8]
            err = xb @ w + b - yb
            lr = 0.2 * 0.5 ** (t / 3)  # the schedule at the step count before the update
            w = w - lr * (2 / 8) * xb.T @ err
            b = b - lr * (2 / 8) * err.sum(axis=0)
            t += 1
    assert model.optimizer.iterations == 12
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5)
    assert model.optimizer.learning_rate == pytest.approx(0.2 * 0.5**4)


def test_fit_with_piecewise_constant_changes_the_step_size():
    # one example, one weight, loss (w x - y)^2 with x = 1, y = 0: each step is w -= lr * 2 w
    model = K.Sequential([K.Input(shape=(1,)), K.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=K.optimizers.SGD(S.PiecewiseConstantDecay([1], [0.25, 0.125])), loss="mse")
    model.fit(np.ones((1, 1)), np.zeros((1, 1)), epochs=3, verbose=0)
    # steps 0, 1 use 0.25 (step <= 1), step 2 uses 0.125
    assert model.get_weights()[0][0, 0] == pytest.approx(1.0 * 0.5 * 0.5 * 0.75)


# ------------------------------------------------------------------------------------------- errors


def test_schedule_errors():
    with pytest.raises(ValueError, match="strictly increasing.*20.*10"):
        S.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        S.PiecewiseConstantDecay([10, 10], [1.0, 0.5, 0.1])
    with pytest.raises(ValueError, match="1 less than the length of values"):
        S.PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    for make in (
        lambda: S.ExponentialDecay(0.1, 0, 0.5),
        lambda: S.CosineDecay(0.1, -1),
        lambda: S.PolynomialDecay(0.1, 0),
        lambda: S.InverseTimeDecay(0.1, 0, 0.5),
    ):
        with pytest.raises(ValueError, match="decay_steps` must be > 0"):
            make()
    with pytest.raises(ValueError, match="first_decay_steps` must be > 0"):
        S.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="initial_learning_rate must be a finite number"):
        S.ExponentialDecay("0.1", 10, 0.5)
    with pytest.raises(ValueError, match="warmup_steps"):
        S.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1)
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        S.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        S.LearningRateSchedule().get_config()
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        S.serialize(0.1)
    with pytest.raises(ValueError, match="class_name"):
        S.deserialize({"config": {}})
