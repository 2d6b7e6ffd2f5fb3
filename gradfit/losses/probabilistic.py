"""Losses between distributions and counts: Kullback-Leibler divergence and Poisson."""

from __future__ import annotations

import numpy as np

from .. import backend
from .base import Loss, loss_schema, register

__all__ = ["KLDivergence", "Poisson", "kl_divergence", "poisson"]


# "kullback_leibler_divergence": the name Keras 2 (tf.keras) used, kept by Keras 3 as a legacy alias
@register("kl_divergence", aliases=("kld", "KLD", "kullback_leibler_divergence"))
class KLDivergence(Loss):
    """Kullback-Leibler divergence of the prediction from the target distribution:
    ``L = sum_j y_j log(y_j / p_j)`` (a sum over the units, not a mean), with ``y`` and ``p`` clipped to
    ``[eps, 1]`` as Keras does; ``dL/dp_j = -y_j / p_j`` where ``p_j`` lies inside the clip, else 0.

    For one-hot targets it equals the categorical cross-entropy (up to the clipping); unlike it, Keras never
    computes it from a softmax's logits, so neither does gradfit.
    """

    reads = "probabilities"
    formula = "L = sum_j y_j log(y_j / f(x)_j)"
    config_schema = loss_schema("kl_divergence")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "kl_divergence"):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        eps = backend.epsilon()
        yc, pc = np.clip(y, eps, 1), np.clip(p, eps, 1)
        return (yc * np.log(yc / pc)).sum(axis=-1)

    def grad(self, y, p):
        eps = backend.epsilon()
        yc, pc = np.clip(y, eps, 1), np.clip(p, eps, 1)
        return -yc / pc * ((p >= eps) & (p <= 1))  # the clip passes no gradient where it bites


@register("poisson")
class Poisson(Loss):
    """Poisson loss, the negative log-likelihood of counts ``y`` with rates ``p`` (up to a constant):
    ``L = mean_j (p_j - y_j log(p_j + eps))``; ``dL/dp = (1 - y / (p + eps)) / units``.

    The rates must be positive: use an output activation such as ``'exponential'`` or ``'softplus'``.
    """

    formula = "L = f(x) - y log(f(x))"
    config_schema = loss_schema("poisson")

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "poisson"):
        self._configure(reduction=reduction, name=name)

    def per_sample(self, y, p):
        return (p - y * np.log(p + backend.epsilon())).mean(axis=-1)

    def grad(self, y, p):
        return (1 - y / (p + backend.epsilon())) / p.shape[-1]


kl_divergence = KLDivergence.function
poisson = Poisson.function
