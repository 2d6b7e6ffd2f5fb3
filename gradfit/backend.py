"""Global settings that Keras keeps in ``keras.backend`` (float type, epsilon, random state, layer names), and
what gradfit asks of NumPy's BLAS: the dispatch-free ``dot`` and the thread count during a fit."""

from __future__ import annotations

import contextlib
import random as _pyrandom

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_rng: np.random.Generator | None = None  # created on first use: importing numpy.random costs ~15 ms
_name_counts: dict[str, int] = {}

#: ``np.dot``'s C function without the Python-level ``__array_function__`` dispatch in front of it: ~0.3 us
#: less per call, and the seeds' network makes 8 products a step (NumPy without the attribute: np.dot)
dot = getattr(np.dot, "_implementation", np.dot)

_FLOATS = (np.float16, np.float32, np.float64)
#: 0-d zeros and ones per float type, as ufunc operands: a Python scalar costs a conversion on every call
#: (~0.4 us, a lot beside a small array's arithmetic)
ZEROS = {np.dtype(t): np.zeros((), t) for t in _FLOATS}
ONES = {np.dtype(t): np.ones((), t) for t in _FLOATS}
#: per float type, ``tiny * 2^(mantissa bits + 1)``: adding and subtracting it rounds every subnormal to 0 and
#: leaves every larger value as it was; a sum of exponentials below it holds subnormal terms
SUBNORMAL_BOUND = {np.dtype(t): np.asarray(np.finfo(t).tiny * 2.0 ** (np.finfo(t).nmant + 1), t) for t in _FLOATS}

_ones_cache: dict[tuple[int, np.dtype], np.ndarray] = {}


def ones(n: int, dtype) -> np.ndarray:
    """A cached, read-only vector of ``n`` ones: ``dot(ones, dz)`` sums ``dz`` over its rows 3-4x faster than
    ``np.add.reduce(dz, axis=0)`` at a batch's shapes (32 x 25: 0.6 us against 2.5 us)."""
    key = (n, np.dtype(dtype))
    vector = _ones_cache.get(key)
    if vector is None:
        vector = np.ones(n, dtype)
        vector.flags.writeable = False
        _ones_cache[key] = vector
    return vector


def floatx() -> str:
    """The default float type of new weights and of data given to ``fit``: ``'float32'`` unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the float type used by layers built from now on (``'float16'``, ``'float32'`` or ``'float64'``)."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"set_floatx: unknown float type {value!r}; use 'float16', 'float32' or 'float64'.")
    _FLOATX = str(value)


def epsilon() -> float:
    """The fuzz factor used by losses and optimizers (1e-7 as in Keras)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def rng() -> np.random.Generator:
    """The generator behind weight initialisation, shuffling and dropout."""
    global _rng
    if _rng is None:
        _rng = np.random.default_rng()
    return _rng


def set_seed(seed: int) -> None:
    """Make every later random draw (initialisers, shuffling, dropout) repeat exactly from ``seed``.

    Like ``keras.utils.set_random_seed``, this also seeds Python's ``random`` and ``np.random``.
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_seed: seed must be an integer, got {seed!r}.")
    _rng = np.random.default_rng(int(seed))
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


def unique_name(prefix: str) -> str:
    """``dense``, ``dense_1``, ``dense_2`` … as Keras names layers (reset by ``clear_session``)."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session() -> None:
    """Reset the layer-name counters, as ``keras.backend.clear_session`` does."""
    _name_counts.clear()


def standardize_dtype(dtype) -> np.dtype:
    return np.dtype(floatx() if dtype is None else dtype)


# ------------------------------------------------------------------------------------------- BLAS threads

#: below this many multiply-adds in a step's largest product, a second BLAS thread costs more than it gives
#: (and when the other core is busy, two threads wait on each other: the seeds' fit ran 2.5x slower)
_SINGLE_THREAD_MACS = 1_000_000


def blas_threads(weight_shapes, batch_size: int):
    """A context that keeps BLAS on one thread for a whole fit when the step's products are small: the largest
    is ``batch_size`` times the largest matrix of ``weight_shapes`` multiply-adds."""
    largest = max((batch_size * int(np.prod(s)) for s in weight_shapes if len(s) == 2), default=0)
    if largest >= _SINGLE_THREAD_MACS:
        return contextlib.nullcontext()
    openblas = numpy_openblas()
    if openblas is not None:
        return one_thread(*openblas)
    try:  # any other BLAS NumPy was built with (MKL, Accelerate, a system OpenBLAS): threadpoolctl finds it
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")
    except Exception:  # threadpoolctl missing or unable to see the BLAS: run as is
        return contextlib.nullcontext()


_OPENBLAS_UNSET = object()
_openblas = _OPENBLAS_UNSET


def numpy_openblas():
    """``(get, set)`` for the thread count of the OpenBLAS inside NumPy's wheels (numpy.libs), or None.

    threadpoolctl finds every BLAS a process has loaded, but importing it and scanning the loaded libraries
    took 8 ms of a process's first fit here (4 % of the seeds' 0.2 s fit). The OpenBLAS that NumPy's wheels
    bundle sits in numpy.libs and is already loaded: ctypes reaches it in microseconds. Only that library
    runs gradfit's products, so it is the only one to limit.
    """
    global _openblas
    if _openblas is not _OPENBLAS_UNSET:
        return _openblas
    _openblas = None
    try:
        import ctypes
        import os

        folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        libs = [name for name in os.listdir(folder) if "openblas" in name and ".so" in name]  # glob costs 1 ms
        if len(libs) != 1:
            return None
        lib = ctypes.CDLL(os.path.join(folder, libs[0]), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # only if loaded
        names = (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", ""))
        for prefix, suffix in names:
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                if get() >= 1:
                    _openblas = (get, set_)
                break
    except Exception:  # not a wheel layout this knows: threadpoolctl takes over
        _openblas = None
    return _openblas


@contextlib.contextmanager
def one_thread(get, set_):
    """A context running BLAS on one thread, through the OpenBLAS ``(get, set)`` pair."""
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)
