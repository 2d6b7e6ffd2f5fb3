"""``tf.nn``: the activation functions course code calls directly (``tf.nn.softmax(z).numpy()``), and TensorFlow's
cross-entropies from logits, ``l2_normalize`` and ``moments``.

TensorFlow's ``tf.nn`` has its own list (no ``mish`` or ``hard_silu`` there, for instance): the names below are
TensorFlow's, each looked up in the activation registry. Inputs follow ``tf.math``'s dtype rules (a Python float
or a list of them is float32).
"""

from __future__ import annotations

import numpy as np

from . import activations, registry
from .math import convert, convert_float, wrap
from .tensor import Tensor

__all__ = [
    "bias_add",
    "elu",
    "gelu",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "silu",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "swish",
    "tanh",
]


def _wrap(name: str):
    """``tf.nn.<name>``: the registered activation of that name, returning a Tensor."""
    act = registry.ACTIVATIONS.require(name)

    def fn(x, *args, **kwargs):
        return act(convert_float(x), *args, **kwargs).view(Tensor)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = act.__doc__
    return fn


elu = _wrap("elu")
gelu = _wrap("gelu")
leaky_relu = _wrap("leaky_relu")
relu = _wrap("relu")
relu6 = _wrap("relu6")
selu = _wrap("selu")
sigmoid = _wrap("sigmoid")
silu = _wrap("silu")
softplus = _wrap("softplus")
softsign = _wrap("softsign")
swish = _wrap("swish")
tanh = _wrap("tanh")


def softmax(logits, axis: int | None = None):
    """``e^z_j / sum_k e^z_k`` along ``axis`` (None: the last, as TensorFlow)."""
    logits = convert_float(logits)
    if axis is None or axis == -1:
        return activations.softmax(logits).view(Tensor)
    return activations.softmax(logits, axis=axis).view(Tensor)


def log_softmax(logits, axis: int | None = None):
    """``z_j - log sum_k e^z_k`` along ``axis`` (None: the last, as TensorFlow)."""
    logits = convert_float(logits)
    if axis is None or axis == -1:
        return activations.log_softmax(logits).view(Tensor)
    return activations.log_softmax(logits, axis=axis).view(Tensor)


def log_sigmoid(x, name=None) -> Tensor:
    """``log(1 / (1 + e^-x)) = -softplus(-x)``."""
    from .math import log_sigmoid as _log_sigmoid

    return _log_sigmoid(x)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None) -> Tensor:
    """``-y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z))`` element-wise, computed from the logits ``z`` as
    ``max(z, 0) - z*y + log(1 + e^-|z|)`` (no overflow), as TensorFlow. Labels and logits must have one shape."""
    if labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits: give both labels= and logits=.")
    z = convert_float(logits)
    y = convert(labels).astype(z.dtype)
    if y.shape != z.shape:
        raise ValueError(
            f"sigmoid_cross_entropy_with_logits: labels and logits must have the same shape, got {y.shape} "
            f"and {z.shape}."
        )
    return wrap(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def softmax_cross_entropy_with_logits(labels, logits, axis: int = -1, name=None) -> Tensor:
    """``-sum_j y_j log softmax(z)_j`` along ``axis`` (one value per example), from the logits ``z``."""
    z = convert_float(logits)
    y = convert(labels).astype(z.dtype)
    if y.shape != z.shape:
        raise ValueError(
            f"softmax_cross_entropy_with_logits: labels and logits must have the same shape, got {y.shape} "
            f"and {z.shape}."
        )
    return wrap(-np.sum(y * np.asarray(log_softmax(z, axis=axis)), axis=axis))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None) -> Tensor:
    """``-log softmax(z)_y`` per example, for integer class labels ``y`` (shape ``logits.shape[:-1]``)."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: give both labels= and logits=.")
    z = convert_float(logits)
    y = convert(labels)
    if y.dtype.kind not in "iu" or y.shape != z.shape[:-1]:
        raise ValueError(
            "sparse_softmax_cross_entropy_with_logits: labels must be integer class indices of shape "
            f"{z.shape[:-1]} (logits.shape[:-1]), got dtype {y.dtype} and shape {y.shape}."
        )
    if y.size and (y.min() < 0 or y.max() >= z.shape[-1]):
        raise ValueError(
            f"sparse_softmax_cross_entropy_with_logits: labels must be in [0, {z.shape[-1]}), got values from "
            f"{y.min()} to {y.max()}."
        )
    log_p = np.asarray(log_softmax(z))
    return wrap(-np.take_along_axis(log_p, y[..., None].astype(np.intp), axis=-1)[..., 0])


def l2_normalize(x, axis=None, epsilon: float = 1e-12, name=None) -> Tensor:
    """``x / sqrt(max(sum x^2, epsilon))`` along ``axis`` (None: over all of ``x``)."""
    arr = convert_float(x)
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    square_sum = np.sum(np.square(arr), axis=ax, keepdims=True)
    return wrap((arr / np.sqrt(np.maximum(square_sum, epsilon))).astype(arr.dtype))


def l2_loss(t, name=None) -> Tensor:
    """``sum t^2 / 2``."""
    arr = convert_float(t)
    return wrap(np.sum(np.square(arr)) / 2)


def moments(x, axes, keepdims: bool = False, name=None) -> tuple[Tensor, Tensor]:
    """``(mean, variance)`` of ``x`` over ``axes`` (a list of axes)."""
    arr = convert_float(x)
    ax = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    return wrap(np.mean(arr, axis=ax, keepdims=keepdims)), wrap(np.var(arr, axis=ax, keepdims=keepdims))


def bias_add(value, bias, name=None) -> Tensor:
    """``value + bias``, ``bias`` a vector added along the last axis."""
    arr = convert(value)
    b = convert(bias)
    if b.ndim != 1 or b.shape[0] != arr.shape[-1]:
        raise ValueError(f"bias_add: bias must be a vector of {arr.shape[-1]} values, got shape {b.shape}.")
    return wrap(arr + b)
