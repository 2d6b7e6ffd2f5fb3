"""``tf.keras.models``."""

from ..models import Sequential

__all__ = ["Sequential"]
