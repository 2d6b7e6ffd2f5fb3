"""The model methods that describe a model and save it: each forwards to the module that does the work
(``explain.py``, ``summary.py``, ``saving/``), kept apart from ``models.py``'s structure, weights and training."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import backend
from .layers.input_layer import InputLayer

if TYPE_CHECKING:
    from .models import Sequential

__all__ = ["DescribeAndSave"]


class DescribeAndSave:
    """Keras's ``explain`` / ``summary`` / ``get_config`` and saving methods of ``Sequential``."""

    def explain(self, print_fn=None) -> str:
        """Print (and return) the formulas of this model's forward pass, cost, backward pass and update."""
        from .explain import explain_text

        text = explain_text(self)
        (print_fn or print)(text)
        return text

    # ----------------------------------------------------------------- description
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
        from .summary import summary_text

        text = summary_text(self)
        (print_fn or print)(text)

    def get_config(self) -> dict:
        layers = []
        if self._layers and isinstance(self._layers[0], InputLayer):
            first = self._layers[0]
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": first.get_config(),
                    "registered_name": None,
                }
            )
        for layer in self.layers:
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": type(layer).__name__,
                    "config": layer.get_config(),
                    "registered_name": None,
                }
            )
        return {"name": self.name, "trainable": self.trainable, "dtype": backend.floatx(), "layers": layers}

    # ----------------------------------------------------------------- saving (Keras 3 formats: gradfit.saving)
    @classmethod
    def from_config(cls, config, custom_objects=None) -> Sequential:
        """The model ``get_config()`` describes, with fresh weights; only gradfit's own layers are built."""
        from .saving import model_from_config

        return model_from_config(config, custom_objects)

    def get_build_config(self) -> dict | None:
        return {"input_shape": list(self.input_shape)} if self.built else None

    def get_compile_config(self) -> dict | None:
        """Keras's ``compile_config``: the optimizer, loss and metrics given to ``compile`` (None if not compiled)."""
        from .saving import serialize_compile_config

        return serialize_compile_config(self)

    def to_json(self, **kwargs) -> str:
        """The model's config, build and compile settings as Keras's JSON (``model_from_json`` reads it back)."""
        from .saving import model_to_json

        return model_to_json(self, **kwargs)

    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Save config, weights and optimizer state as a Keras 3 ``.keras`` file (Keras 3 loads it too)."""
        from .saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Save the weights (and optimizer state) as Keras's ``.weights.h5`` file."""
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False, **kwargs) -> None:
        """Load weights from a ``.weights.h5`` file or a ``.keras`` archive; on any error nothing is changed."""
        from .saving import load_weights

        if kwargs:
            raise TypeError(f"load_weights: unexpected arguments {sorted(kwargs)}.")
        load_weights(self, filepath, skip_mismatch=skip_mismatch)
