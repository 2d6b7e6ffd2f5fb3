"""Optimizers step by step against Keras's update rules, written out by hand here (not taken from gradfit)."""

import numpy as np
import pytest

import gradfit
from gradfit import optimizers
from gradfit.keras import Input, Sequential
from gradfit.layers import Dense

from .optimizer_rules import CASES, GRADS, W0, adam, adam_alpha

EPS = 1e-7


def run(opt, w0=W0, grads=GRADS):
    """The weights after each step of ``opt`` on the flat float64 vector w0 (the gradients read-only: the
    optimizer contract says update never writes them)."""
    w = w0.copy()
    out = []
    for g in grads:
        g = g.copy()
        g.flags.writeable = False
        opt.apply(w, g)
        out.append(w.copy())
    return out


# --------------------------------------------------------------------------- Keras's rules, by hand
# (tests/optimizer_rules.py; tests/parity/test_optimizers_parity.py checks them against Keras's own float64 steps)


@pytest.mark.parametrize("name,cls,kwargs,rule,rule_kwargs", CASES, ids=[c[0] for c in CASES])
def test_steps_follow_the_keras_rule(name, cls, kwargs, rule, rule_kwargs):
    opt = getattr(optimizers, cls)(**kwargs)
    got = run(opt)
    want = rule(**rule_kwargs)
    for t, (w, e) in enumerate(zip(got, want), start=1):
        np.testing.assert_allclose(w, e, rtol=1e-12, atol=1e-15, err_msg=f"{name}, step {t}")
    assert opt.iterations == len(GRADS)
    assert not np.allclose(got[-1], W0)


def test_slots_read_as_keras_moments_after_each_step():
    # Adam keeps m / (1 - b1) and v / (1 - b2), RMSprop v / (1 - rho), to save passes; reading them (and
    # `variables`, and what saving writes) gives Keras's m and v
    adam_opt, rms_opt = optimizers.Adam(0.1, amsgrad=True), optimizers.RMSprop(0.01, momentum=0.5)
    w_adam, w_rms = W0.copy(), W0.copy()
    m, v, vhat, v_rms, mom = (np.zeros_like(W0) for _ in range(5))
    for g in GRADS:
        adam_opt.apply(w_adam, g.copy())
        rms_opt.apply(w_rms, g.copy())
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        vhat = np.maximum(vhat, v)
        mom = 0.5 * mom + 0.01 * g / np.sqrt((v_rms := 0.9 * v_rms + 0.1 * g**2) + EPS)
        np.testing.assert_allclose(adam_opt.momentums, m, rtol=1e-13)
        np.testing.assert_allclose(adam_opt.velocities, v, rtol=1e-13)
        np.testing.assert_allclose(adam_opt.velocity_hats, vhat, rtol=1e-13)
        np.testing.assert_allclose(rms_opt.velocities, v_rms, rtol=1e-13)
        np.testing.assert_allclose(rms_opt.momentums, mom, rtol=1e-13)
    with pytest.raises(ValueError, match="read-only"):  # a scaled slot's Keras view is a copy: no silent writes
        adam_opt.momentums[0] = 0.0
    iterations, *slots = adam_opt.variables
    assert int(iterations) == len(GRADS)
    np.testing.assert_allclose(slots[0], m, rtol=1e-13)
    np.testing.assert_allclose(slots[1], v, rtol=1e-13)


@pytest.mark.parametrize(
    "variant,reference",
    [
        (lambda: nesterov_run(), lambda: run(optimizers.SGD(0.1, momentum=0.8))),
        (lambda: run(optimizers.Adam(0.1, amsgrad=True)), lambda: run(optimizers.Adam(0.1))),
        (lambda: run(optimizers.RMSprop(0.01, centered=True)), lambda: run(optimizers.RMSprop(0.01))),
        (lambda: run(optimizers.RMSprop(0.01, momentum=0.9)), lambda: run(optimizers.RMSprop(0.01))),
        (lambda: run(optimizers.AdamW(0.1, weight_decay=0.5)), lambda: run(optimizers.Adam(0.1))),
    ],
    ids=["nesterov", "amsgrad", "centered", "rmsprop_momentum", "adamw"],
)
def test_each_variant_changes_the_trajectory(variant, reference):
    # the hand-checked cases above would not notice an option that is silently ignored otherwise
    assert not np.allclose(variant()[-1], reference()[-1], rtol=1e-6)


def nesterov_run():
    return run(optimizers.SGD(0.1, momentum=0.8, nesterov=True))


def test_float32_weights_stay_float32():
    w = W0.astype(np.float32)
    opt = optimizers.Adam(0.1)
    opt.apply(w, GRADS[0].astype(np.float32))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, adam(0.1)[0], rtol=1e-6)


# --------------------------------------------------------------------------- defaults


def test_defaults_match_keras():
    assert optimizers.SGD().learning_rate == pytest.approx(0.01)
    sgd_opt = optimizers.SGD()
    assert sgd_opt.momentum == 0.0 and sgd_opt.nesterov is False
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    a = optimizers.Adam()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    assert not a.weight_decay
    aw = optimizers.AdamW()
    assert (aw.learning_rate, aw.weight_decay, aw.beta_1, aw.beta_2, aw.epsilon) == (0.001, 0.004, 0.9, 0.999, 1e-7)
    ag = optimizers.Adagrad()
    assert (ag.learning_rate, ag.initial_accumulator_value, ag.epsilon) == (0.001, 0.1, 1e-7)


# --------------------------------------------------------------------------- the learning rate


def test_learning_rate_positional_and_keyword():
    assert optimizers.SGD(0.2).learning_rate == pytest.approx(0.2)
    assert optimizers.SGD(learning_rate=0.3).learning_rate == pytest.approx(0.3)
    assert optimizers.Adam(0.02).learning_rate == pytest.approx(0.02)
    assert optimizers.RMSprop(learning_rate=0.04).learning_rate == pytest.approx(0.04)
    assert optimizers.Adagrad(0.5).learning_rate == pytest.approx(0.5)
    assert optimizers.AdamW(learning_rate=0.6).learning_rate == pytest.approx(0.6)


def test_learning_rate_has_numpy_and_behaves_as_a_float():
    lr = optimizers.Adam(0.0025).learning_rate
    assert lr.numpy() == pytest.approx(0.0025)
    assert isinstance(lr.numpy(), float)
    assert float(lr) * 2 == pytest.approx(0.005)
    assert np.isclose(lr, 0.0025)
    assert f"{lr:.4f}" == "0.0025"


def test_learning_rate_can_be_set_between_steps():
    opt = optimizers.SGD(0.1)
    w = W0.copy()
    opt.apply(w, GRADS[0].copy())
    np.testing.assert_allclose(w, W0 - 0.1 * GRADS[0], rtol=1e-14)
    opt.learning_rate = 0.5
    assert opt.learning_rate == pytest.approx(0.5)
    assert opt.learning_rate.numpy() == pytest.approx(0.5)
    before = w.copy()
    opt.apply(w, GRADS[1].copy())
    np.testing.assert_allclose(w, before - 0.5 * GRADS[1], rtol=1e-14)
    # a value that has .numpy() is accepted too
    opt.learning_rate = optimizers.SGD(0.25).learning_rate
    assert opt.learning_rate == pytest.approx(0.25)


def test_invalid_learning_rate_is_refused():
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(-0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(float("nan"))
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(0.1, momentum=1.5)


# --------------------------------------------------------------------------- clipping


def test_clipnorm_clips_each_weight_separately():
    segments = [slice(0, 3), slice(3, 5)]
    g = np.array([3.0, 4.0, 0.0, 0.3, 0.4])  # norms 5 and 0.5
    opt = optimizers.SGD(1.0, clipnorm=1.0)
    w = np.zeros(5)
    opt.build(w, segments)
    opt.apply(w, g.copy())
    np.testing.assert_allclose(w, -np.array([0.6, 0.8, 0.0, 0.3, 0.4]), rtol=1e-14)


def test_global_clipnorm_clips_all_weights_together():
    segments = [slice(0, 3), slice(3, 5)]
    g = np.array([3.0, 4.0, 0.0, 0.0, 12.0])  # global norm 13
    opt = optimizers.SGD(1.0, global_clipnorm=2.6)
    w = np.zeros(5)
    opt.build(w, segments)
    opt.apply(w, g.copy())
    np.testing.assert_allclose(w, -g * (2.6 / 13), rtol=1e-14)
    # below the threshold nothing changes
    opt = optimizers.SGD(1.0, global_clipnorm=20.0)
    w = np.zeros(5)
    opt.apply(w, g.copy())
    np.testing.assert_allclose(w, -g, rtol=1e-14)


def test_clipvalue_clips_each_component():
    opt = optimizers.SGD(1.0, clipvalue=0.5)
    w = np.zeros(4)
    opt.apply(w, np.array([2.0, -3.0, 0.25, -0.1]))
    np.testing.assert_allclose(w, [-0.5, 0.5, -0.25, 0.1], rtol=1e-14)


def test_clipping_happens_before_adam_statistics():
    g = np.array([30.0, -40.0])
    opt = optimizers.Adam(0.1, clipnorm=5.0)
    w = np.zeros(2)
    opt.apply(w, g.copy())
    clipped = g * 5.0 / 50.0
    m, v = 0.1 * clipped, 0.001 * clipped**2
    alpha = adam_alpha(0.1, 0.9, 0.999, 1)
    np.testing.assert_allclose(w, -alpha * m / (np.sqrt(v) + EPS), rtol=1e-12)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


# --------------------------------------------------------------------------- names and compile


@pytest.mark.parametrize(
    "name,cls",
    [
        ("adam", optimizers.Adam),
        ("sgd", optimizers.SGD),
        ("rmsprop", optimizers.RMSprop),
        ("adamw", optimizers.AdamW),
        ("adagrad", optimizers.Adagrad),
        ("Adam", optimizers.Adam),
        ("RMSprop", optimizers.RMSprop),
    ],
)
def test_string_names(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert opt.learning_rate == pytest.approx(cls().learning_rate)


def test_get_accepts_objects_and_classes():
    opt = optimizers.Adam(0.3)
    assert optimizers.get(opt) is opt
    assert type(optimizers.get(optimizers.SGD)) is optimizers.SGD
    assert gradfit.keras.optimizers.Adam is optimizers.Adam


def test_unknown_optimizer_names_suggest_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        optimizers.get("adm")
    with pytest.raises(ValueError, match="Did you mean 'nadam'"):
        optimizers.get("nadma")
    with pytest.raises(ValueError, match="Did you mean 'rmsprop'"):
        optimizers.get("rmsprp")
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("lbfgs_deluxe")
    with pytest.raises(ValueError):
        optimizers.get(3.0)


def test_compile_with_a_name_resolves_the_optimizer():
    model = Sequential([Input((2,)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert type(model.optimizer) is optimizers.Adam
    opt = optimizers.SGD(0.5)
    model.compile(optimizer=opt, loss="mse")
    assert model.optimizer is opt


def test_compile_without_an_optimizer_uses_rmsprop(float64):
    model = Sequential([Input((2,)), Dense(1)])
    model.compile(loss="mse")
    assert type(model.optimizer) is optimizers.RMSprop
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    W, b = np.array([[0.5], [-0.25]]), np.array([0.1])
    model.set_weights([W, b])
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]])
    y = np.array([[1.0], [0.0], [-1.0]])
    # MSE gradients by hand, then one RMSprop step with Keras's defaults
    e = x @ W + b - y
    gW, gb = 2 * x.T @ e / len(x), 2 * e.sum(axis=0) / len(x)
    model.train_on_batch(x, y)
    for w, w0, g in ((model.get_weights()[0], W, gW), (model.get_weights()[1], b, gb)):
        v = 0.1 * g**2
        np.testing.assert_allclose(w, w0 - 0.001 * g / np.sqrt(v + EPS), rtol=1e-12)


def test_a_plain_callable_learning_rate_takes_no_arguments_as_in_keras_3():
    calls = []

    def lr():
        calls.append(1)
        return 0.5

    opt = optimizers.SGD(learning_rate=lr)
    w = np.ones(3, np.float32)
    opt.apply(w, np.ones(3, np.float32))
    np.testing.assert_array_equal(w, [0.5, 0.5, 0.5])
    assert calls == [1]
