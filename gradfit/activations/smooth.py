"""Smooth activations: softplus, softsign, the sigmoid-weighted units (silu / swish, gelu, mish, hard_silu),
celu, squareplus, and the log-probabilities log_sigmoid and log_softmax. Each ``g`` beside its ``g'``."""

from __future__ import annotations

import math

import numpy as np

from .base import declare, keyword_options
from .standard import _hard_sigmoid, _sigmoid

__all__ = [
    "celu",
    "gelu",
    "hard_silu",
    "hard_swish",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "silu",
    "softplus",
    "softsign",
    "squareplus",
    "swish",
]

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


def _gelu_options(z, approximate=False):
    if approximate:
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    return _gelu(z, None)


# mish: g(z) = z tanh(softplus(z)), g'(z) = t + z (1 - t^2) sigmoid(z) with t = tanh(softplus(z))


def _mish(z, out):
    return np.multiply(z, np.tanh(np.logaddexp(z, 0)), out=out)


def _mish_grad(z, a, da):
    t = np.tanh(np.logaddexp(z, 0))
    return da * (t + z * (1 - t * t) * _sigmoid(z, None))


# hard_silu (hard_swish): g(z) = z h(z) with h = hard_sigmoid = clip(z / 6 + 1/2, 0, 1),
# g'(z) = h(z) + z / 6 on (-3, 3) (TensorFlow's relu6 passes no gradient at the corners)


def _hard_silu(z, out):
    return np.multiply(z, _hard_sigmoid(z, None), out=out)


def _hard_silu_grad(z, a, da):
    return da * (_hard_sigmoid(z, None) + z / 6 * ((z > -3) & (z < 3)))


# celu (alpha = 1): g(z) = max(z, 0) + expm1(min(z, 0)), g'(z) = 1 for z > 0, e^z below


def _celu_options(z, alpha=1.0):
    return (np.maximum(z, 0) + alpha * np.expm1(np.minimum(z, 0) / alpha)).astype(z.dtype)


def _celu(z, out):
    return np.add(np.maximum(z, 0), np.expm1(np.minimum(z, 0)), out=out)


def _celu_grad(z, a, da):
    return da * np.where(z > 0, 1, np.exp(np.minimum(z, 0)))


# squareplus (b = 4): g(z) = (z + sqrt(z^2 + b)) / 2, g'(z) = (1 + z / sqrt(z^2 + b)) / 2


def _squareplus_options(z, b=4):
    return ((z + np.sqrt(z * z + b)) / 2).astype(z.dtype)


def _squareplus(z, out):
    return np.multiply(z + np.sqrt(z * z + 4), 0.5, out=out)


def _squareplus_grad(z, a, da):
    return da * 0.5 * (1 + z / np.sqrt(z * z + 4))


# log_sigmoid: g(z) = -softplus(-z) = log(sigmoid(z)), g'(z) = sigmoid(-z)


def _log_sigmoid(z, out):
    if out is None and z.ndim == 0:  # a 0-d input would become a NumPy scalar that out= cannot write into
        out = np.empty_like(z)
    out = np.logaddexp(-z, 0, out=out)
    return np.negative(out, out=out)


def _log_sigmoid_grad(z, a, da):
    return da * _sigmoid(-z, None)


# log_softmax over the last axis: a_j = z_j - log sum_k e^z_k, dz = da - softmax(z) sum(da) with softmax = e^a


def _log_softmax(z, out):
    top = z.max(axis=-1, keepdims=True)
    shifted = np.subtract(z, top, out=out)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    shifted -= lse
    return shifted


def _log_softmax_grad(z, a, da):
    return da - np.exp(a) * da.sum(axis=-1, keepdims=True)


def _log_softmax_options(z, axis=-1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


softplus = declare("softplus", _softplus, _softplus_grad, "g(z) = log(1 + e^z)")
softsign = declare("softsign", _softsign, _softsign_grad, "g(z) = z / (1 + |z|)")
silu = declare("silu", _silu, _silu_grad, "g(z) = z / (1 + e^-z)", aliases=("swish",))
swish = silu
gelu = declare("gelu", _gelu, _gelu_grad, "g(z) = z (1 + erf(z / sqrt 2)) / 2", options=keyword_options(_gelu_options))
mish = declare("mish", _mish, _mish_grad, "g(z) = z tanh(log(1 + e^z))")
hard_silu = declare(
    "hard_silu", _hard_silu, _hard_silu_grad, "g(z) = z clip(z / 6 + 1/2, 0, 1)", aliases=("hard_swish",)
)
hard_swish = hard_silu
celu = declare("celu", _celu, _celu_grad, "g(z) = max(z, 0) + e^min(z, 0) - 1", options=keyword_options(_celu_options))
squareplus = declare(
    "squareplus",
    _squareplus,
    _squareplus_grad,
    "g(z) = (z + sqrt(z^2 + 4)) / 2",
    options=keyword_options(_squareplus_options),
)
log_sigmoid = declare("log_sigmoid", _log_sigmoid, _log_sigmoid_grad, "g(z) = -log(1 + e^-z)")
log_softmax = declare(
    "log_softmax",
    _log_softmax,
    _log_softmax_grad,
    "g(z)_j = z_j - log sum_k e^z_k",
    in_place=True,
    options=keyword_options(_log_softmax_options),
)
