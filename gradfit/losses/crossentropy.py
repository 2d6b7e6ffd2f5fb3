"""The cross-entropies: binary (the course's logistic loss), categorical (one-hot targets) and sparse
categorical (integer labels).

Each reads probabilities (clipped to ``[eps, 1 - eps]``, eps = 1e-7, as Keras) or logits ``z``. When the
output layer's activation is the one the loss undoes (sigmoid for binary, softmax for categorical), the loss
is computed from ``z``, exactly and without clipping, as TensorFlow's Keras does; then ``dL/dz = a - y``, so
the output stays trainable even when the sigmoid saturates.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..schema import Bool, Choice, Int, Number, Optional
from .base import Loss, logsumexp, loss_schema, register, sigmoid, softmax

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
]

_SMOOTHED = {
    "from_logits": Bool(False),
    "label_smoothing": Number(0.0, lo=0.0, hi=1.0),
    "axis": Choice(-1, default=-1),  # the class axis: the last one, the only one gradfit's losses read
}


class _SmoothedCrossentropy(Loss):
    """What binary and categorical cross-entropy share: ``from_logits``, ``label_smoothing`` and ``axis``."""

    reads = "probabilities"
    dz_formula = "(f(X) - y) / m"

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ):
        self._configure(
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
            reduction=reduction,
            name=name,
        )


@register("binary_crossentropy", aliases=("bce", "BCE"))
class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy, the logistic loss of the course.

    ``L = -y log(p) - (1 - y) log(1 - p)`` with ``p`` clipped to ``[eps, 1 - eps]`` (eps = 1e-7).
    From logits ``z``: ``L = max(z, 0) - z y + log(1 + e^-|z|)``, with ``dL/dz = sigmoid(z) - y``.
    Several output units: the mean over them.

    Parameters
    ----------
    from_logits : bool
        The model's output is ``z`` (a linear output layer) rather than a probability.
    label_smoothing : float
        Targets become ``y (1 - s) + s / 2``.
    """

    logits_activation = "sigmoid"
    formula = "L = -y log(f(x)) - (1 - y) log(1 - f(x))"
    config_schema = loss_schema("binary_crossentropy", _SMOOTHED)

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "binary_crossentropy",
    ):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _smooth(self, y):
        s = self.label_smoothing
        return y * (1 - s) + 0.5 * s if s else y

    # on probabilities: the clip passes no gradient where it bites
    def per_sample(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        return -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(axis=-1)

    def grad(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        inside = (p >= eps) & (p <= 1 - eps)
        return (pc - y) / (pc * (1 - pc)) * inside / p.shape[-1]

    # on logits: exact
    def per_sample_logits(self, y, z):
        y = self._smooth(y)
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=-1)

    def grad_logits(self, y, z, a=None):
        a = sigmoid(z) if a is None else a
        return (a - self._smooth(y)) / z.shape[-1]

    def sum_and_grad_logits(self, y, z, a=None):
        # softplus(z) - z y = max(z, 0) - z y + log(1 + e^-|z|), in one ufunc: the hot path of the seeds' network
        y = self._smooth(y)
        units = z.shape[-1]
        values = np.logaddexp(z, backend.ZEROS[z.dtype])
        np.subtract(values, z * y, out=values)
        if a is None:
            a = sigmoid(z)
        d = a - y
        if units != 1:
            d /= units
        return float(np.add.reduce(values, axis=None)) / units, d

    def check_targets(self, y):
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{type(self).__name__}: targets y must lie in [0, 1] (class labels 0 and 1, or "
                f"probabilities); got values from {y.min():g} to {y.max():g}. For more than two classes use "
                "SparseCategoricalCrossentropy (integer labels) or CategoricalCrossentropy (one-hot)."
            )


@register("categorical_crossentropy")
class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy for one-hot targets: ``L = -sum_j y_j log(p_j)``.

    Probabilities are renormalised to sum to 1 and clipped to ``[eps, 1 - eps]``. From logits ``z``:
    ``L = logsumexp(z) sum_j y_j - sum_j y_j z_j`` and ``dL/dz = softmax(z) sum_j y_j - y``.
    """

    logits_activation = "softmax"
    formula = "L = -sum_j y_j log(f(x)_j)"
    config_schema = loss_schema("categorical_crossentropy", _SMOOTHED)

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "categorical_crossentropy",
    ):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _smooth(self, y):
        s = self.label_smoothing
        return y * (1 - s) + s / y.shape[-1] if s else y

    def per_sample(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        q = np.clip(p / p.sum(axis=-1, keepdims=True), eps, 1 - eps)
        return -(y * np.log(q)).sum(axis=-1)

    def grad(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        qc = np.clip(q, eps, 1 - eps)
        dq = -y / qc * ((q >= eps) & (q <= 1 - eps))
        # q = p / sum(p): dL/dp_j = (dL/dq_j - sum_k dL/dq_k q_k) / sum(p)
        return (dq - (dq * q).sum(axis=-1, keepdims=True)) / total

    def per_sample_logits(self, y, z):
        y = self._smooth(y)
        return logsumexp(z) * y.sum(axis=-1) - (y * z).sum(axis=-1)

    def grad_logits(self, y, z, a=None):
        y = self._smooth(y)
        a = softmax(z) if a is None else a
        return a * y.sum(axis=-1, keepdims=True) - y

    def check_targets(self, y):
        if y.shape[-1] == 1:
            raise ValueError(
                "CategoricalCrossentropy: targets y have one column, but this loss expects one-hot rows "
                "(one column per class). For integer class labels use SparseCategoricalCrossentropy."
            )


@register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class labels ``y`` in ``[0, classes)``: ``L = -log(p_y)``.

    From logits ``z``: ``L = logsumexp(z) - z_y`` and ``dL/dz = softmax(z) - onehot(y)``.
    On probabilities Keras clips ``p`` to ``[eps, 1 - eps]`` and then takes the softmax
    cross-entropy of ``log(p)``, which renormalises ``p``; so does this.

    ``ignore_class=c``: the examples labelled ``c`` (which may lie outside ``[0, classes)``, e.g. -1 or 255)
    have loss 0 and no gradient, and, as in Keras, they are masked: ``sum_over_batch_size`` averages over the
    other examples only (``sum_i w_i L_i / n_valid``), ``mean_with_sample_weight`` divides by their weights.
    """

    logits_activation = "softmax"
    reads = "probabilities"
    sparse = True
    formula = "L = -log(f(x)_y)"
    dz_formula = "(f(X) - onehot(y)) / m"
    config_schema = loss_schema(
        "sparse_categorical_crossentropy",
        {"from_logits": Bool(False), "ignore_class": Optional(Int()), "axis": Choice(-1, default=-1)},
    )

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str | None = "sparse_categorical_crossentropy",
    ):
        self._configure(from_logits=from_logits, ignore_class=ignore_class, reduction=reduction, axis=axis, name=name)

    def prepare_targets(self, y, output_shape):
        if y.ndim == len(output_shape) and y.shape[-1] == 1:
            y = y.reshape(y.shape[:-1])
        if y.ndim != len(output_shape) - 1:
            hint = " They look one-hot: use CategoricalCrossentropy." if y.shape[-1] == output_shape[-1] else ""
            raise ValueError(
                f"SparseCategoricalCrossentropy: targets y have shape {y.shape}; this loss expects one integer "
                f"class label per example, shape (m,) or (m, 1).{hint}"
            )
        if y.dtype.kind == "f" and y.size and not np.array_equal(y, np.round(y)):
            raise ValueError("SparseCategoricalCrossentropy: targets y must be whole numbers (class indices).")
        classes = output_shape[-1]
        counted = y if self.ignore_class is None else y[y != self.ignore_class]
        if counted.size and (counted.min() < 0 or counted.max() >= classes):
            ignored = "" if self.ignore_class is None else f" (besides the ignored class {self.ignore_class})"
            raise ValueError(
                f"SparseCategoricalCrossentropy: labels{ignored} must lie in [0, {classes}) for an output with "
                f"{classes} units; got labels from {counted.min():g} to {counted.max():g}. Make the output layer "
                "as wide as the number of classes, relabel the classes from 0, or name a label to skip with "
                "ignore_class."
            )
        return y.astype(np.intp)

    def valid_entries(self, y):
        return None if self.ignore_class is None else y != self.ignore_class

    def _counted(self, y):
        """``(labels with the ignored ones replaced by 0, mask of the counted ones)``; mask None without
        ``ignore_class``."""
        if self.ignore_class is None:
            return y, None
        valid = y != self.ignore_class
        return np.where(valid, y, 0), valid

    def reduced(self, y, p, sample_weight=None):
        if self.ignore_class is None:
            return super().reduced(y, p, sample_weight)
        y, valid = self._counted(y)
        with np.errstate(over="ignore", under="ignore"):
            values = self.per_sample_logits(y, p) if self.from_logits else self.per_sample(y, p)
        values = np.where(valid, values, np.zeros((), values.dtype))  # Keras: 0 where ignored, then masked
        return self.reduce(values, sample_weight, valid)

    def batch_sum_and_grad(self, y, a, z=None, sample_weight=None):
        """As :meth:`Loss.batch_sum_and_grad`, and with ``ignore_class`` Keras's mask folded into the weights so
        that the training step's division (by ``n``, or by ``sum_i w_i``) gives Keras's value: each counted
        entry weighs ``w_i * (the step's divisor) / (Keras's divisor)``, an ignored one 0."""
        if self.ignore_class is None:
            return super().batch_sum_and_grad(y, a, z, sample_weight)
        y, valid = self._counted(y)
        if z is not None:
            values, d = self.per_sample_logits(y, z), self.grad_logits(y, z, a)
        elif self.from_logits:
            values, d = self.per_sample_logits(y, a), self.grad_logits(y, a)
        else:
            values, d = self.per_sample(y, a), self.grad(y, a)
        w = valid.astype(d.dtype)
        if sample_weight is not None:
            w *= np.asarray(sample_weight, d.dtype).reshape((len(w),) + (1,) * (w.ndim - 1))
        if self.reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
            step_divisor = self.batch_divisor(w.size, sample_weight)
            keras_divisor = (
                float(w.sum()) if self.reduction == "mean_with_sample_weight" else float(np.count_nonzero(valid))
            )
            w *= step_divisor / keras_divisor if keras_divisor else 0.0
        d *= w[..., None]
        return float(np.where(valid, values, 0.0).ravel() @ w.ravel()), d

    @staticmethod
    def _pick(values, y):
        return np.take_along_axis(values, y[..., None], axis=-1)[..., 0]

    def per_sample(self, y, p):
        eps = backend.epsilon()
        lp = np.log(np.clip(p, eps, 1 - eps))
        return logsumexp(lp) - self._pick(lp, y)

    def grad(self, y, p):
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        d_lp = pc / pc.sum(axis=-1, keepdims=True)
        np.put_along_axis(d_lp, y[..., None], self._pick(d_lp, y)[..., None] - 1, axis=-1)
        return d_lp / pc * ((p >= eps) & (p <= 1 - eps))

    def per_sample_logits(self, y, z):
        return logsumexp(z) - self._pick(z, y)

    def grad_logits(self, y, z, a=None):
        dz = softmax(z) if a is None else a.copy()
        np.put_along_axis(dz, y[..., None], self._pick(dz, y)[..., None] - 1, axis=-1)
        return dz

    def sum_and_grad_logits(self, y, z, a=None):  # reached only without ignore_class
        """The fused softmax cross-entropy of a batch, the MNIST-sized step's hot path (the one speed trick of
        this loss: everything else goes through ``per_sample_logits`` / ``grad_logits``).

        One exp for both: ``L = log(sum_j e^(z_j - c)) - (z_y - c)``, ``dL/dz = softmax(z) - onehot(y)``. The
        shift ``c`` is the batch's largest logit, not each row's: NumPy reduces along a short row axis slowly
        (128 x 10: 7 us for the row maxima, 20 us for the whole loss with them, 13 without). Any shift is exact
        in exact arithmetic; a row whose logits all lie far below ``c`` would lose precision to subnormals, so
        such a batch (and float16, other ranks, empty batches) takes the row-maximum formulas instead.
        """
        if z.ndim != 2 or z.size == 0 or z.dtype not in (np.float32, np.float64):
            return super().sum_and_grad_logits(y, z, a)
        m, k = z.shape
        picks = y + self._row_starts(m, k)  # flat indices of z[i, y_i]
        shifted = np.subtract(z, np.maximum.reduce(z, axis=None))
        z_y = shifted.ravel().take(picks)
        e = np.exp(shifted, out=shifted)
        total = backend.dot(e, backend.ones(k, z.dtype))  # row sums through BLAS: cheaper than a reduction
        if np.minimum.reduce(total) < backend.SUBNORMAL_BOUND[z.dtype]:
            return super().sum_and_grad_logits(y, z, a)
        loss = float(np.add.reduce(np.log(total)) - np.add.reduce(z_y))
        d = np.divide(e, total.reshape(m, 1), out=e) if a is None else a.copy()
        d.ravel()[picks] -= 1
        return loss, d

    def _row_starts(self, m: int, k: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_row_start_cache", {})
        if (m, k) not in cache:
            cache[(m, k)] = np.arange(m, dtype=np.intp) * k
        return cache[(m, k)]


binary_crossentropy = BinaryCrossentropy.function
categorical_crossentropy = CategoricalCrossentropy.function
sparse_categorical_crossentropy = SparseCategoricalCrossentropy.function
