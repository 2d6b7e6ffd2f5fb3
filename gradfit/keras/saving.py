"""``tf.keras.saving``: Keras 3's file formats, read without ever running code named by a file."""

from ..saving import ModelFileError, load_model, load_weights, save_model, save_weights

__all__ = ["ModelFileError", "load_model", "load_weights", "save_model", "save_weights"]
