"""``Dense``: the fully connected layer of the course, ``a = g(x W + b)``."""

from __future__ import annotations

import numpy as np

from .. import activations, initializers, regularizers
from ..backend import dot, ones
from .base import Layer


class Dense(Layer):
    """Fully connected layer: ``z = x @ W + b``, ``a = g(z)``.

    For one example this is the course's ``a_j = g(w_j . x + b_j)`` for each unit ``j``; the kernel
    ``W`` holds the vectors ``w_j`` as its columns, so it has shape ``(n_in, units)``.

    Backward, given ``da = dJ/da`` for a batch of ``m`` examples::

        dz = da * g'(z)
        dJ/dW = x.T @ dz        dJ/db = sum of dz over the batch        dJ/dx = dz @ W.T

    Parameters
    ----------
    units : int
        Number of units (neurons), the width of the output.
    activation : str or activation function, optional
        ``g``; ``None`` means linear, ``g(z) = z``.
    use_bias : bool
    kernel_initializer, bias_initializer : str or Initializer
        Keras's defaults: ``glorot_uniform`` and ``zeros``.
    kernel_regularizer, bias_regularizer : Regularizer, optional
        Penalties added to the cost (e.g. ``L2(0.01)`` adds ``0.01 sum W^2``).
    """

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer (the number of neurons), got {units!r}.")
        for name, value in (
            ("activity_regularizer", activity_regularizer),
            ("kernel_constraint", kernel_constraint),
            ("bias_constraint", bias_constraint),
        ):
            if value is not None:
                raise NotImplementedError(f"Dense: {name} is not supported by gradfit yet; leave it as None.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        n_in = input_shape[-1]
        if n_in is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of its input must be known, got {input_shape}.")
        self.kernel = self.add_weight("kernel", (n_in, self.units), self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)
        self._finish_build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        if x.ndim > 2:  # Dense acts on the last axis; the others are a batch of examples
            self._nd_shape = x.shape[:-1]
            x = x.reshape(-1, x.shape[-1])
        else:
            self._nd_shape = None
        self.x = x
        z = dot(x, self.kernel)  # np.dot's C function: less overhead than @ at these small shapes
        if self.use_bias:
            np.add(z, self.bias, out=z)
        self.z = z  # with an in-place activation, z then holds a: its backward needs only a
        self.a = self.activation.forward(z, z if self.activation.in_place else None)
        if self._nd_shape is not None:
            return self.a.reshape(self._nd_shape + (self.units,))
        return self.a

    def backward(self, da):
        if self._nd_shape is not None:
            da = da.reshape(-1, self.units)
        return self.backward_from_logits(self.activation.backward(self.z, self.a, da))

    def backward_from_logits(self, dz):
        """Backward pass given ``dz = dJ/dz`` directly (the loss fused with sigmoid or softmax supplies it)."""
        if self.trainable:
            grad_kernel = self.grad_kernel
            if grad_kernel.flags.f_contiguous:  # a column-major kernel: write dJ/dW^T = dz^T x row by row
                dot(dz.T, self.x, out=grad_kernel.T)
            else:
                dot(self.x.T, dz, out=grad_kernel)
            if self.use_bias:
                dot(ones(dz.shape[0], dz.dtype), dz, out=self.grad_bias)  # the sum over the batch, through BLAS
        if self.skip_input_grad:
            return None
        dx = dot(dz, self.kernel.T)
        if self._nd_shape is not None:
            return dx.reshape(self._nd_shape + (self.kernel.shape[0],))
        return dx

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }


def _serialize(obj):
    if obj is None:
        return None
    return {
        "module": "keras." + type(obj).__module__.split(".")[-1],
        "class_name": type(obj).__name__,
        "config": obj.get_config(),
        "registered_name": None,
    }
