"""``Dense``: the fully connected layer of the course, ``a = g(x W + b)``."""

from __future__ import annotations

import numpy as np

from .. import activations, backend, constraints, initializers, registry, regularizers
from ..backend import dot, ones
from ..parameters import outer_into
from ..schema import MAX_DIM, Bool, Int, Object, Off, Schema
from .base import Layer


@registry.LAYERS.register()
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
    activity_regularizer : Regularizer, optional
        A penalty on the output ``a`` (see ``Layer``): ``R(a) / m`` added to the cost.
    kernel_constraint, bias_constraint : Constraint, optional
        Projections applied to ``W`` / ``b`` after every optimizer update (``MaxNorm(3)``: each column of ``W``,
        the weights into one unit, keeps a norm of at most 3).
    """

    #: what the constructor and the safe loader accept (Keras 3's settings; those gradfit lacks must stay off)
    config_schema = Schema(
        {
            "units": Int(lo=1, hi=MAX_DIM).explained("the number of neurons, e.g. Dense(25)"),
            "activation": activations.ActivationObject(default=None),
            "use_bias": Bool(True),
            "kernel_initializer": Object("initializer", "glorot_uniform", nullable=False),
            "bias_initializer": Object("initializer", "zeros", nullable=False),
            "kernel_regularizer": Object("regularizer", None),
            "bias_regularizer": Object("regularizer", None),
            "kernel_constraint": Object("constraint", None),
            "bias_constraint": Object("constraint", None),
            "lora_rank": Off(),
            "lora_alpha": Off(),
            "quantization_config": Off(),
        },
        base=Layer.config_schema,
    )

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
        own = {
            "units": units,
            "activation": activation,
            "use_bias": use_bias,
            "kernel_initializer": kernel_initializer,
            "bias_initializer": bias_initializer,
            "kernel_regularizer": kernel_regularizer,
            "bias_regularizer": bias_regularizer,
            "activity_regularizer": activity_regularizer,
            "kernel_constraint": kernel_constraint,
            "bias_constraint": bias_constraint,
        }
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(activity_regularizer=c["activity_regularizer"], **kwargs)
        self.units = c["units"]
        self.activation = activations.get(c["activation"])
        self.use_bias = c["use_bias"]
        self.kernel_initializer = c["kernel_initializer"]
        self.bias_initializer = c["bias_initializer"]
        self.kernel_regularizer = c["kernel_regularizer"]
        self.bias_regularizer = c["bias_regularizer"]
        self.kernel_constraint = c["kernel_constraint"]
        self.bias_constraint = c["bias_constraint"]
        self.kernel = None
        self.bias = None

    def keras_weights(self, input_shape):
        n_in = input_shape[-1]
        if n_in is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of its input must be known, got {input_shape}.")
        dtype = self.dtype or backend.floatx()
        kernel = [("kernel", (n_in, self.units), True, dtype)]
        return kernel + ([("bias", (self.units,), True, dtype)] if self.use_bias else [])

    def build(self, input_shape):
        n_in = input_shape[-1]
        if n_in is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of its input must be known, got {input_shape}.")
        self.kernel = self.add_weight(
            "kernel",
            (n_in, self.units),
            self.kernel_initializer,
            self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", (self.units,), self.bias_initializer, self.bias_regularizer, constraint=self.bias_constraint
            )
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
        return self._backward_dz(self.activation.backward(self.z, self.a, da))

    def backward_from_logits(self, dz):
        """Backward pass given ``dz = dJ/dz`` directly (the loss fused with sigmoid or softmax supplies it); an
        activity penalty on ``a`` adds its ``dR/da * g'(z)``."""
        if self._activity_regularizer is not None:
            dz = dz + self._activity_gradient_wrt_logits()
        return self._backward_dz(dz)

    def _backward_dz(self, dz):
        """The weight gradients and ``dJ/dx`` from ``dz = dJ/dz``."""
        if self.trainable:
            outer_into(self.x, dz, self.grad_kernel)  # dJ/dW = x^T dz, in the store's layout of W
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
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
        }

    def describe(self, inp: str, out: str, index: int) -> dict:
        from ..explain import DZ_FROM_LOSS, shape_text, weight_list

        act, i = self.activation.__name__, index
        bias = f" + b[{i}]" if self.use_bias else ""
        grads = f"dW[{i}] = {inp}.T @ dz[{i}];  " + (
            f"db[{i}] = sum over the batch of dz[{i}];  " if self.use_bias else ""
        )
        return {
            "forward": [f"{out} = {act}({inp} @ W[{i}]{bias})"],
            "shapes": f"{shape_text(self.input_shape)}@{shape_text(self.kernel.shape)}",
            "note": f"{act}: {self.activation.formula}",
            "backward": [f"dz[{i}] = d{out} * g'(z[{i}]);  {grads}d{inp} = dz[{i}] @ W[{i}].T"],
            "from_logits": [f"dz[{i}] = {DZ_FROM_LOSS}, from the loss;  {grads}d{inp} = dz[{i}] @ W[{i}].T"],
            "weights": weight_list(self, index),
        }
