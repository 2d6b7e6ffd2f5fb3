"""``GaussianNoise`` and ``GaussianDropout``: random noise while training, nothing at inference (as Keras 3)."""

from __future__ import annotations

import math

import numpy as np

from .. import backend, registry
from ..schema import Int, Number, Optional, Schema
from .base import Layer

__all__ = ["GaussianDropout", "GaussianNoise"]


class _NoiseLayer(Layer):
    """What the two layers share: a seed (their own stream, or the global one), Keras's config, inference = identity."""

    def _generator(self) -> np.random.Generator:
        # a seed gives the layer its own stream; without one the draws come from the generator that
        # gradfit.keras.utils.set_random_seed seeds, as Dropout's masks do
        if self.seed is None:
            return backend.rng()
        if self._rng is None:
            self._rng = np.random.default_rng(int(self.seed))
        return self._rng

    def _normal(self, shape: tuple, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        rng = self._generator()
        if dtype in (np.float32, np.float64):
            return rng.standard_normal(shape, dtype=dtype)
        return rng.standard_normal(shape).astype(dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@registry.LAYERS.register()
class GaussianNoise(_NoiseLayer):
    """Adds zero-mean Gaussian noise while training: ``y = x + stddev * n``, ``n ~ N(0, 1)`` drawn afresh for
    every entry of every batch; ``y = x`` at inference (``predict``, ``evaluate``).

    Backward: the noise does not depend on ``x``, so ``dJ/dx = dJ/dy``.

    Parameters
    ----------
    stddev : float in [0, 1]
        Standard deviation of the noise (Keras refuses values outside [0, 1]).
    seed : int, optional
        Gives the layer its own random stream; without it the noise comes from the global generator.
    """

    config_schema = Schema({"stddev": Number(lo=0, hi=1), "seed": Optional(Int())}, base=Layer.config_schema)

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        checked = self.config_schema.check("GaussianNoise", {"stddev": stddev, "seed": seed})
        self.stddev, self.seed = checked["stddev"], checked["seed"]
        self._stddev = float(self.stddev)
        self._rng: np.random.Generator | None = None

    def forward(self, x, training=False):
        if not training or self._stddev == 0:
            return x
        noise = self._normal(x.shape, x.dtype)
        noise *= x.dtype.type(self._stddev)
        return x + noise

    def backward(self, dy):
        return None if self.skip_input_grad else dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}

    def describe(self, inp: str, out: str, index: int) -> dict:
        return {
            "forward": [
                f"{out} = {inp} + {self._stddev:g} n while training (n ~ N(0, 1) per entry); {out} = {inp} otherwise"
            ],
            "backward": [f"d{inp} = d{out}"],
            "weights": [],
        }


@registry.LAYERS.register()
class GaussianDropout(_NoiseLayer):
    """Multiplies by 1-centred Gaussian noise while training: ``y = x * n``, ``n ~ N(1, rate / (1 - rate))``
    (standard deviation ``sqrt(rate / (1 - rate))``, the variance of ``Dropout(rate)``'s mask) drawn for every
    entry of every batch; ``y = x`` at inference.

    Backward uses the same draw: ``dJ/dx = dJ/dy * n``.

    Parameters
    ----------
    rate : float in [0, 1]
        As for ``Dropout``. Keras accepts ``rate=1``, whose noise has an infinite spread: training then fails.
    seed : int, optional
        Gives the layer its own random stream; without it the noise comes from the global generator.
    """

    config_schema = Schema({"rate": Number(lo=0, hi=1), "seed": Optional(Int())}, base=Layer.config_schema)

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        checked = self.config_schema.check("GaussianDropout", {"rate": rate, "seed": seed})
        self.rate, self.seed = checked["rate"], checked["seed"]
        self._rate = float(self.rate)
        self._rng: np.random.Generator | None = None
        self._noise: np.ndarray | None = None  # the last training draw, which the backward pass reuses

    def forward(self, x, training=False):
        if not training or self._rate == 0:
            self._noise = None
            return x
        if self._rate == 1:
            raise ValueError(
                f"GaussianDropout {self.name!r}: rate=1 makes the noise's standard deviation sqrt(rate / (1 - rate)) "
                "infinite; use a rate below 1."
            )
        noise = self._normal(x.shape, x.dtype)
        noise *= x.dtype.type(math.sqrt(self._rate / (1.0 - self._rate)))
        noise += x.dtype.type(1)
        self._noise = noise
        return x * noise

    def backward(self, dy):
        if self.skip_input_grad:
            return None
        return dy if self._noise is None else dy * self._noise

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    def describe(self, inp: str, out: str, index: int) -> dict:
        var = f"{self._rate / (1 - self._rate):g}" if self._rate < 1 else "inf"
        return {
            "forward": [f"{out} = {inp} * n while training (n ~ N(1, {var}) per entry); {out} = {inp} otherwise"],
            "backward": [f"d{inp} = d{out} * n"],
            "weights": [],
        }
