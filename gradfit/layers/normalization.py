"""``Normalization``: feature scaling learned from the data with ``adapt``, as in the coffee-roasting lab."""

from __future__ import annotations

import numpy as np

from .. import backend, initializers, registry
from ..schema import Axis, Bool, Schema, Stats
from .base import Layer


@registry.LAYERS.register()
class Normalization(Layer):
    """``x_norm = (x - mean) / max(sqrt(variance), eps)`` per feature (z-score normalisation).

    Call ``adapt(X)`` once on the training data to set ``mean`` and ``variance`` (the population
    variance, as Keras), or pass them in. The statistics are weights but not trainable: ``fit`` leaves
    them alone.

    Parameters
    ----------
    axis : int or tuple of int
        The axis (or axes) that keep separate statistics; -1 means one mean per feature.
    mean, variance : array-like, optional
        Fixed statistics instead of ``adapt``.
    invert : bool
        Undo the normalisation instead: ``x = mean + x_norm * sqrt(variance)``.
    """

    config_schema = Schema(
        {"axis": Axis(-1), "mean": Stats(None), "variance": Stats(None), "invert": Bool(False)},
        base=Layer.config_schema,
    )

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, **kwargs):
        own = {"axis": axis, "mean": mean, "variance": variance, "invert": invert}
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(**kwargs)
        axis = c["axis"]
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis) if axis is not None else ()
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (then call adapt).")
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        self.invert = c["invert"]

    def _keep(self, ndim: int) -> tuple[int, ...]:
        keep = tuple(sorted(a % ndim for a in self.axis))
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Normalization: axis {self.axis} is out of range for inputs with {ndim} dimensions.")
        return keep

    def _stats_shape(self, input_shape) -> tuple:
        """The shape of ``mean`` and ``variance``: the input's sizes along the kept axes."""
        keep = self._keep(len(input_shape))
        if any(input_shape[d] is None for d in keep):
            raise ValueError(f"Normalization: the kept axes {keep} of input shape {input_shape} must be known.")
        return tuple(input_shape[d] for d in keep)

    def keras_weights(self, input_shape):
        if self.input_mean is not None:  # fixed statistics are constants, not weights (as in Keras)
            return []
        shape, dtype = self._stats_shape(input_shape), self.dtype or backend.floatx()
        return [("mean", shape, False, dtype), ("variance", shape, False, dtype), ("count", (), False, "int64")]

    def build(self, input_shape):
        ndim = len(input_shape)
        keep = self._keep(ndim)
        shape = self._stats_shape(input_shape)
        self._broadcast = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        self._broadcast = (1,) + self._broadcast[1:]
        if self.input_mean is None:
            self.mean = self.add_weight("mean", shape, initializers.Zeros(), trainable=False)
            self.variance = self.add_weight("variance", shape, initializers.Ones(), trainable=False)
            self.count = self.add_weight("count", (), initializers.Zeros(), trainable=False, dtype="int64")
        else:
            self.mean = np.broadcast_to(self.input_mean, shape).astype(self.dtype or backend.floatx())
            self.variance = np.broadcast_to(self.input_variance, shape).astype(self.mean.dtype)
        self._finish_build(input_shape)

    def adapt(self, data) -> None:
        """Set ``mean`` and ``variance`` per kept axis from ``data`` (all other axes are averaged)."""
        x = np.asarray(data.numpy() if hasattr(data, "numpy") else data, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if not np.isfinite(x).all():
            raise ValueError("Normalization.adapt: the data contains NaN or infinite values.")
        if not self.built:
            self.build((None,) + x.shape[1:])
        keep = self._keep(x.ndim)
        reduce = tuple(d for d in range(x.ndim) if d not in keep)
        self.mean[...] = x.mean(axis=reduce)
        self.variance[...] = x.var(axis=reduce)
        self.count[...] = int(np.prod([x.shape[d] for d in reduce]))

    def _scale(self) -> np.ndarray:
        return np.maximum(np.sqrt(self.variance), backend.epsilon()).reshape(self._broadcast[1:])

    def forward(self, x, training=False):
        mean = self.mean.reshape(self._broadcast[1:])
        if self.invert:
            return mean + x * self._scale()
        return (x - mean) / self._scale()

    def backward(self, dy):
        # d x_norm / dx = 1 / scale (the statistics are constants during training)
        return dy * self._scale() if self.invert else dy / self._scale()

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis[0] if len(self.axis) == 1 else list(self.axis),
            "invert": self.invert,
            "mean": None if self.input_mean is None else self.input_mean.tolist(),
            "variance": None if self.input_variance is None else self.input_variance.tolist(),
        }

    def describe(self, inp: str, out: str, index: int) -> dict:
        from ..explain import weight_list

        i = index
        if self.invert:
            forward, backward = (
                f"{out} = mean[{i}] + {inp} * sqrt(variance[{i}])",
                f"d{inp} = d{out} * sqrt(variance[{i}])",
            )
        else:
            forward, backward = (
                f"{out} = ({inp} - mean[{i}]) / sqrt(variance[{i}])",
                f"d{inp} = d{out} / sqrt(variance[{i}])",
            )
        return {
            "forward": [forward],
            "note": "mean and variance from adapt() or given",
            "backward": [backward],
            "weights": weight_list(self, index),
        }
