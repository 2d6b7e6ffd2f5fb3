"""Activation functions ``a = g(z)``, each written beside its derivative.

Every activation has two parts, side by side:

* ``forward(z, out)`` computes ``a = g(z)``, writing into ``out`` when given (the training loop reuses
  buffers; it also silences floating-point overflow warnings around the whole loop, so ``exp`` of a
  large number may become ``inf`` here, which the formulas below turn into the right limit);
* ``backward(z, a, da)`` turns ``dJ/da`` into ``dJ/dz = dJ/da * g'(z)``, using whichever of ``z`` and
  ``a`` makes ``g'`` cheapest.

The public functions (``sigmoid(x)``, ``relu(x)`` …) take any array-like and return a new array, as
``keras.activations`` does. A ``Dense`` layer keeps the function object itself, so
``layer.activation is gradfit.keras.activations.sigmoid``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable

import numpy as np

from .backend import ONES, ZEROS
from .tensor import Tensor

__all__ = [
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

Forward = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]
Backward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class Activation:
    """An activation function ``g`` with its derivative; calling it applies ``g`` to an array.

    Parameters
    ----------
    name : str
        Keras's name for it (used in configs and error messages).
    forward : callable ``(z, out) -> a``
    backward : callable ``(z, a, da) -> dz``
    formula : str
        ``g(z)`` in the course's notation, shown by ``repr`` and ``model.explain()``.
    in_place : bool
        Whether ``backward`` needs only ``a``, so that a layer may compute ``a`` over ``z``'s memory
        (saves an allocation and keeps one array hot in cache on the MNIST-sized step).
    """

    def __init__(self, name: str, forward: Forward, backward: Backward, formula: str, in_place: bool = False):
        self.__name__ = name
        self.forward = forward
        self.backward = backward
        self.formula = formula
        self.in_place = in_place
        self.__doc__ = f"{name}: {formula}"

    def __call__(self, x, **kwargs) -> np.ndarray:
        z = _as_float_array(x)
        with np.errstate(over="ignore", under="ignore"):
            a = _with_options(self, z, **kwargs) if kwargs else self.forward(z, None)
        return np.asarray(a).view(Tensor)  # an ndarray that also answers TensorFlow's .numpy()

    def __repr__(self) -> str:
        return f"<activation {self.__name__}: {self.formula}>"

    def __reduce__(self):  # pickling (e.g. by multiprocessing) refers back to the module-level object
        return (get, (self.__name__,))


def _as_float_array(x) -> np.ndarray:
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    z = np.asarray(x)
    if z.dtype.kind != "f":
        z = z.astype(np.float32)
    return z


def _store(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result)
    return out


# --------------------------------------------------------------------------- the table

# linear: g(z) = z, g'(z) = 1


def _linear(z, out):
    return _store(z, out)


def _linear_grad(z, a, da):
    return da


# sigmoid: g(z) = 1 / (1 + e^-z), g'(z) = a (1 - a)


def _sigmoid(z, out):
    if out is None and z.ndim == 0:  # a 0-d input would become a NumPy scalar that out= cannot write into
        out = np.empty_like(z)
    out = np.negative(z, out=out)
    np.exp(out, out=out)
    np.add(out, ONES.get(out.dtype, 1.0), out=out)  # a 0-d one: a Python 1.0 costs ~0.4 us a call
    return np.reciprocal(out, out=out)


def _sigmoid_grad(z, a, da):
    return da * (a - a * a)  # = a (1 - a); array-array ops cost less than a Python scalar's 1 - a


# tanh: g(z) = (e^z - e^-z) / (e^z + e^-z), g'(z) = 1 - a^2


def _tanh(z, out):
    return np.tanh(z, out=out)


def _tanh_grad(z, a, da):
    return da * (1 - a * a)


# relu: g(z) = max(0, z), g'(z) = [z > 0]


def _relu(z, out):
    return np.maximum(z, ZEROS.get(z.dtype, 0), out=out)


def _relu_grad(z, a, da):
    # the mask a > 0 as sign(a) (1 or 0) below ~2000 entries, where a float operand is cheaper than a
    # boolean one; above, the boolean mask, as sign's own pass costs more than the cast (128 x 256: 12 vs 26 us)
    if a.size < 2048:
        return da * np.sign(a)
    return da * np.greater(a, ZEROS.get(a.dtype, 0))


# relu6: g(z) = min(max(0, z), 6), g'(z) = [0 < z < 6]


def _relu6(z, out):
    return np.clip(z, 0, 6, out=out)


def _relu6_grad(z, a, da):
    return da * ((z > 0) & (z < 6))


# leaky_relu: g(z) = z if z > 0 else 0.2 z (Keras's default slope), g'(z) = 1 or 0.2
_LEAKY_SLOPE = 0.2


def _leaky_relu(z, out):
    return _store(np.where(z > 0, z, _LEAKY_SLOPE * z), out)


def _leaky_relu_grad(z, a, da):
    return da * np.where(z > 0, 1, _LEAKY_SLOPE).astype(da.dtype)


# elu: g(z) = z if z > 0 else e^z - 1, g'(z) = 1 or a + 1


def _elu(z, out):
    return _store(np.where(z > 0, z, np.expm1(np.minimum(z, 0))), out)


def _elu_grad(z, a, da):
    return da * np.where(z > 0, 1, a + 1)


# selu: g(z) = s z if z > 0 else s alpha (e^z - 1), g'(z) = s or a + s alpha
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(z, out):
    neg = _SELU_SCALE * _SELU_ALPHA * np.expm1(np.minimum(z, 0))
    return _store(np.where(z > 0, _SELU_SCALE * z, neg), out)


def _selu_grad(z, a, da):
    # at z = 0 exactly TensorFlow takes the linear side (scale), as this does
    return da * np.where(z < 0, a + _SELU_SCALE * _SELU_ALPHA, _SELU_SCALE)


# softplus: g(z) = log(1 + e^z), g'(z) = sigmoid(z)


def _softplus(z, out):
    return np.logaddexp(z, 0, out=out)


def _softplus_grad(z, a, da):
    return da * _sigmoid(z, None)


# softsign: g(z) = z / (1 + |z|), g'(z) = 1 / (1 + |z|)^2


def _softsign(z, out):
    return np.divide(z, 1 + np.abs(z), out=out)


def _softsign_grad(z, a, da):
    return da / np.square(1 + np.abs(z))


# silu (swish): g(z) = z sigmoid(z), g'(z) = s (1 + z (1 - s)) with s = sigmoid(z)


def _silu(z, out):
    return np.multiply(z, _sigmoid(z, None), out=out)


def _silu_grad(z, a, da):
    s = _sigmoid(z, None)
    return da * s * (1 + z * (1 - s))


# gelu (exact, Keras's default): g(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2,
# g'(z) = Phi(z) + z phi(z) with phi the standard normal density
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf; SciPy's is used when present, else math.erf element by element (exact, slower).
    try:
        from scipy.special import erf
    except ImportError:
        return _erf_scalar(x).astype(x.dtype)
    return erf(x)


def _gelu(z, out):
    return np.multiply(z, 0.5 * (1 + _erf(z / _SQRT2)), out=out)


def _gelu_grad(z, a, da):
    cdf = 0.5 * (1 + _erf(z / _SQRT2))
    return da * (cdf + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z))


# exponential: g(z) = e^z, g'(z) = a


def _exponential(z, out):
    return np.exp(z, out=out)


def _exponential_grad(z, a, da):
    return da * a


# hard_sigmoid (Keras 3): g(z) = clip(z / 6 + 1/2, 0, 1), g'(z) = 1/6 on (-3, 3)


def _hard_sigmoid(z, out):
    if out is None and z.ndim == 0:
        out = np.empty_like(z)
    out = np.multiply(z, 1 / 6, out=out)
    out += 0.5
    return np.clip(out, 0, 1, out=out)


def _hard_sigmoid_grad(z, a, da):
    return da * (((z > -3) & (z < 3)) / 6).astype(da.dtype)


# softmax over the last axis: a_j = e^{z_j} / sum_k e^{z_k}, dz = a * (da - sum(da * a))


def _softmax(z, out):
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_grad(z, a, da):
    return a * (da - (da * a).sum(axis=-1, keepdims=True))


linear = Activation("linear", _linear, _linear_grad, "g(z) = z")
sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_grad, "g(z) = 1 / (1 + e^-z)")
tanh = Activation("tanh", _tanh, _tanh_grad, "g(z) = (e^z - e^-z) / (e^z + e^-z)", in_place=True)
relu = Activation("relu", _relu, _relu_grad, "g(z) = max(0, z)", in_place=True)
relu6 = Activation("relu6", _relu6, _relu6_grad, "g(z) = min(max(0, z), 6)")
leaky_relu = Activation("leaky_relu", _leaky_relu, _leaky_relu_grad, "g(z) = z if z > 0 else 0.2 z")
elu = Activation("elu", _elu, _elu_grad, "g(z) = z if z > 0 else e^z - 1")
selu = Activation("selu", _selu, _selu_grad, "g(z) = 1.0507 (z if z > 0 else 1.6733 (e^z - 1))")
softplus = Activation("softplus", _softplus, _softplus_grad, "g(z) = log(1 + e^z)")
softsign = Activation("softsign", _softsign, _softsign_grad, "g(z) = z / (1 + |z|)")
silu = Activation("silu", _silu, _silu_grad, "g(z) = z / (1 + e^-z)")
swish = silu
gelu = Activation("gelu", _gelu, _gelu_grad, "g(z) = z (1 + erf(z / sqrt 2)) / 2")
exponential = Activation("exponential", _exponential, _exponential_grad, "g(z) = e^z")
hard_sigmoid = Activation("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_grad, "g(z) = clip(z / 6 + 1/2, 0, 1)")
softmax = Activation("softmax", _softmax, _softmax_grad, "g(z)_j = e^z_j / sum_k e^z_k")

_ALL = {
    a.__name__: a
    for a in (
        linear,
        sigmoid,
        tanh,
        relu,
        relu6,
        leaky_relu,
        elu,
        selu,
        softplus,
        softsign,
        silu,
        gelu,
        exponential,
        hard_sigmoid,
        softmax,
    )
}
_ALIASES = {"swish": "silu", "None": "linear"}


def _with_options(act: Activation, z: np.ndarray, **kwargs) -> np.ndarray:
    """Keras's optional arguments on the public functions (``relu(x, max_value=6)``, ``softmax(x, axis=0)`` …)."""
    name = act.__name__
    if name == "relu" and set(kwargs) <= {"negative_slope", "max_value", "threshold"}:
        slope = kwargs.get("negative_slope", 0.0)
        threshold = kwargs.get("threshold", 0.0)
        a = np.where(z > threshold, z, slope * (z - threshold))
        if kwargs.get("max_value") is not None:
            a = np.minimum(a, kwargs["max_value"])
        return a.astype(z.dtype)
    if name == "leaky_relu" and set(kwargs) <= {"negative_slope"}:
        return np.where(z > 0, z, kwargs["negative_slope"] * z).astype(z.dtype)
    if name == "elu" and set(kwargs) <= {"alpha"}:
        return np.where(z > 0, z, kwargs.get("alpha", 1.0) * np.expm1(np.minimum(z, 0))).astype(z.dtype)
    if name == "softmax" and set(kwargs) <= {"axis"}:
        e = np.exp(z - z.max(axis=kwargs["axis"], keepdims=True))
        return e / e.sum(axis=kwargs["axis"], keepdims=True)
    if name == "gelu" and set(kwargs) <= {"approximate"}:
        if kwargs["approximate"]:
            return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
        return act.forward(z, None)
    raise TypeError(f"activation {name!r} got unexpected arguments {sorted(kwargs)}")


def get(identifier) -> Activation:
    """Resolve ``'relu'``, ``None``, an :class:`Activation` or a plain callable to an activation.

    A plain Python callable has no known derivative and cannot be trained through, so it is refused
    with a message saying what to use instead.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name in _ALL:
            return _ALL[name]
        close = difflib.get_close_matches(identifier, list(_ALL) + list(_ALIASES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown activation {identifier!r}.{hint} Known activations: {', '.join(sorted(_ALL))}.")
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(identifier.get("config", identifier["class_name"]))
    raise ValueError(
        f"Cannot use {identifier!r} as an activation: gradfit needs each activation's derivative for "
        "backpropagation, so give one of the names "
        f"{', '.join(sorted(_ALL))} or a function from gradfit.keras.activations."
    )


def serialize(activation: Activation) -> str:
    return activation.__name__
