"""The course's activations and Keras's classic ones: linear, sigmoid, tanh, the rectifiers, exponential,
hard sigmoid and softmax. Each ``g`` is written beside its derivative ``g'``."""

from __future__ import annotations

import numpy as np

from ..backend import ONES, ZEROS
from .base import declare, keyword_options, store

__all__ = [
    "elu",
    "exponential",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "softmax",
    "tanh",
]

# linear: g(z) = z, g'(z) = 1


def _linear(z, out):
    return store(z, out)


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


def _relu_options(z, negative_slope=0.0, max_value=None, threshold=0.0):
    a = np.where(z > threshold, z, negative_slope * (z - threshold))
    if max_value is not None:
        a = np.minimum(a, max_value)
    return a.astype(z.dtype)


# relu6: g(z) = min(max(0, z), 6), g'(z) = [0 < z < 6]


def _relu6(z, out):
    return np.clip(z, 0, 6, out=out)


def _relu6_grad(z, a, da):
    return da * ((z > 0) & (z < 6))


# leaky_relu: g(z) = z if z > 0 else 0.2 z (Keras's default slope), g'(z) = 1 or 0.2
_LEAKY_SLOPE = 0.2


def _leaky_relu(z, out):
    return store(np.where(z > 0, z, _LEAKY_SLOPE * z), out)


def _leaky_relu_grad(z, a, da):
    return da * np.where(z > 0, 1, _LEAKY_SLOPE).astype(da.dtype)


def _leaky_relu_options(z, negative_slope=_LEAKY_SLOPE):
    return np.where(z > 0, z, negative_slope * z).astype(z.dtype)


# elu: g(z) = z if z > 0 else e^z - 1, g'(z) = 1 or a + 1


def _elu(z, out):
    return store(np.where(z > 0, z, np.expm1(np.minimum(z, 0))), out)


def _elu_grad(z, a, da):
    return da * np.where(z > 0, 1, a + 1)


def _elu_options(z, alpha=1.0):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))).astype(z.dtype)


# selu: g(z) = s z if z > 0 else s alpha (e^z - 1), g'(z) = s or a + s alpha
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(z, out):
    neg = _SELU_SCALE * _SELU_ALPHA * np.expm1(np.minimum(z, 0))
    return store(np.where(z > 0, _SELU_SCALE * z, neg), out)


def _selu_grad(z, a, da):
    # at z = 0 exactly TensorFlow takes the linear side (scale), as this does
    return da * np.where(z < 0, a + _SELU_SCALE * _SELU_ALPHA, _SELU_SCALE)


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


def _softmax_options(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


linear = declare("linear", _linear, _linear_grad, "g(z) = z")
sigmoid = declare("sigmoid", _sigmoid, _sigmoid_grad, "g(z) = 1 / (1 + e^-z)")
tanh = declare("tanh", _tanh, _tanh_grad, "g(z) = (e^z - e^-z) / (e^z + e^-z)", in_place=True)
relu = declare("relu", _relu, _relu_grad, "g(z) = max(0, z)", in_place=True, options=keyword_options(_relu_options))
relu6 = declare("relu6", _relu6, _relu6_grad, "g(z) = min(max(0, z), 6)")
leaky_relu = declare(
    "leaky_relu",
    _leaky_relu,
    _leaky_relu_grad,
    "g(z) = z if z > 0 else 0.2 z",
    options=keyword_options(_leaky_relu_options),
)
elu = declare("elu", _elu, _elu_grad, "g(z) = z if z > 0 else e^z - 1", options=keyword_options(_elu_options))
selu = declare("selu", _selu, _selu_grad, "g(z) = 1.0507 (z if z > 0 else 1.6733 (e^z - 1))")
exponential = declare("exponential", _exponential, _exponential_grad, "g(z) = e^z")
hard_sigmoid = declare("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_grad, "g(z) = clip(z / 6 + 1/2, 0, 1)")
softmax = declare(
    "softmax", _softmax, _softmax_grad, "g(z)_j = e^z_j / sum_k e^z_k", options=keyword_options(_softmax_options)
)
