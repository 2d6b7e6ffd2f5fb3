"""Activations as layers of their own: ``Activation``, ``ReLU``, ``LeakyReLU`` and ``Softmax``.

``Dense(10) → Activation('softmax')`` computes what ``Dense(10, activation='softmax')`` does. Each layer
keeps its activation object in ``.activation`` (forward ``g(z)`` and backward ``dz = da * g'(z)`` side by
side, see ``gradfit.activations``) and its input ``z`` and output ``a`` from the last forward pass.

As in TensorFlow's Keras, when a model ends in a sigmoid or softmax *layer* and is trained with a
cross-entropy, the loss is computed from the layer's input ``z`` (the logits), exactly, not from the
clipped probabilities: ``Activation('sigmoid')``, ``Activation('softmax')`` and ``Softmax()`` provide
``backward_from_logits`` for that. A ``Softmax`` over any axis but the last one is not fused (see ``Softmax``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import activations as _activations
from .. import registry
from ..schema import Axis, Number, Object, Optional, Schema
from .base import Layer

__all__ = ["Activation", "LeakyReLU", "ReLU", "Softmax"]


# ------------------------------------------------------------------------------------------- activation objects


class _Configured(_activations.Activation):
    """An activation with a layer's arguments built in; it pickles as the factory call that made it."""

    def __init__(self, name, forward, backward, formula, factory, args):
        super().__init__(name, forward, backward, formula)
        self._factory, self._args = factory, args

    def __reduce__(self):
        return (self._factory, self._args)


def _put(result: np.ndarray, out) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result)
    return out


def leaky_relu_activation(negative_slope: float) -> _activations.Activation:
    """``g(z) = z if z > 0 else negative_slope * z`` (``tf.nn.leaky_relu``), ``g'(z) = 1 or negative_slope``."""
    slope = float(negative_slope)

    def forward(z, out):
        return _put(np.where(z > 0, z, z * z.dtype.type(slope)), out)

    def backward(z, a, da):
        return da * np.where(z > 0, 1, slope).astype(da.dtype)

    return _Configured(
        "leaky_relu", forward, backward, f"g(z) = z if z > 0 else {slope:g} z", leaky_relu_activation, (slope,)
    )


def relu_activation(max_value=None, negative_slope: float = 0.0, threshold: float = 0.0) -> _activations.Activation:
    """Keras's ``relu(z, negative_slope, max_value, threshold)`` with its derivative::

        g(z) = clip(z if z > threshold else 0, 0, max_value) - negative_slope * max(threshold - z, 0)

    i.e. ``max_value`` above it, ``z`` between ``threshold`` and ``max_value``, ``negative_slope (z - threshold)``
    below ``threshold``. ``g'(z) = [threshold < z <= max_value] + negative_slope [z < threshold]``, with
    TensorFlow's choices at the kinks (``relu6``, used when ``max_value == 6`` and ``threshold == 0``, has
    ``g'(6) = 0``).
    """
    slope, thr = float(negative_slope), float(threshold)
    if max_value is None and slope == 0 and thr == 0:
        return _activations.relu
    if max_value is None and thr == 0:
        return leaky_relu_activation(slope)
    use_relu6 = thr == 0 and max_value == 6
    clip_max = max_value is not None and not use_relu6

    def forward(z, out):
        t = z.dtype.type(thr)
        if thr != 0:
            pos = np.where(z > t, z, z.dtype.type(0))
        elif use_relu6:
            pos = np.clip(z, 0, 6).astype(z.dtype, copy=False)
        else:
            pos = np.maximum(z, 0)
        if clip_max:
            pos = np.clip(pos, 0, z.dtype.type(max_value)).astype(z.dtype, copy=False)
        if slope:
            pos = pos - z.dtype.type(slope) * np.maximum(t - z, 0)
        return _put(pos, out)

    def backward(z, a, da):
        t = z.dtype.type(thr)
        if thr != 0:
            g = z > t
        elif use_relu6:
            g = (z > 0) & (z < 6)
        else:
            g = z > 0
        if clip_max:  # tf.clip_by_value passes the gradient where 0 <= value <= max_value
            g &= z <= z.dtype.type(max_value)
        grad = g.astype(da.dtype)
        if slope:
            grad += da.dtype.type(slope) * (z < t)
        return da * grad

    parts = []
    if max_value is not None:
        parts.append(f"min(z, {max_value:g}) if z > {thr:g}")
    else:
        parts.append(f"z if z > {thr:g}")
    parts.append(f"else {slope:g} (z - {thr:g})" if slope else "else 0")
    return _Configured("relu", forward, backward, "g(z) = " + " ".join(parts), relu_activation, (max_value, slope, thr))


def _normalize_axes(axis, ndim: int, who: str) -> tuple[int, ...]:
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if not axes:
        raise ValueError(f"{who}: axis must name at least one axis.")
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise ValueError(f"{who}: axis must be an integer or a list of integers, got {axis!r}.")
        if not -ndim <= a < ndim:
            raise ValueError(f"{who}: axis {a} is out of range for inputs with {ndim} dimensions.")
        out.append(int(a) % ndim)
    return tuple(sorted(set(out)))


def softmax_activation(axis) -> _activations.Activation:
    """Softmax over ``axis`` (an int or a list of ints).

    ``a = e^z / sum_axis e^z``, ``dz = a (da - sum_axis(da a))``.
    """
    if axis == -1 or (isinstance(axis, (tuple, list)) and list(axis) == [-1]):
        return _activations.softmax
    axes_arg = tuple(axis) if isinstance(axis, (tuple, list)) else axis

    def _axes(ndim):
        return _normalize_axes(axes_arg, ndim, "Softmax")

    def forward(z, out):
        ax = _axes(z.ndim)
        e = np.exp(z - z.max(axis=ax, keepdims=True))
        e /= e.sum(axis=ax, keepdims=True)
        return _put(e, out)

    def backward(z, a, da):
        ax = _axes(a.ndim)
        return a * (da - (da * a).sum(axis=ax, keepdims=True))

    return _Configured(
        "softmax", forward, backward, f"g(z) = e^z / sum over axis {axes_arg} of e^z", softmax_activation, (axes_arg,)
    )


# ------------------------------------------------------------------------------------------- the layers


class _ActivationLayer(Layer):
    """Shared forward / backward of the layers below: ``a = g(z)``, ``dJ/dz = dJ/da * g'(z)``."""

    activation: _activations.Activation

    def forward(self, x, training=False):
        self.z = x
        self.a = self.activation.forward(x, None)
        return self.a

    def backward(self, da):
        return self.activation.backward(self.z, self.a, da)

    def _logits_gradient(self, dz):
        """``dJ/dz`` passed straight through (the layer's input is ``z`` itself), plus an activity penalty's
        ``dR/da * g'(z)`` when the layer has one."""
        extra = self._activity_gradient_wrt_logits()
        return dz if extra is None else dz + extra

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def describe(self, inp: str, out: str, index: int) -> dict:
        from ..explain import DZ_FROM_LOSS

        act = self.activation.__name__
        return {
            "forward": [f"{out} = {act}({inp})"],
            "note": f"{act}: {self.activation.formula}",
            "backward": [
                f"d{inp} = {out} * (d{out} - sum_j d{out}_j {out}_j)"  # softmax: g' is a Jacobian, not a number
                if act == "softmax"
                else f"d{inp} = d{out} * g'({inp})"
            ],
            "from_logits": [f"d{inp} = {DZ_FROM_LOSS}, from the loss ({inp} holds the logits)"],
            "weights": [],
        }


@registry.LAYERS.register()
class Activation(_ActivationLayer):
    """Applies an activation function: ``a = g(z)`` element by element (softmax: over the last axis).

    ``g`` is any activation of ``gradfit.keras.activations`` by name (``'relu'``, ``'sigmoid'``, ``'tanh'``,
    ``'softmax'`` …) or the function object itself. Backward: ``dJ/dz = dJ/da * g'(z)``.

    As the output layer of a model trained with a cross-entropy, ``Activation('sigmoid')`` and
    ``Activation('softmax')`` make the loss come from the logits ``z`` exactly, as TensorFlow's Keras does:
    ``Dense(1) → Activation('sigmoid')`` trains exactly like ``Dense(1, activation='sigmoid')``.
    """

    config_schema = Schema({"activation": Object("activation")}, base=Layer.config_schema)

    def __init__(self, activation, **kwargs):
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, {"activation": activation}, kwargs)
        super().__init__(**kwargs)
        self.activation = _activations.get(c["activation"])

    def backward_from_logits(self, dz):
        """Backward pass given ``dJ/dz`` (from a loss fused with this sigmoid or softmax): the layer's input is
        ``z`` itself, so ``dJ/dz`` passes straight through."""
        return self._logits_gradient(dz)

    def get_config(self):
        return {**super().get_config(), "activation": _activations.serialize(self.activation)}


@registry.LAYERS.register()
class ReLU(_ActivationLayer):
    """Rectified linear unit with Keras's options::

        g(z) = max_value                        if z >= max_value
             = z                                if threshold < z < max_value
             = negative_slope * (z - threshold) otherwise

    exactly ``clip(z if z > threshold else 0, 0, max_value) - negative_slope * max(threshold - z, 0)``;
    ``g'(z) = 1`` between ``threshold`` and ``max_value``, ``negative_slope`` below ``threshold``, 0 above
    ``max_value``. ``ReLU()`` is ``max(z, 0)``.

    Parameters
    ----------
    max_value : float >= 0 or None
        Saturation value; None means unbounded.
    negative_slope : float >= 0
    threshold : float >= 0
    """

    config_schema = Schema(
        {"max_value": Optional(Number(lo=0)), "negative_slope": Number(0.0, lo=0), "threshold": Number(0.0, lo=0)},
        base=Layer.config_schema,
    )

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        own = {"max_value": max_value, "negative_slope": negative_slope, "threshold": threshold}
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(**kwargs)
        max_value, negative_slope, threshold = c["max_value"], c["negative_slope"], c["threshold"]
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.activation = relu_activation(max_value, negative_slope, threshold)

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


@registry.LAYERS.register()
class LeakyReLU(_ActivationLayer):
    """Leaky ReLU: ``g(z) = z if z > 0 else negative_slope * z``, ``g'(z) = 1 or negative_slope``.

    The layer's default slope is 0.3, as in Keras (the function ``keras.activations.leaky_relu`` and
    ``Activation('leaky_relu')`` use 0.2). ``alpha=`` is Keras 2's name for ``negative_slope``.
    """

    config_schema = Schema(
        {"negative_slope": Number(0.3, lo=0), "alpha": Optional(Number(lo=0))}, base=Layer.config_schema
    )

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        if alpha is not None:
            import warnings

            negative_slope = alpha
            warnings.warn("LeakyReLU: argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        own = {"negative_slope": negative_slope}
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(**kwargs)
        self.negative_slope = negative_slope = c["negative_slope"]
        self.activation = leaky_relu_activation(negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@registry.LAYERS.register()
class Softmax(_ActivationLayer):
    """Softmax over ``axis``: ``a_j = e^{z_j} / sum_k e^{z_k}``, the sum running along ``axis``.

    Backward: ``dJ/dz = a * (dJ/da - sum_axis(dJ/da * a))``.

    ``axis`` may be an integer or a list of integers (the softmax then normalises over all of them).
    As the output layer with a cross-entropy, a softmax over the last axis is fused with the loss, which is
    then computed from the logits ``z`` exactly, as TensorFlow's Keras does. Over any other axis it is not:
    the loss reads the layer's probabilities, consistent with what the layer outputs. (TensorFlow's Keras
    computes the cross-entropy from ``softmax(z)`` over the *last* axis there, whatever ``axis`` says, so its
    loss does not correspond to the model's output; gradfit does not reproduce that.)
    """

    config_schema = Schema({"axis": Axis(-1)}, base=Layer.config_schema)

    def __init__(self, axis=-1, **kwargs):
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, {"axis": axis}, kwargs)
        super().__init__(**kwargs)
        axis = c["axis"]
        if isinstance(axis, (tuple, list)):
            axis = list(axis)
            if not axis or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axis):
                raise ValueError(f"Softmax: axis must be an integer or a non-empty list of integers, got {axis!r}.")
        elif isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"Softmax: axis must be an integer or a list of integers, got {axis!r}.")
        self.axis = axis
        self._over_last_axis = axis == -1 or axis == [-1]
        self.activation = softmax_activation(axis)

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = _normalize_axes(self.axis, ndim, f"Softmax {self.name!r}")
        self._over_last_axis = axes == (ndim - 1,)
        if self._over_last_axis:
            self.activation = _activations.softmax
        self._finish_build(input_shape)

    @property
    def backward_from_logits(self):
        """``dJ/dz`` straight through, for a loss fused with this softmax (only over the last axis)."""
        if not self._over_last_axis:
            raise AttributeError(
                f"Softmax {self.name!r} normalises over axis {self.axis}, not the last axis, so a cross-entropy "
                "cannot be computed from its logits."
            )
        return _identity if self._activity_regularizer is None else self._logits_gradient

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _identity(dz):
    return dz
