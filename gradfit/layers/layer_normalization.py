"""``LayerNormalization``: normalise each example over its feature axes, with a learned scale and shift."""

from __future__ import annotations

import numpy as np

from .. import backend, constraints, initializers, registry, regularizers
from ..schema import Axis, Bool, Number, Object, Schema
from .base import Layer

__all__ = ["LayerNormalization"]


@registry.LAYERS.register()
class LayerNormalization(Layer):
    """Layer normalisation, as Keras 3 (TensorFlow backend) computes it.

    For each example, over the entries along ``axis`` (the features; the batch and the other axes keep
    separate statistics)::

        mu = mean(x),  var = mean((x - mu)^2)              (the example's own mean and biased variance)
        y  = gamma * (x - mu) / sqrt(var + epsilon) + beta

    evaluated as TensorFlow does: ``y = x * inv + (beta - mu * inv)`` with ``inv = gamma / sqrt(var + eps)``.
    The same in training and inference: there are no moving statistics.

    Backward, with ``x_hat = (x - mu) / sqrt(var + eps)`` and ``N`` entries per normalised group::

        dJ/dgamma = sum over the batch of dy * x_hat      dJ/dbeta = sum over the batch of dy
        dx_hat    = dy * gamma
        dJ/dx     = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps)

    (the means over the normalised axes). ``rms_scaling=True`` (deprecated in Keras, kept for its files) computes
    ``y = gamma * x / sqrt(var + eps)``: no centring, no ``beta``; then
    ``dJ/dx = r dx_hat - r^3 (x - mu) mean(dx_hat * x)`` with ``r = 1 / sqrt(var + eps)``.

    Weights, in Keras's order: ``gamma`` (when ``scale`` or ``rms_scaling``) and ``beta`` (when ``center`` and
    not ``rms_scaling``), shaped like the normalised axes (``(n,)`` for ``axis=-1``).

    Parameters
    ----------
    axis : int or list of int
        The axis or axes to normalise over (-1: the features of ``(m, n)`` inputs). Keras sorts a list, and
        ``get_config`` after building gives the list form (``[-1]``), as Keras's does.
    epsilon : float
        Added to the variance before the square root (1e-3).
    center, scale : bool
        Whether to learn ``beta`` and ``gamma``.
    beta_initializer, gamma_initializer : str or Initializer
        Keras's defaults: zeros and ones.
    beta_regularizer, gamma_regularizer : Regularizer, optional
    beta_constraint, gamma_constraint : Constraint, optional
        Projections applied to ``beta`` / ``gamma`` after every optimizer update.
    rms_scaling : bool
        Keras's deprecated option (see above).
    """

    config_schema = Schema(
        {
            "axis": Axis(-1),
            "epsilon": Number(1e-3, lo=0, lo_open=True),
            "center": Bool(True),
            "scale": Bool(True),
            "rms_scaling": Bool(False),
            "beta_initializer": Object("initializer", "zeros", nullable=False),
            "gamma_initializer": Object("initializer", "ones", nullable=False),
            "beta_regularizer": Object("regularizer", None),
            "gamma_regularizer": Object("regularizer", None),
            "beta_constraint": Object("constraint", None),
            "gamma_constraint": Object("constraint", None),
        },
        base=Layer.config_schema,
    )

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        c = self.config_schema.check(
            "LayerNormalization",
            {
                "axis": axis,
                "epsilon": epsilon,
                "center": center,
                "scale": scale,
                "rms_scaling": rms_scaling,
                "beta_initializer": beta_initializer,
                "gamma_initializer": gamma_initializer,
                "beta_regularizer": beta_regularizer,
                "gamma_regularizer": gamma_regularizer,
                "beta_constraint": beta_constraint,
                "gamma_constraint": gamma_constraint,
            },
        )
        if c["axis"] is None or (isinstance(c["axis"], (list, tuple)) and not c["axis"]):
            raise ValueError(f"LayerNormalization: axis must be an integer or a non-empty list of them, got {axis!r}.")
        if c["rms_scaling"]:
            import warnings

            warnings.warn(
                "LayerNormalization: rms_scaling=True is deprecated in Keras (it scales by the variance, not the "
                "root mean square); gradfit computes what Keras does.",
                UserWarning,
                stacklevel=2,
            )
        self.axis = list(c["axis"]) if isinstance(c["axis"], (list, tuple)) else c["axis"]
        self.epsilon = c["epsilon"]
        self.center, self.scale, self.rms_scaling = c["center"], c["scale"], c["rms_scaling"]
        self.beta_initializer, self.gamma_initializer = c["beta_initializer"], c["gamma_initializer"]
        self.beta_regularizer, self.gamma_regularizer = c["beta_regularizer"], c["gamma_regularizer"]
        self.beta_constraint, self.gamma_constraint = c["beta_constraint"], c["gamma_constraint"]
        self.gamma = None
        self.beta = None

    # ----------------------------------------------------------------- shapes
    def _axes(self, input_shape) -> tuple[list[int], tuple[int, ...]]:
        """Keras's sorted axis list, and the same axes as non-negative numbers (checked against the input)."""
        ndim = len(input_shape)
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"LayerNormalization {self.name!r}: axis {a} is out of range for inputs of shape "
                    f"{tuple(input_shape)} ({ndim} dimensions); use axis=-1 for the feature axis."
                )
        positive = tuple(a % ndim for a in axes)
        if 0 in positive:
            raise ValueError(
                f"LayerNormalization {self.name!r}: axis {self.axis} includes the batch axis of inputs of shape "
                f"{tuple(input_shape)}; normalise over the feature axes instead, e.g. axis=-1."
            )
        if len(set(positive)) != len(positive):
            raise ValueError(f"LayerNormalization {self.name!r}: axis {self.axis} names an axis twice.")
        if any(input_shape[a] is None for a in positive):
            raise ValueError(
                f"LayerNormalization {self.name!r}: the normalised axes {self.axis} of its input "
                f"{tuple(input_shape)} must have known sizes."
            )
        return axes, positive

    def _weight_shape(self, input_shape) -> tuple:
        axes, _ = self._axes(input_shape)
        return tuple(int(input_shape[a]) for a in axes)  # in Keras's (sorted) axis order

    def keras_weights(self, input_shape):
        shape, dtype = self._weight_shape(input_shape), self.dtype or backend.floatx()
        out = []
        if self.scale or self.rms_scaling:
            out.append(("gamma", shape, True, dtype))
        if self.center and not self.rms_scaling:
            out.append(("beta", shape, True, dtype))
        return out

    def build(self, input_shape):
        axes, positive = self._axes(input_shape)
        shape = self._weight_shape(input_shape)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                "gamma", shape, self.gamma_initializer, self.gamma_regularizer, constraint=self.gamma_constraint
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                "beta", shape, self.beta_initializer, self.beta_regularizer, constraint=self.beta_constraint
            )
        self.axis = axes  # Keras keeps the sorted list from here on (get_config then says [-1])
        ndim = len(input_shape)
        self._norm_axes = positive
        self._batch_axes = tuple(d for d in range(ndim) if d not in positive)  # summed for dgamma, dbeta
        # gamma and beta are reshaped (not transposed) into the input's rank, as Keras's layer_normalization does
        self._bshape = tuple(int(input_shape[d]) if d in positive else 1 for d in range(ndim))
        self._finish_build(input_shape)

    def compute_output_shape(self, input_shape):
        self._axes(input_shape)
        return tuple(input_shape)

    # ----------------------------------------------------------------- forward and backward
    def forward(self, x, training=False):
        axes, bshape = self._norm_axes, self._bshape
        mean = x.mean(axis=axes, keepdims=True)
        var = np.square(x - mean).mean(axis=axes, keepdims=True)
        rstd = 1 / np.sqrt(var + x.dtype.type(self.epsilon))
        gamma = None if self.gamma is None else self.gamma.reshape(bshape).astype(x.dtype, copy=False)
        self.x, self._mean, self._rstd = x, mean, rstd
        if self.rms_scaling:  # Keras's deprecated variant: x scaled by 1 / sqrt(var + eps), not centred
            y = x * rstd
            return y * gamma if gamma is not None else y
        inv = rstd * gamma if gamma is not None else rstd
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + self.beta.reshape(bshape).astype(x.dtype, copy=False)
        return x * inv + shift

    def backward(self, dy):
        axes, batch = self._norm_axes, self._batch_axes
        x, rstd = self.x, self._rstd
        gamma = None if self.gamma is None else self.gamma.reshape(self._bshape)
        if self.rms_scaling:
            xr = x * rstd  # what gamma multiplies
            if self.trainable and gamma is not None:
                self.grad_gamma[...] = (dy * xr).sum(axis=batch).reshape(self.grad_gamma.shape)
            if self.skip_input_grad:
                return None
            g = dy * gamma if gamma is not None else dy
            # d/dx of x * r(x), r = (var + eps)^(-1/2), var = mean((x - mu)^2)
            return g * rstd - (x - self._mean) * rstd**3 * (g * x).mean(axis=axes, keepdims=True)
        xhat = (x - self._mean) * rstd
        if self.trainable:
            if gamma is not None:
                self.grad_gamma[...] = (dy * xhat).sum(axis=batch).reshape(self.grad_gamma.shape)
            if self.beta is not None:
                self.grad_beta[...] = dy.sum(axis=batch).reshape(self.grad_beta.shape)
        if self.skip_input_grad:
            return None
        g = dy * gamma if gamma is not None else dy
        return rstd * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))

    # ----------------------------------------------------------------- Keras's config
    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }

    def describe(self, inp: str, out: str, index: int) -> dict:
        from ..explain import weight_list

        i, dy = index, f"d{out}"
        gamma = f"gamma[{i}] * " if self.gamma is not None else ""
        grads = (f"dgamma[{i}] = sum over the batch of {dy} * x_hat;  " if self.gamma is not None else "") + (
            f"dbeta[{i}] = sum over the batch of {dy};  " if self.beta is not None else ""
        )
        if self.rms_scaling:
            forward = f"{out} = {gamma}{inp} / sqrt(var + {self.epsilon:g})"
        else:
            forward = f"{out} = {gamma}({inp} - mu) / sqrt(var + {self.epsilon:g})" + (
                f" + beta[{i}]" if self.beta is not None else ""
            )
        return {
            "forward": [forward, f"mu, var = each example's mean and variance over axis {self.axis}"],
            "backward": [
                f"x_hat = {inp if self.rms_scaling else f'({inp} - mu)'} / sqrt(var + eps);  {grads}dx_hat = {dy}"
                + (f" * gamma[{i}]" if gamma else ""),
                f"d{inp} = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps)"
                if not self.rms_scaling
                else f"d{inp} = dx_hat / sqrt(var + eps) - ({inp} - mu) mean(dx_hat * {inp}) / (var + eps)^(3/2)",
            ],
            "weights": weight_list(self, index),
        }
