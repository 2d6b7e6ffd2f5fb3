"""Contract tests: every object of every kind gradfit registers, found by enumerating ``gradfit/registry.py``.

Nothing here lists gradfit's classes: the parameters come from ``registry.all_registries()``, so a class that
registers itself is checked by every test below, and a test named after it fails when it is missing from any
place derived from the registry. For each registered layer, activation, loss, optimizer, metric, initializer,
regularizer and learning-rate schedule:

* **reachable** by its Keras name and aliases through its module's ``get()`` and as
  ``gradfit.keras.<module>.<Name>`` (``gradfit.keras.losses.KLDivergence``); a typo of it is answered with a
  "did you mean" naming it; and every public class a ``gradfit.keras`` module exports is registered;
* **one schema** (classes): ``config_schema`` defaults equal the constructor's defaults, its keys are
  constructor parameters (or ``Off`` / ignored keys), and ``from_config(get_config())`` gives the same config;
* **saved and loaded** through ``.keras`` inside a small model: the same predictions, weights and configs, and
  for optimizers (and schedules) training continued after loading equals training without the interruption;
* **differentiated correctly** where it is differentiable: a float64 finite-difference check of layers
  (inputs and weights), activations, losses (wrt the output, and wrt the logits when fused) and regularizers;
* **explained**: ``model.explain()`` shows the layer's own formulas, the loss's formula, the optimizer's rule.

Some classes need constructor arguments or data of a certain kind (``Dense(units=3)``, a sparse-label loss):
the ``*_EXAMPLES`` tables below say so. A registered layer, loss or metric without an entry there (or any
other class that cannot be built without arguments) fails ``test_has_example`` with a message saying where to
add one.
"""

from __future__ import annotations

import importlib
import inspect
import json
import numbers

import numpy as np
import pytest

import gradfit
from gradfit import registry, schema
from gradfit.keras import Input, Sequential
from gradfit.keras import layers as keras_layers
from gradfit.keras.saving import load_model

REGISTRIES = registry.all_registries()

# the small models below have linear hidden layers on purpose; gradfit's advice about them is not the point here
pytestmark = pytest.mark.filterwarnings("ignore:Hidden layer .* has a linear activation")

# ---------------------------------------------------------------------------------------------- the examples
#: per layer: constructor ``args``; the per-example ``input_shape`` (default ``(4,)``); ``random``: its
#: training-mode output is random (checked in inference mode only); ``in_model``: it can sit inside a
#: ``Sequential`` (``InputLayer`` is the model's input, not one of its layers); ``grad``: it is differentiable.
LAYER_EXAMPLES: dict[str, dict] = {
    "Activation": {"args": {"activation": "tanh"}},
    "BatchNormalization": {},
    "Dense": {"args": {"units": 3, "activation": "tanh"}},
    "Dropout": {"args": {"rate": 0.5}, "random": True},
    "Flatten": {"input_shape": (2, 3)},
    "InputLayer": {"args": {"shape": (4,)}, "in_model": False, "grad": False},
    "LeakyReLU": {"args": {"negative_slope": 0.2}},
    "Normalization": {"args": {"mean": [0.5, -1.0, 0.0, 2.0], "variance": [1.0, 4.0, 0.25, 2.0]}},
    "ReLU": {},
    "Softmax": {},
    "GaussianNoise": {"args": {"stddev": 0.1}, "random": True},
    "GaussianDropout": {"args": {"rate": 0.3}, "random": True},
    "LayerNormalization": {},
    "Rescaling": {"args": {"scale": 0.5, "offset": 0.1}},
    "Identity": {},
}

#: the data a loss or metric is used on: ``(targets, output activation, output units)``
TASKS = {
    "binary": "labels 0/1, one sigmoid unit",
    "signed": "labels -1/1, one linear unit (hinge losses)",
    "onehot": "one-hot rows over 3 classes, softmax",
    "onehot_linear": "one-hot rows over 3 classes, linear outputs (categorical hinge)",
    "sparse": "class indices 0..2, softmax",
    "regression": "real targets, one linear unit",
    "positive": "counts >= 0, one softplus unit (Poisson)",
}

#: per loss: constructor ``args`` and its ``task`` (one of TASKS)
LOSS_EXAMPLES: dict[str, dict] = {
    "BinaryCrossentropy": {"task": "binary"},
    "BinaryFocalCrossentropy": {"task": "binary"},
    "CategoricalCrossentropy": {"task": "onehot"},
    "CategoricalHinge": {"task": "onehot_linear"},
    "Hinge": {"task": "signed"},
    "Huber": {"args": {"delta": 0.7}, "task": "regression"},
    "KLDivergence": {"task": "onehot"},
    "LogCosh": {"task": "regression"},
    "MeanAbsoluteError": {"task": "regression"},
    "MeanAbsolutePercentageError": {"task": "regression"},
    "MeanSquaredError": {"task": "regression"},
    "MeanSquaredLogarithmicError": {"task": "positive"},
    "Poisson": {"task": "positive"},
    "SparseCategoricalCrossentropy": {"task": "sparse"},
    "SquaredHinge": {"task": "signed"},
}

#: per metric: constructor ``args``, its ``task``, and ``compile: False`` for a base class that only
#: aggregates what it is given (not usable as ``compile(metrics=[...])`` on its own)
METRIC_EXAMPLES: dict[str, dict] = {
    "AUC": {"task": "binary"},
    "Accuracy": {"task": "binary"},
    "BinaryAccuracy": {"task": "binary"},
    "CategoricalAccuracy": {"task": "onehot"},
    "F1Score": {"args": {"average": "macro"}, "task": "onehot"},
    "FBetaScore": {"args": {"beta": 2.0, "threshold": 0.4, "average": "weighted"}, "task": "onehot"},
    "MeanAbsoluteError": {"task": "regression"},
    "MeanAbsolutePercentageError": {"task": "regression"},
    "MeanSquaredError": {"task": "regression"},
    "MeanSquaredLogarithmicError": {"task": "positive"},
    "R2Score": {"task": "regression"},
    "Precision": {"task": "binary"},
    "Recall": {"task": "binary"},
    "RootMeanSquaredError": {"task": "regression"},
    "SparseCategoricalAccuracy": {"task": "sparse"},
    "SparseTopKCategoricalAccuracy": {"args": {"k": 2}, "task": "sparse"},
    "TopKCategoricalAccuracy": {"args": {"k": 2}, "task": "onehot"},
    "Mean": {"task": "regression", "compile": False},
    "MeanMetricWrapper": {
        "args": {"fn": gradfit.keras.losses.mean_squared_error},
        "task": "regression",
        "compile": False,
    },
}

#: constructor arguments of the other kinds' classes that cannot be built without any
OTHER_EXAMPLES: dict[str, dict[str, dict]] = {
    "optimizers": {},
    "initializers": {"Constant": {"value": 0.3}},
    "regularizers": {},
    "schedules": {
        "CosineDecay": {"initial_learning_rate": 0.1, "decay_steps": 5},
        "CosineDecayRestarts": {"initial_learning_rate": 0.1, "first_decay_steps": 3},
        "ExponentialDecay": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5},
        "InverseTimeDecay": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5},
        "PiecewiseConstantDecay": {"boundaries": [1, 3], "values": [0.1, 0.05, 0.01]},
        "PolynomialDecay": {"initial_learning_rate": 0.1, "decay_steps": 5},
    },
}
EXAMPLE_TABLES = {"layers": LAYER_EXAMPLES, "losses": LOSS_EXAMPLES, "metrics": METRIC_EXAMPLES, **OTHER_EXAMPLES}
TABLE_NAMES = {
    "layers": "LAYER_EXAMPLES",
    "losses": "LOSS_EXAMPLES",
    "metrics": "METRIC_EXAMPLES",
    "optimizers": 'OTHER_EXAMPLES["optimizers"]',
    "initializers": 'OTHER_EXAMPLES["initializers"]',
    "regularizers": 'OTHER_EXAMPLES["regularizers"]',
    "schedules": 'OTHER_EXAMPLES["schedules"]',
}
#: kinds whose every class needs a table entry (what data it runs on is a decision, not a default)
ENTRY_REQUIRED = ("layers", "losses", "metrics")

#: the base class of each kind, and where its public classes are exported
BASES = {
    "layers": ("gradfit.layers", "Layer"),
    "losses": ("gradfit.losses", "Loss"),
    "optimizers": ("gradfit.optimizers", "Optimizer"),
    "metrics": ("gradfit.metrics", "Metric"),
    "initializers": ("gradfit.initializers", "Initializer"),
    "regularizers": ("gradfit.regularizers", "Regularizer"),
    "schedules": ("gradfit.schedules", "LearningRateSchedule"),
    "callbacks": ("gradfit.callbacks", "Callback"),
}
KERAS_MODULES = {
    "layers": "gradfit.keras.layers",
    "activations": "gradfit.keras.activations",
    "losses": "gradfit.keras.losses",
    "optimizers": "gradfit.keras.optimizers",
    "metrics": "gradfit.keras.metrics",
    "initializers": "gradfit.keras.initializers",
    "regularizers": "gradfit.keras.regularizers",
    "schedules": "gradfit.keras.optimizers.schedules",
    "callbacks": "gradfit.keras.callbacks",
}
#: kinds resolved by a module-level ``get()`` (layers and callbacks are only classes)
WITH_GET = ("activations", "losses", "optimizers", "metrics", "initializers", "regularizers", "schedules")
CONTRACT_KINDS = (
    "layers",
    "activations",
    "losses",
    "optimizers",
    "metrics",
    "initializers",
    "regularizers",
    "schedules",
)


def entries(kind: str, classes: bool = False) -> list:
    """One ``pytest.param`` per registered object of ``kind``, with its Keras name as the test id."""
    found = [e for e in REGISTRIES[kind] if not classes or isinstance(e.obj, type)]
    return [pytest.param(e, id=e.name) for e in found]


def all_entries(classes: bool = False, kinds=CONTRACT_KINDS) -> list:
    return [
        pytest.param(kind, e, id=f"{kind}:{e.name}")
        for kind in kinds
        for e in REGISTRIES[kind]
        if not classes or isinstance(e.obj, type)
    ]


def example(kind: str, entry) -> dict:
    """The table entry of a class (``{}`` where its kind needs none and it has none)."""
    table = EXAMPLE_TABLES.get(kind, {})
    if entry.name in table:
        return table[entry.name]
    if kind in ENTRY_REQUIRED:
        pytest.fail(
            f"{entry.keras_path} is registered but has no entry in {TABLE_NAMES[kind]} of tests/test_contracts.py: "
            f"add one saying how to build it (constructor args{', task' if kind != 'layers' else ', input shape'})"
        )
    return {}


def args_of(kind: str, entry) -> dict:
    spec = example(kind, entry)
    return dict(spec.get("args", {}) if kind in ENTRY_REQUIRED else spec)


def make(kind: str, entry):
    """A fresh instance of a registered class, built from its example arguments."""
    return entry.obj(**args_of(kind, entry))


def constructor_parameters(cls) -> dict[str, inspect.Parameter]:
    """The named parameters of ``cls.__init__`` and, through ``**kwargs``, of the base classes' ``__init__``."""
    out: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        sig = inspect.signature(init)
        for name, p in sig.parameters.items():
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                out.setdefault(name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            break  # this __init__ passes nothing further up
    return out


def required_parameters(cls) -> list[str]:
    params = [n for n, p in constructor_parameters(cls).items() if p.default is inspect.Parameter.empty]
    fields = getattr(getattr(cls, "config_schema", None), "fields", {})
    return sorted(set(params) | {k for k, f in fields.items() if f.required})


# ---------------------------------------------------------------------------------------------- data
M = 12


def task_data(task: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[int, str | None]]:
    """``(x, y, (units, activation))`` for one task of TASKS: 12 examples of 4 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(M, 4))
    score = x @ np.array([1.0, -2.0, 0.5, 1.5])
    classes = np.argmax(x[:, :3] + 0.3 * rng.normal(size=(M, 3)), axis=1)
    if task == "binary":
        return x, (score > 0).astype(np.float64).reshape(-1, 1), (1, "sigmoid")
    if task == "signed":
        return x, np.where(score > 0, 1.0, -1.0).reshape(-1, 1), (1, None)
    if task in ("onehot", "onehot_linear"):
        return x, np.eye(3)[classes], (3, "softmax" if task == "onehot" else None)
    if task == "sparse":
        return x, classes, (3, "softmax")
    if task == "regression":
        return x, (0.5 * score + 0.1 * rng.normal(size=M)).reshape(-1, 1), (1, None)
    if task == "positive":
        return x, rng.poisson(2.0, size=(M, 1)).astype(np.float64), (1, "softplus")
    raise AssertionError(f"unknown task {task!r}; the tasks are {sorted(TASKS)}")


def outputs_for(task: str, rng) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``(a, z, g)``: model outputs valid for ``task``, the logits they come from, and the output activation."""
    units, act = task_data(task)[2]
    z = rng.normal(size=(M, units))
    if act == "sigmoid":
        return 1 / (1 + np.exp(-z)), z, act
    if act == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), z, act
    if act == "softplus":
        return np.log1p(np.exp(z)), z, act
    return z, z, None


def quiet(*args, **kwargs) -> None:
    pass


def regression_model(hidden, input_shape=(4,), units: int = 2, seed: int = 0) -> Sequential:
    """``Input -> [hidden layers] -> (Flatten) -> Dense(units)``, built."""
    gradfit.keras.utils.set_random_seed(seed)
    layers = [Input(shape=input_shape), *hidden]
    model = Sequential(layers)
    if len(model.output_shape) > 2:
        model.add(keras_layers.Flatten())
    model.add(keras_layers.Dense(units))
    return model


def save_and_load(model, tmp_path, name: str = "model.keras"):
    path = tmp_path / name
    model.save(path)
    return load_model(path)


def assert_same_weights(a, b, what: str) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb), f"{what}: {len(wa)} weight arrays before saving, {len(wb)} after loading"
    for i, (u, v) in enumerate(zip(wa, wb)):
        np.testing.assert_array_equal(u, v, err_msg=f"{what}: weight {i} differs after loading")


def worst_relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    a, n = np.ravel(analytic), np.ravel(numeric)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6, entries: int | None = None, seed: int = 0):
    """Centred differences of the scalar ``f()`` wrt ``x`` (changed in place and restored), at ``entries``
    random positions (all of them if None); returns ``(positions, gradient there)``."""
    idx = np.arange(x.size)
    if entries is not None and x.size > entries:
        idx = np.random.default_rng(seed).choice(x.size, entries, replace=False)
    flat = x.reshape(-1)
    out = np.empty(len(idx))
    for k, i in enumerate(idx):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        out[k] = (plus - minus) / (2 * eps)
    return idx, out


# ============================================================================================== the registries


@pytest.mark.parametrize("kind", CONTRACT_KINDS + ("callbacks",))
def test_registry_is_filled(kind):
    """Importing gradfit registers every built-in object (an empty registry means a module forgot to)."""
    assert len(REGISTRIES[kind]) > 0, f"registry.{kind.upper()} is empty after `import gradfit`"


def _exported(kind: str) -> list:
    module = importlib.import_module(KERAS_MODULES[kind])
    names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
    if kind == "activations":
        act_type = gradfit.activations.Activation
        return [(n, getattr(module, n)) for n in names if isinstance(getattr(module, n, None), act_type)]
    base_module, base_name = BASES[kind]
    base = getattr(importlib.import_module(base_module), base_name)
    return [
        (n, obj)
        for n in names
        if isinstance(obj := getattr(module, n, None), type) and issubclass(obj, base) and obj is not base
    ]


@pytest.mark.parametrize("kind", CONTRACT_KINDS + ("callbacks",))
def test_every_exported_class_is_registered(kind):
    """A class in ``gradfit.keras.<module>.__all__`` that did not register itself is missing from ``get()``,
    the loader's allow-list and the error messages: name every such one."""
    reg = REGISTRIES[kind]
    missing = [n for n, obj in _exported(kind) if reg.entry(obj) is None]
    assert not missing, f"exported by {KERAS_MODULES[kind]} but not registered in registry.{kind.upper()}: {missing}"


#: public base classes of gradfit's own that Keras does not export either (nothing to reach by a Keras path)
INTERNAL_BASES = {"gradfit.callbacks.monitor.MonitorCallback"}


def _every_gradfit_module() -> list:
    """Every module of the gradfit package, imported (``import gradfit`` imports only what its packages name)."""
    import pkgutil

    infos = pkgutil.walk_packages(gradfit.__path__, "gradfit.")
    return [importlib.import_module(info.name) for info in infos if not info.name.endswith("__main__")]


@pytest.mark.parametrize("kind", [k for k in CONTRACT_KINDS + ("callbacks",) if k != "activations"])
def test_every_class_defined_in_gradfit_is_reachable(kind):
    """A new class in a new module that its package's ``__init__`` does not import registers only when something
    imports that module: ``get()``, the loader and every registry-driven test would silently miss it. Import every
    module, then every public subclass of the kind's base class defined in gradfit must be registered and reachable
    as ``gradfit.keras.<module>.<Name>``."""
    base_module, base_name = BASES[kind]
    base = getattr(importlib.import_module(base_module), base_name)
    keras_module = importlib.import_module(KERAS_MODULES[kind])
    unreachable = []
    for module in _every_gradfit_module():
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, base)
                and obj is not base
                and obj.__module__ == module.__name__
                and not name.startswith("_")
                and f"{module.__name__}.{name}" not in INTERNAL_BASES
                and (REGISTRIES[kind].entry(obj) is None or getattr(keras_module, name, None) is not obj)
            ):
                unreachable.append(f"{module.__name__}.{name}")
    assert not unreachable, (
        f"defined in gradfit but not reachable as {KERAS_MODULES[kind]}.<Name> (add the module's import line to its "
        f"package's __init__.py, or the class's registration): {sorted(unreachable)}"
    )


# ---------------------------------------------------------------------------------------------- reachability


@pytest.mark.parametrize(("kind", "entry"), all_entries(kinds=CONTRACT_KINDS + ("callbacks",)))
def test_reachable_by_keras_path(kind, entry):
    """``gradfit.keras.<module>.<Name>`` is the registered object, as ``keras.<module>.<Name>`` is Keras's."""
    keras_module = REGISTRIES[kind].module  # or gradfit's own module beside it, for what Keras lacks (GradientLogger)
    assert entry.module in (keras_module, "gradfit." + keras_module), f"{entry!r}: registered under another module"
    module = importlib.import_module(KERAS_MODULES[kind])
    assert getattr(module, entry.name, None) is entry.obj, f"{KERAS_MODULES[kind]}.{entry.name} is not {entry.obj!r}"
    for alias in (entry.name, *entry.aliases):
        assert REGISTRIES[kind].lookup(alias) is entry.obj, f"{kind}: lookup({alias!r}) is not {entry.name}"
    assert REGISTRIES[kind].name_of(entry.obj) == entry.name


@pytest.mark.parametrize(("kind", "entry"), all_entries(kinds=WITH_GET))
def test_reachable_through_get(kind, entry):
    """The module's ``get()`` resolves the Keras name and every alias to the registered object (or a new instance
    of the registered class), and answers a typo with a "did you mean" derived from the registry."""
    module = importlib.import_module(KERAS_MODULES[kind])
    get = getattr(module, "get", None)
    assert callable(get), f"{KERAS_MODULES[kind]} has no get()"
    for name in (entry.name, *entry.aliases):
        if isinstance(entry.obj, type) and required_parameters(entry.obj):
            continue  # get("ExponentialDecay") cannot build one without its arguments
        if kind == "metrics" and name != entry.name and _resolved_by_shapes(get, name):
            continue  # "acc" means binary, categorical or sparse accuracy depending on the shapes, as in Keras
        got = get(name)
        if isinstance(entry.obj, type):
            assert isinstance(got, entry.obj), f"{kind}.get({name!r}) gave {got!r}, not a {entry.name}"
        else:
            assert got is entry.obj, f"{kind}.get({name!r}) gave {got!r}, not {entry.name}"
    instance = make(kind, entry) if isinstance(entry.obj, type) else entry.obj
    assert get(instance) is instance, f"{kind}.get(an instance of {entry.name}) should return it unchanged"
    typo = entry.name + "q"
    if REGISTRIES[kind].lookup(typo) is None and entry.public:
        with pytest.raises(ValueError) as info:
            get(typo)
        assert entry.name in str(info.value) or REGISTRIES[kind].suggestion(typo) in str(info.value), (
            f"{kind}.get({typo!r}) should suggest {entry.name!r}: {info.value}"
        )


@pytest.mark.parametrize(("kind", "entry"), all_entries(classes=True, kinds=WITH_GET))
def test_get_accepts_a_serialized_config(kind, entry):
    """``get({"class_name": …, "config": …})`` rebuilds the object, as Keras's ``get`` does with a config."""
    obj = make(kind, entry)
    got = importlib.import_module(KERAS_MODULES[kind]).get({"class_name": entry.name, "config": obj.get_config()})
    assert type(got) is entry.obj, f"{kind}.get(a {entry.name} config) gave {got!r}"
    assert _jsonable(got.get_config()) == _jsonable(obj.get_config())


def _resolved_by_shapes(get, name: str) -> bool:
    """Whether a metric name means different classes for binary and for multi-class outputs."""
    try:
        binary = type(get(name, y_shape=(None, 1), output_shape=(None, 1)))
        sparse = type(get(name, y_shape=(None,), output_shape=(None, 3)))
    except (TypeError, ValueError):
        return False
    return binary is not sparse


# ---------------------------------------------------------------------------------------------- examples, schemas


@pytest.mark.parametrize(("kind", "entry"), all_entries(classes=True))
def test_has_example(kind, entry):
    """Every class this file cannot build without being told how has an entry in its example table."""
    spec = example(kind, entry)
    args = args_of(kind, entry)
    missing = [p for p in required_parameters(entry.obj) if p not in args]
    assert not missing, (
        f"{entry.keras_path} needs {missing} to be built: add them to its entry in {TABLE_NAMES[kind]} of "
        "tests/test_contracts.py"
    )
    if "task" in spec:
        assert spec["task"] in TASKS, f"{entry.name}: unknown task {spec['task']!r}; use one of {sorted(TASKS)}"
    make(kind, entry)


@pytest.mark.parametrize(("kind", "entry"), all_entries(classes=True))
def test_config_schema_matches_constructor(kind, entry):
    """``config_schema`` is declared once and agrees with the constructor: same defaults, no key the
    constructor would refuse (``Off`` and ignored keys are Keras settings gradfit only accepts at "off")."""
    cls = entry.obj
    declared = getattr(cls, "config_schema", None)
    assert isinstance(declared, schema.Schema), f"{entry.keras_path} declares no config_schema"
    params = constructor_parameters(cls)
    args = args_of(kind, entry)
    problems = []
    for key, field in declared.fields.items():
        param = params.get(key)
        if param is None:
            if isinstance(field, schema.Off):
                continue
            try:  # a key a base class takes through **kwargs (a layer's input_shape): the constructor must accept it
                cls(**{**args, key: field.default if not field.required else args.get(key)})
            except TypeError as exc:
                problems.append(f"{key!r} is in the schema but the constructor refuses it ({exc})")
            continue
        has_default = param.default is not inspect.Parameter.empty
        if field.required != (not has_default):
            problems.append(
                f"{key!r}: schema {'requires it' if field.required else f'default {field.default!r}'}, constructor "
                f"{'default ' + repr(param.default) if has_default else 'requires it'}"
            )
        elif has_default and not _same(field.default, param.default):
            problems.append(f"{key!r}: schema default {field.default!r} != constructor default {param.default!r}")
    for key in params:
        if key not in declared.fields and key not in declared.ignored:
            problems.append(f"constructor parameter {key!r} is not in the schema (a file could never set it)")
    assert not problems, f"{entry.keras_path}: " + "; ".join(problems)


def _same(a, b) -> bool:
    """Equal defaults: numbers by value (``0`` and ``0.0``), but ``True`` is not ``1``; lists and tuples alike."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(("kind", "entry"), all_entries(classes=True))
def test_from_config_round_trip(kind, entry):
    """``cls.from_config(obj.get_config())`` rebuilds an object with the same config, and the config passes the
    class's own schema as a file would give it (JSON mode)."""
    obj = make(kind, entry)
    config = obj.get_config()
    again = entry.obj.from_config(config)
    assert type(again) is entry.obj
    assert _jsonable(again.get_config()) == _jsonable(config), f"{entry.name}: config changed by from_config"
    try:
        from_file = json.loads(json.dumps(_jsonable(config)))
    except TypeError as exc:
        pytest.fail(f"{entry.name}: get_config() holds something a .keras file cannot: {exc}")
    rebuilt = schema.construct(entry.obj, from_file, f"{entry.name} config", REGISTRIES[kind].kind)
    assert _jsonable(rebuilt.get_config()) == _jsonable(config), f"{entry.name}: config changed by the schema"


def _jsonable(value):
    """A config with NumPy values and tuples made plain, to compare two configs."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get_config") and not isinstance(value, type):
        return {"class_name": type(value).__name__, "config": _jsonable(value.get_config())}
    return value


# ============================================================================================== layers


def layer_model(entry, seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    """``Input -> Dense(n) -> the layer -> (Flatten) -> Dense(2)`` and 12 examples: the Dense before the layer
    makes backprop's dJ/d(layer input) reach a weight, so ``check_gradients`` checks the layer's input gradient."""
    spec = example("layers", entry)
    shape = tuple(spec.get("input_shape", (4,)))
    if not spec.get("in_model", True):
        pytest.skip(f"{entry.name} is a model's input, not a layer inside it")
    layer = make("layers", entry)
    model = regression_model([keras_layers.Dense(shape[-1]), layer], input_shape=shape, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(M, *shape))
    y = rng.normal(size=(M, 2))
    return model, x, y


@pytest.mark.parametrize("entry", entries("layers"))
def test_layer_saved_and_loaded(entry, tmp_path):
    """A model with the layer, trained one step, saved and loaded: same configs, weights and predictions."""
    model, x, y = layer_model(entry)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=M, verbose=0, shuffle=False)
    loaded = save_and_load(model, tmp_path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for before, after in zip(model.layers, loaded.layers):
        assert _jsonable(after.get_config()) == _jsonable(before.get_config()), f"{before.name}: config changed"
    assert_same_weights(model, loaded, entry.name)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("entry", entries("layers"))
def test_layer_gradients_in_a_model(entry):
    """float64 finite differences of the cost wrt every weight, the layer's input included (through the Dense
    before it), in inference mode: ``gradfit.check_gradients``."""
    if not example("layers", entry).get("grad", True):
        pytest.skip(f"{entry.name} is not differentiable")
    gradfit.backend.set_floatx("float64")
    model, x, y = layer_model(entry)
    model.compile(optimizer="sgd", loss="mse")
    error = gradfit.check_gradients(model, x, y, epsilon=1e-6, max_entries_per_weight=None)
    assert error < 1e-6, f"{entry.name}: backprop and finite differences disagree (relative error {error:.2e})"


@pytest.mark.parametrize("entry", entries("layers"))
def test_layer_backward_in_training_mode(entry):
    """The layer alone, float64, in training mode (inference mode for a layer whose training output is random):
    ``backward(dy)`` gives ``d sum(dy * forward(x)) / dx`` and the gradient of each trainable weight."""
    spec = example("layers", entry)
    if not spec.get("grad", True) or not spec.get("in_model", True):
        pytest.skip(f"{entry.name} is not differentiable")
    gradfit.backend.set_floatx("float64")
    shape = tuple(spec.get("input_shape", (4,)))
    training = not spec.get("random", False)
    layer = make("layers", entry)
    layer.build((None, *shape))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(M, *shape))
    weights = [np.array(w, dtype=np.float64) for w in layer.get_weights()]
    weights[: len(layer.trainable_weights)] = [w + 0.1 * rng.normal(size=w.shape) for w in layer.trainable_weights]
    layer.set_weights(weights)
    out = layer.forward(x.copy(), training=training)
    dy = rng.normal(size=np.shape(out))
    dx = layer.backward(dy.copy())
    analytic_w = [np.array(g) for g in layer.gradients]

    def cost() -> float:
        layer.set_weights(weights)  # training-mode forward passes may move non-trainable state (moving means)
        return float(np.sum(dy * layer.forward(x, training=training)))

    idx, numeric = numeric_gradient(cost, x)
    error = worst_relative_error(np.asarray(dx).reshape(-1)[idx], numeric)
    assert error < 1e-6, f"{entry.name}: dJ/dx disagrees with finite differences (relative error {error:.2e})"
    for i, w in enumerate(weights[: len(analytic_w)]):
        idx, numeric = numeric_gradient(cost, w, entries=60)
        error = worst_relative_error(analytic_w[i].reshape(-1)[idx], numeric)
        assert error < 1e-6, f"{entry.name}: gradient of weight {i} disagrees (relative error {error:.2e})"


@pytest.mark.parametrize("entry", entries("layers"))
def test_layer_explained(entry):
    """``explain()`` shows the layer under its name with its own formulas (not the generic ``Name(a[1])``)."""
    model, _, _ = layer_model(entry)
    model.compile(optimizer="sgd", loss="mse")
    text = model.explain(print_fn=quiet)
    layer = model.layers[1]
    assert layer.name in text, f"{entry.name}: its name {layer.name!r} is not in explain()"
    assert type(layer).describe is not gradfit.layers.Layer.describe, (
        f"{entry.name} does not write its own describe(): explain() shows it as a bare function of its input"
    )
    first = layer.describe("a[1]", "a[2]", 2)["forward"][0]
    assert first in text, f"{entry.name}: its forward formula {first!r} is not in explain():\n{text}"


# ============================================================================================== activations


def _kink_free(z: np.ndarray) -> np.ndarray:
    """Points at least 0.01 from the kinks of the piecewise activations (relu6, hard_sigmoid, hard_shrink …)."""
    for kink in (0.0, -0.5, 0.5, -1.0, 1.0, -2.5, 2.5, -3.0, 3.0, 6.0):
        near = np.abs(z - kink) < 0.01
        z = np.where(near, z + 0.03, z)
    return z


@pytest.mark.parametrize("entry", entries("activations"))
def test_activation_gradient(entry):
    """float64 finite differences of ``sum(w * g(z))`` wrt ``z`` against ``backward(z, g(z), w)``."""
    act = entry.obj
    rng = np.random.default_rng(4)
    z = _kink_free(rng.uniform(-4.0, 7.0, size=(M, 3)))
    w = rng.normal(size=z.shape)
    a = act.forward(z.copy(), None)
    dz = act.backward(z.copy(), np.array(a, copy=True), w.copy())
    _, numeric = numeric_gradient(lambda: float(np.sum(w * act.forward(z.copy(), None))), z)
    error = worst_relative_error(dz, numeric)
    assert error < 1e-6, f"{entry.name}: g'(z) disagrees with finite differences (relative error {error:.2e})"
    np.testing.assert_allclose(np.asarray(act(z)), a, rtol=1e-12, atol=0, err_msg=f"{entry.name}: __call__")


@pytest.mark.parametrize("entry", entries("activations"))
def test_activation_in_a_model(entry, tmp_path):
    """``Dense(activation=name)``: saved and loaded with the same activation, explained with its formula, and
    its gradient checked inside a float64 model."""
    act = entry.obj
    model = regression_model([keras_layers.Dense(3, activation=entry.name)])
    assert model.layers[0].activation is act
    model.compile(optimizer="sgd", loss="mse")
    text = model.explain(print_fn=quiet)
    assert act.formula and act.formula in text, f"{entry.name}: its formula is not in explain()"
    loaded = save_and_load(model, tmp_path)
    assert loaded.layers[0].activation is act, f"{entry.name}: loaded as {loaded.layers[0].activation!r}"
    gradfit.backend.set_floatx("float64")
    model = regression_model([keras_layers.Dense(3, activation=entry.name)], seed=1)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(M, 4)), rng.normal(size=(M, 2))
    error = gradfit.check_gradients(model, x, y, epsilon=1e-6, max_entries_per_weight=None)
    assert error < 1e-5, f"{entry.name}: gradients in a model disagree (relative error {error:.2e})"


# ============================================================================================== losses


def loss_variants(entry) -> list:
    """The example loss, and its ``from_logits=True`` twin when the schema has that setting."""
    args = args_of("losses", entry)
    out = [entry.obj(**args)]
    if "from_logits" in getattr(entry.obj, "config_schema", schema.Schema()).fields:
        out.append(entry.obj(**{**args, "from_logits": True}))
    return out


@pytest.mark.parametrize("entry", entries("losses"))
def test_loss_gradient(entry):
    """float64 finite differences of the batch's summed loss wrt the output ``a`` (and wrt the logits ``z``
    where the loss is fused with the output activation), against ``batch_sum_and_grad``."""
    gradfit.backend.set_floatx("float64")
    task = example("losses", entry)["task"]
    _, y, _ = task_data(task)
    for loss in loss_variants(entry):
        rng = np.random.default_rng(6)
        a, z, g = outputs_for(task, rng)
        if loss.from_logits:
            a = z  # a holds logits
        total, grad = loss.batch_sum_and_grad(y, a.copy())
        assert np.shape(grad) == a.shape, f"{entry.name}: gradient shape {np.shape(grad)} for outputs {a.shape}"
        mean = float(np.asarray(loss(y, a)))
        np.testing.assert_allclose(total, mean * M, rtol=1e-10, err_msg=f"{entry.name}: sum vs loss(y, a) * m")
        _, numeric = numeric_gradient(lambda: loss.batch_sum_and_grad(y, a)[0], a)  # noqa: B023
        error = worst_relative_error(grad, numeric)
        assert error < 1e-6, f"{entry.name} (from_logits={loss.from_logits}): dL/da disagrees ({error:.2e})"
        if not loss.from_logits and loss.logits_activation is not None and loss.logits_activation == g:
            act = gradfit.activations.get(g)
            total_z, grad_z = loss.batch_sum_and_grad(y, act(z), z=z.copy())
            np.testing.assert_allclose(total_z, total, rtol=1e-9, err_msg=f"{entry.name}: fused sum")
            _, numeric = numeric_gradient(lambda: loss.batch_sum_and_grad(y, np.asarray(act(z)))[0], z)  # noqa: B023
            error = worst_relative_error(grad_z, numeric)
            assert error < 1e-6, f"{entry.name}: fused dL/dz disagrees with finite differences ({error:.2e})"


@pytest.mark.parametrize("entry", entries("losses"))
def test_loss_attributes(entry):
    """What ``advice``, ``explain`` and the training step read off a loss, instead of switching on its type."""
    for loss in loss_variants(entry):
        assert loss.expects in ("probabilities", "logits", "labels", "values"), f"{entry.name}.expects"
        assert loss.logits_activation in (None, "sigmoid", "softmax"), f"{entry.name}.logits_activation"
        assert isinstance(loss.sparse, bool) and isinstance(loss.from_logits, bool)
        assert isinstance(loss.formula, str) and loss.formula.startswith("L"), f"{entry.name}.formula: {loss.formula!r}"
        if loss.from_logits:
            assert loss.expects == "logits", f"{entry.name}(from_logits=True) should expect logits"


def compiled_model(task: str, loss, optimizer="adam", metrics=None, seed: int = 0, logits: bool = False) -> tuple:
    """``Input(4) -> Dense(5, tanh) -> Dense(units, g)`` compiled for ``task`` (``logits``: a linear output)."""
    x, y, (units, act) = task_data(task, seed)
    act = None if logits else act
    gradfit.keras.utils.set_random_seed(seed)
    model = Sequential([Input(shape=(4,)), keras_layers.Dense(5, activation="tanh"), keras_layers.Dense(units, act)])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model, x, y


@pytest.mark.parametrize("entry", entries("losses"))
def test_loss_saved_loaded_and_explained(entry, tmp_path):
    """Compiled with the loss, trained a step, saved and loaded: the same compile config, loss value and
    predictions; ``explain()`` shows the loss's formula."""
    task = example("losses", entry)["task"]
    for i, loss in enumerate(loss_variants(entry)):
        model, x, y = compiled_model(task, loss, logits=loss.from_logits)
        model.fit(x, y, epochs=1, batch_size=M, verbose=0, shuffle=False)
        text = model.explain(print_fn=quiet)
        assert loss.formula and loss.formula in text, f"{entry.name}: its formula is not in explain()"
        loaded = save_and_load(model, tmp_path, f"loss{i}.keras")
        assert _jsonable(loaded.get_compile_config()) == _jsonable(model.get_compile_config())
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# ============================================================================================== optimizers


def _continue_check(make_optimizer, tmp_path, what: str) -> None:
    """Two steps, save, load, two more steps == four steps without the interruption (to 1e-6)."""
    straight, x, y = compiled_model("regression", "mse", optimizer=make_optimizer())
    interrupted, _, _ = compiled_model("regression", "mse", optimizer=make_optimizer())
    interrupted.set_weights(straight.get_weights())
    fit = {"batch_size": M // 2, "verbose": 0, "shuffle": False}
    straight.fit(x, y, epochs=2, **fit)
    interrupted.fit(x, y, epochs=1, **fit)
    loaded = save_and_load(interrupted, tmp_path, "interrupted.keras")
    assert _jsonable(loaded.optimizer.get_config()) == _jsonable(interrupted.optimizer.get_config())
    assert int(loaded.optimizer.iterations) == int(interrupted.optimizer.iterations) == 2
    loaded.fit(x, y, epochs=1, **fit)
    for i, (u, v) in enumerate(zip(straight.get_weights(), loaded.get_weights())):
        np.testing.assert_allclose(v, u, rtol=1e-6, atol=1e-6, err_msg=f"{what}: weight {i} after resuming")


@pytest.mark.parametrize("entry", entries("optimizers"))
def test_optimizer_state_saved_and_loaded(entry, tmp_path):
    """Training resumed from a ``.keras`` file continues exactly: the optimizer's variables are all saved."""
    _continue_check(lambda: make("optimizers", entry), tmp_path, entry.name)


@pytest.mark.parametrize("entry", entries("optimizers"))
def test_optimizer_explained(entry):
    """``explain()`` shows the optimizer's update rule."""
    opt = make("optimizers", entry)
    assert isinstance(opt.rule, str) and opt.rule, f"{entry.name} declares no update rule"
    model, x, y = compiled_model("regression", "mse", optimizer=opt)
    model.build((None, 4))
    text = model.explain(print_fn=quiet)
    assert opt.rule in text, f"{entry.name}: its rule {opt.rule!r} is not in explain()"


# ============================================================================================== metrics


@pytest.mark.parametrize("entry", entries("metrics"))
def test_metric_saved_and_loaded(entry, tmp_path):
    """Compiled as a metric, trained a step, saved and loaded: the same compile config and the same value."""
    spec = example("metrics", entry)
    if not spec.get("compile", True):
        pytest.skip(f"{entry.name} is a base class, not a metric to compile on its own")
    loss = {"binary": "binary_crossentropy", "onehot": "categorical_crossentropy"}.get(spec["task"], "mse")
    loss = "sparse_categorical_crossentropy" if spec["task"] == "sparse" else loss
    metric = make("metrics", entry)
    model, x, y = compiled_model(spec["task"], loss, metrics=[metric])
    model.fit(x, y, epochs=1, batch_size=M, verbose=0, shuffle=False)
    loaded = save_and_load(model, tmp_path)
    assert _jsonable(loaded.get_compile_config()) == _jsonable(model.get_compile_config())
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert after == before, f"{entry.name}: {before} before saving, {after} after loading"
    assert metric.name in after


# ============================================================================= initializers, regularizers


@pytest.mark.parametrize("entry", entries("initializers"))
def test_initializer_saved_and_loaded(entry, tmp_path):
    """``Dense(kernel_initializer=…)`` saved and loaded keeps the initializer's config (and the weights)."""
    init = make("initializers", entry)
    model = regression_model([keras_layers.Dense(3, kernel_initializer=init)])
    values = model.layers[0].get_weights()[0]
    assert np.isfinite(values).all() and values.shape == (4, 3)
    model.compile(optimizer="sgd", loss="mse")
    loaded = save_and_load(model, tmp_path)
    assert _jsonable(loaded.layers[0].get_config()) == _jsonable(model.layers[0].get_config())
    assert_same_weights(model, loaded, entry.name)


@pytest.mark.parametrize("entry", entries("regularizers"))
def test_regularizer_gradient_saved_and_explained(entry, tmp_path):
    """``Dense(kernel_regularizer=…)``: the penalty's gradient passes a float64 finite-difference check, the
    regularizer survives saving, and ``explain()`` names it among the penalties."""
    gradfit.backend.set_floatx("float64")
    reg = make("regularizers", entry)
    model = regression_model([keras_layers.Dense(3, activation="tanh", kernel_regularizer=reg)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(M, 4)), rng.normal(size=(M, 2))
    error = gradfit.check_gradients(model, x, y, epsilon=1e-6, max_entries_per_weight=None)
    assert error < 1e-6, f"{entry.name}: the penalty's gradient disagrees (relative error {error:.2e})"
    assert type(reg).__name__ in model.explain(print_fn=quiet), f"{entry.name} is not among explain()'s penalties"
    loaded = save_and_load(model, tmp_path)
    assert _jsonable(loaded.layers[0].get_config()) == _jsonable(model.layers[0].get_config())
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-12)


# ============================================================================================== schedules


@pytest.mark.parametrize("entry", entries("schedules"))
def test_schedule_saved_and_resumed(entry, tmp_path):
    """``SGD(learning_rate=schedule)``: the schedule survives saving, and training resumed from the file
    continues at the right step of it."""
    sched = make("schedules", entry)
    assert np.isfinite(float(sched(0))) and np.isfinite(float(sched(3)))
    _continue_check(
        lambda: gradfit.keras.optimizers.SGD(learning_rate=make("schedules", entry), momentum=0.5), tmp_path, entry.name
    )
