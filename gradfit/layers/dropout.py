"""``Dropout``: switch off a random share of the units while training (inverted dropout, as Keras)."""

from __future__ import annotations

import numpy as np

from .. import backend, registry
from ..schema import Int, Number, Optional, Schema, Shape
from .base import Layer


@registry.LAYERS.register()
class Dropout(Layer):
    """Inverted dropout: ``y = x * mask / (1 - rate)`` while training, ``y = x`` otherwise.

    While training (``fit``, or calling the layer with ``training=True``), each unit is kept with
    probability ``1 - rate`` (``mask = [u >= rate]`` with ``u`` uniform in ``[0, 1)``) and the kept units are
    scaled by ``1 / (1 - rate)``, so the expected value of every unit is unchanged and nothing needs
    rescaling at inference. ``predict``, ``evaluate`` and ``compute_gradients`` pass ``x`` through unchanged.

    Backward uses the same mask as the forward pass: ``dJ/dx = dJ/dy * mask / (1 - rate)``.

    Parameters
    ----------
    rate : float in [0, 1]
        The share of units dropped. ``rate=0`` keeps everything; ``rate=1`` (allowed by Keras) zeros the output.
    noise_shape : tuple of int or None, optional
        Shape of the mask, broadcast over the input; ``None`` entries take the input's size. For inputs
        ``(batch, timesteps, features)``, ``noise_shape=(None, 1, None)`` drops the same features at every step.
    seed : int, optional
        Gives this layer its own random stream; without it the masks come from the global generator that
        ``gradfit.keras.utils.set_random_seed`` seeds.
    """

    config_schema = Schema(
        {
            "rate": Number(lo=0, hi=1).explained(
                "rate is the fraction of units to drop, e.g. Dropout(0.2) drops 20% of the units while training"
            ),
            "noise_shape": Optional(Shape(batch=False)).explained(
                "a tuple of positive integers or None, one per input axis"
            ),
            "seed": Optional(Int()),
        },
        base=Layer.config_schema,
    )

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        own = {"rate": rate, "noise_shape": noise_shape, "seed": seed}
        c, kwargs = self.config_schema.check_with_base(type(self).__name__, own, kwargs)
        super().__init__(**kwargs)
        self.rate = c["rate"]
        self.seed = seed = c["seed"]
        self.noise_shape = c["noise_shape"]
        self._rng = None if seed is None else np.random.default_rng(int(seed))
        self._mask: np.ndarray | None = None  # mask / (1 - rate) of the last training forward pass

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        if self.rate == 1:
            self._mask = np.zeros((1,) * x.ndim, dtype=x.dtype)
            return np.zeros_like(x)
        shape = self._mask_shape(x.shape)
        rng = self._rng if self._rng is not None else backend.rng()
        keep = rng.random(shape) >= self.rate
        scale = x.dtype.type(1 / (1 - self.rate))  # TensorFlow: x * cast(1 / keep_prob) * cast(mask)
        self._mask = keep.astype(x.dtype) * scale
        return x * self._mask

    def backward(self, dy):
        if self.skip_input_grad:
            return None
        return dy if self._mask is None else dy * self._mask

    def _mask_shape(self, shape: tuple) -> tuple:
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape {self.noise_shape} has {len(self.noise_shape)} dimensions but "
                f"the input has {len(shape)} (shape {shape})."
            )
        out = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        if any(n != 1 and n != s for n, s in zip(out, shape)):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not broadcast to the input shape "
                f"{shape}; each entry must be None, 1 or the input's size."
            )
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def describe(self, inp: str, out: str, index: int) -> dict:
        keep = f"mask = [u >= {self.rate:g}], u uniform in [0, 1)"
        return {
            "forward": [f"{out} = {inp} * mask / (1 - {self.rate:g}) while training ({keep}); {out} = {inp} otherwise"],
            "backward": [f"d{inp} = d{out} * mask / (1 - {self.rate:g})"],
            "weights": [],
        }

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
        }
