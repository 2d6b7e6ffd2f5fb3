"""Weight initialisers with Keras's names and formulas (``glorot_uniform`` for kernels, ``zeros`` for biases).

``fan_in`` and ``fan_out`` of a Dense kernel of shape ``(n_in, units)`` are ``n_in`` and ``units``.

Every initializer writes its values straight into an array of the weight's own dtype (float32 by default).
The random ones draw float64 numbers ``CHUNK`` at a time and cast each chunk as it is written, so that a
weight costs its own size plus a few MiB, whatever its size, and the numbers are the ones a single float64
draw of the whole shape would give (NumPy's generators draw chunk after chunk the same stream).
"""

from __future__ import annotations

import math

import numpy as np

from . import backend, registry
from .schema import MAX_DIM, MAX_RANK, Int, Number, Off, Optional, Schema

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
    "initial_value",
    "serialize",
]

#: NumPy's generators take seeds >= 0 (a negative one failed at build with NumPy's message, not naming the seed)
_SEED = Optional(Int(lo=0).explained("a non-negative integer, e.g. seed=42"))
#: values drawn (as float64) per step of a random initializer: 8 MiB of scratch memory
CHUNK = 1 << 20
#: the most values one weight may have (8 GiB as float32): a larger shape is refused before anything is allocated
MAX_VALUES = MAX_DIM


def _checked_shape(shape, owner: str) -> tuple:
    """``shape`` as a tuple of non-negative ints, refused (ValueError naming it) when it is not a shape or when
    the weight would have more than ``MAX_VALUES`` values."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{owner}: the shape must be a tuple of sizes, got {shape!r}.") from None
    if len(dims) > MAX_RANK or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0 for d in dims
    ):
        raise ValueError(f"{owner}: the shape must be at most {MAX_RANK} non-negative integer sizes, got {shape!r}.")
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) > MAX_VALUES:
        raise ValueError(
            f"{owner}: a weight of shape {dims} would hold {math.prod(dims)} values, more than the {MAX_VALUES} "
            "gradfit allows in one weight."
        )
    return dims


def _chunks(flat: np.ndarray):
    """``flat`` (a 1-D array) in consecutive pieces of ``CHUNK`` values."""
    for start in range(0, flat.size, CHUNK):
        yield flat[start : start + CHUNK]


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new array of ``shape`` drawn from ``sample``."""

    config_schema = Schema({"seed": _SEED})

    def __init__(self, seed: int | None = None):
        self.seed = _SEED.check(seed, type(self).__name__, "seed")

    def _rng(self) -> np.random.Generator:
        return backend.rng() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _checked_shape(shape, type(self).__name__)
        out = np.empty(shape, dtype=backend.standardize_dtype(dtype))
        with np.errstate(over="ignore"):  # a value beyond the dtype's range becomes inf: add_weight refuses it
            self._fill(out)
        return out

    def fill(self, out: np.ndarray) -> None:
        """Write this initializer's values for a weight of ``out.shape`` into ``out`` (C-contiguous), cast to
        its dtype. This default writes ``sample(shape)`` (float64) whole; the built-in initializers write in
        chunks."""
        out[...] = self.sample(out.shape)

    def _fill(self, out: np.ndarray) -> None:
        """``fill``, unless a subclass wrote its own ``sample`` below the class whose ``fill`` would run (a user's
        ``class Mine(RandomNormal): def sample(...)``): then its ``sample`` is what it means."""
        mro = type(self).__mro__
        fill_owner = next(k for k in mro if "fill" in k.__dict__)
        sample_owner = next(k for k in mro if "sample" in k.__dict__)
        if issubclass(fill_owner, sample_owner):
            self.fill(out)
        else:
            Initializer.fill(self, out)

    def sample(self, shape: tuple) -> np.ndarray:
        """The values for ``shape`` as a float64 array (what a subclass that does not write ``fill`` gives)."""
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

    def fill(self, out):
        out.fill(0)

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

    def fill(self, out):
        out.fill(1)


@registry.INITIALIZERS.register(aliases=("constant",))
class Constant(Initializer):
    config_schema = Schema({"value": Number(0.0)})

    def __init__(self, value: float = 0.0):
        super().__init__(None)
        self.value = float(self.config_schema.check(type(self).__name__, {"value": value})["value"])

    def sample(self, shape):
        return np.full(shape, self.value)

    def fill(self, out):
        out.fill(self.value)

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

    def fill(self, out):
        rng = self._rng()
        for part in _chunks(out.reshape(-1)):
            part[...] = rng.uniform(self.minval, self.maxval, part.size)

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

    def fill(self, out):
        rng = self._rng()
        for part in _chunks(out.reshape(-1)):
            part[...] = rng.normal(self.mean, self.stddev, part.size)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class _VarianceScaling(Initializer):
    """``U(-l, l)`` with ``l = sqrt(3 scale / n)`` or a normal truncated at 2 sd with matching variance."""

    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"
    #: Keras writes ``input_axes`` and ``output_axes`` (fan axes gradfit does not take): read when null
    config_schema = Schema({"seed": _SEED, "input_axes": Off(), "output_axes": Off()})

    def _scale(self, shape) -> float:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / max(1.0, n)

    def sample(self, shape):
        out = np.empty(shape)
        self.fill(out)
        return out

    def fill(self, out):
        variance = self._scale(out.shape)
        rng = self._rng()
        flat = out.reshape(-1)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            for part in _chunks(flat):
                part[...] = rng.uniform(-limit, limit, part.size)
            return
        # truncated normal: resample beyond 2 sd; 0.8796 is the sd of a unit normal truncated there. The draws
        # beyond are remembered by position (about 4.6 % of them) and redrawn in that order, as one float64
        # draw of the whole shape followed by `out[bad] = rng.normal(...)` rounds would redraw them.
        std = math.sqrt(variance) / 0.87962566103423978
        bad = []
        for start in range(0, flat.size, CHUNK):
            part = rng.normal(0.0, std, min(CHUNK, flat.size - start))
            beyond = np.abs(part) > 2 * std
            flat[start : start + part.size] = part
            bad.append(np.flatnonzero(beyond).astype(np.int32) + start)  # positions < MAX_VALUES < 2**31
        bad = np.concatenate(bad) if bad else np.empty(0, dtype=np.int32)
        while bad.size:
            redrawn = rng.normal(0.0, std, bad.size)
            beyond = np.abs(redrawn) > 2 * std
            flat[bad[~beyond]] = redrawn[~beyond]
            bad = bad[beyond]


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


def _all_finite(values: np.ndarray) -> bool:
    """Whether every value is finite, checked ``CHUNK`` values at a time (no temporary the size of a weight)."""
    if values.dtype.kind not in "fc":
        return True
    flat = values.reshape(-1)
    return all(np.isfinite(part).all() for part in _chunks(flat))


def initial_value(initializer, shape, dtype, layer: str, weight: str, out: np.ndarray | None = None) -> np.ndarray:
    """A new weight's first values: ``initializer(shape, dtype=dtype)`` as an array of its own, of ``dtype``
    (written into ``out`` when given: a view into a model's parameter vector laid out before the build).

    gradfit's initializers write straight into the weight (no copy, no float64 array of its size); anything
    else (a user's callable may hand out an array it keeps, or another dtype) is copied. Values that are not
    finite (NaN, or a number beyond ``dtype``'s range, which the cast turned into infinity:
    ``RandomNormal(stddev=1e300)``) are refused with a ``ValueError`` naming the layer, the weight and the
    initializer.
    """
    dtype = backend.standardize_dtype(dtype)
    shape = _checked_shape(shape, f"Layer {layer!r}: weight {weight!r}")
    own_call = isinstance(initializer, Initializer) and type(initializer).__call__ is Initializer.__call__
    if own_call and out is not None and out.flags.c_contiguous:
        with np.errstate(over="ignore"):
            initializer._fill(out)
        value = out
    else:
        value = initializer(shape, dtype=dtype)
        if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
            value = value.numpy()
        fresh = own_call and type(value) is np.ndarray and value.base is None
        if out is not None or not (fresh and value.dtype == dtype and value.flags.c_contiguous):
            try:
                with np.errstate(over="ignore"):
                    value = np.array(value, dtype=dtype, order="C")
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Layer {layer!r}: the initializer {initializer!r} of weight {weight!r} did not give numbers: {exc}"
                ) from None
        if value.shape != shape:
            raise ValueError(
                f"Layer {layer!r}: the initializer {initializer!r} of weight {weight!r} gave an array of shape "
                f"{value.shape}, not {shape}."
            )
    if not _all_finite(value):
        raise ValueError(
            f"Layer {layer!r}: the initializer {_describe(initializer)} gave weight {weight!r} values that are not "
            f"finite in {dtype} (NaN or infinity: a scale beyond {dtype}'s range?); choose a smaller scale."
        )
    if out is not None and value is not out:
        out[...] = value
        value = out
    return value


def _describe(initializer) -> str:
    if isinstance(initializer, Initializer):
        config = ", ".join(f"{k}={v!r}" for k, v in initializer.get_config().items())
        return f"{type(initializer).__name__}({config})"
    return repr(initializer)
