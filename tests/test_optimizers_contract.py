"""The optimizer contract, checked for EVERY registered optimizer (``registry.OPTIMIZERS``): a new optimizer is
tested here without being named, and fails a test that names it when it breaks a rule.

* ``update`` never writes the gradient (run on a read-only one), clipping included;
* ``GradientLogger`` logs ``dJ/dW``, not the update, after steps of that optimizer;
* ``get_config`` / ``from_config`` (and the safe loader's JSON mode) round-trip; the config schema's defaults are
  the constructor's and Keras 3.15's;
* its Keras variables match their declaration, and a ``.keras`` save / load continues training exactly;
* it is reachable by its Keras name and its lowercase alias, and ``explain()`` shows its rule.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import optimizers, registry, schema
from gradfit.callbacks import GradientLogger
from gradfit.parameters import ParameterStore

ENTRIES = list(registry.OPTIMIZERS)
IDS = [e.name for e in ENTRIES]
DEFAULTS = Path(__file__).parent / "parity" / "fixtures" / "optimizers" / "keras_defaults.json"

#: per optimizer, settings that switch on every piece of state it has (others run with their defaults)
ALL_STATE = {
    "SGD": {"momentum": 0.9, "nesterov": True},
    "RMSprop": {"centered": True, "momentum": 0.5},
    "Adam": {"amsgrad": True},
    "AdamW": {"amsgrad": True},
}
CLIPPING = [{}, {"clipnorm": 0.05}, {"clipvalue": 0.01}, {"global_clipnorm": 0.05}]
SHAPES = [(3, 4), (4,), (4, 2), (2,)]


def make(entry, **kwargs):
    return entry.obj(learning_rate=0.05, **{**ALL_STATE.get(entry.name, {}), **kwargs})


def store_with_weights(seed: int = 0) -> ParameterStore:
    store = ParameterStore(SHAPES, "float64")
    store.values[...] = np.random.default_rng(seed).normal(size=store.size)
    return store


def gradients(n: int, size: int, seed: int = 1) -> list[np.ndarray]:
    out = []
    for g in np.random.default_rng(seed).normal(size=(n, size)):
        g.flags.writeable = False
        out.append(g)
    return out


def test_the_registry_holds_every_optimizer_class():
    exported = {name for name in optimizers.__all__ if isinstance(getattr(optimizers, name), type)}
    assert exported - {"Optimizer"} == set(IDS)
    for name in ("SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Nadam", "Adamax", "Lion", "Adadelta", "Ftrl"):
        assert name in IDS


@pytest.mark.parametrize("clip", CLIPPING, ids=["no_clip", "clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_update_never_writes_the_gradient(entry, clip):
    store = store_with_weights()
    opt = make(entry, weight_decay=0.01, **clip) if entry.name != "AdamW" else make(entry, **clip)
    opt.build(store)
    before = store.values.copy()
    grads = gradients(4, store.size)
    copies = [g.copy() for g in grads]
    for g in grads:  # a write into g raises: "assignment destination is read-only"
        opt.apply(store.values, g)
    for g, c in zip(grads, copies):
        np.testing.assert_array_equal(g, c)
    assert not np.allclose(store.values, before), f"{entry.name} did not move the weights"
    assert np.isfinite(store.values).all()
    assert opt.iterations == 4


@pytest.mark.parametrize("clip", [{}, {"clipnorm": 1e-3}], ids=["no_clip", "clipnorm"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_gradient_logger_logs_dJdW_not_the_update(entry, clip):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))

    def model_with(opt):
        model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(2)])
        model.compile(optimizer=opt, loss="mse")
        model.set_weights([np.random.default_rng(4).normal(size=w.shape) for w in model.get_weights()])
        return model

    # dJ/dW at the starting weights, from a step that changes nothing
    reference = model_with(K.optimizers.SGD(0.0))
    reference.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    want = [float(np.linalg.norm(layer.grad_kernel)) for layer in reference.layers]
    # the same batch with the optimizer under test (clipping hard, or not): the logger must still see dJ/dW
    logger = GradientLogger()
    model = model_with(make(entry, **clip))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[logger])
    for layer, norm in zip(model.layers, want):
        got = logger.history[f"grad_norm/{layer.name}"][0]
        assert got == pytest.approx(norm, rel=1e-5), f"{entry.name}: GradientLogger saw {got}, dJ/dW has {norm}"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_config_round_trips(entry):
    opt = make(entry, clipnorm=0.5, name="my_opt")
    config = opt.get_config()
    again = entry.obj.from_config(config)
    assert type(again) is entry.obj and again.get_config() == config
    # a file's config, through the safe loader's JSON mode and the class's own schema
    loaded = schema.construct(entry.obj, json.loads(json.dumps(config)), "optimizer", "optimizer")
    assert loaded.get_config() == config
    with pytest.raises(schema.ModelFileError, match="clipnorm"):
        schema.construct(entry.obj, {**json.loads(json.dumps(config)), "clipnorm": "1.0"}, "optimizer", "optimizer")
    with pytest.raises(ValueError, match="clipnorm"):
        entry.obj(clipnorm="1.0")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_schema_is_the_constructor(entry):
    cls = entry.obj
    fields = cls.config_schema.fields
    params = {}
    for klass in reversed(cls.__mro__):  # a subclass's default wins over its base's
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                params[p.name] = p.default
    assert set(fields) == set(params), f"{entry.name}: schema {sorted(fields)} vs constructor {sorted(params)}"
    for key, field in fields.items():
        assert field.default == params[key], f"{entry.name}.{key}: schema default {field.default!r}, {params[key]!r}"
    config = cls().get_config()
    defaults = cls.config_schema.defaults()
    assert set(config) == set(defaults), f"{entry.name}: get_config keys differ from the schema's"
    assert {k: v for k, v in config.items() if k != "name"} == {k: v for k, v in defaults.items() if k != "name"}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_defaults_are_keras_defaults(entry):
    keras = json.loads(DEFAULTS.read_text())
    assert entry.name in keras, f"no Keras defaults recorded for {entry.name} (tests/parity/record_optimizers.py)"
    want = dict(keras[entry.name])
    got = {k: v for k, v in entry.obj().get_config().items() if k != "name"}
    assert np.float32(got.pop("learning_rate")) == np.float32(want.pop("learning_rate"))  # Keras's is a float32
    assert got == want


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_keras_variables_follow_their_declaration(entry):
    store = store_with_weights()
    opt = make(entry)
    opt.build(store)
    for g in gradients(3, store.size):
        opt.apply(store.values, g)
    specs = opt.keras_variable_specs(SHAPES)
    values = opt.keras_variables()
    assert [label for label, _ in values] == [label for label, _ in specs]
    assert [v.shape for _, v in values] == [shape for _, shape in specs]
    assert len({label for label, _ in specs}) == len(specs), f"{entry.name}: labels repeat"
    # the state assigned to a fresh optimizer continues exactly as the original
    copy = store_with_weights()
    copy.values[...] = store.values
    other = make(entry)
    other.build(copy)
    other.assign_keras_variables([v for _, v in values])
    other.iterations = opt.iterations
    for g in gradients(3, store.size, seed=9):
        opt.apply(store.values, g)
        other.apply(copy.values, g)
    np.testing.assert_allclose(copy.values, store.values, rtol=1e-13, atol=1e-15, err_msg=entry.name)
    with pytest.raises(ValueError):
        other.assign_keras_variables([v for _, v in values][:-1] if values else [np.zeros(1)])


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_keras_file_keeps_the_optimizer_state(entry, tmp_path):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 2)).astype(np.float32)

    def fresh():
        model = K.Sequential([K.Input((3,)), K.layers.Dense(5, activation="tanh"), K.layers.Dense(2)])
        model.compile(optimizer=make(entry), loss="mse")
        model.set_weights([np.random.default_rng(6).normal(size=w.shape) for w in model.get_weights()])
        return model

    def fit(model, epochs):
        model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)

    straight = fresh()
    fit(straight, 4)
    first = fresh()
    fit(first, 2)
    path = tmp_path / f"{entry.name}.keras"
    first.save(path)
    loaded = K.models.load_model(path)
    assert type(loaded.optimizer) is entry.obj and loaded.optimizer.iterations == first.optimizer.iterations
    fit(loaded, 2)
    for got, want in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=entry.name)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_reachable_by_name_and_explained(entry):
    names = (entry.name, entry.name.lower(), *entry.aliases)
    for name in names:
        assert type(optimizers.get(name)) is entry.obj, name
    assert entry.name.lower() in entry.aliases or entry.name.lower() == entry.name
    assert getattr(K.optimizers, entry.name) is entry.obj
    assert entry.keras_path == f"keras.optimizers.{entry.name}"
    text = entry.obj().describe()
    assert text.startswith(entry.name) and len(text) > len(entry.name) + 10
