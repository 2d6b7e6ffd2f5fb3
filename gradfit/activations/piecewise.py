"""Piecewise activations: hard_tanh, the shrinkage functions (tanh_shrink, soft_shrink, hard_shrink) and the
sparse ones (sparse_plus, sparse_sigmoid). Each ``g`` beside its ``g'``; at the corners ``g'`` takes the side
TensorFlow takes."""

from __future__ import annotations

import numpy as np

from .base import declare, keyword_options, store

__all__ = ["hard_shrink", "hard_tanh", "soft_shrink", "sparse_plus", "sparse_sigmoid", "tanh_shrink"]

# hard_tanh: g(z) = clip(z, -1, 1), g'(z) = 1 on [-1, 1] (tf.clip_by_value passes the bounds)


def _hard_tanh(z, out):
    return np.clip(z, -1, 1, out=out)


def _hard_tanh_grad(z, a, da):
    return da * ((z >= -1) & (z <= 1))


# tanh_shrink: g(z) = z - tanh(z), g'(z) = tanh(z)^2


def _tanh_shrink(z, out):
    return np.subtract(z, np.tanh(z), out=out)


def _tanh_shrink_grad(z, a, da):
    return da * np.square(np.tanh(z))


# soft_shrink (threshold t = 0.5): g(z) = z - t above t, z + t below -t, else 0; g'(z) = [|z| > t]


def _soft_shrink_options(z, threshold=0.5):
    return np.where(z > threshold, z - threshold, np.where(z < -threshold, z + threshold, 0)).astype(z.dtype)


def _soft_shrink(z, out):
    return store(_soft_shrink_options(z), out)


def _soft_shrink_grad(z, a, da):
    return da * (np.abs(z) > 0.5)


# hard_shrink (threshold t = 0.5): g(z) = z where |z| > t, else 0; g'(z) = [|z| > t]


def _hard_shrink_options(z, threshold=0.5):
    return np.where(np.abs(z) > threshold, z, 0).astype(z.dtype)


def _hard_shrink(z, out):
    return np.multiply(z, np.abs(z) > 0.5, out=out)


def _hard_shrink_grad(z, a, da):
    return da * (np.abs(z) > 0.5)


# sparse_plus: g(z) = 0 for z <= -1, (z + 1)^2 / 4 for -1 < z < 1, z for z >= 1; g'(z) = 0, (z + 1) / 2, 1


def _sparse_plus(z, out):
    inner = 0.25 * np.square(z + 1)
    return store(np.where(z <= -1, 0, np.where(z < 1, inner, z)).astype(z.dtype), out)


def _sparse_plus_grad(z, a, da):
    return da * np.where(z <= -1, 0, np.where(z < 1, (z + 1) / 2, 1))


# sparse_sigmoid: g(z) = clip((z + 1) / 2, 0, 1), g'(z) = 1/2 on (-1, 1)


def _sparse_sigmoid(z, out):
    if out is None and z.ndim == 0:  # a 0-d input would become a NumPy scalar that out= cannot write into
        out = np.empty_like(z)
    out = np.add(z, 1, out=out)
    out *= 0.5
    return np.clip(out, 0, 1, out=out)


def _sparse_sigmoid_grad(z, a, da):
    return da * ((z > -1) & (z < 1)) * 0.5


hard_tanh = declare("hard_tanh", _hard_tanh, _hard_tanh_grad, "g(z) = clip(z, -1, 1)")
tanh_shrink = declare("tanh_shrink", _tanh_shrink, _tanh_shrink_grad, "g(z) = z - tanh(z)")
soft_shrink = declare(
    "soft_shrink",
    _soft_shrink,
    _soft_shrink_grad,
    "g(z) = z - 0.5 if z > 0.5, z + 0.5 if z < -0.5, else 0",
    options=keyword_options(_soft_shrink_options),
)
hard_shrink = declare(
    "hard_shrink",
    _hard_shrink,
    _hard_shrink_grad,
    "g(z) = z if |z| > 0.5 else 0",
    options=keyword_options(_hard_shrink_options),
)
sparse_plus = declare(
    "sparse_plus", _sparse_plus, _sparse_plus_grad, "g(z) = 0 if z <= -1, (z + 1)^2 / 4 if z < 1, else z"
)
sparse_sigmoid = declare("sparse_sigmoid", _sparse_sigmoid, _sparse_sigmoid_grad, "g(z) = clip((z + 1) / 2, 0, 1)")
