"""Check backpropagation against finite differences: ``gradfit.check_gradients(model, X, y)``.

For each trainable weight ``w`` the numerical derivative is the centred difference
``(J(w + eps) - J(w - eps)) / (2 eps)``, computed in float64 whatever the model's float type, and
compared with what backprop computed. The error for one weight array is
``||g_backprop - g_numeric|| / (||g_backprop|| + ||g_numeric||)``; the worst over all arrays is returned.
Below about 1e-7 means backprop and the cost agree; ReLU-like kinks and clipping can make single
entries disagree when a unit sits exactly at its kink.
"""

from __future__ import annotations

import numpy as np

from . import data as data_module
from . import parameters, training

__all__ = ["check_gradients"]


def _cast_weights(model, dtype) -> None:
    for layer in model.layers:
        for spec in layer._specs:
            value = getattr(layer, spec.name)
            if value.dtype.kind == "f":  # new arrays of another type: the store is gathered again below
                parameters.replace(layer, spec.name, value.astype(dtype))
                if hasattr(layer, "grad_" + spec.name):
                    parameters.replace(layer, "grad_" + spec.name, np.zeros(value.shape, dtype))
        layer.dtype = str(np.dtype(dtype))
    model._bind()


def check_gradients(
    model, x, y, epsilon: float = 1e-5, max_entries_per_weight: int | None = 200, seed: int = 0
) -> float:
    """Worst relative error between backprop's gradients and finite differences of the cost.

    Parameters
    ----------
    model : Sequential
        A compiled model (it is built on ``x`` if needed). Its weights are left exactly as they were.
    x, y : array-like
        One batch: the cost ``J`` is computed over all of it (plus regularisation penalties).
    epsilon : float
        Step of the centred difference (in float64).
    max_entries_per_weight : int or None
        Check at most this many randomly chosen entries of each weight array (None: all of them).
    """
    training._require_compiled(model, "check_gradients")
    data = data_module.Data(model, x, y, who="check_gradients")
    saved = [(layer, spec.name, np.array(getattr(layer, spec.name))) for layer in model.layers for spec in layer._specs]
    saved_dtypes = [(layer, layer.dtype) for layer in model.layers]
    try:
        _cast_weights(model, np.float64)
        X = np.asarray(data.x, dtype=np.float64)
        Y = data.y_loss if model._loss.sparse else np.asarray(data.y_loss, dtype=np.float64)
        step = training._Step(model, training=True)
        with np.errstate(over="ignore", under="ignore"):
            model.parameter_gradients[...] = 0
            step.gradients(X, Y, None, training=False)
            worst = 0.0
            rng = np.random.default_rng(seed)
            for layer in model.layers:
                for spec in layer.trainable_specs:
                    w = getattr(layer, spec.name)
                    analytic = np.array(getattr(layer, "grad_" + spec.name)).ravel()
                    idx = np.arange(w.size)
                    if max_entries_per_weight is not None and w.size > max_entries_per_weight:
                        idx = rng.choice(w.size, max_entries_per_weight, replace=False)
                    numeric = np.empty(len(idx))
                    for k, i in enumerate(idx):
                        pos = np.unravel_index(i, w.shape)  # w itself (a view into the model), any layout
                        original = w[pos]
                        w[pos] = original + epsilon
                        plus = _cost(model, step, X, Y)
                        w[pos] = original - epsilon
                        minus = _cost(model, step, X, Y)
                        w[pos] = original
                        numeric[k] = (plus - minus) / (2 * epsilon)
                    a = analytic[idx]
                    denom = np.linalg.norm(a) + np.linalg.norm(numeric)
                    if denom > 0:
                        worst = max(worst, float(np.linalg.norm(a - numeric) / denom))
        return worst
    finally:
        for layer, dtype in saved_dtypes:
            layer.dtype = dtype
        for layer, name, value in saved:
            parameters.replace(layer, name, value)
            if hasattr(layer, "grad_" + name):
                parameters.replace(layer, "grad_" + name, np.zeros_like(value))
        model._bind()


def _cost(model, step, X, Y) -> float:
    a = training.forward(model, X, training=False)
    value, _ = step.loss_and_output_grad(Y, None, X.shape[0], a)
    return value + step.penalty()
