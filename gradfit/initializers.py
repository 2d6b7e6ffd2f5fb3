"""Weight initialisers with Keras's names and formulas (``glorot_uniform`` for kernels, ``zeros`` for biases).

``fan_in`` and ``fan_out`` of a Dense kernel of shape ``(n_in, units)`` are ``n_in`` and ``units``.
"""

from __future__ import annotations

import difflib
import math

import numpy as np

from . import backend

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
]


class Initializer:
    def __init__(self, seed: int | None = None):
        self.seed = seed

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


class Zeros(Initializer):
    def __init__(self):
        super().__init__(None)

    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Zeros):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__(None)
        self.value = float(value)

    def sample(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape):
        return self._rng().normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class _VarianceScaling(Initializer):
    """``U(-l, l)`` with ``l = sqrt(3 scale / n)`` or a normal truncated at 2 sd with matching variance."""

    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"

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


class GlorotUniform(_VarianceScaling):
    """``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``: Keras's default for kernels."""


class GlorotNormal(_VarianceScaling):
    distribution = "normal"


class HeUniform(_VarianceScaling):
    scale, mode = 2.0, "fan_in"


class HeNormal(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "normal"


class LecunUniform(_VarianceScaling):
    mode = "fan_in"


class LecunNormal(_VarianceScaling):
    mode, distribution = "fan_in", "normal"


_CLASSES = {
    c.__name__: c
    for c in (
        Zeros,
        Ones,
        Constant,
        RandomUniform,
        RandomNormal,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
    )
}
_NAMES = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_uniform": RandomUniform,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    **_CLASSES,
}


def get(identifier) -> Initializer:
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        if identifier in _NAMES:
            return _NAMES[identifier]()
        close = difflib.get_close_matches(identifier, list(_NAMES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown initializer {identifier!r}.{hint}")
    if isinstance(identifier, dict) and identifier.get("class_name") in _NAMES:
        return _NAMES[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"Cannot use {identifier!r} as an initializer; give a name such as 'glorot_uniform'.")
