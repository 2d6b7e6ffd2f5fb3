"""Config schemas: what each class accepts, declared once, checked the same way by its constructor and by the
safe loader.

A class declares ``config_schema = Schema({...})`` beside its constructor; each field names a type, a range
and Keras's default::

    class Dense(Layer):
        config_schema = Schema(
            {
                "units": Int(lo=1),                              # required: no default
                "activation": Object("activation", default=None),
                "use_bias": Bool(True),
                "kernel_constraint": Off(),                      # a Keras setting gradfit lacks: must stay None
            },
            base=Layer.config_schema,
        )

* ``schema.check(owner, values)``: Python mode, for constructors. Accepts NumPy scalars, resolves nested
  objects through their module's ``get()``, raises ``ValueError`` (``NotImplementedError`` for a Keras
  feature gradfit lacks).
* ``schema.load(config, where, owner)``: JSON mode, for files. Strict JSON types (``"false"`` is not a boolean,
  ``"1.0"`` is not a number), nested objects only from the registries (nothing is imported or called),
  unknown keys refused, Keras settings gradfit lacks accepted only at their "off" value. Raises
  :class:`ModelFileError` naming the entry.

The field checks below are the only place that knows what a valid value of each kind is.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import registry

__all__ = [
    "REQUIRED",
    "Axis",
    "Bool",
    "Choice",
    "DType",
    "Field",
    "Int",
    "ModelFileError",
    "Name",
    "Number",
    "Object",
    "Off",
    "Optional",
    "Plain",
    "Schema",
    "Shape",
    "Stats",
    "Str",
    "fail",
    "load_object",
    "short",
]

MAX_RANK = 8
MAX_DIM = (1 << 31) - 1
MAX_STRING = 1024
MAX_LIST = 1 << 20
FLOAT_DTYPES = ("float16", "float32", "float64")


class ModelFileError(ValueError):
    """A model file or config that gradfit refuses to load: corrupt, hostile, or naming something unsupported.

    The message says which file part and which entry, and why.
    """


def fail(where: str, message: str):
    raise ModelFileError(f"{where}: {message}" if where else message)


def short(value, limit: int = 80) -> str:
    """A bounded ``repr`` (depth and length capped: the value may be hostile)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlist, r.maxdict = 3, limit, limit, 6, 6
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: the default of a field that must be given
REQUIRED = _Required()


class _Problem(Exception):
    """A value a field refuses: turned into ModelFileError (files) or ValueError (constructors)."""


class Field:
    """One config entry: its check and Keras's default.

    Subclasses write ``_check(v, json)`` returning the value to pass to the constructor, raising
    ``_Problem(message)`` when it is refused; ``json`` says whether ``v`` came from a file (strict JSON types)
    or from Python code (NumPy scalars welcome).
    """

    def __init__(self, default=REQUIRED):
        self.default = default

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def _check(self, v, json: bool):
        return v

    def load(self, v, where: str):
        try:
            return self._check(v, True)
        except _Problem as exc:
            fail(where, str(exc))

    def check(self, v, owner: str, key: str):
        try:
            return self._check(v, False)
        except _Problem as exc:
            raise ValueError(f"{owner}: {key} {exc}") from None

    def is_off(self, v) -> bool:
        """Whether ``v`` is this field's "feature left off" value (used by ``Off``)."""
        return False

    def describe(self) -> str:
        return type(self).__name__.lower()


class Bool(Field):
    def _check(self, v, json):
        if isinstance(v, bool) or (not json and isinstance(v, np.bool_)):
            return bool(v)
        raise _Problem(f"expected true or false, got {short(v)}")


class Int(Field):
    """An integer in ``[lo, hi]``."""

    def __init__(self, default=REQUIRED, lo=None, hi=None):
        super().__init__(default)
        self.lo, self.hi = lo, hi

    def _check(self, v, json):
        ok = is_int(v) or (not json and isinstance(v, np.integer))
        if ok:
            v = int(v)
        lo = self.lo if self.lo is not None else -(1 << 63)
        hi = self.hi if self.hi is not None else (1 << 63) - 1
        if not ok or v < lo or v > hi:
            bounds = (
                f" in [{self.lo}, {self.hi}]"
                if self.lo is not None and self.hi is not None
                else f" >= {self.lo}"
                if self.lo is not None
                else f" <= {self.hi}"
                if self.hi is not None
                else ""
            )
            raise _Problem(f"must be an integer{bounds}, got {short(v)}")
        return v


class Number(Field):
    """A finite number in ``[lo, hi]`` (``lo_open`` / ``hi_open`` exclude the bound)."""

    def __init__(self, default=REQUIRED, lo=None, hi=None, lo_open=False, hi_open=False):
        super().__init__(default)
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def _check(self, v, json):
        if json:
            ok = is_number(v)
        else:
            ok = isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
            if not ok and hasattr(v, "numpy") and not isinstance(v, np.ndarray):  # a TensorFlow-style scalar
                v, ok = v.numpy(), True
            if not ok and isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
                ok = True
        if ok:
            v = float(v) if not is_int(v) else v
            ok = math.isfinite(v)
        if ok and self.lo is not None:
            ok = v > self.lo if self.lo_open else v >= self.lo
        if ok and self.hi is not None:
            ok = v < self.hi if self.hi_open else v <= self.hi
        if not ok:
            raise _Problem(f"must be a finite number{self._bounds()}, got {short(v)}")
        return v

    def _bounds(self) -> str:
        lo = ("(" if self.lo_open else "[") + f"{self.lo}" if self.lo is not None else "(-inf"
        hi = f"{self.hi}" + (")" if self.hi_open else "]") if self.hi is not None else "inf)"
        return "" if self.lo is None and self.hi is None else f" in {lo}, {hi}"


class Str(Field):
    def _check(self, v, json):
        if not isinstance(v, str) or len(v) > MAX_STRING:
            raise _Problem(f"must be a string of at most {MAX_STRING} characters, got {short(v)}")
        return v


class Name(Field):
    """A layer, model or object name: printable, no ``/``, at most 256 characters."""

    def _check(self, v, json):
        if not isinstance(v, str) or not v or len(v) > 256 or "/" in v or not v.isprintable():
            raise _Problem(f"must be a name (printable, without '/', at most 256 characters), got {short(v)}")
        return v


class Choice(Field):
    def __init__(self, *choices, default=REQUIRED):
        super().__init__(default)
        self.choices = choices

    def _check(self, v, json):
        if not isinstance(v, (str, type(None), bool, int)) or v not in self.choices:
            raise _Problem(f"must be one of {', '.join(map(repr, self.choices))}, got {short(v)}")
        return v


class Optional(Field):
    """``None`` or a value ``inner`` accepts; the default is None unless given."""

    def __init__(self, inner: Field, default=None):
        super().__init__(default)
        self.inner = inner

    def _check(self, v, json):
        return None if v is None else self.inner._check(v, json)


class Off(Field):
    """A Keras setting gradfit does not implement: accepted only at its "off" value (``None``, or ``False``).

    A constructor given anything else raises ``NotImplementedError``; a file, ``ModelFileError``.
    """

    def __init__(self, default=None, off=(None, False)):
        super().__init__(default)
        self.off = off

    def is_off(self, v) -> bool:
        return any(v is o or (type(v) is type(o) and v == o) for o in self.off)

    def _check(self, v, json):
        if not self.is_off(v):
            raise _Problem(f"is not supported by gradfit (only {' or '.join(map(repr, self.off))}), got {short(v)}")
        return v

    def check(self, v, owner, key):
        if not self.is_off(v):
            raise NotImplementedError(f"{owner}: {key} is not supported by gradfit yet; leave it as {self.default}.")
        return v


class Plain(Field):
    """A JSON scalar or a (nested, bounded) list of scalars: no objects, which could name classes."""

    def _check(self, v, json, depth: int = 0):
        if v is None or isinstance(v, bool) or is_int(v) or isinstance(v, str):
            if isinstance(v, str) and len(v) > MAX_STRING:
                raise _Problem(f"string longer than {MAX_STRING} characters")
            if is_int(v) and abs(v) >= 1 << 63:
                raise _Problem(f"integer out of range: {short(v)}")
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _Problem(f"must be finite, got {short(v)}")
            return v
        if not json:
            return v
        if isinstance(v, list) and depth < 4 and len(v) <= MAX_LIST:
            return [self._check(x, json, depth + 1) for x in v]
        raise _Problem(f"must be a number, string, boolean, null or list of them, got {short(v)}")


class Shape(Field):
    """A shape as Keras writes it: ``[null, 4]`` (``batch=True``: with the batch axis) or ``[4]``."""

    def __init__(self, default=REQUIRED, batch: bool = True):
        super().__init__(default)
        self.batch = batch

    def _check(self, v, json):
        if not isinstance(v, (list, tuple)) or not (1 if self.batch else 0) <= len(v) <= MAX_RANK:
            raise _Problem(f"must be a shape (a list of at most {MAX_RANK} sizes), got {short(v)}")
        out = []
        for i, d in enumerate(v):
            if not json and isinstance(d, np.integer):
                d = int(d)
            if d is not None and not (is_int(d) and 1 <= d <= MAX_DIM):
                raise _Problem(f"size {i} of shape {short(v)} must be null or a positive integer")
            out.append(d)
        return tuple(out)


class Axis(Field):
    """An axis or a list of axes (integers in ``[-8, 8]``), or None."""

    def _check(self, v, json):
        if v is None:
            return None
        if not json and isinstance(v, np.integer):
            v = int(v)
        if is_int(v) and -MAX_RANK <= v <= MAX_RANK:
            return v
        if (
            isinstance(v, (list, tuple))
            and len(v) <= MAX_RANK
            and all(is_int(a) and -MAX_RANK <= a <= MAX_RANK for a in v)
        ):
            return list(v) if json else v
        raise _Problem(f"must be an axis (an integer or a list of integers), got {short(v)}")


class Stats(Field):
    """Normalization's fixed mean or variance: null, a number, or a (nested) list of numbers."""

    def _check(self, v, json, depth: int = 0):
        if v is None and depth == 0:
            return None
        if not json and depth == 0:
            return v  # an array from Python code: the layer checks it
        if is_number(v):
            if not math.isfinite(v):
                raise _Problem(f"must be finite, got {short(v)}")
            return v
        if isinstance(v, list) and depth < MAX_RANK and len(v) <= MAX_LIST:
            return [self._check(x, json, depth + 1) for x in v]
        raise _Problem(f"must be null, a number or a list of numbers, got {short(v)}")


class DType(Field):
    """A float dtype name, or Keras's ``{"class_name": "DTypePolicy", "config": {"name": "float32"}}``."""

    def __init__(self, default=None):
        super().__init__(default)

    def _check(self, v, json):
        if v is None:
            return None
        if isinstance(v, dict):
            if v.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy") or v.get("module") not in (
                None,
                "keras",
                "keras.dtype_policies",
            ):
                raise _Problem(f"must be a dtype name or a DTypePolicy, got {short(v)}")
            config = v.get("config")
            if not isinstance(config, dict) or set(config) != {"name"}:
                raise _Problem(f"a DTypePolicy config must be {{'name': …}}, got {short(config)}")
            v = config["name"]
        if not json and not isinstance(v, str):
            try:
                v = np.dtype(v).name
            except TypeError:
                raise _Problem(f"must be one of {', '.join(FLOAT_DTYPES)}, got {short(v)}") from None
        if isinstance(v, str) and v.startswith("mixed_"):
            raise _Problem(f"is a mixed-precision policy ({v!r}), which gradfit does not support")
        if v not in FLOAT_DTYPES:
            raise _Problem(f"must be one of {', '.join(FLOAT_DTYPES)}, got {short(v)}")
        return v


#: per registry kind: the Python-mode resolver (a module's ``get``), imported lazily to keep import order free
_GETTERS = {
    "activation": ("activations", "get"),
    "initializer": ("initializers", "get"),
    "regularizer": ("regularizers", "get"),
    "loss": ("losses", "get"),
    "optimizer": ("optimizers", "get"),
    "metric": ("metrics", "get"),
    "schedule": ("schedules", "get"),
}
_REGISTRIES = {
    "activation": registry.ACTIVATIONS,
    "initializer": registry.INITIALIZERS,
    "regularizer": registry.REGULARIZERS,
    "loss": registry.LOSSES,
    "optimizer": registry.OPTIMIZERS,
    "metric": registry.METRICS,
    "schedule": registry.SCHEDULES,
}


class Object(Field):
    """A nested object of a registry kind (``"activation"``, ``"initializer"``, ``"regularizer"``, ``"loss"``,
    ``"optimizer"``, ``"metric"``, ``"schedule"``): in code, whatever that module's ``get()`` accepts; in a
    file, a registered name or a serialized object of a registered class, itself checked by its schema."""

    def __init__(self, kind: str, default=REQUIRED, nullable: bool = True):
        super().__init__(default)
        if kind not in _REGISTRIES:
            raise ValueError(f"unknown object kind {kind!r}")
        self.kind, self.nullable = kind, nullable

    def _check(self, v, json):
        if v is None and self.nullable:
            return None
        if json:
            return v  # load() does the work, with a location for its messages
        import importlib

        module, getter = _GETTERS[self.kind]
        return getattr(importlib.import_module(f"gradfit.{module}"), getter)(v)

    def load(self, v, where):
        if v is None and self.nullable:
            return None
        return load_object(_REGISTRIES[self.kind], v, where)

    def check(self, v, owner, key):
        return self._check(v, False)  # the module's get() raises its own message


class Schema:
    """The config entries of one class: ``{key: Field}``, with a base schema's entries first.

    ``ignored`` keys are Keras settings with no effect in gradfit (accepted and dropped whatever their value).
    """

    def __init__(self, fields: dict[str, Field] | None = None, base: Schema | None = None, ignored=()):
        self.fields: dict[str, Field] = {**(base.fields if base else {}), **(fields or {})}
        self.ignored = frozenset(ignored) | (base.ignored if base else frozenset())

    def __contains__(self, key) -> bool:
        return key in self.fields

    def defaults(self) -> dict:
        """Keras's default of every entry that has one."""
        return {k: f.default for k, f in self.fields.items() if not f.required}

    def check(self, owner: str, values: dict) -> dict:
        """Python mode: each given entry checked and normalised (``owner`` names the class in messages)."""
        out = {}
        for key, value in values.items():
            field = self.fields.get(key)
            out[key] = value if field is None else field.check(value, owner, key)
        return out

    def load(self, config, where: str, owner: str) -> dict:
        """JSON mode: the constructor arguments a file's ``config`` means, every entry checked.

        Entries that are ``Off`` (or ignored) are dropped: the constructor's default is the same "off".
        """
        if not isinstance(config, dict):
            fail(where, f"the config of {owner} must be an object, got {short(config)}")
        kwargs = {}
        for key, raw in config.items():
            at = f"{where}.{key}"
            field = self.fields.get(key)
            if field is None:
                if key in self.ignored:
                    continue
                fail(at, f"unknown setting {key!r} for {owner} (known: {', '.join(sorted(self.fields))})")
            value = field.load(raw, at)
            if isinstance(field, Off):
                continue
            kwargs[key] = value
        missing = [k for k, f in self.fields.items() if f.required and k not in config]
        if missing:
            fail(where, f"missing required setting {missing[0]!r} for {owner}")
        return kwargs


# ------------------------------------------------------------------------------------------- nested objects

_SERIALIZED_KEYS = frozenset({"module", "class_name", "config", "registered_name", "shared_object_id"})


def check_serialized(v, where: str, kind: str, modules: tuple, allowed=None) -> tuple[str, object]:
    """Check a serialized object ``{"module", "class_name", "config", "registered_name"}`` against an allow-list.

    Returns ``(class_name, config)``. Nothing is imported: the module and class are only compared with the
    names of gradfit's own objects (``allowed``: a registry, or a collection of names).
    """
    if not isinstance(v, dict):
        fail(where, f"expected a serialized {kind} (an object with 'class_name' and 'config'), got {short(v)}")
    extra = set(v) - _SERIALIZED_KEYS
    if extra:
        fail(where, f"unexpected keys {sorted(extra)} in a serialized {kind}")
    class_name = v.get("class_name")
    module = v.get("module")
    if not isinstance(class_name, str) or (module is not None and not isinstance(module, str)):
        fail(where, f"a serialized {kind} needs a string 'class_name', got {short(class_name)}")
    full = f"{module}.{class_name}" if module else class_name
    if class_name.startswith("__"):
        what = "a lambda (Python code)" if class_name == "__lambda__" else f"the special object {class_name!r}"
        fail(where, f"refusing {what}: gradfit never runs code stored in a model file")
    if module is not None and module not in modules:
        fail(
            where,
            f"refusing {kind} {full!r}: gradfit never imports or calls code named by a model file; it only builds "
            f"its own {plural(kind)} (module {' or '.join(repr(m) for m in modules)})",
        )
    if allowed is not None and class_name not in allowed:
        known = allowed.known() if isinstance(allowed, registry.Registry) else ", ".join(sorted(allowed))
        fail(where, f"unknown {kind} {full!r}; gradfit has: {known}")
    registered = v.get("registered_name")
    if registered is not None and registered not in (class_name, "function", v.get("config")):
        fail(where, f"refusing {kind} registered as {registered!r}: custom objects are never loaded")
    shared = v.get("shared_object_id")
    if shared is not None and not is_int(shared):
        fail(where, f"'shared_object_id' must be an integer, got {short(shared)}")
    return class_name, v.get("config")


def plural(kind: str) -> str:
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "es" if kind.endswith("s") else kind + "s"


def load_object(reg: registry.Registry, v, where: str):
    """The object a file's value names, for a registry kind: a registered name (``"relu"``, ``"adam"``), a
    Keras function reference (``{"class_name": "function", "config": "mse"}``) or a serialized object of a
    registered class, whose config its class's ``config_schema`` checks. Nothing else is accepted."""
    kind = reg.kind
    modules = (reg.module, "builtins") if reg is not registry.SCHEDULES else (reg.module,)
    if isinstance(v, str):
        obj = reg.lookup(v)
        if obj is None:
            fail(where, reg.unknown_message(v))
        return obj() if isinstance(obj, type) else obj
    if isinstance(v, dict) and v.get("class_name") == "function":
        _, name = check_serialized(v, where, kind, modules)
        obj = reg.lookup(name) if isinstance(name, str) else None
        if obj is None:
            fail(where, f"unknown {kind} function {short(name)}; gradfit has: {reg.known()}")
        return obj() if isinstance(obj, type) else obj
    class_name, config = check_serialized(v, where, kind, modules, reg)
    cls = reg.lookup(class_name)
    if not isinstance(cls, type):
        fail(where, f"unknown {kind} {class_name!r}")
    return construct(cls, config, where, kind)


def construct(cls, config, where: str, kind: str):
    """``cls.from_config`` of a file's config, checked against ``cls.config_schema``."""
    schema = getattr(cls, "config_schema", None)
    if schema is None:
        fail(where, f"{kind} {cls.__name__} declares no config schema, so gradfit does not read it from files")
    kwargs = schema.load(config if config is not None else {}, where, f"{kind} {cls.__name__}")
    try:
        return cls.from_config(kwargs)
    except ModelFileError:
        raise
    except (TypeError, ValueError, NotImplementedError, ArithmeticError, KeyError) as exc:
        fail(where, f"{kind} {cls.__name__}: {exc}")
