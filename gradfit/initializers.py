"""Weight initialisers with Keras's names and formulas (``glorot_uniform`` for kernels, ``zeros`` for biases).

``fan_in`` and ``fan_out`` of a Dense kernel of shape ``(n_in, units)`` are ``n_in`` and ``units``.
"""

from __future__ import annotations

import math

import numpy as np

from . import backend, registry
from .schema import Int, Number, Off, Optional, Schema

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "RandomNormal",
    "RandomUniform",
    "Zeros",
    "get",
    "serialize",
]

_SEED = Optional(Int())


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new array of ``shape`` drawn from ``sample``."""

    config_schema = Schema({"seed": _SEED})

    def __init__(self, seed: int | None = None):
        self.seed = _SEED.check(seed, type(self).__name__, "seed")

    def _rng(self) -> np.random.Generator:
        return backend.rng() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        return np.asarray(self.sample(shape), dtype=backend.standardize_dtype(dtype))

    def sample(self, shape: tuple) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@registry.INITIALIZERS.register(
    aliases=(
        "zeros",
        "zero",
    )
)
class Zeros(Initializer):
    config_schema = Schema({})

    def __init__(self):
        super().__init__(None)

    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


@registry.INITIALIZERS.register(
    aliases=(
        "ones",
        "one",
    )
)
class Ones(Zeros):
    def sample(self, shape):
        return np.ones(shape)


@registry.INITIALIZERS.register(aliases=("constant",))
class Constant(Initializer):
    config_schema = Schema({"value": Number(0.0)})

    def __init__(self, value: float = 0.0):
        super().__init__(None)
        self.value = float(self.config_schema.check(type(self).__name__, {"value": value})["value"])

    def sample(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


@registry.INITIALIZERS.register(
    aliases=(
        "random_uniform",
        "uniform",
    )
)
class RandomUniform(Initializer):
    config_schema = Schema({"minval": Number(-0.05), "maxval": Number(0.05), "seed": _SEED})

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        c = self.config_schema.check(type(self).__name__, {"minval": minval, "maxval": maxval})
        self.minval, self.maxval = float(c["minval"]), float(c["maxval"])

    def sample(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


@registry.INITIALIZERS.register(
    aliases=(
        "random_normal",
        "normal",
    )
)
class RandomNormal(Initializer):
    config_schema = Schema({"mean": Number(0.0), "stddev": Number(0.05, lo=0), "seed": _SEED})

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        c = self.config_schema.check(type(self).__name__, {"mean": mean, "stddev": stddev})
        self.mean, self.stddev = float(c["mean"]), float(c["stddev"])

    def sample(self, shape):
        return self._rng().normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class _VarianceScaling(Initializer):
    """``U(-l, l)`` with ``l = sqrt(3 scale / n)`` or a normal truncated at 2 sd with matching variance."""

    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"
    #: Keras writes ``input_axes`` and ``output_axes`` (fan axes gradfit does not take): read when null
    config_schema = Schema({"seed": _SEED, "input_axes": Off(), "output_axes": Off()})

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        # truncated normal: resample beyond 2 sd; 0.8796 is the sd of a unit normal truncated there
        std = math.sqrt(variance) / 0.87962566103423978
        out = rng.normal(0.0, std, shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, int(bad.sum()))
            bad = np.abs(out) > 2 * std
        return out


@registry.INITIALIZERS.register(aliases=("glorot_uniform",))
class GlorotUniform(_VarianceScaling):
    """``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``: Keras's default for kernels."""


@registry.INITIALIZERS.register(aliases=("glorot_normal",))
class GlorotNormal(_VarianceScaling):
    distribution = "normal"


@registry.INITIALIZERS.register(aliases=("he_uniform",))
class HeUniform(_VarianceScaling):
    scale, mode = 2.0, "fan_in"


@registry.INITIALIZERS.register(aliases=("he_normal",))
class HeNormal(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "normal"


@registry.INITIALIZERS.register(aliases=("lecun_uniform",))
class LecunUniform(_VarianceScaling):
    mode = "fan_in"


@registry.INITIALIZERS.register(aliases=("lecun_normal",))
class LecunNormal(_VarianceScaling):
    mode, distribution = "fan_in", "normal"


def get(identifier) -> Initializer:
    """An initializer from its Keras name (``"glorot_uniform"``, ``"GlorotUniform"``, ``"zeros"`` …), its
    serialized form ``{"class_name": …, "config": …}``, or itself."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        return registry.INITIALIZERS.require(identifier)()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        cls = registry.INITIALIZERS.require(identifier["class_name"])
        return cls.from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Cannot use {identifier!r} as an initializer; give a name such as 'glorot_uniform'.")


def serialize(initializer: Initializer | None) -> dict | None:
    """Keras's serialized form: ``{"module": "keras.initializers", "class_name": …, "config": …}``."""
    if initializer is None:
        return None
    entry = registry.INITIALIZERS.entry_of_class(type(initializer))
    return {
        "module": entry.module if entry is not None else type(initializer).__module__,
        "class_name": type(initializer).__name__,
        "config": initializer.get_config(),
        "registered_name": None if entry is not None and entry.obj is type(initializer) else type(initializer).__name__,
    }
