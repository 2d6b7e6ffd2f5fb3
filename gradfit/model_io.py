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
    def summary(
        self,
        line_length: int | None = None,
        positions=None,
        print_fn=None,
        expand_nested: bool = False,
        show_trainable: bool = False,
        layer_range=None,
    ) -> None:
        """Print Keras 3's table of the layers, their output shapes and parameter counts, and the totals.

        ``line_length`` defaults to Keras's ``min(88, terminal columns - 4)`` (76 in a pipe or Jupyter);
        ``positions`` are where the columns end, as fractions of the line (default ``[0.45, 0.80, 1.0]``);
        ``show_trainable`` adds a ``Trainable`` column (Y / N / - for a layer without weights); ``layer_range``
        (two names or regular expressions) shows only the layers from the first to the second.
        ``print_fn`` gets the whole text at once, ending in a newline, as Keras hands it over.
        ``expand_nested`` is accepted and changes nothing: it only expands nested models, and a gradfit model holds
        none (every layer is one of gradfit's own)."""
        from .summary import summary_text

        # expand_nested only shows the layers of nested models: a Sequential of gradfit's layers has none
        self._name_layer_weights()  # the weights' paths carry the model's name from now on, as in Keras
        text = summary_text(
            self, line_length=line_length, positions=positions, show_trainable=show_trainable, layer_range=layer_range
        )
        if print_fn is None:
            print(text)
        else:
            print_fn(text + "\n")

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

    def __reduce__(self):
        """``pickle`` as in Keras 3: the model travels as in-memory ``.keras`` bytes
        (config, weights, optimizer state) and is rebuilt through the safe loader (``saving/pickling.py``)."""
        from .saving.pickling import model_from_bytes, model_to_bytes

        return (model_from_bytes, (model_to_bytes(self),))

    def __deepcopy__(self, memo):
        """``copy.deepcopy`` copies the object graph itself (weights, optimizer slots and custom parts bit for bit),
        not through the ``.keras`` bytes that pickling uses: a copy needs no file format, and a model with a loss
        or activation of the user's copies as well."""
        import copy

        cls = type(self)
        duplicate = cls.__new__(cls)
        memo[id(self)] = duplicate
        for key, value in self.__dict__.items():
            duplicate.__dict__[key] = copy.deepcopy(value, memo)
        return duplicate

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

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs) -> None:
        """Export the inference pass for serving, as Keras's ``Model.export``: ``format="onnx"`` (the one format
        gradfit writes; Keras's default ``"tf_saved_model"`` and its other formats need TensorFlow, OpenVINO or
        PyTorch and are refused) writes an ONNX graph (float32, opset 17 unless ``opset_version=`` says
        otherwise) that ONNX Runtime serves. ``verbose`` (None: True) prints where it was saved;
        ``input_signature`` fixes the input's shape, dtype (float32) and name. Needs ``pip install
        "gradfit[onnx]"``. See :mod:`gradfit.export.onnx`."""
        from .export import export_model

        export_model(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)
