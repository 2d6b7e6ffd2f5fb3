"""Losses that are not one registered class: a function of one's own with its gradient (:func:`custom`), and
Keras's ``loss='crossentropy'`` (or ``'ce'``), which stands for one of the three cross-entropies until the
data's shapes say which.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import Loss

__all__ = ["CROSSENTROPY_NAMES", "custom", "resolve_crossentropy"]

#: the names Keras's ``compile`` resolves from the shapes (compared lower-cased, as Keras does)
CROSSENTROPY_NAMES = ("crossentropy", "ce")


class _FunctionLoss(Loss):
    """A loss from two functions: ``fn(y_true, y_pred)`` -> the per-example losses ``L_i`` (shape ``(m,)``, or the
    output's shape, which is averaged over the last axis as Keras's losses do) and ``grad(y_true, y_pred)`` ->
    ``dL_i/dy_pred`` shaped like ``y_pred``. Not registered: a model compiled with it cannot be saved in a file
    that gradfit (or Keras, without ``custom_objects``) loads back, so saving refuses it."""

    formula = "L = fn(y, f(x))  (a custom function)"

    def __init__(self, fn: Callable, grad: Callable, reduction="sum_over_batch_size", name: str | None = None):
        for what, f in (("fn", fn), ("grad", grad)):
            if not callable(f):
                raise TypeError(
                    f"gradfit.losses.custom: {what} must be a function (y_true, y_pred) -> array, got {f!r}"
                )
        self.fn, self.grad_fn = fn, grad
        self._configure(reduction=reduction, name=name or getattr(fn, "__name__", None) or "custom_loss")
        self.formula = f"L = {self.name}(y, f(x))  (a custom function)"

    def per_sample(self, y, p):
        values = np.asarray(self.fn(y, p), dtype=p.dtype)
        if values.shape == p.shape:
            values = values.mean(axis=-1)  # one value per output unit: Keras's reduction averages them too
        if values.shape != p.shape[:-1]:
            raise ValueError(
                f"custom loss {self.name!r}: fn(y_true, y_pred) returned shape {values.shape} for outputs of shape "
                f"{p.shape}; it must return one loss per example, shape {p.shape[:-1]}."
            )
        return values

    def grad(self, y, p):
        d = np.asarray(self.grad_fn(y, p))
        if d.shape != p.shape:
            raise ValueError(
                f"custom loss {self.name!r}: grad(y_true, y_pred) returned shape {d.shape}; it must return "
                f"dL_i/dy_pred shaped like y_pred, {p.shape}."
            )
        return d.astype(p.dtype, copy=True)  # a fresh array of the model's type: the step scales it in place

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        raise TypeError(
            "A custom loss (gradfit.losses.custom) cannot be rebuilt from a config: its functions are code. "
            "Call gradfit.losses.custom(fn, grad=dfn) again."
        )

    def __repr__(self) -> str:
        return f"<custom loss {self.name!r} (fn={getattr(self.fn, '__name__', self.fn)!r})>"


def custom(
    fn: Callable, grad: Callable, reduction: str | None = "sum_over_batch_size", name: str | None = None
) -> Loss:
    """A loss from a function and its gradient, for ``compile(loss=...)``.

    ``fn(y_true, y_pred)`` returns the per-example losses ``L_i`` (NumPy arrays in, an array of shape ``(m,)``
    out); ``grad(y_true, y_pred)`` returns ``dL_i/dy_pred``, shaped like ``y_pred``. Both receive the targets
    shaped like the output. ``J`` is the mean of the ``L_i`` (or the ``reduction`` given), as for every loss::

        def squared(y, p):
            return ((p - y) ** 2).mean(axis=-1)

        def d_squared(y, p):
            return 2 * (p - y) / p.shape[-1]

        model.compile(loss=gradfit.losses.custom(squared, grad=d_squared), optimizer="sgd")

    A function carrying its gradient as an attribute (``squared.grad = d_squared``) may be given directly:
    ``compile(loss=squared)``.
    """
    return _FunctionLoss(fn, grad, reduction=reduction, name=name)


class _ShapeResolvedCrossentropy(Loss):
    """``loss='crossentropy'`` before the data is seen: :meth:`resolve` gives the loss Keras's ``compile`` picks
    (``keras/src/trainers/compile_utils.py``, ``get_loss``): ``binary_crossentropy`` for an output with one unit,
    ``sparse_categorical_crossentropy`` when the targets have a lower rank than the output (or one column for a
    wider output), else ``categorical_crossentropy``; named by the string given (``'crossentropy'``)."""

    reads = "probabilities"
    formula = "L = cross-entropy (binary, categorical or sparse, chosen from the data's shapes)"

    def __init__(self, name: str = "crossentropy"):
        self._configure(reduction="sum_over_batch_size", name=name)

    def resolve(self, y, output_shape: tuple) -> Loss:
        """The cross-entropy for targets ``y`` (an array, or its shape) and outputs of ``output_shape``."""
        from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy

        y_shape = tuple(getattr(y, "shape", y))
        output_shape = tuple(output_shape)
        is_binary = output_shape[-1] == 1
        is_sparse = len(y_shape) < len(output_shape) or (y_shape[-1] == 1 and output_shape[-1] > 1)
        if is_binary:
            return BinaryCrossentropy(name=self.name)
        if is_sparse:
            return SparseCategoricalCrossentropy(name=self.name)
        return CategoricalCrossentropy(name=self.name)

    def _unresolved(self, *args, **kwargs):
        raise RuntimeError(
            f"loss={self.name!r} is resolved from the data's shapes: call resolve(y, output_shape) first (fit, "
            "evaluate and train_on_batch do), or name the cross-entropy, e.g. 'sparse_categorical_crossentropy'."
        )

    per_sample = grad = batch_sum_and_grad = _unresolved

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        return self.resolve(np.shape(y_true), y_pred.shape)(y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


def resolve_crossentropy(name: str = "crossentropy") -> Loss:
    """The stand-in for ``loss='crossentropy'`` / ``'ce'`` (any case), named ``name``."""
    return _ShapeResolvedCrossentropy(name=name)
