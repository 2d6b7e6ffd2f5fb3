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

The field checks (``fields.py``) are the only place that knows what a valid value of each kind is;
``objects.py`` reads nested objects from the registries; :class:`Schema` (here) puts a class's fields together.
"""

from __future__ import annotations

from .fields import (
    FLOAT_DTYPES,
    MAX_DIM,
    MAX_LIST,
    MAX_RANK,
    MAX_STRING,
    REQUIRED,
    Axis,
    Bool,
    Choice,
    DType,
    Field,
    Int,
    ModelFileError,
    Name,
    Number,
    NumberList,
    Numbers,
    Off,
    Optional,
    Plain,
    Shape,
    Stats,
    Str,
    _Problem,  # noqa: F401  (for fields declared elsewhere: a value a field refuses)
    fail,
    is_int,
    is_number,
    short,
)
from .objects import Object, check_serialized, construct, load_object, plural

__all__ = [
    "FLOAT_DTYPES",
    "MAX_DIM",
    "MAX_LIST",
    "MAX_RANK",
    "MAX_STRING",
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
    "NumberList",
    "Numbers",
    "Object",
    "Off",
    "Optional",
    "Plain",
    "Schema",
    "Shape",
    "Stats",
    "Str",
    "check_serialized",
    "construct",
    "fail",
    "is_int",
    "is_number",
    "load_object",
    "plural",
    "short",
]


class Schema:
    """The config entries of one class: ``{key: Field}``, with a base schema's entries first.

    ``ignored`` keys are Keras settings with no effect in gradfit (accepted and dropped whatever their value).
    """

    def __init__(self, fields: dict[str, Field] | None = None, base: Schema | None = None, ignored=()):
        self.fields: dict[str, Field] = {**(base.fields if base else {}), **(fields or {})}
        self.ignored = frozenset(ignored) | (base.ignored if base else frozenset())

    def __contains__(self, key) -> bool:
        return key in self.fields

    @property
    def required_keys(self) -> tuple[str, ...]:
        """The entries without a default (a file must give them)."""
        keys = self.__dict__.get("_required")
        if keys is None:
            keys = self._required = tuple(k for k, f in self.fields.items() if f.required)
        return keys

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

    def check_with_base(self, owner: str, own: dict, kwargs: dict) -> tuple[dict, dict]:
        """Python mode for a constructor that hands ``**kwargs`` on to its base class: ``own`` (its own
        arguments) and ``kwargs`` checked. Returns both, ``kwargs`` without its ``Off`` entries (which are off
        once checked, and which the base class does not take)."""
        rest = self.check(owner, kwargs)
        return self.check(owner, own), {k: v for k, v in rest.items() if not isinstance(self.fields.get(k), Off)}

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
            if isinstance(field, Off):  # a Keras feature gradfit lacks: only its "off" value, then dropped
                if type(field).load is not Field.load:  # an Off field with a rule of its own for files
                    field.load(raw, at)
                elif not field.is_off(raw):
                    fail(at, f"gradfit's {owner} does not support {key}={short(raw)}")
                continue
            value = field.load(raw, at)
            kwargs[key] = value
        missing = [k for k in self.required_keys if k not in config]
        if missing:
            fail(where, f"missing required setting {missing[0]!r} for {owner}")
        return kwargs
