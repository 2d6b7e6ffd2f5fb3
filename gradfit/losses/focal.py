"""Binary focal cross-entropy (Lin et al., 2018): binary cross-entropy with easy examples down-weighted."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..schema import Bool, Choice, Number
from .base import Loss, loss_schema, register, sigmoid

__all__ = ["BinaryFocalCrossentropy", "binary_focal_crossentropy"]


@register("binary_focal_crossentropy")
class BinaryFocalCrossentropy(Loss):
    """``L = mean_j w (1 - p_t)^gamma BCE(y, p)``, with ``p_t = y p + (1 - y)(1 - p)`` (the probability given
    to the true class) and ``w = alpha y + (1 - alpha)(1 - y)`` if ``apply_class_balancing``, else 1.

    As in Keras on TensorFlow: the cross-entropy factor is computed from the logits ``z`` whenever they are
    known (``from_logits=True``, or a sigmoid output layer), exactly; otherwise from ``p`` clipped to
    ``[eps, 1 - eps]``. The focal factor always uses the unclipped ``p = sigmoid(z)``.
    With ``s = 2 y - 1`` (so ``dp_t/dp = s``) the gradient is
    ``dL/dp = w [-gamma (1 - p_t)^(gamma - 1) s BCE + (1 - p_t)^gamma dBCE/dp] / units``, and from logits
    ``dp/dz = p (1 - p)``, ``dBCE/dz = p - y``.

    Parameters
    ----------
    apply_class_balancing : bool
    alpha : float
        Weight of class 1 when balancing (class 0 gets ``1 - alpha``).
    gamma : float
        Focusing parameter: 0 gives binary cross-entropy.
    from_logits : bool
    label_smoothing : float
        Targets become ``y (1 - s) + s / 2``.
    """

    logits_activation = "sigmoid"
    reads = "probabilities"
    formula = "L = (1 - p_t)^gamma (-y log(f(x)) - (1 - y) log(1 - f(x))),  p_t = y f(x) + (1 - y)(1 - f(x))"
    dz_formula = "w ((1 - p_t)^gamma (f(X) - y) - gamma (1 - p_t)^(gamma-1) (2y - 1) f(X) (1 - f(X)) BCE) / m"
    config_schema = loss_schema(
        "binary_focal_crossentropy",
        {
            "apply_class_balancing": Bool(False),
            "alpha": Number(0.25, lo=0.0, hi=1.0),
            "gamma": Number(2.0, lo=0.0),
            "from_logits": Bool(False),
            "label_smoothing": Number(0.0, lo=0.0, hi=1.0),
            "axis": Choice(-1, default=-1),
        },
    )

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "binary_focal_crossentropy",
    ):
        self._configure(
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
            reduction=reduction,
            name=name,
        )

    def _smooth(self, y):
        s = self.label_smoothing
        return y * (1 - s) + 0.5 * s if s else y

    def _weight(self, y):
        """The class-balancing weight ``w`` (1 without balancing)."""
        return y * self.alpha + (1 - y) * (1 - self.alpha) if self.apply_class_balancing else 1

    def _focal(self, y, p):
        """``(1 - p_t)^gamma`` and its derivative with respect to ``p``."""
        q = 1 - (y * p + (1 - y) * (1 - p))  # 1 - p_t
        g = self.gamma
        if g == 0:  # plain cross-entropy: no focal factor, and no 0 * inf where q = 0
            return 1, 0
        return q**g, -g * q ** (g - 1) * (2 * y - 1)

    # on probabilities
    def _bce(self, y, p):
        eps = backend.epsilon()
        pc = np.clip(p, eps, 1 - eps)
        value = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        slope = (pc - y) / (pc * (1 - pc)) * ((p >= eps) & (p <= 1 - eps))  # the clip passes no gradient
        return value, slope

    def per_sample(self, y, p):
        y = self._smooth(y)
        f, _ = self._focal(y, p)
        return (self._weight(y) * f * self._bce(y, p)[0]).mean(axis=-1)

    def grad(self, y, p):
        y = self._smooth(y)
        f, df = self._focal(y, p)
        bce, dbce = self._bce(y, p)
        return self._weight(y) * (df * bce + f * dbce) / p.shape[-1]

    # on logits: the cross-entropy exactly, softplus(z) - y z
    def per_sample_logits(self, y, z):
        y = self._smooth(y)
        f, _ = self._focal(y, sigmoid(z))
        bce = np.logaddexp(z, 0) - y * z
        return (self._weight(y) * f * bce).mean(axis=-1)

    def grad_logits(self, y, z, a=None):
        y = self._smooth(y)
        p = sigmoid(z) if a is None else a
        f, df = self._focal(y, p)
        bce = np.logaddexp(z, 0) - y * z
        return self._weight(y) * (df * p * (1 - p) * bce + f * (p - y)) / z.shape[-1]


binary_focal_crossentropy = BinaryFocalCrossentropy.function
