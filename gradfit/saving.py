"""Save and load models in Keras 3's own file formats, without ever running code named by a file.

Files written here are the ones Keras 3 writes, so ``keras.saving.load_model`` opens them, and Keras's
``.keras`` files open here:

* ``model.save('m.keras')``: a zip archive holding ``metadata.json``, ``config.json`` (Keras's schema:
  ``{"module": "keras", "class_name": "Sequential", "config": {...}, "build_config": ..., "compile_config": ...}``)
  and ``model.weights.h5``, an HDF5 file with one group per layer (``layers/dense/vars/0`` is the first
  ``Dense`` layer's kernel, ``layers/dense_1/vars/1`` the second one's bias) and the optimizer's state
  (``optimizer/vars/0`` the step count, ``vars/1`` the learning rate, then its slots), so training resumes
  where it stopped;
* ``model.save_weights('w.weights.h5')`` / ``model.load_weights(...)``: the same HDF5 file alone;
* ``model.to_json()`` / ``model_from_json(...)``, ``get_config()`` / ``from_config(...)``: the config alone.

Loading is safe by construction, whatever the file holds:

* nothing named in a file is ever imported or called: configs are read against an allow-list of gradfit's
  own layers, activations, initializers, regularizers, losses, metrics, optimizers and schedules, and
  anything else (``Lambda``, a function reference, a module path, an unknown class or setting) is refused
  with a :class:`ModelFileError` naming it;
* no pickle anywhere (``.npz`` weights, which may hold pickles, are refused unread);
* zip members are checked by name (no paths, no ``../``), compression method and size before a byte is
  read; the weights member may not be much larger than the parameters its config declares, and reads are
  capped whatever the zip headers claim, so a member that inflates to gigabytes fails fast in little memory;
* every weight's shape and dtype is checked against the config (HDF5 links, external storage and
  compression filters refused) before any model is built or any weight assigned, so a bad file leaves
  no half-loaded model;
* writes go to a temporary file in the target's folder, renamed over the target once complete.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings

import numpy as np

from . import activations, backend, initializers, losses, optimizers, regularizers, schedules
from . import metrics as metrics_module

__all__ = [
    "ModelFileError",
    "load_model",
    "load_weights",
    "model_from_config",
    "model_from_json",
    "model_to_json",
    "save_model",
    "save_weights",
]


class ModelFileError(ValueError):
    """A model file or config that gradfit refuses to load: corrupt, hostile, or naming something unsupported.

    The message says which file part and which entry, and why.
    """


# ------------------------------------------------------------------------------------------- limits

_CONFIG_NAME = "config.json"
_METADATA_NAME = "metadata.json"
_WEIGHTS_NAME = "model.weights.h5"
_ARCHIVE_MEMBERS = (_METADATA_NAME, _CONFIG_NAME, _WEIGHTS_NAME)
#: the Keras version whose file format gradfit writes (and checked its files against)
KERAS_FORMAT_VERSION = "3.15.1"

_MAX_MEMBERS = 16
_MAX_CONFIG_BYTES = 16 << 20
_MAX_METADATA_BYTES = 1 << 20
# The weights member holds the model's weights, at most three optimizer slots per weight, HDF5 bookkeeping
# (about 1.5 KiB per group or dataset) and nothing else. Keras writes members uncompressed.
_WEIGHTS_SLACK_BYTES = 2 << 20
_WEIGHTS_BYTES_PER_ARRAY = 8 << 10
_WEIGHTS_COPIES = 5
_MAX_COMPRESSION_RATIO = 50
_COMPRESSION_RATIO_FLOOR = 32 << 20
#: a config read without weights (``model_from_json``, ``from_config``) may declare at most this many parameters
MAX_PARAMS_WITHOUT_WEIGHTS = 1 << 27
_MAX_LAYERS = 10_000
_MAX_RANK = 8
_MAX_DIM = (1 << 31) - 1
_MAX_STRING = 1024
_MAX_LIST = 1 << 20
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _fail(where: str, message: str):
    raise ModelFileError(f"{where}: {message}" if where else message)


def _short(value, limit: int = 80) -> str:
    """A bounded ``repr`` (depth and length capped: the value may be hostile)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlist, r.maxdict = 3, limit, limit, 6, 6
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------- JSON values

_SKIP = object()  # no default to fill in


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _v_bool(v, where):
    if not isinstance(v, bool):
        _fail(where, f"expected true or false, got {_short(v)}")
    return v


def _v_int(v, where, lo=None, hi=None):
    if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f" in [{lo}, {hi}]" if hi is not None else f" >= {lo}" if lo is not None else ""
        _fail(where, f"expected an integer{bounds}, got {_short(v)}")
    return v


def _v_pos_int(v, where):
    return _v_int(v, where, 1, _MAX_DIM)


def _v_opt_int(v, where):
    return None if v is None else _v_int(v, where, -(1 << 63), (1 << 63) - 1)


def _v_number(v, where, lo=None, hi=None):
    if not _is_number(v) or not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f" in [{lo}, {hi}]" if lo is not None and hi is not None else f" >= {lo}" if lo is not None else ""
        _fail(where, f"expected a finite number{bounds}, got {_short(v)}")
    return v


def _v_opt_number(v, where):
    return None if v is None else _v_number(v, where)


def _v_str(v, where):
    if not isinstance(v, str) or len(v) > _MAX_STRING:
        _fail(where, f"expected a string of at most {_MAX_STRING} characters, got {_short(v)}")
    return v


def _v_name(v, where):
    if not isinstance(v, str) or not v or len(v) > 256 or "/" in v or not v.isprintable():
        _fail(where, f"expected a name (printable, without '/', at most 256 characters), got {_short(v)}")
    return v


def _v_none(v, where):
    if v is not None:
        _fail(where, f"gradfit supports only null here, got {_short(v)}")
    return v


def _v_plain(v, where, depth: int = 0):
    """A JSON scalar or a (nested, bounded) list of scalars: no objects, which could name classes."""
    if v is None or isinstance(v, bool) or _is_int(v) or isinstance(v, str):
        if isinstance(v, str) and len(v) > _MAX_STRING:
            _fail(where, f"string longer than {_MAX_STRING} characters")
        if _is_int(v) and abs(v) >= 1 << 63:
            _fail(where, f"integer out of range: {_short(v)}")
        return v
    if isinstance(v, float):
        return _v_number(v, where)
    if isinstance(v, list) and depth < 4 and len(v) <= _MAX_LIST:
        return [_v_plain(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
    _fail(where, f"expected a number, string, boolean, null or list of them, got {_short(v)}")


def _v_shape(v, where, batch: bool = True):
    """A shape as Keras writes it: ``[null, 4]`` (with the batch axis) or ``[4]`` (without)."""
    if not isinstance(v, (list, tuple)) or not (1 if batch else 0) <= len(v) <= _MAX_RANK:
        _fail(where, f"expected a shape (a list of at most {_MAX_RANK} sizes), got {_short(v)}")
    for i, d in enumerate(v):
        if d is not None and not (_is_int(d) and 1 <= d <= _MAX_DIM):
            _fail(where, f"size {i} of shape {_short(v)} must be null or a positive integer")
    return tuple(v)


def _v_example_shape(v, where):
    return _v_shape(v, where, batch=False)


def _v_opt_shape(v, where):
    return None if v is None else _v_shape(v, where, batch=False)


def _v_axis(v, where):
    if v is None:
        return None
    if _is_int(v):
        return _v_int(v, where, -_MAX_RANK, _MAX_RANK)
    if isinstance(v, list) and len(v) <= _MAX_RANK:
        return [_v_int(a, f"{where}[{i}]", -_MAX_RANK, _MAX_RANK) for i, a in enumerate(v)]
    _fail(where, f"expected an axis (an integer or a list of integers), got {_short(v)}")


def _v_stats(v, where, depth: int = 0):
    """Normalization's fixed mean or variance: null, a number, or a (nested) list of numbers."""
    if v is None and depth == 0:
        return None
    if _is_number(v):
        return _v_number(v, where)
    if isinstance(v, list) and depth < _MAX_RANK and len(v) <= _MAX_LIST:
        return [_v_stats(x, where, depth + 1) for x in v]
    _fail(where, f"expected null, a number or a list of numbers, got {_short(v)}")


def _v_off(v, where):
    """A Keras feature gradfit lacks, which must be off (false or null)."""
    if v is not None and v is not False:
        _fail(where, f"gradfit supports only false here, got {_short(v)}")
    return v


def _v_choice(*choices):
    def check(v, where):
        if v not in choices or not isinstance(v, (str, type(None))):
            _fail(where, f"expected one of {', '.join(map(repr, choices))}, got {_short(v)}")
        return v

    return check


# ------------------------------------------------------------------------------------------- nested objects


def _object(v, where: str, kind: str, modules: tuple, allowed: dict | None = None) -> tuple[str, object]:
    """Check a serialized object ``{"module", "class_name", "config", "registered_name"}`` against an allow-list.

    Returns ``(class_name, config)``. Nothing is imported: the module and class are only compared with the
    names of gradfit's own objects.
    """
    if not isinstance(v, dict):
        _fail(where, f"expected a serialized {kind} (an object with 'class_name' and 'config'), got {_short(v)}")
    extra = set(v) - {"module", "class_name", "config", "registered_name", "shared_object_id"}
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)} in a serialized {kind}")
    class_name = v.get("class_name")
    module = v.get("module")
    if not isinstance(class_name, str) or (module is not None and not isinstance(module, str)):
        _fail(where, f"a serialized {kind} needs a string 'class_name', got {_short(class_name)}")
    full = f"{module}.{class_name}" if module else class_name
    if class_name.startswith("__"):
        what = "a lambda (Python code)" if class_name == "__lambda__" else f"the special object {class_name!r}"
        _fail(where, f"refusing {what}: gradfit never runs code stored in a model file")
    if module is not None and module not in modules:
        _fail(
            where,
            f"refusing {kind} {full!r}: gradfit never imports or calls code named by a model file; it only builds "
            f"its own {_plural(kind)} (module {' or '.join(repr(m) for m in modules)})",
        )
    if allowed is not None and class_name not in allowed:
        known = ", ".join(sorted(allowed))
        _fail(where, f"unknown {kind} {full!r}; gradfit has: {known}")
    registered = v.get("registered_name")
    if registered is not None and registered not in (class_name, "function", v.get("config")):
        _fail(where, f"refusing {kind} registered as {registered!r}: custom objects are never loaded")
    shared = v.get("shared_object_id")
    if shared is not None and not _is_int(shared):
        _fail(where, f"'shared_object_id' must be an integer, got {_short(shared)}")
    return class_name, v.get("config")


def _plural(kind: str) -> str:
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "es" if kind.endswith("s") else kind + "s"


def _function_name(v, where: str, kind: str, table, modules: tuple) -> str:
    """A Keras function reference such as ``{"module": "builtins", "class_name": "function", "config": "mse"}``."""
    class_name, config = _object(v, where, kind, modules)
    if class_name != "function" or not isinstance(config, str):
        _fail(where, f"unknown {kind} {_short(v)}")
    if config not in table:
        _fail(where, f"unknown {kind} function {config!r}; gradfit has: {', '.join(sorted(table))}")
    return config


_ACCEPTED: dict[type, frozenset] = {}
_LAYER_POPPED = frozenset({"input_shape", "input_dim", "batch_input_shape", "autocast"})


def _accepted_params(cls) -> frozenset:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the constructors it passes them to."""
    if cls not in _ACCEPTED:
        import inspect

        from .layers.base import Layer

        names: set[str] = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            params = inspect.signature(init).parameters.values()
            names |= {p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
            if klass is Layer:
                names |= _LAYER_POPPED
            if not any(p.kind == p.VAR_KEYWORD for p in params) or klass is Layer:
                break
        _ACCEPTED[cls] = frozenset(names)
    return _ACCEPTED[cls]


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _construct(cls, config, where: str, kind: str, special=None, neutral=None, ignorable=()):
    """``cls.from_config`` of a checked config: only keys ``cls`` accepts, plain values, nested objects checked.

    ``neutral`` maps Keras settings gradfit lacks to the values that mean "off"; those are dropped, other
    values refused. ``ignorable`` settings have no effect here and are dropped whatever their value.
    """
    if not isinstance(config, dict):
        _fail(where, f"the config of {kind} {cls.__name__} must be an object, got {_short(config)}")
    special, neutral = special or {}, neutral or {}
    accepted = _accepted_params(cls)
    kwargs = {}
    for key, raw in config.items():
        at = f"{where}.{key}"
        if key in accepted:
            kwargs[key] = special[key](raw, at) if key in special else _v_plain(raw, at)
        elif key in ignorable:
            continue
        elif key in neutral:
            if not any(_same(raw, n) for n in neutral[key]):
                _fail(at, f"gradfit's {cls.__name__} does not support {key}={_short(raw)}")
        else:
            known = ", ".join(sorted(accepted | set(neutral) | set(ignorable)))
            _fail(at, f"unknown setting {key!r} for {kind} {cls.__name__} (known: {known})")
    try:
        return cls.from_config(kwargs)
    except ModelFileError:
        raise
    except (TypeError, ValueError, NotImplementedError, ArithmeticError) as exc:
        _fail(where, f"{kind} {cls.__name__}: {exc}")


def _v_activation(v, where):
    if v is None:
        return None
    if isinstance(v, dict):
        v = _function_name(
            v,
            where,
            "activation",
            activations._ALL.keys() | activations._ALIASES.keys(),
            ("keras.activations", "builtins"),
        )
    if not isinstance(v, str) or activations._ALIASES.get(v, v) not in activations._ALL:
        _fail(where, f"unknown activation {_short(v)}; gradfit has: {', '.join(sorted(activations._ALL))}")
    return v


_INIT_NEUTRAL = {"input_axes": (None,), "output_axes": (None,)}


def _v_initializer(v, where):
    if isinstance(v, str):
        if v not in initializers._NAMES:
            _fail(where, f"unknown initializer {v!r}; gradfit has: {', '.join(sorted(initializers._NAMES))}")
        return v
    name, config = _object(v, where, "initializer", ("keras.initializers",), initializers._CLASSES)
    special = {"seed": _v_opt_int}
    return _construct(initializers._CLASSES[name], config, where, "initializer", special, _INIT_NEUTRAL)


_REGULARIZERS = {"L1": regularizers.L1, "L2": regularizers.L2, "L1L2": regularizers.L1L2}


def _v_regularizer(v, where):
    if v is None:
        return None
    if isinstance(v, str):
        if v not in regularizers._NAMES:
            _fail(where, f"unknown regularizer {v!r}; gradfit has: {', '.join(sorted(regularizers._NAMES))}")
        return v
    name, config = _object(v, where, "regularizer", ("keras.regularizers",), _REGULARIZERS)
    special = {k: (lambda x, at: _v_number(x, at, 0)) for k in ("l1", "l2")}
    return _construct(_REGULARIZERS[name], config, where, "regularizer", special)


_FLOAT_DTYPES = ("float16", "float32", "float64")


def _v_dtype(v, where):
    """A float dtype name, or Keras's ``{"class_name": "DTypePolicy", "config": {"name": "float32"}}``."""
    if v is None:
        return None
    if isinstance(v, dict):
        name, config = _object(
            v, where, "dtype policy", ("keras", "keras.dtype_policies"), {"DTypePolicy": 1, "FloatDTypePolicy": 1}
        )
        if not isinstance(config, dict) or set(config) != {"name"}:
            _fail(where, f"a DTypePolicy config must be {{'name': …}}, got {_short(config)}")
        v = config["name"]
    if v not in _FLOAT_DTYPES:
        _fail(where, f"gradfit supports the dtypes {', '.join(_FLOAT_DTYPES)}, got {_short(v)}")
    return v


_SCHEDULES = {k: c for k, c in schedules._BUILTIN.items() if c is not schedules.LearningRateSchedule}


def _v_learning_rate(v, where):
    if isinstance(v, dict):
        name, config = _object(v, where, "learning-rate schedule", ("keras.optimizers.schedules",), _SCHEDULES)
        return _construct(_SCHEDULES[name], config, where, "learning-rate schedule")
    return _v_number(v, where, 0)


_OPTIMIZERS = {
    c.__name__: c for c in (optimizers.SGD, optimizers.RMSprop, optimizers.Adam, optimizers.AdamW, optimizers.Adagrad)
}
_OPTIMIZER_NEUTRAL = {
    "use_ema": (False,),
    "ema_overwrite_frequency": (None,),
    "loss_scale_factor": (None,),
    "gradient_accumulation_steps": (None,),
}


def _v_optimizer(v, where):
    if isinstance(v, str):
        if v not in optimizers._NAMES:
            _fail(where, f"unknown optimizer {v!r}; gradfit has: {', '.join(sorted(_OPTIMIZERS))}")
        return optimizers.get(v)
    name, config = _object(v, where, "optimizer", ("keras.optimizers",), _OPTIMIZERS)
    special = {"learning_rate": _v_learning_rate, "name": _v_name}
    return _construct(_OPTIMIZERS[name], config, where, "optimizer", special, _OPTIMIZER_NEUTRAL, ("ema_momentum",))


_LOSS_FUNCTIONS = {fn.__name__: fn for fn in losses._FUNCTIONS}
_LOSS_NEUTRAL = {"dtype": (None, "float32")}


def _v_loss(v, where):
    if v is None:
        return None
    if isinstance(v, str):
        if v not in losses._NAMES:
            _fail(where, f"unknown loss {v!r}; gradfit has: {', '.join(sorted(losses._NAMES))}")
        return v
    if isinstance(v, dict) and v.get("class_name") == "function":
        return _LOSS_FUNCTIONS[_function_name(v, where, "loss", _LOSS_FUNCTIONS, ("builtins", "keras.losses"))]
    name, config = _object(v, where, "loss", ("keras.losses",), losses._CLASSES)
    return _construct(losses._CLASSES[name], config, where, "loss", {"ignore_class": _v_opt_int}, _LOSS_NEUTRAL)


def _known_metric_name(name: str) -> bool:
    return (
        name.lower() in ("accuracy", "acc")
        or name in metrics_module._NAMES
        or name in metrics_module._CLASSES
        or name in losses._NAMES
    )


def _v_metric(v, where):
    if isinstance(v, str):
        if not _known_metric_name(v):
            _fail(where, f"unknown metric {v!r}")
        return v
    if isinstance(v, dict) and v.get("class_name") == "function":
        table = {n for n in (*metrics_module._NAMES, *losses._NAMES, "accuracy") if n[0].islower()}
        return _function_name(v, where, "metric", table, ("builtins", "keras.metrics", "keras.losses"))
    name, config = _object(v, where, "metric", ("keras.metrics",), metrics_module._CLASSES)
    special = {"dtype": lambda x, at: _v_dtype(x, at) if x is not None else None}
    return _construct(metrics_module._CLASSES[name], config, where, "metric", special)


# ------------------------------------------------------------------------------------------- layers

_REQUIRED = object()


class _LayerKind:
    """What gradfit reads from one Keras layer class's config, and the weights that layer creates.

    ``keys`` maps each config key to ``(check, keras_default)``; a key gradfit's class does not take is
    dropped when its value is Keras's default (a feature left off) and refused otherwise. ``weights(layer,
    input_shape)`` predicts ``[(attribute, shape, trainable, dtype)]`` in Keras's variable order without
    allocating anything.
    """

    def __init__(self, name: str, keys: dict, weights=None, ignorable=()):
        self.name = name
        self.keys = {**_COMMON_KEYS, **keys}
        self.weights = weights or (lambda layer, shape: [])
        self.ignorable = frozenset(ignorable)

    @property
    def cls(self):
        from . import layers

        return getattr(layers, self.name, None)


_COMMON_KEYS = {
    "name": (_v_name, _SKIP),
    "trainable": (_v_bool, True),
    "dtype": (_v_dtype, _SKIP),
    "input_shape": (_v_example_shape, _SKIP),
    "batch_input_shape": (_v_shape, _SKIP),
    "input_dim": (_v_pos_int, _SKIP),
    "autocast": (_v_bool, True),
    "activity_regularizer": (_v_none, None),
}
_NONE_KEYS = {k: (_v_none, None) for k in ("quantization_config", "lora_rank", "lora_alpha")}


def _layer_dtype(layer) -> str:
    return layer.dtype or backend.floatx()


def _dense_weights(layer, shape):
    if shape[-1] is None:
        raise ModelFileError(f"Dense {layer.name!r}: the last dimension of its input must be known, got {shape}")
    out = [("kernel", (shape[-1], layer.units), True, _layer_dtype(layer))]
    if layer.use_bias:
        out.append(("bias", (layer.units,), True, _layer_dtype(layer)))
    return out


def _kept_axes(layer, shape) -> tuple:
    ndim = len(shape)
    axes = getattr(layer, "axis", -1)
    axes = () if axes is None else (axes,) if isinstance(axes, int) else tuple(axes)
    if any(not -ndim <= a < ndim for a in axes):
        raise ModelFileError(f"{type(layer).__name__} {layer.name!r}: axis {axes} is out of range for {shape}")
    keep = tuple(sorted(a % ndim for a in axes))
    if any(shape[d] is None for d in keep):
        raise ModelFileError(f"{type(layer).__name__} {layer.name!r}: the kept axes of {shape} must be known")
    return tuple(shape[d] for d in keep)


def _normalization_weights(layer, shape):
    if layer.input_mean is not None:
        return []
    kept, dtype = _kept_axes(layer, shape), _layer_dtype(layer)
    return [("mean", kept, False, dtype), ("variance", kept, False, dtype), ("count", (), False, "int64")]


def _batch_normalization_weights(layer, shape):
    kept, dtype = _kept_axes(layer, shape), _layer_dtype(layer)
    out = [("gamma", kept, True, dtype)] if getattr(layer, "scale", True) else []
    out += [("beta", kept, True, dtype)] if getattr(layer, "center", True) else []
    return out + [("moving_mean", kept, False, dtype), ("moving_variance", kept, False, dtype)]


_INPUT_KEYS = {
    "batch_shape": (_v_shape, _SKIP),
    "batch_input_shape": (_v_shape, _SKIP),
    "shape": (_v_example_shape, _SKIP),
    "input_shape": (_v_example_shape, _SKIP),
    "batch_size": (lambda v, at: None if v is None else _v_pos_int(v, at), _SKIP),
    "dtype": (_v_dtype, _SKIP),
    "name": (_v_name, _SKIP),
    "sparse": (_v_off, False),
    "ragged": (_v_off, False),
    "optional": (_v_off, False),
}

# The layers gradfit reads. To support another layer, add its entry here: Keras's config keys with a check and
# Keras's default for each, and (if it has weights) a function predicting them in Keras's order. An entry is
# used once ``gradfit.layers`` exports a class of that name.
_LAYER_KINDS = {
    kind.name: kind
    for kind in (
        _LayerKind(
            "Dense",
            {
                "units": (_v_pos_int, _REQUIRED),
                "activation": (_v_activation, None),
                "use_bias": (_v_bool, True),
                "kernel_initializer": (_v_initializer, "glorot_uniform"),
                "bias_initializer": (_v_initializer, "zeros"),
                "kernel_regularizer": (_v_regularizer, None),
                "bias_regularizer": (_v_regularizer, None),
                "kernel_constraint": (_v_none, None),
                "bias_constraint": (_v_none, None),
                **_NONE_KEYS,
            },
            _dense_weights,
        ),
        _LayerKind(
            "Normalization",
            {
                "axis": (_v_axis, -1),
                "invert": (_v_bool, False),
                "mean": (_v_stats, None),
                "variance": (_v_stats, None),
            },
            _normalization_weights,
        ),
        _LayerKind(
            "Dropout",
            {
                "rate": (lambda v, at: _v_number(v, at, 0, 1), _REQUIRED),
                "noise_shape": (_v_opt_shape, None),
                "seed": (_v_opt_int, None),
            },
        ),
        _LayerKind("Flatten", {"data_format": (_v_choice(None, "channels_last", "channels_first"), None)}),
        _LayerKind("Activation", {"activation": (_v_activation, _REQUIRED)}),
        _LayerKind(
            "ReLU",
            {
                "max_value": (_v_opt_number, None),
                "negative_slope": (_v_number, 0.0),
                "threshold": (_v_number, 0.0),
            },
        ),
        _LayerKind("LeakyReLU", {"negative_slope": (_v_number, 0.3), "alpha": (_v_number, _SKIP)}),
        _LayerKind("Softmax", {"axis": (_v_axis, -1)}),
        _LayerKind(
            "BatchNormalization",
            {
                "axis": (_v_axis, -1),
                "momentum": (_v_number, 0.99),
                "epsilon": (lambda v, at: _v_number(v, at, 0), 0.001),
                "center": (_v_bool, True),
                "scale": (_v_bool, True),
                "beta_initializer": (_v_initializer, "zeros"),
                "gamma_initializer": (_v_initializer, "ones"),
                "moving_mean_initializer": (_v_initializer, "zeros"),
                "moving_variance_initializer": (_v_initializer, "ones"),
                "beta_regularizer": (_v_regularizer, None),
                "gamma_regularizer": (_v_regularizer, None),
                "beta_constraint": (_v_none, None),
                "gamma_constraint": (_v_none, None),
                "synchronized": (_v_bool, False),
                "renorm": (_v_bool, False),
                "renorm_clipping": (_v_none, None),
                "renorm_momentum": (_v_number, 0.99),
            },
            _batch_normalization_weights,
            ignorable=("renorm_momentum",),
        ),
    )
}


def supported_layers() -> list[str]:
    """The Keras layer classes gradfit reads from a config (those gradfit has right now)."""
    return sorted(name for name, kind in _LAYER_KINDS.items() if kind.cls is not None) + ["InputLayer"]


def _keras_snake(name: str) -> str:
    """Keras's ``to_snake_case``: ``Dense`` -> ``dense``, ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras_layer_paths(class_names) -> list[str]:
    """``layers/dense``, ``layers/dense_1``, ``layers/normalization`` …: Keras names a Sequential model's weight
    groups after each layer's class and its rank among layers of that class, not after the layer's name."""
    used: dict[str, int] = {}
    paths = []
    for class_name in class_names:
        base = _keras_snake(class_name)
        if base in used:
            used[base] += 1
            paths.append(f"layers/{base}_{used[base]}")
        else:
            used[base] = 0
            paths.append(f"layers/{base}")
    return paths


def _keras_weight_order(layer) -> list:
    """A gradfit layer's weight specs in Keras's ``vars/0, vars/1 …`` order: trainable ones first, each group in
    creation order (whether or not the layer is frozen right now, as Keras)."""
    specs = list(layer._specs)
    return [s for s in specs if s.trainable] + [s for s in specs if not s.trainable]


# ------------------------------------------------------------------------------------------- plans


class _LayerPlan:
    __slots__ = ("layer", "class_name", "path", "weights")

    def __init__(self, layer, class_name, path=None, weights=()):
        self.layer, self.class_name, self.path, self.weights = layer, class_name, path, list(weights)


class _ModelPlan:
    """A checked config: layer objects (no weights allocated yet), the predicted weights and compile settings."""

    def __init__(self):
        self.name = None
        self.trainable = True
        self.layers: list[_LayerPlan] = []  # the InputLayer, when there is one, first (path None)
        self.build_shape = None
        self.compile = None  # dict(optimizer=…, loss=…, metrics=…) or None

    @property
    def weighted(self) -> list[_LayerPlan]:
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
        return [w[1] for p in self.weighted if p.layer.trainable for w in p.weights if w[2]]


def _layer_from_entry(entry, where: str):
    """One entry of ``config['layers']``: the layer object, built from an allow-listed class and checked keys."""
    from .layers.input_layer import InputLayer

    if not isinstance(entry, dict):
        _fail(where, f"expected a serialized layer, got {_short(entry)}")
    extra = set(entry) - {"module", "class_name", "config", "registered_name", "build_config", "shared_object_id"}
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)} in a serialized layer")
    class_name = entry.get("class_name")
    if class_name == "Lambda":
        _fail(
            where,
            "refusing layer 'Lambda': a Lambda layer holds Python code, and gradfit never runs code "
            "stored in a model file",
        )
    kinds = [n for n, k in _LAYER_KINDS.items() if k.cls is not None]
    stripped = {k: v for k, v in entry.items() if k != "build_config"}
    _object(stripped, where, "layer", ("keras.layers",), {**dict.fromkeys(kinds), "InputLayer": 1})
    config = entry.get("config")
    if not isinstance(config, dict):
        _fail(where, f"the config of layer {class_name} must be an object, got {_short(config)}")
    where = f"{where} ({class_name} {config.get('name')!r})" if isinstance(config.get("name"), str) else where
    build_shape = None
    build_config = entry.get("build_config")
    if build_config is not None:
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            _fail(f"{where}.build_config", f"expected {{'input_shape': [...]}}, got {_short(build_config)}")
        if build_config.get("input_shape") is not None:
            build_shape = _v_shape(build_config["input_shape"], f"{where}.build_config.input_shape")
    if class_name == "InputLayer":
        kw = _checked_keys(config, _INPUT_KEYS, None, where)
        batch_shape = kw.get("batch_shape") or kw.get("batch_input_shape")
        if batch_shape is None:
            shape = kw.get("shape") or kw.get("input_shape")
            if shape is None:
                _fail(where, "an InputLayer needs 'batch_shape'")
            batch_shape = (kw.get("batch_size"),) + tuple(shape)
        if batch_shape[0] is not None and not _is_int(batch_shape[0]):
            _fail(where, "bad batch size")
        try:
            layer = InputLayer.from_config(
                {"batch_shape": list(batch_shape), "dtype": kw.get("dtype"), "name": kw.get("name")}
            )
        except (TypeError, ValueError) as exc:
            _fail(where, str(exc))
        return layer, class_name, build_shape
    kind = _LAYER_KINDS[class_name]
    kwargs = _checked_keys(config, kind.keys, kind, where)
    try:
        layer = kind.cls.from_config(kwargs)
    except ModelFileError:
        raise
    except (TypeError, ValueError, NotImplementedError, ArithmeticError, KeyError) as exc:
        _fail(where, f"{class_name}: {exc}")
    return layer, class_name, build_shape


def _checked_keys(config: dict, keys: dict, kind, where: str) -> dict:
    accepted = _accepted_params(kind.cls) if kind is not None else frozenset(keys)
    ignorable = kind.ignorable if kind is not None else frozenset()
    kwargs = {}
    for key, raw in config.items():
        at = f"{where}.{key}"
        if key not in keys:
            _fail(at, f"unknown setting {key!r} (known: {', '.join(sorted(keys))})")
        check, default = keys[key]
        value = check(raw, at)
        if key in accepted:
            kwargs[key] = value
        elif key in ignorable:
            continue
        elif not _same(raw, default) and not (raw is None and default is None):
            _fail(at, f"gradfit's {kind.name if kind else 'InputLayer'} does not support {key}={_short(raw)}")
    for key, (_, default) in keys.items():
        if default is _REQUIRED and key not in config:
            _fail(where, f"missing required setting {key!r}")
    return kwargs


def _plan_from_config(config, where: str = "config", top: dict | None = None) -> _ModelPlan:
    """Check a Sequential config (the inner ``config`` of Keras's serialized model) and plan the model."""
    from .layers.input_layer import InputLayer

    if not isinstance(config, dict):
        _fail(where, f"expected a Sequential config (an object with 'layers'), got {_short(config)}")
    extra = set(config) - {"name", "trainable", "dtype", "layers", "build_input_shape"}
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)} in a Sequential config")
    plan = _ModelPlan()
    if config.get("name") is not None:
        plan.name = _v_name(config["name"], f"{where}.name")
    plan.trainable = _v_bool(config.get("trainable", True), f"{where}.trainable")
    _v_dtype(config.get("dtype"), f"{where}.dtype")
    entries = config.get("layers")
    if not isinstance(entries, list) or len(entries) > _MAX_LAYERS:
        _fail(f"{where}.layers", f"expected a list of at most {_MAX_LAYERS} layers, got {_short(entries)}")
    layer_build_shapes = []
    for i, entry in enumerate(entries):
        layer, class_name, build_shape = _layer_from_entry(entry, f"{where}.layers[{i}]")
        if isinstance(layer, InputLayer) and i > 0:
            _fail(f"{where}.layers[{i}]", "an InputLayer can only be the first layer of a Sequential model")
        plan.layers.append(_LayerPlan(layer, class_name))
        layer_build_shapes.append(build_shape)
    names = [p.layer.name for p in plan.layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        _fail(f"{where}.layers", f"layer names must be unique, {dupes} repeat")
    weighted = [p for p in plan.layers if not isinstance(p.layer, InputLayer)]
    for p, path in zip(weighted, _keras_layer_paths(p.class_name for p in weighted)):
        p.path = path
    # the input shape the model will be built for, in the order Sequential itself uses
    candidates = []
    if plan.layers and isinstance(plan.layers[0].layer, InputLayer):
        candidates.append(plan.layers[0].layer.batch_shape)
    if weighted and weighted[0].layer._input_shape_arg is not None:
        candidates.append(weighted[0].layer._input_shape_arg)
    if config.get("build_input_shape") is not None:
        candidates.append(_v_shape(config["build_input_shape"], f"{where}.build_input_shape"))
    if top is not None and isinstance(top.get("build_config"), dict) and top["build_config"].get("input_shape"):
        candidates.append(_v_shape(top["build_config"]["input_shape"], "build_config.input_shape"))
    first = layer_build_shapes[len(plan.layers) - len(weighted)] if weighted else None
    if first is not None:
        candidates.append(first)
    plan.build_shape = candidates[0] if candidates and weighted else None
    if plan.build_shape is not None:
        shape = tuple(plan.build_shape)
        if len(shape) < 2:
            shape = (None,) + shape
        for p in weighted:
            try:
                p.weights = _LAYER_KINDS[p.class_name].weights(p.layer, shape)
                shape = tuple(p.layer.compute_output_shape(shape))
            except ModelFileError as exc:
                _fail(f"{where}.layers", str(exc))
            except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
                _fail(f"{where}.layers", f"layer {p.layer.name!r} cannot take inputs of shape {shape}: {exc}")
            if len(shape) > _MAX_RANK or any(d is not None and not 0 < d <= _MAX_DIM for d in shape):
                _fail(f"{where}.layers", f"layer {p.layer.name!r} would output the shape {shape}")
    return plan


def _plan_compile(compile_config, where: str = "compile_config") -> dict | None:
    if compile_config is None:
        return None
    if not isinstance(compile_config, dict):
        _fail(where, f"expected an object, got {_short(compile_config)}")
    known = {
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
    extra = set(compile_config) - known
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)}")
    for key in ("loss_weights", "weighted_metrics"):
        value = compile_config.get(key)
        if value is not None and value != []:
            _fail(f"{where}.{key}", f"gradfit does not support {key} yet, got {_short(value)}")
    for key in ("run_eagerly", "auto_scale_loss"):
        if key in compile_config:
            _v_bool(compile_config[key], f"{where}.{key}")
    if "steps_per_execution" in compile_config:
        _v_int(compile_config["steps_per_execution"], f"{where}.steps_per_execution", 1)
    if compile_config.get("jit_compile", False) not in (True, False, "auto"):
        _fail(f"{where}.jit_compile", f"expected true, false or 'auto', got {_short(compile_config['jit_compile'])}")
    optimizer = _v_optimizer(compile_config.get("optimizer", "rmsprop"), f"{where}.optimizer")
    loss = _v_loss(compile_config.get("loss"), f"{where}.loss")
    metrics = compile_config.get("metrics")
    if metrics is not None:
        if isinstance(metrics, (str, dict)):
            metrics = [metrics]
        if not isinstance(metrics, list) or len(metrics) > 100:
            _fail(f"{where}.metrics", f"expected a list of metrics, got {_short(metrics)}")
        metrics = [_v_metric(m, f"{where}.metrics[{i}]") for i, m in enumerate(metrics)]
    return {"optimizer": optimizer, "loss": loss, "metrics": metrics}


def _plan_from_serialized(top, where: str = "config.json") -> _ModelPlan:
    """Check Keras's serialized model ``{"module": "keras", "class_name": "Sequential", "config": …}``."""
    if not isinstance(top, dict):
        _fail(where, f"expected a serialized model (a JSON object), got {_short(top)}")
    extra = set(top) - {
        "module",
        "class_name",
        "config",
        "registered_name",
        "build_config",
        "compile_config",
        "shared_object_id",
    }
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)} in a serialized model")
    class_name = top.get("class_name")
    if class_name in ("Functional", "Model"):
        _fail(where, f"this file holds a Keras {class_name} model; gradfit loads Sequential models only")
    _object(
        {k: v for k, v in top.items() if k not in ("build_config", "compile_config")},
        where,
        "model",
        ("keras", "keras.models", "keras.src.models.sequential"),
        {"Sequential": 1},
    )
    build_config = top.get("build_config")
    if build_config is not None:
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            _fail(f"{where}: build_config", f"expected {{'input_shape': [...]}}, got {_short(build_config)}")
    plan = _plan_from_config(top.get("config"), f"{where}: config", top)
    plan.compile = _plan_compile(top.get("compile_config"), f"{where}: compile_config")
    return plan


def _build(plan: _ModelPlan, where: str):
    """The Sequential model of a checked plan, built, with its weights still as initialised."""
    from .models import Sequential

    try:
        model = Sequential(layers=[p.layer for p in plan.layers], name=plan.name, trainable=plan.trainable)
        if plan.build_shape is not None and not model.built:
            model.build(plan.build_shape)
    except (TypeError, ValueError, NotImplementedError, ArithmeticError, IndexError) as exc:
        _fail(where, f"cannot build the model: {exc}")
    for p in plan.weighted:  # the weights the layers made are the ones predicted (else the registry is wrong)
        made = [(s.name, tuple(s.shape), bool(s.trainable)) for s in _keras_weight_order(p.layer)]
        if made != [(n, tuple(s), t) for n, s, t, _ in p.weights]:
            _fail(where, f"layer {p.layer.name!r} made the weights {made}, not the predicted {p.weights}")
    return model


def _compile(model, plan: _ModelPlan) -> None:
    from .advice import GradfitAdvice

    c = plan.compile
    with warnings.catch_warnings():  # the learner did not write this compile call: advice comes with fit
        warnings.simplefilter("ignore", GradfitAdvice)
        try:
            model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
        except (TypeError, ValueError, NotImplementedError) as exc:
            _fail("compile_config", f"cannot compile the model: {exc}")


# ------------------------------------------------------------------------------------------- JSON


def _loads(data, where: str, limit: int = _MAX_CONFIG_BYTES):
    import json

    if isinstance(data, (bytes, bytearray)):
        if len(data) > limit:
            _fail(where, f"larger than {limit} bytes")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(where, f"not UTF-8 text ({exc})")
    if not isinstance(data, str):
        raise TypeError(f"expected a JSON string, got {type(data).__name__}")
    if len(data) > limit:
        _fail(where, f"longer than {limit} characters")

    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                _fail(where, f"the key {key!r} appears twice in one object")
            out[key] = value
        return out

    def constant(name):
        _fail(where, f"{name} is not a valid JSON value")

    try:
        return json.loads(data, object_pairs_hook=pairs, parse_constant=constant)
    except ModelFileError:
        raise
    except (ValueError, RecursionError) as exc:
        _fail(where, f"not valid JSON ({exc})")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot write {obj!r} of type {type(obj).__name__} into a model config")


def _dumps(obj, **kwargs) -> str:
    import json

    return json.dumps(obj, default=_json_default, **kwargs)


# ------------------------------------------------------------------------------------------- serializing


def _serialized(obj, module: str) -> dict:
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(), "registered_name": None}


def serialize_compile_config(model) -> dict | None:
    """Keras's ``compile_config`` of a compiled model: optimizer, loss and metrics as given to ``compile``."""
    if not getattr(model, "compiled", False):
        return None
    opt = model.optimizer
    if type(opt) not in _OPTIMIZERS.values():
        raise ValueError(f"Cannot save the optimizer {opt!r}: only gradfit's built-in optimizers can be saved.")
    loss = model.loss
    if isinstance(loss, type) and issubclass(loss, losses.Loss):
        loss = loss()
    if isinstance(loss, losses.Loss):
        if losses._CLASSES.get(type(loss).__name__) is not type(loss):
            raise ValueError(f"Cannot save the loss {loss!r}: only gradfit's built-in losses can be saved.")
        loss = _serialized(loss, "keras.losses")
    elif callable(loss) and loss in losses._FUNCTIONS:
        loss = {"module": "builtins", "class_name": "function", "config": loss.__name__, "registered_name": "function"}
    elif loss is not None and not isinstance(loss, str):
        raise ValueError(f"Cannot save the loss {loss!r}: give compile() a loss name or a gradfit loss object.")
    metrics = []
    for m in model._metric_ids:
        if isinstance(m, type) and issubclass(m, metrics_module.Metric):
            m = m()
        if isinstance(m, metrics_module.Metric):
            if metrics_module._CLASSES.get(type(m).__name__) is not type(m):
                raise ValueError(f"Cannot save the metric {m!r}: only gradfit's built-in metrics can be saved.")
            m = _serialized(m, "keras.metrics")
        elif not isinstance(m, str):
            raise ValueError(f"Cannot save the metric {m!r}: give compile() metric names or gradfit metric objects.")
        metrics.append(m)
    return {
        "optimizer": _serialized(opt, "keras.optimizers"),
        "loss": loss,
        "loss_weights": None,
        "metrics": metrics or None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _keras_model_dict(model, include_compile: bool = True) -> dict:
    """The model as Keras serializes it (``config.json`` and ``to_json``), checked to load back in gradfit."""
    from .layers.input_layer import InputLayer

    config = model.get_config()
    layers = list(model._layers)
    entries = []
    for entry, layer in zip(config["layers"], layers):
        entry, layer_config = dict(entry), dict(entry["config"])
        shape = layer_config.get("batch_input_shape")
        if shape is not None and shape[0] is None:  # Keras 3 reads input_shape=…, not batch_input_shape
            layer_config["input_shape"] = list(layer_config.pop("batch_input_shape")[1:])
        entry["config"] = layer_config
        if not isinstance(layer, InputLayer) and layer.built and layer.input_shape is not None:
            entry["build_config"] = {"input_shape": list(layer.input_shape)}
        entries.append(entry)
    config = {**config, "layers": entries}
    if model.built:
        config["build_input_shape"] = list(model.input_shape)
    out = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if model.built:
        out["build_config"] = {"input_shape": list(model.input_shape)}
    if include_compile and getattr(model, "compiled", False):
        out["compile_config"] = serialize_compile_config(model)
    try:  # what gradfit writes, gradfit must read: refuse now, not when someone opens the file
        _plan_from_serialized(_loads(_dumps(out), "config"), "config")
    except ModelFileError as exc:
        raise ValueError(f"This model cannot be saved in a form gradfit can load back: {exc}") from None
    return out


def model_to_json(model, **kwargs) -> str:
    """``model.to_json()``: the serialized model (config, build and compile settings) as JSON text."""
    return _dumps(_keras_model_dict(model), **kwargs)


# ------------------------------------------------------------------------------------------- optimizer state


def _optimizer_layout(opt, n_vars: int) -> list[tuple[str, int]] | None:
    """Keras's order of an optimizer's per-weight variables after ``iterations`` (and ``learning_rate``):
    ``[(gradfit slot attribute, index of the model's trainable weight)]``; None for an unknown optimizer."""
    each = range(n_vars)
    t = type(opt)
    if t is optimizers.SGD:
        return [("momentums", i) for i in each] if opt.momentum != 0 else []
    if t in (optimizers.Adam, optimizers.AdamW):
        pairs = [(slot, i) for i in each for slot in ("momentums", "velocities")]  # interleaved, as Keras
        return pairs + ([("velocity_hats", i) for i in each] if opt.amsgrad else [])
    if t is optimizers.RMSprop:
        out = [("velocities", i) for i in each]
        out += [("momentums", i) for i in each] if opt.momentum > 0 else []
        return out + ([("average_gradients", i) for i in each] if opt.centered else [])
    if t is optimizers.Adagrad:
        return [("accumulators", i) for i in each]
    return None


def _has_lr_variable(opt) -> bool:
    return not isinstance(opt._learning_rate, schedules.LearningRateSchedule) and not callable(opt._learning_rate)


def _optimizer_values(model) -> list[np.ndarray]:
    opt = model.optimizer
    values = [np.asarray(opt.iterations, dtype=np.int64)]
    if _has_lr_variable(opt):
        values.append(np.asarray(opt._learning_rate, dtype=np.float32))
    if not (model.built and opt.built):  # no step taken yet: Keras writes just these two
        return values
    model._ensure_bound()
    segments = model._segments
    layout = _optimizer_layout(opt, len(segments))
    if layout is None:
        raise ValueError(
            f"Cannot save the state of the optimizer {opt!r}: gradfit knows Keras's layout only for "
            "its built-in optimizers."
        )
    if getattr(opt, "_tmp", None) is not None and opt._tmp.size == model.parameters.size:
        for slot, i in layout:
            values.append(np.ascontiguousarray(model.weight_views(opt.slot(slot))[i]))
    return values


# ------------------------------------------------------------------------------------------- writing


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading models needs h5py: pip install h5py") from exc
    return h5py


def _weights_h5_bytes(model) -> bytes:
    """``model.weights.h5`` in Keras's layout, in memory."""
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        f.create_group("layers")
        layers = model.layers
        for layer, path in zip(layers, _keras_layer_paths(type(layer).__name__ for layer in layers)):
            group = f.create_group(path).create_group("vars")
            group.attrs["name"] = layer.name
            for i, spec in enumerate(_keras_weight_order(layer)):
                group[str(i)] = np.asarray(getattr(layer, spec.name))
        if getattr(model, "compiled", False) and model.optimizer is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, value in enumerate(_optimizer_values(model)):
                group[str(i)] = value
    return buffer.getvalue()


def _atomic_write(path, write) -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it over ``path``:
    a crash mid-save leaves the previous file whole."""
    import tempfile

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


def _check_overwrite(path, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{os.fspath(path)!r} already exists; pass overwrite=True to replace it.")


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` archive (config, weights and optimizer state) that Keras 3 loads.

    The file is written to a temporary file in the same folder and renamed over ``filepath`` once complete.
    """
    import datetime
    import zipfile

    if kwargs:
        raise TypeError(f"save_model: unexpected arguments {sorted(kwargs)}.")
    if zipped is False:
        raise ValueError("save_model: gradfit writes only zipped .keras archives (zipped=False is not supported).")
    path = os.fspath(filepath)
    if not str(path).endswith(".keras"):
        hint = " (legacy .h5 model files are not written by gradfit)" if str(path).endswith((".h5", ".hdf5")) else ""
        raise ValueError(
            f"Invalid filepath extension for saving{hint}. Please add the `.keras` extension, e.g. "
            f"model.save('model.keras'). Received: filepath={path}"
        )
    _check_overwrite(path, overwrite)
    if not model.built:
        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any weights yet. Consider "
            "building the model first by calling it on some data.",
            stacklevel=3,
        )
    config_json = _dumps(_keras_model_dict(model))
    metadata_json = _dumps(
        {
            "keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "gradfit_version": _gradfit_version(),
        }
    )
    weights = _weights_h5_bytes(model)

    def write(f):
        with zipfile.ZipFile(f, "w") as zf:  # stored, not compressed, as Keras writes it
            with zf.open(_METADATA_NAME, "w") as member:
                member.write(metadata_json.encode())
            with zf.open(_CONFIG_NAME, "w") as member:
                member.write(config_json.encode())
            zf.writestr(_WEIGHTS_NAME, weights)

    _atomic_write(path, write)


def _gradfit_version() -> str:
    from . import __version__

    return __version__


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """Save the model's weights (and optimizer state) as Keras's ``.weights.h5`` file."""
    path = os.fspath(filepath)
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: sharded weight files (max_shard_size) are not supported by gradfit.")
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model first by calling it on "
            "some data or by using `build()`."
        )
    _check_overwrite(path, overwrite)
    data = _weights_h5_bytes(model)
    _atomic_write(path, lambda f: f.write(data))


# ------------------------------------------------------------------------------------------- reading archives


def _open_archive(source, where: str):
    import zipfile

    try:
        zf = zipfile.ZipFile(source, "r")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        _fail(where, f"not a .keras archive (a zip file): {exc}")
    try:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            _fail(where, f"the archive has {len(infos)} members; a .keras file has 3")
        seen = {}
        for info in infos:
            name = info.filename
            if name in seen:
                _fail(where, f"the archive holds two members named {name!r}")
            seen[name] = info
            if name.endswith(".npz"):
                _fail(
                    where,
                    f"refusing the member {name!r}: .npz weights may hold pickled Python objects, which "
                    "gradfit never reads; save the model again in the default .h5 weights format",
                )
            if name not in _ARCHIVE_MEMBERS:
                _fail(
                    where,
                    f"unexpected archive member {name!r}: a .keras file gradfit reads holds only "
                    f"{', '.join(_ARCHIVE_MEMBERS)}",
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                _fail(
                    where,
                    f"member {name!r} uses compression method {info.compress_type}; only stored or "
                    "deflated members are read",
                )
            if info.flag_bits & 0x1:
                _fail(where, f"member {name!r} is encrypted")
            if info.file_size > _COMPRESSION_RATIO_FLOOR and info.file_size > _MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1
            ):
                _fail(
                    where,
                    f"member {name!r} would inflate from {info.compress_size} to {info.file_size} bytes; "
                    "refusing a likely decompression bomb",
                )
        if _CONFIG_NAME not in seen:
            _fail(where, f"the archive has no {_CONFIG_NAME}")
        return zf, seen
    except BaseException:
        zf.close()
        raise


def _read_member(zf, info, limit: int, where: str) -> bytes:
    """A member's bytes, refusing before reading when its declared size exceeds ``limit``, and never reading
    more than ``limit`` bytes whatever the headers say."""
    import zipfile
    import zlib

    if info.file_size > limit:
        _fail(where, f"member {info.filename!r} declares {info.file_size} bytes, more than the {limit} allowed")
    try:
        with zf.open(info, "r") as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
        _fail(where, f"member {info.filename!r} is corrupt: {exc}")
    if len(data) > limit:
        _fail(where, f"member {info.filename!r} inflates beyond the {limit} bytes allowed")
    if len(data) != info.file_size:
        _fail(where, f"member {info.filename!r} holds {len(data)} bytes, not the {info.file_size} it declares")
    return data


def _weights_limit(plan_counts: tuple[int, int, int], n_layers: int) -> int:
    arrays, values, _ = plan_counts
    return _WEIGHTS_SLACK_BYTES + _WEIGHTS_BYTES_PER_ARRAY * (4 * arrays + n_layers + 4) + _WEIGHTS_COPIES * 8 * values


def _check_weights_size(size: int, plan: _ModelPlan, where: str) -> int:
    counts = plan.counts()
    limit = _weights_limit(counts, len(plan.weighted))
    if size > limit:
        _fail(
            where,
            f"{_WEIGHTS_NAME} holds {size} bytes, far more than the {counts[1]} parameters its config "
            f"declares can fill (at most {limit} bytes)",
        )
    if size < counts[2]:
        _fail(
            where,
            f"{_WEIGHTS_NAME} holds {size} bytes, too few for the {counts[1]} parameters its config "
            f"declares ({counts[2]} bytes)",
        )
    return limit


# ------------------------------------------------------------------------------------------- reading HDF5


class _H5:
    """Read-only access to a weights file that only ever follows hard links to plain groups and datasets."""

    def __init__(self, h5file, where: str):
        self.h5py = _h5py()
        self.f = h5file
        self.where = where

    def child(self, group, name: str, want_group: bool, at: str):
        h5py = self.h5py
        try:
            link = group.get(name, getlink=True)
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:
            _fail(self.where, f"{at}: unreadable ({exc})")
        if link is None:
            if not want_group:
                _fail(self.where, f"{at}: missing")
            return None
        if not isinstance(link, h5py.HardLink):
            _fail(self.where, f"{at}: refusing a {type(link).__name__} (only plain entries are read)")
        try:
            obj = group[name]
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:
            _fail(self.where, f"{at}: unreadable ({exc})")
        kind = h5py.Group if want_group else h5py.Dataset
        if not isinstance(obj, kind):
            _fail(self.where, f"{at}: expected a {'group' if want_group else 'dataset'}, found {type(obj).__name__}")
        return obj

    def keys(self, group, at: str, limit: int = 100_000) -> list[str]:
        try:
            n = len(group)
            if n > limit:
                _fail(self.where, f"{at}: {n} entries")
            return list(group.keys())
        except ModelFileError:
            raise
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:
            _fail(self.where, f"{at}: unreadable ({exc})")

    def array(self, ds, shape: tuple, dtype: str, at: str) -> np.ndarray:
        """The dataset's values, once its shape, dtype and storage are what the config says."""
        h5py = self.h5py
        try:
            ds_shape, ds_dtype = tuple(ds.shape), ds.dtype
            if ds.external:
                _fail(self.where, f"{at}: refusing a dataset stored in external files")
            if ds.is_virtual:
                _fail(self.where, f"{at}: refusing a virtual dataset")
            if ds.id.get_create_plist().get_nfilters():
                _fail(self.where, f"{at}: refusing a compressed or filtered dataset (Keras writes plain ones)")
            if len(ds.attrs):
                _fail(self.where, f"{at}: unexpected attributes {sorted(ds.attrs.keys())[:5]} (e.g. bfloat16 data)")
        except ModelFileError:
            raise
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:
            _fail(self.where, f"{at}: unreadable ({exc})")
        if ds_shape != tuple(shape):
            _fail(self.where, f"{at}: the weight has shape {ds_shape} but the model needs {tuple(shape)}")
        want = np.dtype(dtype)
        kinds = "f" if want.kind == "f" else "iu"
        if (
            ds_dtype.names is not None
            or ds_dtype.kind not in kinds
            or ds_dtype.itemsize > 8
            or h5py.check_dtype(vlen=ds_dtype) is not None
        ):
            _fail(self.where, f"{at}: the weight has dtype {ds_dtype} but the model needs {want}")
        try:
            value = np.empty(ds_shape, dtype=ds_dtype)
            if value.size:
                ds.read_direct(value)
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:
            _fail(self.where, f"{at}: unreadable ({exc})")
        if want.kind != "f" and value.size and (value.min() < 0 or value.max() > np.iinfo(want).max):
            _fail(self.where, f"{at}: counts must be non-negative integers, got {value.min()}..{value.max()}")
        return value.astype(want, copy=False)


def _open_h5(source, where: str):
    h5py = _h5py()
    if isinstance(source, (bytes, bytearray)):
        if not bytes(source[:8]) == _HDF5_SIGNATURE:
            _fail(where, "not an HDF5 file")
        source = io.BytesIO(source)
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(8)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except OSError as exc:
            _fail(where, f"cannot read: {exc}")
        if head != _HDF5_SIGNATURE:
            _fail(where, "not an HDF5 file")
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        _fail(where, f"not a readable HDF5 file: {exc}")


def _read_weights(h5: _H5, plan: _ModelPlan, opt, skip_mismatch: bool = False):
    """Every value the file holds for this model, checked, as ``(layer values, optimizer values)``.

    ``layer values`` is ``[(layer plan, [arrays in the plan's order])]``; ``optimizer values`` is None when
    the optimizer state is absent or does not fit this optimizer (Keras then keeps the fresh optimizer too).
    """
    f = h5.f
    root_keys = h5.keys(f, "/")
    unexpected = set(root_keys) - {"vars", "layers", "optimizer"}
    if unexpected:
        _fail(h5.where, f"unexpected entries {sorted(unexpected)[:5]} at the top of the weights file")
    own = h5.child(f, "vars", True, "/vars")
    if own is not None and h5.keys(own, "/vars"):
        _fail(h5.where, "/vars: a Sequential model has no weights of its own")
    layers_group = h5.child(f, "layers", True, "/layers")
    expected = {p.path.split("/", 1)[1]: p for p in plan.weighted}
    present = h5.keys(layers_group, "/layers") if layers_group is not None else []
    extra = sorted(set(present) - set(expected))
    if extra:
        _fail(h5.where, f"/layers: weights for layers the config does not have: {extra[:5]}")
    layer_values = []
    for key, p in expected.items():
        at = f"/{p.path}/vars"
        group = h5.child(layers_group, key, True, f"/{p.path}") if key in present else None
        vars_group = h5.child(group, "vars", True, at) if group is not None else None
        if group is not None and set(h5.keys(group, f"/{p.path}")) - {"vars"}:
            _fail(h5.where, f"/{p.path}: unexpected entries {sorted(set(group.keys()) - {'vars'})[:5]}")
        names = h5.keys(vars_group, at) if vars_group is not None else []
        want = [str(i) for i in range(len(p.weights))]
        try:
            if sorted(names) != sorted(want):
                _fail(
                    h5.where,
                    f"{at}: layer {p.layer.name!r} ({p.class_name}) has {len(p.weights)} weights "
                    f"({', '.join(w[0] for w in p.weights) or 'none'}) but the file holds {len(names)}",
                )
            values = [
                h5.array(h5.child(vars_group, str(i), False, f"{at}/{i}"), shape, dtype, f"{at}/{i} ({name})")
                for i, (name, shape, _, dtype) in enumerate(p.weights)
            ]
        except ModelFileError as exc:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping loading weights for layer {p.layer.name!r}: {exc}", stacklevel=4)
            continue
        layer_values.append((p, values))
    opt_values = None
    opt_group = h5.child(f, "optimizer", True, "/optimizer")
    if opt_group is not None:
        if set(h5.keys(opt_group, "/optimizer")) - {"vars"}:
            _fail(h5.where, "/optimizer: unexpected entries")
        vars_group = h5.child(opt_group, "vars", True, "/optimizer/vars")
        if opt is not None and vars_group is not None:
            opt_values = _read_optimizer(h5, vars_group, plan, opt)
    return layer_values, opt_values


def _read_optimizer(h5: _H5, group, plan: _ModelPlan, opt):
    names = h5.keys(group, "/optimizer/vars")
    shapes = plan.trainable_shapes()
    layout = _optimizer_layout(opt, len(shapes))
    base = 1 + _has_lr_variable(opt)
    if sorted(names, key=lambda s: (len(s), s)) != [str(i) for i in range(len(names))]:
        _fail(h5.where, f"/optimizer/vars: entries must be 0, 1, 2 …, got {sorted(names)[:5]}")
    if len(names) not in (base, base + len(layout)):
        warnings.warn(
            f"Skipping variable loading for optimizer {opt.name!r}, because it has {base + len(layout)} variables "
            f"whereas the saved optimizer has {len(names)} variables.",
            stacklevel=4,
        )
        return None
    at = "/optimizer/vars"
    dtype = np.result_type(*[w[3] for p in plan.weighted for w in p.weights if w[2]] or [backend.floatx()])
    iterations = int(h5.array(h5.child(group, "0", False, f"{at}/0"), (), "int64", f"{at}/0 (iterations)"))
    learning_rate = None
    if base == 2:
        lr = h5.array(h5.child(group, "1", False, f"{at}/1"), (), "float32", f"{at}/1 (learning_rate)")
        learning_rate = float(lr)
        if not math.isfinite(learning_rate) or learning_rate < 0:
            _fail(h5.where, f"{at}/1: the learning rate must be a non-negative number, got {learning_rate}")
    slots = None  # None: the optimizer was never built (no step taken); else its per-weight variables
    if len(names) == base + len(layout):
        slots = []
        for k, (slot, i) in enumerate(layout):
            key = str(base + k)
            slots.append(
                (
                    slot,
                    i,
                    h5.array(
                        h5.child(group, key, False, f"{at}/{key}"),
                        shapes[i],
                        dtype,
                        f"{at}/{key} ({slot} of trainable weight {i})",
                    ),
                )
            )
    return iterations, learning_rate, slots


def _assign(model, layer_values, opt_values) -> None:
    """Copy the checked values in: layer weights in place (they are views into ``model.parameters``)."""
    for p, values in layer_values:
        for (name, _, _, _), value in zip(p.weights, values):
            getattr(p.layer, name)[...] = value
    opt = model.optimizer
    if opt is None or opt_values is None:
        return
    iterations, learning_rate, slots = opt_values
    if learning_rate is not None and np.float32(opt._learning_rate) != np.float32(learning_rate):
        opt.learning_rate = learning_rate  # the state wins over the config, as in Keras
    if slots is not None:
        model._ensure_bound()
        opt.build(model.parameters, model._segments)
        for slot, i, value in slots:
            stored, scale = opt.slot_buffer(slot)
            view = model.weight_views(stored)[i]
            view[...] = value.reshape(view.shape) / scale
    opt.iterations = iterations


# ------------------------------------------------------------------------------------------- public loading


def _path_and_where(filepath):
    if hasattr(filepath, "read"):
        return filepath, getattr(filepath, "name", "<file object>")
    path = os.fspath(filepath)
    return path, os.path.basename(str(path))


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a Keras 3 ``.keras`` file (written by gradfit or by Keras 3) as a gradfit ``Sequential`` model.

    Every layer, activation, initializer, regularizer, loss, metric, optimizer and schedule gradfit has can
    be read; anything else is refused with a :class:`ModelFileError` naming it, and nothing named by the
    file is ever imported or run. With ``compile=True`` the model comes back compiled with its optimizer
    state, so ``fit`` continues where it stopped.

    ``custom_objects`` is not supported (gradfit never loads code from outside itself); ``safe_mode`` is
    accepted for compatibility and has no effect: loading is always safe.
    """
    if custom_objects:
        raise ValueError("load_model: gradfit never loads custom objects (custom_objects must be None).")
    source, where = _path_and_where(filepath)
    if not hasattr(source, "read"):
        name = str(source)
        if name.endswith((".h5", ".hdf5")) and not name.endswith(".weights.h5"):
            raise ModelFileError(
                f"{where}: legacy HDF5 model files are not supported by gradfit; open it in Keras and save it "
                "again with model.save('model.keras')."
            )
        if not name.endswith(".keras"):
            raise ValueError(
                f"File format not supported: filepath={name}. gradfit loads Keras 3 `.keras` files "
                f"(model.weights.h5 files go to model.load_weights)."
            )
        if os.path.isdir(name):
            raise ModelFileError(f"{where}: is a folder; unzipped Keras models are not supported.")
    zf, members = _open_archive(source, where)
    with zf:
        top = _loads(_read_member(zf, members[_CONFIG_NAME], _MAX_CONFIG_BYTES, where), f"{where}: {_CONFIG_NAME}")
        plan = _plan_from_serialized(top, f"{where}: {_CONFIG_NAME}")
        if not compile:
            plan.compile = None
        info = members.get(_WEIGHTS_NAME)
        if info is None:
            if plan.counts()[0]:
                _fail(where, f"the archive has no {_WEIGHTS_NAME}")
            layer_values, opt_values = [], None
        else:
            limit = _check_weights_size(info.file_size, plan, where)
            data = _read_member(zf, info, limit, where)
            h5file = _open_h5(data, f"{where}: {_WEIGHTS_NAME}")
            with h5file:
                opt = plan.compile["optimizer"] if plan.compile else None
                layer_values, opt_values = _read_weights(_H5(h5file, f"{where}: {_WEIGHTS_NAME}"), plan, opt)
    model = _build(plan, where)
    if plan.compile is not None:
        _compile(model, plan)
    _assign(model, layer_values, opt_values)
    return model


def model_from_config(config, custom_objects=None):
    """A Sequential model from Keras's serialized form (``{"class_name": "Sequential", "config": …}``) or from
    the inner config ``{"name": …, "layers": [...]}`` that ``model.get_config()`` returns."""
    if custom_objects:
        raise ValueError("gradfit never loads custom objects (custom_objects must be None).")
    if isinstance(config, dict) and "class_name" in config:
        plan = _plan_from_serialized(config, "config")
    else:
        plan = _plan_from_config(config, "config")
    n = plan.counts()[1]
    if n > MAX_PARAMS_WITHOUT_WEIGHTS:
        _fail("config", f"declares {n} parameters, more than the {MAX_PARAMS_WITHOUT_WEIGHTS} a config alone may")
    model = _build(plan, "config")
    if plan.compile is not None:
        _compile(model, plan)
    return model


def model_from_json(json_string, custom_objects=None):
    """The model described by ``model.to_json()`` (or Keras's), compiled when the JSON says how; weights fresh."""
    return model_from_config(_loads(json_string, "JSON"), custom_objects)


def _plan_for_model(model) -> _ModelPlan:
    """The plan of an existing built model: its layers, Keras paths and weights as they are."""
    plan = _ModelPlan()
    layers = model.layers
    for layer, path in zip(layers, _keras_layer_paths(type(layer).__name__ for layer in layers)):
        weights = [
            (s.name, tuple(s.shape), bool(s.trainable), str(getattr(layer, s.name).dtype))
            for s in _keras_weight_order(layer)
        ]
        plan.layers.append(_LayerPlan(layer, type(layer).__name__, path, weights))
    return plan


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights (and optimizer state) from a ``.weights.h5`` file or a ``.keras`` archive into ``model``.

    Every array is checked against the model before any is assigned: on error the model is unchanged.
    """
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building the model first by "
            "calling it on some data or by using `build()`."
        )
    if hasattr(filepath, "read"):
        raise TypeError("load_weights: give the path of a `.weights.h5` or `.keras` file.")
    source, where = _path_and_where(filepath)
    name = str(source)
    model._ensure_bound()
    plan = _plan_for_model(model)
    opt = model.optimizer if getattr(model, "compiled", False) else None
    if name.endswith(".keras"):
        zf, members = _open_archive(source, where)
        with zf:
            info = members.get(_WEIGHTS_NAME)
            if info is None:
                _fail(where, f"the archive has no {_WEIGHTS_NAME}")
            limit = _check_weights_size(info.file_size, plan, where)
            data = _read_member(zf, info, limit, where)
        h5file = _open_h5(data, f"{where}: {_WEIGHTS_NAME}")
    elif name.endswith(".weights.h5"):
        h5file = _open_h5(source, where)
    elif name.endswith(".npz"):
        raise ModelFileError(f"{where}: .npz weight files may hold pickled Python objects; gradfit never reads them.")
    elif name.endswith((".h5", ".hdf5")):
        raise ModelFileError(f"{where}: legacy HDF5 weight files are not supported; gradfit reads `.weights.h5`.")
    elif name.endswith(".weights.json"):
        raise NotImplementedError(f"{where}: sharded weight files are not supported by gradfit.")
    else:
        raise ValueError(
            f"File format not supported: filepath={name}. Keras 3 weight files end in `.weights.h5` (or load "
            "them from a `.keras` archive)."
        )
    with h5file:
        layer_values, opt_values = _read_weights(_H5(h5file, where), plan, opt, skip_mismatch)
    _assign(model, layer_values, opt_values)
