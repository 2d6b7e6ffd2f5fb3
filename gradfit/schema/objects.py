"""Nested objects in configs (a layer's activation and initializer, a model's loss and optimizer, an
optimizer's schedule): found in gradfit's registries only, each checked by its own class's schema."""

from __future__ import annotations

from .. import registry
from .fields import REQUIRED, Field, ModelFileError, fail, is_int, short

#: per registry kind: the Python-mode resolver (a module's ``get``), imported lazily to keep import order free
_GETTERS = {
    "activation": ("activations", "get"),
    "initializer": ("initializers", "get"),
    "regularizer": ("regularizers", "get"),
    "constraint": ("constraints", "get"),
    "loss": ("losses", "get"),
    "optimizer": ("optimizers", "get"),
    "metric": ("metrics", "get"),
    "schedule": ("schedules", "get"),
}
_REGISTRIES = {
    "activation": registry.ACTIVATIONS,
    "initializer": registry.INITIALIZERS,
    "regularizer": registry.REGULARIZERS,
    "constraint": registry.CONSTRAINTS,
    "loss": registry.LOSSES,
    "optimizer": registry.OPTIMIZERS,
    "metric": registry.METRICS,
    "schedule": registry.SCHEDULES,
}


class Object(Field):
    """A nested object of a registry kind (``"activation"``, ``"initializer"``, ``"regularizer"``,
    ``"constraint"``, ``"loss"``, ``"optimizer"``, ``"metric"``, ``"schedule"``): in code, whatever that
    module's ``get()`` accepts; in a file, a registered name or a serialized object of a registered class, itself
    checked by its schema."""

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
