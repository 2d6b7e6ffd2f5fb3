"""Contract tests enumerating ``registry.METRICS`` and ``registry.CALLBACKS``: a metric or callback class left out
of the registry, or registered without what the registry promises, fails a test that names it.

Metrics: every class of ``gradfit.metrics`` usable in ``compile`` is registered; each is reachable by every string
``keras.metrics.get`` maps to it (recorded from Keras 3.15 in ``parity/fixtures/metric_configs.json`` by
``parity/record_metric_configs.py``); its ``config_schema`` has its constructor's defaults and only its
constructor's parameters; ``get_config``/``from_config`` round-trip, in Python and through the safe loader
(``schema.load_object``, JSON types), and Keras's own configs load to the same metric.

Callbacks: every ``Callback`` class of ``gradfit.callbacks`` is registered and importable from
``gradfit.keras.callbacks`` by its registered name.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import gradfit
import gradfit.keras.callbacks as keras_callbacks
import gradfit.keras.metrics as keras_metrics
from gradfit import callbacks as gc
from gradfit import metrics as gm
from gradfit import registry, schema

FIXTURE = json.loads((Path(__file__).parent / "parity" / "fixtures" / "metric_configs.json").read_text())
METRICS = sorted(e.name for e in registry.METRICS)
CALLBACKS = sorted(e.name for e in registry.CALLBACKS)
#: metric classes deliberately not registered: compile() (and so a model file) cannot use them
UNREGISTERED_METRICS = {"Metric": "the base class"}
#: constructor arguments of the classes that need some
ARGS = {"MeanMetricWrapper": {"fn": gradfit.keras.losses.mean_squared_error}}
UNREGISTERED_CALLBACKS = {"MonitorCallback": "a base class, not in keras.callbacks"}


def _public_classes(module) -> dict[str, type]:
    return {n: c for n, c in vars(module).items() if inspect.isclass(c) and not n.startswith("_")}


def _arguments(kwargs: dict) -> dict:
    """A recorded case's constructor arguments, ``fn`` (a name of a ``keras.losses`` function) as gradfit's."""
    return {k: getattr(gradfit.keras.losses, v) if k == "fn" else v for k, v in kwargs.items()}


def _constructor_defaults(cls) -> dict:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p.default for p in params if p.kind is p.POSITIONAL_OR_KEYWORD}


# ------------------------------------------------------------------------------------------------- metrics


def test_every_metric_class_is_registered():
    classes = {n: c for n, c in _public_classes(gm).items() if issubclass(c, gm.Metric)}
    missing = sorted(
        n for n, c in classes.items() if n not in UNREGISTERED_METRICS and registry.METRICS.entry(c) is None
    )
    assert not missing, f"metric classes not in registry.METRICS: {missing}"
    assert set(classes) - set(UNREGISTERED_METRICS) == set(METRICS)


def test_the_registered_metrics_are_keras_s_and_exported():
    recorded = set(FIXTURE["names"])
    assert set(METRICS) == recorded, (
        f"registered but not recorded from Keras (add to record_metric_configs.py): {sorted(set(METRICS) - recorded)}; "
        f"recorded but not registered: {sorted(recorded - set(METRICS))}"
    )
    for name in METRICS:
        assert getattr(keras_metrics, name) is registry.METRICS.lookup(name) is getattr(gm, name), name
        assert name in gm.__all__, name
        assert registry.METRICS.entry(name).keras_path == f"keras.metrics.{name}"


@pytest.mark.parametrize("name", METRICS)
def test_metric_is_reachable_by_every_keras_name(name):
    cls = registry.METRICS.lookup(name)
    for keras_name in FIXTURE["names"][name]:
        assert registry.METRICS.lookup(keras_name) is cls, f"{keras_name!r} does not name {name}"
        if keras_name.lower() in ("accuracy", "acc"):
            # compile's 'accuracy' (any case) is resolved from the shapes, as Keras's compile resolves it
            metric = gm.get(keras_name, (4,), (4, 1))
            assert type(metric) is gm.BinaryAccuracy and metric.name == keras_name
            continue
        if name in ARGS:
            continue  # get('mean_metric_wrapper') cannot build one without its fn, in Keras neither
        metric = gm.get(keras_name)
        assert type(metric) is cls and metric.name == keras_name, keras_name
    config = cls(**ARGS.get(name, {})).get_config()
    assert type(gm.get({"class_name": name, "config": config})) is cls


@pytest.mark.parametrize("name", METRICS)
def test_metric_schema_matches_its_constructor(name):
    cls = registry.METRICS.lookup(name)
    fields = cls.config_schema.fields
    constructor = _constructor_defaults(cls)
    extra = sorted(k for k, f in fields.items() if k not in constructor and not isinstance(f, schema.Off))
    assert not extra, f"{name}: schema keys that are no constructor parameter: {extra}"
    assert sorted(constructor) == sorted(k for k in fields if k in constructor), f"{name}: parameters not in schema"
    for key, default in constructor.items():
        default = schema.REQUIRED if default is inspect.Parameter.empty else default
        assert fields[key].default == default, f"{name}.{key}: schema default {fields[key].default!r} != {default!r}"


@pytest.mark.parametrize("name", METRICS)
def test_metric_config_round_trips(name):
    cls = registry.METRICS.lookup(name)
    metric = cls(**ARGS.get(name, {}))
    config = metric.get_config()
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    # a model file's config: JSON types, through the safe loader and the class's schema
    serialized = {"module": "keras.metrics", "class_name": name, "config": json.loads(json.dumps(config))}
    loaded = schema.load_object(registry.METRICS, serialized, "metrics[0]")
    assert type(loaded) is cls and loaded.get_config() == config


@pytest.mark.parametrize(
    "index", range(len(FIXTURE["cases"])), ids=[f"{c['class']}-{i}" for i, c in enumerate(FIXTURE["cases"])]
)
def test_keras_metric_config_loads_to_the_same_metric(index):
    case = FIXTURE["cases"][index]
    cls = registry.METRICS.lookup(case["class"])
    gradfit.keras.backend.clear_session()
    ours = cls(**_arguments(case["kwargs"])).get_config()
    gradfit.keras.backend.clear_session()
    serialized = {"module": "keras.metrics", "class_name": case["class"], "config": case["config"]}
    loaded = schema.load_object(registry.METRICS, serialized, "metrics[0]").get_config()
    for config in (ours, loaded):
        assert sorted(config) == sorted(case["config"]), case
        for key, value in case["config"].items():
            if isinstance(value, (list, float)):
                np.testing.assert_allclose(config[key], value, rtol=1e-6, err_msg=f"{case}: {key}")
            else:
                assert config[key] == value, f"{case}: {key}"


@pytest.mark.parametrize(
    "name, config, message",
    [
        ("BinaryAccuracy", {"threshold": "0.5"}, "threshold"),
        ("AUC", {"from_logits": "false"}, "from_logits"),
        ("AUC", {"num_thresholds": 1}, "num_thresholds"),
        ("AUC", {"curve": "XY"}, "curve"),
        ("Precision", {"thresholds": [0.5, 1.5]}, "thresholds"),
        ("Precision", {"top_k": 0}, "top_k"),
        ("TopKCategoricalAccuracy", {"k": 2.0}, "k"),
        ("Recall", {"dtype": "int32"}, "dtype"),
        ("Recall", {"fn": "os.system"}, "unknown setting"),
        ("MeanMetricWrapper", {"fn": {"class_name": "__lambda__", "config": "lambda y, p: 0"}}, "loss function"),
        ("MeanMetricWrapper", {"fn": {"module": "os", "class_name": "function", "config": "system"}}, "never imports"),
        ("MeanMetricWrapper", {"fn": {"class_name": "function", "config": "eval"}}, "unknown loss function 'eval'"),
        ("MeanMetricWrapper", {"name": "w"}, "missing required setting 'fn'"),
    ],
)
def test_the_safe_loader_refuses_bad_metric_configs(name, config, message):
    serialized = {"module": "keras.metrics", "class_name": name, "config": config}
    with pytest.raises(schema.ModelFileError, match=message):
        schema.load_object(registry.METRICS, serialized, "metrics[0]")


def test_unknown_metric_names_list_the_registry():
    with pytest.raises(ValueError) as info:
        gm.get("precison")
    assert "Did you mean 'precision'?" in str(info.value)
    assert all(name in str(info.value) for name in registry.METRICS.names())
    with pytest.raises(ValueError) as info:
        gm.get("mean_io_u")
    assert all(n in str(info.value) for n in ("binary_accuracy", "root_mean_squared_error", "mse", "auc"))


def test_loss_names_are_metrics_through_the_loss_registry():
    for entry in registry.LOSSES:
        for name in (entry.name, *entry.aliases):
            if registry.METRICS.lookup(name) is not None:
                continue  # 'mse', 'MeanSquaredError' …: the metric class first, as Keras
            if name not in gm._KERAS_LOSS_METRIC_NAMES:  # 'huber', 'log_cosh', 'kld' …: Keras's metrics refuse them
                with pytest.raises(ValueError, match="names a loss but not a Keras metric"):
                    gm.get(name)
                continue
            metric = gm.get(name)
            assert isinstance(metric, gm.MeanMetricWrapper) and metric.name == name, name
            assert metric._direction == "down"  # EarlyStopping(mode='auto') minimises it


@pytest.mark.parametrize("name", registry.METRICS.names())
def test_every_public_metric_has_a_direction_for_monitoring(name):
    assert registry.METRICS.lookup(name)._direction in ("up", "down"), name


def test_a_wrapped_loss_function_is_minimised_and_saved_by_name():
    metric = gm.MeanMetricWrapper(gradfit.keras.losses.binary_crossentropy, name="bce")
    assert metric._direction == "down"
    assert metric.get_config()["fn"]["config"] == "binary_crossentropy"
    assert gm.MeanMetricWrapper(lambda y, p: abs(y - p))._direction is None  # unknown: mode='auto' raises
    with pytest.raises(schema.ModelFileError, match="unknown loss function 'os.system'"):
        gm.MeanMetricWrapper.from_config({"fn": {"class_name": "function", "config": "os.system"}})
    with pytest.raises(TypeError, match="MeanMetricWrapper"):
        model = gradfit.keras.Sequential([gradfit.keras.Input(shape=(2,)), gradfit.keras.layers.Dense(1)])
        model.compile(loss="mse", metrics=[gm.Mean()])
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0)


# ------------------------------------------------------------------------------------------------ callbacks


def test_every_callback_class_is_registered():
    classes = {n: c for n, c in _public_classes(gc).items() if issubclass(c, gc.Callback) or n == "CallbackList"}
    missing = sorted(
        n for n, c in classes.items() if n not in UNREGISTERED_CALLBACKS and registry.CALLBACKS.entry(c) is None
    )
    assert not missing, f"callback classes not in registry.CALLBACKS: {missing}"
    assert set(classes) - set(UNREGISTERED_CALLBACKS) == set(CALLBACKS) == set(gc.__all__)


@pytest.mark.parametrize("name", CALLBACKS)
def test_callback_is_importable_from_keras_callbacks_by_its_name(name):
    entry = registry.CALLBACKS.entry(name)
    assert getattr(keras_callbacks, name) is entry.obj
    assert name in keras_callbacks.__all__
    assert entry.keras_path.endswith(f"callbacks.{name}")


@pytest.mark.parametrize("name", sorted(e.name for e in registry.OPTIMIZERS))
def test_gradient_logger_records_the_gradient_whatever_the_optimizer(name):
    """One batch per epoch: ``grad_norm/<layer>`` is ``||dJ/dW||`` at the weights the step started from. The
    logger reads the gradient after the optimizer's step, which the optimizer contract lets only read it."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    keras = gradfit.keras
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=registry.OPTIMIZERS.lookup(name)())
    _, grads = model.compute_gradients(x, y)
    expected = [float(np.linalg.norm(g)) for g in grads[::2]]  # the kernels
    logger = gc.GradientLogger()
    history = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[logger]).history
    got = [history[f"grad_norm/{layer.name}"][0] for layer in model.layers]
    np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=f"{name}: the logger saw another gradient")
