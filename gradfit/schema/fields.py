"""The field types of config schemas: each knows what a valid value of its kind is, in code (constructors)
and in files (strict JSON types), and Keras's default."""

from __future__ import annotations

import math
import numbers

import numpy as np

MAX_RANK = 8
MAX_DIM = (1 << 31) - 1
MAX_STRING = 1024
MAX_LIST = 1 << 20
FLOAT_DTYPES = ("float16", "float32", "float64")


class ModelFileError(ValueError):
    """A model file or config that gradfit refuses to load: corrupt, hostile, or naming something unsupported.

    The message says which file part and which entry, and why.
    """


ModelFileError.__module__ = "gradfit.schema"  # where it is imported from (and gradfit.saving re-exports it)


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

    #: a sentence a constructor's error message adds (what the setting means, an example)
    hint = ""

    def __init__(self, default=REQUIRED):
        self.default = default

    def explained(self, hint: str) -> Field:
        """This field, with ``hint`` added to the constructor's error message: ``Int(lo=1).explained("the
        number of neurons")``."""
        self.hint = hint
        return self

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
            hint = self.hint or getattr(getattr(self, "inner", None), "hint", "")
            hint = f" ({hint})" if hint else ""
            raise ValueError(f"{owner}: {key} {exc}{hint}.") from None

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


class Numbers(Field):
    """A finite number or a non-empty list of them, each in ``[lo, hi]`` (a metric's thresholds, label weights).

    From Python code a tuple or a NumPy array is accepted too, and returned as given.
    """

    def __init__(self, default=REQUIRED, lo=None, hi=None):
        super().__init__(default)
        self.item = Number(lo=lo, hi=hi)

    def _check(self, v, json):
        items = v.tolist() if not json and isinstance(v, np.ndarray) and v.ndim == 1 else v
        if not isinstance(items, list) and not (not json and isinstance(items, tuple)):
            return self.item._check(v, json)
        if not items or len(items) > MAX_LIST:
            raise _Problem(f"must be a number or a non-empty list of numbers, got {short(v)}")
        checked = [self.item._check(x, json) for x in items]
        return checked if json else v


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


class NumberList(Field):
    """A list of finite numbers (a schedule's boundaries or values); in code, any sequence the owner checks."""

    def _check(self, v, json):
        if not json:
            return v
        if not isinstance(v, list) or len(v) > MAX_LIST or not all(is_number(x) and math.isfinite(x) for x in v):
            raise _Problem(f"must be a list of finite numbers, got {short(v)}")
        return v


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
        raise _Problem(f"must be an axis (an integer in [-{MAX_RANK}, {MAX_RANK}] or a list of them), got {short(v)}")


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

    _MODULES = ("keras", "keras.dtype_policies")
    _CLASSES = ("DTypePolicy", "FloatDTypePolicy")

    def __init__(self, default=None):
        super().__init__(default)

    def load(self, v, where):
        if isinstance(v, dict):  # a serialized policy: only Keras's own, named as such
            from .objects import check_serialized

            check_serialized(v, where, "dtype policy", self._MODULES, self._CLASSES)
        return super().load(v, where)

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
            raise _Problem(
                f"is a mixed-precision policy ({v!r}), which gradfit does not support: leave dtype=None "
                "(floatx(), float32 by default) or give 'float32' or 'float64'"
            )
        if v not in FLOAT_DTYPES:
            raise _Problem(f"must be one of {', '.join(FLOAT_DTYPES)}, got {short(v)}")
        return v
