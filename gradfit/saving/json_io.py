"""JSON text of configs, read strictly: bounded size, UTF-8, no NaN or Infinity, no key given twice."""

from __future__ import annotations

import json

import numpy as np

from ..schema import ModelFileError, fail
from .archive import MAX_CONFIG_BYTES


def loads(data, where: str, limit: int = MAX_CONFIG_BYTES):
    """The JSON value of ``data`` (text or UTF-8 bytes), or a ModelFileError saying why not."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > limit:
            fail(where, f"larger than {limit} bytes")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(where, f"not UTF-8 text ({exc})")
    if not isinstance(data, str):
        raise TypeError(f"expected a JSON string, got {type(data).__name__}")
    if len(data) > limit:
        fail(where, f"longer than {limit} characters")

    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:  # json.loads would keep the last one silently
                fail(where, f"the key {key!r} appears twice in one object")
            out[key] = value
        return out

    def constant(name):
        fail(where, f"{name} is not a valid JSON value")

    try:
        return json.loads(data, object_pairs_hook=pairs, parse_constant=constant)
    except ModelFileError:
        raise
    except (ValueError, RecursionError) as exc:
        fail(where, f"not valid JSON ({exc})")


def _default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot write {obj!r} of type {type(obj).__name__} into a model config")


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` that writes NumPy scalars and arrays as plain numbers and lists."""
    return json.dumps(obj, default=_default, **kwargs)
