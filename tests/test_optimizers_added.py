"""The optimizers added with the registry (Nadam, Adamax, Lion, Adadelta, Ftrl) and the parts of the optimizer
contract they lean on: scalar state, scratch buffers, declared Keras variables, config checks.

Their step-by-step agreement with Keras's rules is in tests/test_optimizers.py (the rules in
tests/optimizer_rules.py cover every registered optimizer), their TensorFlow trajectories in
tests/parity/test_optimizers_parity.py, the contract over every registered optimizer in
tests/test_optimizers_contract.py.
"""

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import optimizers, registry, schema
from gradfit.parameters import ParameterStore

from .optimizer_rules import GRADS, W0


def run(opt, steps=None):
    w = W0.copy()
    for g in GRADS[:steps]:  # all of them when steps is None
        opt.apply(w, g)
    return w


# --------------------------------------------------------------------------- defaults, as Keras 3.15


def test_defaults_match_keras():
    n = optimizers.Nadam()
    assert (n.learning_rate, n.beta_1, n.beta_2, n.epsilon, n.name) == (0.001, 0.9, 0.999, 1e-7, "nadam")
    a = optimizers.Adamax()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.name) == (0.001, 0.9, 0.999, 1e-7, "adamax")
    lion = optimizers.Lion()
    assert (lion.learning_rate, lion.beta_1, lion.beta_2, lion.name) == (0.001, 0.9, 0.99, "lion")
    d = optimizers.Adadelta()
    assert (d.learning_rate, d.rho, d.epsilon, d.name) == (0.001, 0.95, 1e-7, "adadelta")
    f = optimizers.Ftrl()
    assert (f.learning_rate, f.learning_rate_power, f.initial_accumulator_value, f.name) == (0.001, -0.5, 0.1, "ftrl")
    assert f.l1_regularization_strength == f.l2_regularization_strength == 0.0
    assert f.l2_shrinkage_regularization_strength == f.beta == 0.0
    for opt in (n, a, lion, d, f):
        assert opt.weight_decay is None and opt.clipnorm is None and opt.iterations == 0


@pytest.mark.parametrize("name", ["nadam", "adamax", "lion", "adadelta", "ftrl", "Nadam", "FTRL"])
def test_found_by_name(name):
    opt = optimizers.get(name)
    assert type(opt).__name__.lower() == name.lower()
    assert getattr(K.optimizers, type(opt).__name__) is type(opt)


# --------------------------------------------------------------------------- scalar state: Nadam's u_product


def test_nadam_u_product_is_state_that_is_saved_and_loaded():
    opt = optimizers.Nadam(0.01)
    run(opt, 3)
    want = np.prod([0.9 * (1 - 0.5 * 0.96**t) for t in (1, 2, 3)])
    assert opt.u_product == pytest.approx(want, rel=1e-15)
    assert float(opt.variables[-1]) == pytest.approx(want, rel=1e-15)  # iterations, momentums, velocities, u_product
    labels = [label for label, _ in opt.keras_variables()]
    assert labels == ["momentum/0", "velocity/0", "u_product"]
    assert opt.keras_variable_specs([(400, 25), (25,)]) == [
        ("momentum/0", (400, 25)),
        ("velocity/0", (400, 25)),
        ("momentum/1", (25,)),
        ("velocity/1", (25,)),
        ("u_product", ()),
    ]
    # assigned to a fresh optimizer, the state (u_product included) continues as the original
    state = [v for _, v in opt.keras_variables()]
    other = optimizers.Nadam(0.01)
    w_other = W0.copy()
    other.build(w_other)
    other.assign_keras_variables(state)
    other.iterations = opt.iterations
    assert other.u_product == opt.u_product
    w = W0.copy()
    opt.apply(w, GRADS[3])
    other.apply(w_other, GRADS[3])
    np.testing.assert_array_equal(w_other, w)
    other.build(np.zeros(5))  # a new build starts the product again
    assert other.u_product == 1.0


def test_a_wrong_u_product_changes_the_step():
    # the scalar really is used: a file that lost it would continue differently
    a, b = optimizers.Nadam(0.1), optimizers.Nadam(0.1)
    wa, wb = run(a, 3), run(b, 3)
    b.u_product = 1.0
    a.apply(wa, GRADS[3])
    b.apply(wb, GRADS[3])
    assert not np.allclose(wa, wb, rtol=1e-6)


# --------------------------------------------------------------------------- slots and scratch


def test_slots_read_as_keras_values():
    adamax = optimizers.Adamax(0.1)
    run(adamax)
    u, m = np.zeros(5), np.zeros(5)
    for g in GRADS:
        u, m = np.maximum(0.999 * u, np.abs(g)), 0.9 * m + 0.1 * g
    np.testing.assert_allclose(adamax.norms, u, rtol=1e-14)
    np.testing.assert_allclose(adamax.momentums, m, rtol=1e-13)
    with pytest.raises(ValueError, match="read-only"):  # kept scaled: the Keras value is a copy
        adamax.momentums[0] = 1.0
    ftrl = optimizers.Ftrl(0.1, initial_accumulator_value=0.5)
    run(ftrl)
    np.testing.assert_allclose(ftrl.accumulators, 0.5 + sum(g**2 for g in GRADS), rtol=1e-14)
    assert ftrl.linears.shape == (5,)
    delta = optimizers.Adadelta()
    run(delta, 1)
    np.testing.assert_allclose(delta.accumulated_grads, 0.05 * GRADS[0] ** 2, rtol=1e-14)
    assert (delta.accumulated_delta_vars > 0).all() or (GRADS[0] == 0).any()


def test_scratch_buffers_on_request():
    class Twice(optimizers.Optimizer):  # not registered: a user's own optimizer
        scratch_buffers = 3

        def update(self, w, g, lr, t):
            a, b, c = self._scratch
            np.multiply(g, lr, out=a)
            np.multiply(a, 0.5, out=b)
            np.add(b, b, out=c)
            w -= c

    opt = Twice(0.1)
    w = np.ones(4)
    g = np.full(4, 2.0)
    g.flags.writeable = False
    opt.apply(w, g)
    np.testing.assert_allclose(w, 0.8)
    assert len(opt._scratch) == 3 and all(s.shape == (4,) for s in opt._scratch)
    assert len({id(s) for s in opt._scratch}) == 3
    assert len(optimizers.Nadam()._checked()) == 0 and optimizers.Nadam.scratch_buffers == 2
    assert "Twice" not in registry.OPTIMIZERS


def test_subnormal_slot_values_are_flushed():
    opt = optimizers.Adamax(0.001, beta_2=0.01)
    w = np.ones(3, np.float32)
    opt.apply(w, np.array([1.0, 0.0, 0.0], np.float32))
    for _ in range(31):  # u = 0.01 u reaches float32's subnormals after ~19 steps, and 0 with the flush
        opt.apply(w, np.zeros(3, np.float32))
    assert opt.norms[0] == 0.0


def test_ftrl_l1_sets_weights_to_zero():
    opt = optimizers.Ftrl(1.0, l1_regularization_strength=10.0)  # |z| stays below l1
    np.testing.assert_array_equal(run(opt), np.zeros(5))


# --------------------------------------------------------------------------- config checks


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: optimizers.Lion(beta_1=0.0), "beta_1"),  # signSGD, refused by Keras too
        (lambda: optimizers.Lion(beta_1=1.5), "beta_1"),
        (lambda: optimizers.Nadam(beta_2=-0.1), "beta_2"),
        (lambda: optimizers.Adamax(epsilon=-1.0), "epsilon"),
        (lambda: optimizers.Adadelta(rho=2.0), "rho"),
        (lambda: optimizers.Ftrl(initial_accumulator_value=-0.1), "initial_accumulator_value"),
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
        (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0), "l1_regularization_strength"),
        (lambda: optimizers.Ftrl(l2_shrinkage_regularization_strength=-1.0), "l2_shrinkage"),
        (lambda: optimizers.Nadam(clipnorm="1.0"), "clipnorm"),
        (lambda: optimizers.Lion(clipvalue=0.0), "clipvalue"),
        (lambda: optimizers.Adadelta(global_clipnorm=-1.0), "global_clipnorm"),
        (lambda: optimizers.Adamax(weight_decay=-0.1), "weight_decay"),
        (lambda: optimizers.AdamW(weight_decay=None), "weight_decay"),
        (lambda: optimizers.Nadam(learning_rate=-0.1), "learning_rate"),
        (lambda: optimizers.Nadam(learning_rate="0.1"), "learning_rate"),
        (lambda: optimizers.SGD(nesterov="yes"), "nesterov"),
        (lambda: optimizers.Nadam(clipnorm=1.0, clipvalue=1.0), "Only one"),
    ],
)
def test_invalid_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# use_ema, ema_momentum, ema_overwrite_frequency and gradient_accumulation_steps are implemented
# (tests/test_optimizers_ema.py); loss_scale_factor is the one Keras setting left
@pytest.mark.parametrize("kwargs", [{"loss_scale_factor": 128.0}], ids=lambda k: next(iter(k)))
def test_keras_settings_gradfit_lacks_raise_instead_of_being_ignored(kwargs):
    with pytest.raises(NotImplementedError, match=next(iter(kwargs))):
        optimizers.Nadam(**kwargs)
    # their defaults are accepted, as Keras writes them in every config
    optimizers.Nadam(use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None)


def test_unknown_arguments_are_refused():
    with pytest.raises(TypeError, match="beta_3"):
        optimizers.Nadam(beta_3=0.5)


def test_a_file_config_is_checked_by_the_schema():
    config = optimizers.Ftrl(0.2, l1_regularization_strength=0.1).get_config()
    loaded = schema.construct(optimizers.Ftrl, config, "optimizer", "optimizer")
    assert loaded.l1_regularization_strength == 0.1 and loaded.learning_rate == pytest.approx(0.2)
    with pytest.raises(schema.ModelFileError, match="l1_regularization_strength"):
        schema.construct(optimizers.Ftrl, {**config, "l1_regularization_strength": -1}, "optimizer", "optimizer")
    with pytest.raises(schema.ModelFileError, match="use_ema"):
        schema.construct(optimizers.Ftrl, {**config, "use_ema": "true"}, "optimizer", "optimizer")
    with pytest.raises(schema.ModelFileError, match="loss_scale_factor"):
        schema.construct(optimizers.Ftrl, {**config, "loss_scale_factor": 128.0}, "optimizer", "optimizer")
    with pytest.raises(schema.ModelFileError, match="unknown setting"):
        schema.construct(optimizers.Ftrl, {**config, "momentum": 0.9}, "optimizer", "optimizer")
    # Keras writes ema_momentum whatever use_ema is: any number passes in a file while EMA is off
    schema.construct(optimizers.Ftrl, {**config, "ema_momentum": 0.9}, "optimizer", "optimizer")


def test_serialize_and_deserialize():
    lr = K.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = optimizers.Nadam(learning_rate=lr, beta_1=0.8, clipvalue=0.5)
    data = optimizers.serialize(opt)
    assert (data["module"], data["class_name"]) == ("keras.optimizers", "Nadam")
    again = optimizers.deserialize(data)
    assert type(again) is optimizers.Nadam and again.get_config() == opt.get_config()
    assert type(optimizers.get({"class_name": "Lion", "config": {"beta_1": 0.5}})) is optimizers.Lion
    with pytest.raises(schema.ModelFileError, match="Lamb"):
        optimizers.deserialize({"class_name": "Lamb", "config": {}})


def test_f32_is_tensorflows_rounding_of_a_python_constant():
    assert optimizers.f32(0.999) == float(np.float32(0.999)) == 0.9990000128746033
    assert optimizers.f32(0.75) == 0.75
    assert isinstance(optimizers.f32(0.9), float)


# --------------------------------------------------------------------------- with a model


def test_clipping_leaves_the_models_gradient_alone():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    grads = {}
    for clip in (None, 1e-4):
        model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
        model.compile(optimizer=optimizers.Adamax(0.1, clipvalue=clip), loss="mse")
        model.set_weights([np.ones((3, 1)), np.zeros(1)])
        model.train_on_batch(x, y)
        grads[clip] = model.parameter_gradients.copy()
    np.testing.assert_array_equal(grads[1e-4], grads[None])  # dJ/dW, not the clipped step
    assert np.abs(grads[None]).max() > 1e-3


@pytest.mark.parametrize("name", ["Nadam", "Adamax", "Lion", "Adadelta", "Ftrl"])
def test_compile_and_fit_reduce_the_loss(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 1))).astype(np.float32)
    model = K.Sequential([K.Input((4,)), K.layers.Dense(1)])
    lr = {"Adadelta": 1.0, "Ftrl": 0.5, "Lion": 0.01}.get(name, 0.05)
    model.compile(optimizer=getattr(K.optimizers, name)(lr), loss="mse")
    model.set_weights([np.zeros((4, 1)), np.zeros(1)])
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0, shuffle=False).history["loss"]
    # Adadelta starts with steps of sqrt(eps) / sqrt(E[g^2]): it is the slow one
    assert history[-1] < (0.9 if name == "Adadelta" else 0.5) * history[0], (name, history[0], history[-1])
    assert model.optimizer.describe().startswith(name)


def test_a_store_with_several_weights_keeps_keras_order():
    store = ParameterStore([(2, 3), (3,)], "float64")
    store.values[...] = 0.5
    opt = optimizers.Ftrl(0.1)
    opt.build(store)
    g = np.arange(store.size, dtype=np.float64)
    opt.apply(store.values, g)
    labels = [label for label, _ in opt.keras_variables()]
    assert labels == ["accumulator/0", "linear/0", "accumulator/1", "linear/1"]
    acc0 = dict(opt.keras_variables())["accumulator/0"]
    np.testing.assert_allclose(acc0, np.float32(0.1) + store.view(g, 0) ** 2)
