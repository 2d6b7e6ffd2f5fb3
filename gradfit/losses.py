"""Losses ``L(f(x), y)`` for one example, and the cost ``J = (1/m) sum_i L_i`` that ``fit`` minimises.

Each loss class gives, side by side, the per-example loss and its gradient with respect to the
model's output ``p = f(x)``:

* ``per_sample(y, p)`` -> ``L_i`` (for outputs with several units, the mean over the last axis, as Keras);
* ``grad(y, p)`` -> ``dL_i/dp`` (the cost's gradient is this divided by the batch size ``m``).

The cross-entropies also have ``per_sample_logits(y, z)`` and ``grad_logits(y, z, a)``: when the output
layer's activation is the one the loss undoes (sigmoid for binary, softmax for categorical), the loss is
computed from the pre-activation ``z``, exactly and without clipping, as TensorFlow's Keras does. Then
``dL/dz = a - y``: the output stays trainable even when the sigmoid saturates.
"""

from __future__ import annotations

import difflib

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Huber",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "get",
    "huber",
    "mean_absolute_error",
    "mean_squared_error",
    "sparse_categorical_crossentropy",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "none", None)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=-1, keepdims=True)
    return np.log(np.exp(z - top).sum(axis=-1)) + top[..., 0]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Loss:
    """Base class: a per-example loss reduced to the cost ``J`` by averaging over the batch.

    Parameters
    ----------
    reduction : {'sum_over_batch_size', 'sum', 'none'}
        ``J = sum_i w_i L_i / m`` (Keras's default), ``sum_i w_i L_i``, or the vector ``w_i L_i``.
    name : str
    """

    #: Which output activation this loss can undo exactly (``'sigmoid'``, ``'softmax'`` or None).
    logits_activation: str | None = None
    #: Targets are class indices (one per example) rather than an array shaped like the output.
    sparse = False
    from_logits = False
    formula = ""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; use one of {_REDUCTIONS[:3]}.")
        self.reduction = reduction
        self.name = name or _snake(type(self).__name__)

    # -- to be written by each loss
    def per_sample(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grad(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- public Keras API
    def __call__(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred)
        if p.dtype.kind != "f":
            p = p.astype(backend.floatx())
        y = self.prepare_targets(np.asarray(y_true), p.shape)
        with np.errstate(over="ignore", under="ignore"):
            values = self.per_sample_logits(y, p) if self.from_logits else self.per_sample(y, p)
        if sample_weight is not None:
            values = values * np.asarray(sample_weight, dtype=values.dtype).reshape(values.shape)
        if self.reduction in ("none", None):
            return values.view(Tensor)
        total = values.sum(dtype=values.dtype)
        result = total if self.reduction == "sum" else total / values.size
        return np.asarray(result, dtype=values.dtype).view(Tensor)  # a scalar with TensorFlow's .numpy()

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        """Targets shaped like the output ``(m, units)``, in the output's float type.

        A vector of ``m`` labels for a one-unit output becomes a column, as Keras's
        ``squeeze_or_expand_to_same_rank`` does, instead of broadcasting to an ``(m, m)`` matrix.
        """
        if y.ndim == len(output_shape) - 1:
            y = y.reshape(y.shape + (1,))
        elif y.ndim == len(output_shape) + 1 and y.shape[-1] == 1:
            y = y.reshape(y.shape[:-1])
        if y.shape[1:] != tuple(output_shape[1:]):
            raise ValueError(
                f"{type(self).__name__}: targets y have shape {y.shape} but the model's output has shape "
                f"{('m',) + tuple(output_shape[1:])}; give one target row per example with "
                f"{output_shape[-1]} value(s)."
            )
        return y

    def check_targets(self, y: np.ndarray) -> None:
        """Refuse targets the loss cannot mean (e.g. labels outside [0, 1] for binary cross-entropy)."""

    # -- the training step's entry points: the batch's summed loss and its gradient together, so a loss
    #    can share work between the two (fit calls these once per batch; they must return a fresh gradient
    #    array, which the caller scales in place)
    def sum_and_grad(self, y: np.ndarray, p: np.ndarray) -> tuple[float, np.ndarray]:
        """``(sum_i L_i, dL_i/dp)`` for a batch of outputs ``p``."""
        return float(self.per_sample(y, p).sum()), self.grad(y, p)

    def sum_and_grad_logits(self, y: np.ndarray, z: np.ndarray, a: np.ndarray | None = None):
        """``(sum_i L_i, dL_i/dz)`` from logits ``z`` (``a``, if given, is ``sigmoid(z)`` or ``softmax(z)``)."""
        return float(self.per_sample_logits(y, z).sum()), self.grad_logits(y, z, a)


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


# --------------------------------------------------------------------------- cross-entropies with smoothing


class _SmoothedCrossentropy(Loss):
    """What binary and categorical cross-entropy share: ``from_logits``, ``label_smoothing`` and their config."""

    default_name = ""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ):
        super().__init__(reduction, name or self.default_name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy, the logistic loss of the course.

    ``L = -y log(p) - (1 - y) log(1 - p)`` with ``p`` clipped to ``[eps, 1 - eps]`` (eps = 1e-7).
    From logits ``z``: ``L = max(z, 0) - z y + log(1 + e^-|z|)``, with ``dL/dz = sigmoid(z) - y``.

    Parameters
    ----------
    from_logits : bool
        The model's output is ``z`` (a linear output layer) rather than a probability.
    label_smoothing : float
        Targets become ``y (1 - s) + s / 2``.
    """

    logits_activation = "sigmoid"
    formula = "L = -y log(f(x)) - (1 - y) log(1 - f(x))"

    default_name = "binary_crossentropy"

    def _smooth(self, y):
        s = self.label_smoothing
        return y * (1 - s) + 0.5 * s if s else y

    def per_sample(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        return -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(axis=-1)

    def grad(self, y, p):
        y = self._smooth(y)
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        inside = (p >= eps) & (p <= 1 - eps)  # the clip passes no gradient where it bites
        return (pc - y) / (pc * (1 - pc)) * inside / p.shape[-1]

    def per_sample_logits(self, y, z):
        y = self._smooth(y)
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=-1)

    def grad_logits(self, y, z, a=None):
        a = 1 / (1 + np.exp(-z)) if a is None else a
        return (a - self._smooth(y)) / z.shape[-1]

    def sum_and_grad_logits(self, y, z, a=None):
        # softplus(z) - z y = max(z, 0) - z y + log(1 + e^-|z|), in one ufunc: the hot path of the seeds' network
        y = self._smooth(y)
        units = z.shape[-1]
        values = np.logaddexp(z, backend.ZEROS[z.dtype])
        np.subtract(values, z * y, out=values)
        if a is None:
            a = 1 / (1 + np.exp(-z))
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


# --------------------------------------------------------------------------- categorical cross-entropies


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy for one-hot targets: ``L = -sum_j y_j log(p_j)``.

    Probabilities are renormalised to sum to 1 and clipped to ``[eps, 1 - eps]``. From logits ``z``:
    ``L = logsumexp(z) sum_j y_j - sum_j y_j z_j`` and ``dL/dz = softmax(z) sum_j y_j - y``.
    """

    logits_activation = "softmax"
    formula = "L = -sum_j y_j log(f(x)_j)"

    default_name = "categorical_crossentropy"

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
        return _logsumexp(z) * y.sum(axis=-1) - (y * z).sum(axis=-1)

    def grad_logits(self, y, z, a=None):
        y = self._smooth(y)
        a = _softmax(z) if a is None else a
        return a * y.sum(axis=-1, keepdims=True) - y

    def check_targets(self, y):
        if y.shape[-1] == 1:
            raise ValueError(
                "CategoricalCrossentropy: targets y have one column, but this loss expects one-hot rows "
                "(one column per class). For integer class labels use SparseCategoricalCrossentropy."
            )


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class labels ``y`` in ``[0, classes)``: ``L = -log(p_y)``.

    From logits ``z``: ``L = logsumexp(z) - z_y`` and ``dL/dz = softmax(z) - onehot(y)``.
    On probabilities Keras clips ``p`` to ``[eps, 1 - eps]`` and then takes the softmax
    cross-entropy of ``log(p)``, which renormalises ``p``; so does this.
    """

    logits_activation = "softmax"
    sparse = True
    formula = "L = -log(f(x)_y)"

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
    ):
        super().__init__(reduction, name)
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy(ignore_class=…) is not supported yet.")
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = axis

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
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ValueError(
                f"SparseCategoricalCrossentropy: labels must lie in [0, {classes}) for an output with {classes} "
                f"units; got labels from {y.min():g} to {y.max():g}. Make the output layer as wide as the "
                "number of classes, or relabel the classes from 0."
            )
        return y.astype(np.intp)

    def _pick(self, values, y):
        return np.take_along_axis(values, y[..., None], axis=-1)[..., 0]

    def per_sample(self, y, p):
        eps = backend.epsilon()
        lp = np.log(np.clip(p, eps, 1 - eps))
        return _logsumexp(lp) - self._pick(lp, y)

    def grad(self, y, p):
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        d_lp = pc / pc.sum(axis=-1, keepdims=True)
        np.put_along_axis(d_lp, y[..., None], self._pick(d_lp, y)[..., None] - 1, axis=-1)
        return d_lp / pc * ((p >= eps) & (p <= 1 - eps))

    def per_sample_logits(self, y, z):
        return _logsumexp(z) - self._pick(z, y)

    def grad_logits(self, y, z, a=None):
        dz = _softmax(z) if a is None else a.copy()
        np.put_along_axis(dz, y[..., None], self._pick(dz, y)[..., None] - 1, axis=-1)
        return dz

    def sum_and_grad_logits(self, y, z, a=None):
        if z.ndim != 2 or z.size == 0 or z.dtype not in (np.float32, np.float64):  # float16: row maxima
            return super().sum_and_grad_logits(y, z, a)
        # one exp for both: L = log(sum_j e^(z_j - c)) - (z_y - c), dL/dz = softmax(z) - onehot(y). The shift c
        # is the batch's largest logit, not each row's: NumPy reduces along a short row axis slowly (128 x 10:
        # 7 us for the row maxima, 20 us for the whole loss before, 13 after). Any shift is exact in exact
        # arithmetic; a row whose logits all lie far below c would lose precision to subnormals, so such a
        # batch is done again with row maxima.
        m, k = z.shape
        picks = y + self._row_starts(m, k)  # flat indices of z[i, y_i]
        shifted = np.subtract(z, np.maximum.reduce(z, axis=None))
        z_y = shifted.ravel().take(picks)
        e = np.exp(shifted, out=shifted)
        total = backend.dot(e, backend.ones(k, z.dtype))  # row sums through BLAS: cheaper than a reduction
        if np.minimum.reduce(total) < backend.SUBNORMAL_BOUND[z.dtype]:
            return self._sum_and_grad_row_max(y, z, a, picks)
        loss = float(np.add.reduce(np.log(total)) - np.add.reduce(z_y))
        if a is None:
            d = np.divide(e, total.reshape(m, 1), out=e)
        else:
            d = a.copy()
        d.ravel()[picks] -= 1
        return loss, d

    def _sum_and_grad_row_max(self, y, z, a, picks):
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = float(np.log(total).sum() - shifted.ravel().take(picks).sum())
        d = np.divide(e, total, out=e) if a is None else a.copy()
        d.ravel()[picks] -= 1
        return loss, d

    def _row_starts(self, m: int, k: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_row_start_cache", {})
        if (m, k) not in cache:
            cache[(m, k)] = np.arange(m, dtype=np.intp) * k
        return cache[(m, k)]

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }


# --------------------------------------------------------------------------- regression losses


class MeanSquaredError(Loss):
    """Squared error ``L = mean_j (p_j - y_j)^2``; ``dL/dp = 2 (p - y) / units``."""

    formula = "L = (f(x) - y)^2"

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error"):
        super().__init__(reduction, name)

    def per_sample(self, y, p):
        return np.square(p - y).mean(axis=-1)

    def grad(self, y, p):
        return (p - y) * (2 / p.shape[-1])


class MeanAbsoluteError(Loss):
    """Absolute error ``L = mean_j |p_j - y_j|``; ``dL/dp = sign(p - y) / units``."""

    formula = "L = |f(x) - y|"

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error"):
        super().__init__(reduction, name)

    def per_sample(self, y, p):
        return np.abs(p - y).mean(axis=-1)

    def grad(self, y, p):
        return np.sign(p - y) / p.shape[-1]


class Huber(Loss):
    """Huber loss: ``e^2 / 2`` for ``|e| <= delta``, else ``delta (|e| - delta / 2)``, with ``e = p - y``."""

    formula = "L = e^2/2 if |e| <= delta else delta (|e| - delta/2),  e = f(x) - y"

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size", name: str = "huber_loss"):
        super().__init__(reduction, name)
        self.delta = float(delta)

    def per_sample(self, y, p):
        e = np.abs(p - y)
        d = self.delta
        return np.where(e <= d, 0.5 * e * e, d * e - 0.5 * d * d).mean(axis=-1)

    def grad(self, y, p):
        e = p - y
        return np.clip(e, -self.delta, self.delta) / p.shape[-1]

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


# --------------------------------------------------------------------------- functions (per-example losses)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1):
    """Per-example binary cross-entropy (the mean over the last axis), as ``keras.losses.binary_crossentropy``."""
    return BinaryCrossentropy(from_logits, label_smoothing, reduction="none")(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1):
    return CategoricalCrossentropy(from_logits, label_smoothing, reduction="none")(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class=None, axis: int = -1):
    return SparseCategoricalCrossentropy(from_logits, ignore_class, reduction="none")(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    return MeanSquaredError(reduction="none")(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError(reduction="none")(y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0):
    return Huber(delta, reduction="none")(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_CLASSES = {
    c.__name__: c
    for c in (
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
    )
}
_NAMES = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    **_CLASSES,
}
_FUNCTIONS = {
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    huber: Huber,
}


def get(identifier) -> Loss:
    """Resolve a loss given as an object, a class, a Keras name (``'mse'``) or one of this module's functions."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _NAMES:
            return _NAMES[identifier]()
        close = difflib.get_close_matches(identifier, list(_NAMES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(k for k in _NAMES if k[0].islower()))
        raise ValueError(f"Unknown loss {identifier!r}.{hint} Known losses: {known}.")
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise ValueError(
        f"Cannot use {identifier!r} as a loss: gradfit needs the loss's gradient, so give a loss object "
        "(e.g. BinaryCrossentropy()), one of its names (e.g. 'binary_crossentropy', 'mse') or a function "
        "from gradfit.keras.losses."
    )
