"""``tf.nn``: the activation functions course code calls directly (``tf.nn.softmax(z).numpy()``)."""

from __future__ import annotations

from . import activations
from .tensor import Tensor


def _wrap(act):
    def fn(x, *args, **kwargs):
        return act(x, *args, **kwargs).view(Tensor)

    fn.__name__ = act.__name__
    fn.__doc__ = act.__doc__
    return fn


sigmoid = _wrap(activations.sigmoid)
relu = _wrap(activations.relu)
tanh = _wrap(activations.tanh)
softplus = _wrap(activations.softplus)
elu = _wrap(activations.elu)
selu = _wrap(activations.selu)
gelu = _wrap(activations.gelu)
silu = swish = _wrap(activations.silu)
leaky_relu = _wrap(activations.leaky_relu)
relu6 = _wrap(activations.relu6)


def softmax(logits, axis: int = -1):
    """``e^z_j / sum_k e^z_k`` along ``axis``."""
    return (
        activations.softmax(logits, axis=axis).view(Tensor) if axis != -1 else activations.softmax(logits).view(Tensor)
    )


__all__ = [
    "elu",
    "gelu",
    "leaky_relu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "swish",
    "tanh",
]
