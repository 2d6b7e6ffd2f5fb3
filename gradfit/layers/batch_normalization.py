"""``BatchNormalization``: normalise each feature over the batch while training, with learned scale and shift."""

from __future__ import annotations

import numpy as np

from .. import backend, constraints, initializers, registry, regularizers
from ..schema import MAX_RANK, Bool, Int, Number, Object, Off, Schema
from .base import Layer


@registry.LAYERS.register()
class BatchNormalization(Layer):
    """Batch normalisation, as Keras 3 computes it.

    For each feature ``j`` along ``axis`` (the other axes are averaged over)::

        training:   mu = mean(x),  var = mean((x - mu)^2)       (the batch's mean and biased variance)
                    moving_mean     = momentum * moving_mean     + (1 - momentum) * mu
                    moving_variance = momentum * moving_variance + (1 - momentum) * var
        inference:  mu = moving_mean,  var = moving_variance
        both:       y = gamma * (x - mu) / sqrt(var + epsilon) + beta

    TensorFlow evaluates the last line as ``x * inv + (beta - mu * inv)`` with ``inv = gamma / sqrt(var + eps)``;
    so does this layer. The moving statistics are updated during the training forward pass, before the
    weights are updated. A layer with ``trainable=False`` always runs in inference mode, as in Keras.

    Backward in training mode, where ``mu`` and ``var`` depend on ``x`` (``N`` values averaged per feature,
    ``x_hat = (x - mu) / sqrt(var + eps)``)::

        dJ/dbeta  = sum(dy)        dJ/dgamma = sum(dy * x_hat)
        dJ/dx     = gamma / sqrt(var + eps) * (dy - dJ/dbeta / N - x_hat * dJ/dgamma / N)

    and in inference mode ``dJ/dx = dy * gamma / sqrt(moving_variance + eps)``.

    Weights, in Keras's order: ``gamma`` and ``beta`` (trainable; left out when ``scale`` / ``center`` is
    False), ``moving_mean`` and ``moving_variance`` (not trainable).

    Parameters
    ----------
    axis : int
        The feature axis (one set of statistics per entry along it); -1 for ``(m, features)`` inputs.
    momentum : float
        Weight of the old moving statistics in each update (0.99).
    epsilon : float
        Added to the variance before the square root (1e-3).
    center, scale : bool
        Whether to learn ``beta`` and ``gamma``.
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer :
        Keras's defaults: zeros, ones, zeros, ones.
    beta_regularizer, gamma_regularizer : Regularizer, optional
    beta_constraint, gamma_constraint : Constraint, optional
        Projections applied to ``beta`` / ``gamma`` after every optimizer update (``NonNeg()`` keeps
        ``gamma >= 0``).
    synchronized : bool
        Keras (TensorFlow backend) then computes the variance as ``max(mean(x^2) - mu^2, 0)``; so does this.
    renorm, renorm_clipping :
        Batch renormalization is not implemented: only ``False`` / ``None`` are accepted.
    renorm_momentum : float
        Accepted and without effect, as in Keras without ``renorm`` (which gradfit refuses).
    """

    config_schema = Schema(
        {
            "axis": Int(-1, lo=-MAX_RANK, hi=MAX_RANK).explained("one integer: the feature axis, e.g. -1"),
            "momentum": Number(0.99),
            "epsilon": Number(1e-3, lo=0, lo_open=True).explained("it keeps 1/sqrt(var + eps) finite"),
            "center": Bool(True),
            "scale": Bool(True),
            "beta_initializer": Object("initializer", "zeros", nullable=False),
            "gamma_initializer": Object("initializer", "ones", nullable=False),
            "moving_mean_initializer": Object("initializer", "zeros", nullable=False),
            "moving_variance_initializer": Object("initializer", "ones", nullable=False),
            "beta_regularizer": Object("regularizer", None),
            "gamma_regularizer": Object("regularizer", None),
            "beta_constraint": Object("constraint", None),
            "gamma_constraint": Object("constraint", None),
            "renorm": Off(False),
            "renorm_clipping": Off(),
            "renorm_momentum": Number(0.99),
            "synchronized": Bool(False),
        },
        base=Layer.config_schema,
    )

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        own = {
            "axis": axis,
            "momentum": momentum,
            "epsilon": epsilon,
            "center": center,
            "scale": scale,
            "beta_initializer": beta_initializer,
            "gamma_initializer": gamma_initializer,
            "moving_mean_initializer": moving_mean_initializer,
            "moving_variance_initializer": moving_variance_initializer,
            "beta_regularizer": beta_regularizer,
            "gamma_regularizer": gamma_regularizer,
            "beta_constraint": beta_constraint,
            "gamma_constraint": gamma_constraint,
            "renorm": renorm,
            "renorm_clipping": renorm_clipping,
            "renorm_momentum": renorm_momentum,
            "synchronized": synchronized,
        }
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(**kwargs)
        self.axis = c["axis"]
        self.momentum = float(c["momentum"])
        self.epsilon = float(c["epsilon"])
        self.center = c["center"]
        self.scale = c["scale"]
        self.beta_initializer = c["beta_initializer"]
        self.gamma_initializer = c["gamma_initializer"]
        self.moving_mean_initializer = c["moving_mean_initializer"]
        self.moving_variance_initializer = c["moving_variance_initializer"]
        self.beta_regularizer = c["beta_regularizer"]
        self.gamma_regularizer = c["gamma_regularizer"]
        self.beta_constraint = c["beta_constraint"]
        self.gamma_constraint = c["gamma_constraint"]
        self.synchronized = c["synchronized"]
        self.renorm = False
        self.renorm_clipping = None
        self.renorm_momentum = c["renorm_momentum"]
        self.gamma = None
        self.beta = None
        self.moving_mean = None
        self.moving_variance = None

    def _feature_axis(self, input_shape) -> int:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"BatchNormalization {self.name!r}: axis {self.axis} is out of range for inputs of shape "
                f"{tuple(input_shape)} ({ndim} dimensions); use axis=-1 for the last (feature) axis."
            )
        a = self.axis % ndim
        if a == 0:
            raise ValueError(
                f"BatchNormalization {self.name!r}: axis {self.axis} is the batch axis of inputs of shape "
                f"{tuple(input_shape)}; give the feature axis instead, e.g. axis=-1."
            )
        return a

    def _features(self, input_shape) -> int:
        """The size of the feature axis: one gamma, beta and pair of moving statistics per entry along it."""
        n = input_shape[self._feature_axis(input_shape)]
        if n is None:
            raise ValueError(
                f"BatchNormalization {self.name!r}: the size of axis {self.axis} of its input {tuple(input_shape)} "
                "must be known."
            )
        return int(n)

    def keras_weights(self, input_shape):
        shape, dtype = (self._features(input_shape),), self.dtype or backend.floatx()
        out = [("gamma", shape, True, dtype)] if self.scale else []
        out += [("beta", shape, True, dtype)] if self.center else []
        return out + [("moving_mean", shape, False, dtype), ("moving_variance", shape, False, dtype)]

    def build(self, input_shape):
        ndim = len(input_shape)
        a = self._feature_axis(input_shape)
        n = self._features(input_shape)
        shape = (n,)
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", shape, self.gamma_initializer, self.gamma_regularizer, constraint=self.gamma_constraint
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", shape, self.beta_initializer, self.beta_regularizer, constraint=self.beta_constraint
            )
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False
        )
        self._reduce = tuple(d for d in range(ndim) if d != a)
        self._bshape = tuple(int(n) if d == a else 1 for d in range(ndim))
        self._finish_build(input_shape)

    def compute_output_shape(self, input_shape):
        self._feature_axis(input_shape)
        return tuple(input_shape)

    def forward(self, x, training=False):
        bshape = self._bshape
        self._batch_stats = bool(training and self.trainable)
        if self._batch_stats:
            mean = x.mean(axis=self._reduce, keepdims=True)
            if self.synchronized:
                var = np.maximum(np.square(x).mean(axis=self._reduce, keepdims=True) - np.square(mean), 0)
            else:
                var = np.square(x - mean).mean(axis=self._reduce, keepdims=True)
            # moving = moving * momentum + batch * (1 - momentum), in the weights' float type, in place
            mom = self.momentum
            mm, mv = self.moving_mean, self.moving_variance
            mm[...] = mm * mm.dtype.type(mom) + mean.reshape(mm.shape).astype(mm.dtype) * mm.dtype.type(1.0 - mom)
            mv[...] = mv * mv.dtype.type(mom) + var.reshape(mv.shape).astype(mv.dtype) * mv.dtype.type(1.0 - mom)
        else:
            mean = self.moving_mean.reshape(bshape).astype(x.dtype, copy=False)
            var = self.moving_variance.reshape(bshape).astype(x.dtype, copy=False)
        rstd = 1 / np.sqrt(var + x.dtype.type(self.epsilon))
        inv = rstd * self.gamma.reshape(bshape) if self.scale else rstd
        shift = self.beta.reshape(bshape) - mean * inv if self.center else -mean * inv
        self.x, self._mean, self._rstd, self._inv = x, mean, rstd, inv
        return x * inv + shift

    def backward(self, dy):
        axes = self._reduce
        need_xhat = (self.trainable and self.scale) or self._batch_stats
        xhat = (self.x - self._mean) * self._rstd if need_xhat else None
        if self.trainable:
            if self.center:
                self.grad_beta[...] = dy.sum(axis=axes).reshape(self.grad_beta.shape)
            if self.scale:
                self.grad_gamma[...] = (dy * xhat).sum(axis=axes).reshape(self.grad_gamma.shape)
        if self.skip_input_grad:
            return None
        if not self._batch_stats:
            return dy * self._inv
        # mu and var depend on x: dx = inv * (dy - mean(dy) - x_hat * mean(dy * x_hat))
        return self._inv * (dy - dy.mean(axis=axes, keepdims=True) - xhat * (dy * xhat).mean(axis=axes, keepdims=True))

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }

    def describe(self, inp: str, out: str, index: int) -> dict:
        from ..explain import weight_list

        i, x, dy = index, inp, f"d{out}"
        gamma = f"gamma[{i}] * " if self.scale else ""
        beta = f" + beta[{i}]" if self.center else ""
        mom = f"{self.momentum:g}"
        rest = (f"{1 - self.momentum:g}", f"axis {self.axis}")
        grads = (f"dgamma[{i}] = sum({dy} * x_hat);  " if self.scale else "") + (
            f"dbeta[{i}] = sum({dy});  " if self.center else ""
        )
        return {
            "forward": [
                f"{out} = {gamma}({x} - mu) / sqrt(var + {self.epsilon:g}){beta}",
                f"training: mu, var = the batch's mean and variance per feature ({rest[1]}); "
                f"moving_mean[{i}] = {mom} moving_mean[{i}] + {rest[0]} mu, moving_variance[{i}] likewise with var",
                f"inference: mu = moving_mean[{i}], var = moving_variance[{i}]",
            ],
            "backward": [
                f"x_hat = ({x} - mu) / sqrt(var + eps);  {grads}"
                f"d{x} = {gamma}({dy} - mean({dy}) - x_hat * mean({dy} * x_hat)) / sqrt(var + eps)"
            ],
            "weights": weight_list(self, index),
        }
