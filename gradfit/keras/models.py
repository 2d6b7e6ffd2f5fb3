"""``tf.keras.models``."""

from ..models import Sequential
from ..saving import load_model, model_from_json, save_model

__all__ = ["Sequential", "load_model", "model_from_json", "save_model"]
