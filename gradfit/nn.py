"""``tf.nn``: the activation functions course code calls directly (``tf.nn.softmax(z).numpy()``).

TensorFlow's ``tf.nn`` has its own list (no ``mish`` or ``hard_silu`` there, for instance): the names below are
TensorFlow's, each looked up in the activation registry.
"""

from __future__ import annotations

from . import activations, registry
from .tensor import Tensor

__all__ = [
    "elu",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


def _wrap(name: str):
    """``tf.nn.<name>``: the registered activation of that name, returning a Tensor."""
    act = registry.ACTIVATIONS.require(name)

    def fn(x, *args, **kwargs):
        return act(x, *args, **kwargs).view(Tensor)

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
    if axis is None or axis == -1:
        return activations.softmax(logits).view(Tensor)
    return activations.softmax(logits, axis=axis).view(Tensor)


def log_softmax(logits, axis: int | None = None):
    """``z_j - log sum_k e^z_k`` along ``axis`` (None: the last, as TensorFlow)."""
    if axis is None or axis == -1:
        return activations.log_softmax(logits).view(Tensor)
    return activations.log_softmax(logits, axis=axis).view(Tensor)
