"""Reading a model's config safely: a checked *plan* of the model, made before anything is built.

Every class a config names is looked up in gradfit's registries (``registry.LAYERS`` for layers, and through
:func:`~gradfit.schema.load_object` the activations, initializers, regularizers, losses, optimizers, metrics and
schedules nested in them); its settings are checked by that class's own ``config_schema``, the same
declaration its constructor checks. Nothing a file names is imported or called. The plan also predicts every
weight the model will create (``layer.keras_weights(input_shape)``), so a weights file can be checked against
it, and a config declaring huge weights refused, before any array is allocated.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import Counter

import numpy as np

from .. import registry
from ..schema import (
    MAX_DIM,
    MAX_RANK,
    Bool,
    Choice,
    DType,
    Int,
    ModelFileError,
    Name,
    Shape,
    check_serialized,
    fail,
    load_object,
    short,
)

MAX_LAYERS = 10_000
#: the most values one example may have at any layer's input or output, in a model read from a file (a layer's
#: constants, such as Normalization's fixed mean and variance, are as large as its input)
MAX_EXAMPLE_VALUES = 1 << 27
_LAYER_KEYS = frozenset({"module", "class_name", "config", "registered_name", "build_config", "shared_object_id"})
_MODEL_KEYS = frozenset(
    {"module", "class_name", "config", "registered_name", "build_config", "compile_config", "shared_object_id"}
)
_SEQUENTIAL_KEYS = frozenset({"name", "trainable", "dtype", "layers", "build_input_shape"})
_MODEL_MODULES = ("keras", "keras.models", "keras.src.models.sequential")
_COMPILE_KEYS = frozenset(
    {
        "optimizer",
        "loss",
        "loss_weights",
        "metrics",
        "weighted_metrics",
        "run_eagerly",
        "steps_per_execution",
        "jit_compile",
        "auto_scale_loss",
    }
)
_MAX_METRICS = 100


# ------------------------------------------------------------------------------------------- Keras's names


def keras_layer_paths(class_names) -> list[str]:
    """``layers/dense``, ``layers/dense_1``, ``layers/normalization`` …: Keras names a Sequential model's weight
    groups after each layer's class and its rank among layers of that class, not after the layer's name."""
    used: dict[str, int] = {}
    snake: dict[str, str] = {}  # one snake_case per class, not per layer (10,000 Activation layers)
    paths = []
    for class_name in class_names:
        base = snake.get(class_name) or snake.setdefault(class_name, registry.snake_case(class_name))
        if base in used:
            used[base] += 1
            paths.append(f"layers/{base}_{used[base]}")
        else:
            used[base] = 0
            paths.append(f"layers/{base}")
    return paths


def weight_specs(layer) -> list[tuple[str, tuple, bool, str]]:
    """A built layer's weights ``(attribute, shape, trainable, dtype)`` in Keras's ``vars/0, vars/1 …`` order:
    trainable ones first, each group in creation order (whether or not the layer is frozen right now, as Keras)."""
    specs = [s for s in layer._specs if s.trainable] + [s for s in layer._specs if not s.trainable]
    return [(s.name, tuple(s.shape), bool(s.trainable), str(getattr(layer, s.name).dtype)) for s in specs]


def supported_layers() -> list[str]:
    """The Keras layer classes gradfit reads from a config: every registered layer."""
    return registry.LAYERS.names(public_only=False)


# ------------------------------------------------------------------------------------------- plans


class LayerPlan:
    __slots__ = ("layer", "class_name", "path", "weights")

    def __init__(self, layer, class_name, path=None, weights=()):
        self.layer, self.class_name, self.path, self.weights = layer, class_name, path, list(weights)


class ModelPlan:
    """A checked config: layer objects (no weights allocated yet), the predicted weights and compile settings."""

    def __init__(self):
        self.name = None
        self.trainable = True
        self.layers: list[LayerPlan] = []  # the InputLayer, when there is one, first (path None)
        self.build_shape = None
        self.compile = None  # dict(optimizer=…, loss=…, metrics=…) or None

    @property
    def weighted(self) -> list[LayerPlan]:
        return [p for p in self.layers if p.path is not None]

    def counts(self) -> tuple[int, int, int]:
        """(number of weight arrays, number of values, bytes in the config's dtypes)."""
        arrays = values = nbytes = 0
        for p in self.weighted:
            for _, shape, _, dtype in p.weights:
                n = math.prod(shape)
                arrays, values, nbytes = arrays + 1, values + n, nbytes + n * np.dtype(dtype).itemsize
        return arrays, values, nbytes

    def trainable_shapes(self) -> list[tuple]:
        """The shapes of the model's trainable weights, in ``model.trainable_weights`` order."""
        return [w[1] for p in self.weighted if p.layer.trainable for w in p.weights if w[2]]

    def weights_dtype(self, default: str) -> np.dtype:
        """The float type of the trainable weights (the optimizer's state has it too)."""
        return np.result_type(*[w[3] for p in self.weighted for w in p.weights if w[2]] or [default])


def plan_for_model(model) -> ModelPlan:
    """The plan of an existing built model: its layers, Keras paths and weights as they are."""
    plan = ModelPlan()
    layers = model.layers
    for layer, path in zip(layers, keras_layer_paths(type(layer).__name__ for layer in layers)):
        plan.layers.append(LayerPlan(layer, type(layer).__name__, path, weight_specs(layer)))
    return plan


# ------------------------------------------------------------------------------------------- layers


def layer_from_entry(entry, where: str):
    """One entry of ``config['layers']``: ``(layer object, class name, build shape)``, the class taken from
    ``registry.LAYERS`` and its settings checked by its ``config_schema``."""
    if not isinstance(entry, dict):
        fail(where, f"expected a serialized layer, got {short(entry)}")
    extra = set(entry) - _LAYER_KEYS
    if extra:
        fail(where, f"unexpected keys {sorted(extra)} in a serialized layer")
    class_name = entry.get("class_name")
    if class_name == "Lambda":
        fail(
            where,
            "refusing layer 'Lambda': a Lambda layer holds Python code, and gradfit never runs code "
            "stored in a model file",
        )
    stripped = {k: v for k, v in entry.items() if k != "build_config"}
    check_serialized(stripped, where, "layer", (registry.LAYERS.module,), registry.LAYERS)
    cls = registry.LAYERS.lookup(class_name)
    schema = getattr(cls, "config_schema", None)
    if not isinstance(cls, type) or schema is None:
        fail(where, f"layer {class_name!r} declares no config schema, so gradfit does not read it from files")
    config = entry.get("config")
    if not isinstance(config, dict):
        fail(where, f"the config of layer {class_name} must be an object, got {short(config)}")
    if isinstance(config.get("name"), str):
        where = f"{where} ({class_name} {config['name'][:80]!r})"
    build_shape = None
    build_config = entry.get("build_config")
    if build_config is not None:
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            fail(f"{where}.build_config", f"expected {{'input_shape': [...]}}, got {short(build_config)}")
        if build_config.get("input_shape") is not None:
            build_shape = Shape().load(build_config["input_shape"], f"{where}.build_config.input_shape")
    kwargs = schema.load(config, where, class_name)
    try:
        layer = cls.from_config(kwargs)
    except ModelFileError:
        raise
    except (TypeError, ValueError, NotImplementedError, ArithmeticError, KeyError) as exc:
        fail(where, f"{class_name}: {exc}")
    return layer, class_name, build_shape


def plan_from_config(config, where: str = "config", top: dict | None = None) -> ModelPlan:
    """Check a Sequential config (the inner ``config`` of Keras's serialized model) and plan the model."""
    from ..layers.input_layer import InputLayer

    if not isinstance(config, dict):
        fail(where, f"expected a Sequential config (an object with 'layers'), got {short(config)}")
    extra = set(config) - _SEQUENTIAL_KEYS
    if extra:
        fail(where, f"unexpected keys {sorted(extra)} in a Sequential config")
    plan = ModelPlan()
    if config.get("name") is not None:
        plan.name = Name().load(config["name"], f"{where}.name")
    plan.trainable = Bool().load(config.get("trainable", True), f"{where}.trainable")
    DType().load(config.get("dtype"), f"{where}.dtype")
    entries = config.get("layers")
    if not isinstance(entries, list) or len(entries) > MAX_LAYERS + 1:  # + 1: an InputLayer is not a layer
        fail(f"{where}.layers", f"expected a list of at most {MAX_LAYERS} layers, got {short(entries)}")
    layer_build_shapes = []
    for i, entry in enumerate(entries):
        layer, class_name, build_shape = layer_from_entry(entry, f"{where}.layers[{i}]")
        if isinstance(layer, InputLayer) and i > 0:
            fail(f"{where}.layers[{i}]", "an InputLayer can only be the first layer of a Sequential model")
        plan.layers.append(LayerPlan(layer, class_name))
        layer_build_shapes.append(build_shape)
    dupes = sorted(n for n, k in Counter(p.layer.name for p in plan.layers).items() if k > 1)
    if dupes:
        fail(f"{where}.layers", f"layer names must be unique, {dupes[:5]} repeat")
    weighted = [p for p in plan.layers if not isinstance(p.layer, InputLayer)]
    if len(weighted) > MAX_LAYERS:
        fail(f"{where}.layers", f"expected at most {MAX_LAYERS} layers, got {len(weighted)}")
    for p, path in zip(weighted, keras_layer_paths(p.class_name for p in weighted)):
        p.path = path
    # the input shape the model will be built for, in the order Sequential itself uses
    candidates = []
    if plan.layers and isinstance(plan.layers[0].layer, InputLayer):
        candidates.append(plan.layers[0].layer.batch_shape)
    if weighted and weighted[0].layer._input_shape_arg is not None:
        candidates.append(weighted[0].layer._input_shape_arg)
    if config.get("build_input_shape") is not None:
        candidates.append(Shape().load(config["build_input_shape"], f"{where}.build_input_shape"))
    if top is not None and isinstance(top.get("build_config"), dict) and top["build_config"].get("input_shape"):
        candidates.append(Shape().load(top["build_config"]["input_shape"], "build_config.input_shape"))
    first = layer_build_shapes[len(plan.layers) - len(weighted)] if weighted else None
    if first is not None:
        candidates.append(first)
    plan.build_shape = candidates[0] if candidates and weighted else None
    if plan.build_shape is not None:
        _predict_weights(weighted, plan.build_shape, f"{where}.layers")
    return plan


def _predict_weights(weighted: list[LayerPlan], input_shape, where: str) -> None:
    """Each layer's weights for ``input_shape``, as its ``keras_weights`` predicts them (nothing allocated)."""
    shape = tuple(input_shape)
    if len(shape) < 2:
        shape = (None,) + shape
    per_example = math.prod(d for d in shape[1:] if d is not None)
    if per_example > MAX_EXAMPLE_VALUES:
        fail(
            where,
            f"the input shape {shape} has {per_example} values per example, more than the {MAX_EXAMPLE_VALUES} "
            "gradfit reads from a file",
        )
    for p in weighted:
        try:
            p.weights = [(n, tuple(s), bool(t), str(d)) for n, s, t, d in p.layer.keras_weights(shape)]
            shape = tuple(p.layer.compute_output_shape(shape))
        except ModelFileError:
            raise
        except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
            fail(where, f"layer {p.layer.name!r} cannot take inputs of shape {shape}: {exc}")
        if len(shape) > MAX_RANK or any(d is not None and not 0 < d <= MAX_DIM for d in shape):
            fail(where, f"layer {p.layer.name!r} would output the shape {shape}")
        per_example = math.prod(d for d in shape[1:] if d is not None)
        if per_example > MAX_EXAMPLE_VALUES:
            # a layer may hold constants of its input's size (Normalization's fixed mean and variance) that
            # are no weights: bounded here, before any is allocated
            fail(
                where,
                f"layer {p.layer.name!r} would output {per_example} values per example (shape {shape}), more than "
                f"the {MAX_EXAMPLE_VALUES} gradfit reads from a file",
            )
        for n, s, _, d in p.weights:
            if (
                len(s) > MAX_RANK
                or any(not (isinstance(k, int) and 0 <= k <= MAX_DIM) for k in s)
                or d not in ("float16", "float32", "float64", "int64")
            ):
                fail(where, f"layer {p.layer.name!r} would make the weight {n} of shape {s} and dtype {d}")


# ------------------------------------------------------------------------------------------- compile settings


def _load_loss(v, where: str):
    """A loss from a file: a registered name (kept as the name, as compile() was given it; 'crossentropy' and
    'ce' too, resolved from the data's shapes as Keras does), a Keras function reference (the loss's function
    form), or a serialized loss object checked by its class's schema."""
    from ..losses import CROSSENTROPY_NAMES

    if v is None:
        return None
    losses = registry.LOSSES
    if isinstance(v, str):
        if v not in losses and v.lower() not in CROSSENTROPY_NAMES:  # 'crossentropy': resolved from the data
            fail(where, losses.unknown_message(v))
        return v
    if isinstance(v, dict) and v.get("class_name") == "function":
        _, name = check_serialized(v, where, "loss", (losses.module, "builtins"))
        cls = losses.lookup(name) if isinstance(name, str) else None
        if cls is None:
            fail(where, f"unknown loss function {short(name)}; gradfit has: {losses.known()}")
        return getattr(cls, "function", None) or cls()
    return load_object(losses, v, where)


def _metric_name_known(name: str) -> bool:
    return name.lower() in ("accuracy", "acc") or name in registry.METRICS or name in registry.LOSSES


def _load_metric(v, where: str):
    """A metric from a file: a name ``metrics.get`` resolves ('accuracy', a metric's or a loss's name), a function
    reference to one (a loss's function comes back as that function, as Keras loads it), a serialized metric
    object checked by its class's schema, or a serialized loss object (Keras's ``compile`` was given a loss as a
    metric; it comes back as that loss, which ``compile`` wraps as a metric again, as in Keras)."""
    if isinstance(v, str):
        if not _metric_name_known(v):
            fail(where, registry.METRICS.unknown_message(v))
        return v
    if isinstance(v, dict) and v.get("class_name") == "function":
        modules = (registry.METRICS.module, registry.LOSSES.module, "builtins")
        _, name = check_serialized(v, where, "metric", modules)
        if not isinstance(name, str) or not _metric_name_known(name):
            fail(where, f"unknown metric function {short(name)}; gradfit has: {registry.METRICS.known()}")
        function = getattr(registry.LOSSES.lookup(name), "function", None)
        return function if callable(function) else name
    if isinstance(v, dict) and v.get("module") == registry.LOSSES.module:
        return load_object(registry.LOSSES, v, where)
    return load_object(registry.METRICS, v, where)


def _load_metrics(metrics, where: str) -> list | None:
    if metrics is None:
        return None
    if isinstance(metrics, (str, dict)):
        metrics = [metrics]
    if not isinstance(metrics, list) or len(metrics) > _MAX_METRICS:
        fail(where, f"expected a list of at most {_MAX_METRICS} metrics, got {short(metrics)}")
    return [_load_metric(m, f"{where}[{i}]") for i, m in enumerate(metrics)]


def _load_loss_weights(v, where: str):
    """``loss_weights`` as Keras writes it (as compile() was given it: a float, a list of one, a dict by output
    name), checked as ``compile`` checks it; kept as given."""
    from ..training import single_loss_weight

    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)  # JSON writes 1.0 as 1
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], int) and not isinstance(v[0], bool):
        v = [float(v[0])]
    if isinstance(v, dict) and len(v) == 1:
        v = {k: float(x) if isinstance(x, int) and not isinstance(x, bool) else x for k, x in v.items()}
    try:
        single_loss_weight(v)
    except (TypeError, ValueError) as exc:
        fail(where, str(exc))
    return v


def plan_compile(compile_config, where: str = "compile_config") -> dict | None:
    """The optimizer, loss, loss weights and metrics of Keras's ``compile_config``, each checked and built (not
    compiled)."""
    if compile_config is None:
        return None
    if not isinstance(compile_config, dict):
        fail(where, f"expected an object, got {short(compile_config)}")
    extra = set(compile_config) - _COMPILE_KEYS
    if extra:
        fail(where, f"unexpected keys {sorted(extra)}")
    run_options = {}  # how Keras runs its steps, as compile() was given them
    for key in ("run_eagerly", "auto_scale_loss"):
        if key in compile_config:
            run_options[key] = Bool().load(compile_config[key], f"{where}.{key}")
    if "steps_per_execution" in compile_config:
        run_options["steps_per_execution"] = Int(lo=1, hi=1 << 31).load(
            compile_config["steps_per_execution"], f"{where}.steps_per_execution"
        )
    if "jit_compile" in compile_config:
        run_options["jit_compile"] = Choice(True, False, "auto").load(
            compile_config["jit_compile"], f"{where}.jit_compile"
        )
    optimizer = load_object(registry.OPTIMIZERS, compile_config.get("optimizer", "rmsprop"), f"{where}.optimizer")
    loss = _load_loss(compile_config.get("loss"), f"{where}.loss")
    return {
        "optimizer": optimizer,
        "loss": loss,
        "loss_weights": _load_loss_weights(compile_config.get("loss_weights"), f"{where}.loss_weights"),
        "metrics": _load_metrics(compile_config.get("metrics"), f"{where}.metrics"),
        "weighted_metrics": _load_metrics(compile_config.get("weighted_metrics"), f"{where}.weighted_metrics"),
        "run_options": run_options,
    }


def plan_from_serialized(top, where: str = "config.json") -> ModelPlan:
    """Check Keras's serialized model ``{"module": "keras", "class_name": "Sequential", "config": …}``."""
    if not isinstance(top, dict):
        fail(where, f"expected a serialized model (a JSON object), got {short(top)}")
    extra = set(top) - _MODEL_KEYS
    if extra:
        fail(where, f"unexpected keys {sorted(extra)} in a serialized model")
    class_name = top.get("class_name")
    if class_name in ("Functional", "Model"):
        fail(where, f"this file holds a Keras {class_name} model; gradfit loads Sequential models only")
    inner = {k: v for k, v in top.items() if k not in ("build_config", "compile_config")}
    check_serialized(inner, where, "model", _MODEL_MODULES, ("Sequential",))
    build_config = top.get("build_config")
    if build_config is not None:
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            fail(f"{where}: build_config", f"expected {{'input_shape': [...]}}, got {short(build_config)}")
    plan = plan_from_config(top.get("config"), f"{where}: config", top)
    plan.compile = plan_compile(top.get("compile_config"), f"{where}: compile_config")
    return plan


# ------------------------------------------------------------------------------------------- building


def build(plan: ModelPlan, where: str):
    """The Sequential model of a checked plan, built, with its weights still as initialised."""
    from ..models import Sequential
    from ..parameters import preallocated

    trainable = [w for p in plan.weighted if p.layer.trainable for w in p.weights if w[2]] if plan.trainable else []
    dtypes = {w[3] for w in trainable}
    # the layers draw their initial weights straight into the model's vector: building costs the weights once
    layout = preallocated([w[1] for w in trainable], dtypes.pop()) if len(dtypes) == 1 else contextlib.nullcontext()
    try:
        with layout:
            model = Sequential(layers=[p.layer for p in plan.layers], name=plan.name, trainable=plan.trainable)
            if plan.build_shape is not None and not model.built:
                model.build(plan.build_shape)
    except (TypeError, ValueError, NotImplementedError, ArithmeticError, IndexError) as exc:
        fail(where, f"cannot build the model: {exc}")
    for p in plan.weighted:  # the weights the layers made are the ones predicted (else keras_weights is wrong)
        made = [w[:3] for w in weight_specs(p.layer)]
        if made != [w[:3] for w in p.weights]:
            fail(where, f"layer {p.layer.name!r} made the weights {made}, not the predicted {p.weights}")
    return model


def compile_model(model, plan: ModelPlan) -> None:
    from ..advice import GradfitAdvice

    c = plan.compile
    with warnings.catch_warnings():  # the learner did not write this compile call: advice comes with fit
        warnings.simplefilter("ignore", GradfitAdvice)
        try:
            model.compile(
                optimizer=c["optimizer"],
                loss=c["loss"],
                metrics=c["metrics"],
                loss_weights=c.get("loss_weights"),
                weighted_metrics=c.get("weighted_metrics"),
                **c.get("run_options", {}),
            )
        except (TypeError, ValueError, NotImplementedError) as exc:
            fail("compile_config", f"cannot compile the model: {exc}")
