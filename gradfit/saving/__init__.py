"""Save and load models in Keras 3's own file formats, without ever running code named by a file.

Files written here are the ones Keras 3 writes, so ``keras.saving.load_model`` opens them, and Keras's
``.keras`` files open here:

* ``model.save('m.keras')``: a zip archive holding ``metadata.json``, ``config.json`` (Keras's schema:
  ``{"module": "keras", "class_name": "Sequential", "config": {...}, "build_config": ..., "compile_config": ...}``)
  and ``model.weights.h5``, an HDF5 file with one group per layer (``layers/dense/vars/0`` is the first
  ``Dense`` layer's kernel, ``layers/dense_1/vars/1`` the second one's bias) and the optimizer's state
  (``optimizer/vars/0`` the step count, ``vars/1`` the learning rate, then its slots), so training resumes
  where it stopped;
* ``model.save_weights('w.weights.h5')`` / ``model.load_weights(...)``: the same HDF5 file alone;
* ``model.to_json()`` / ``model_from_json(...)``, ``get_config()`` / ``from_config(...)``: the config alone.

Loading is safe by construction, whatever the file holds:

* nothing named in a file is ever imported or called: configs are read against the registries of gradfit's
  own layers, activations, initializers, regularizers, losses, metrics, optimizers and schedules, and
  anything else (``Lambda``, a function reference, a module path, an unknown class or setting) is refused
  with a :class:`ModelFileError` naming it;
* no pickle anywhere (``.npz`` weights, which may hold pickles, are refused unread);
* zip members are checked by name (no paths, no ``../``), compression method and size before a byte is
  read; the weights member may not be much larger than the parameters its config declares, and reads are
  capped whatever the zip headers claim, so a member that inflates to gigabytes fails fast in little memory;
* every weight's shape and dtype is checked against the config (HDF5 links, external storage and
  compression filters refused), and its values too (NaN, infinity, or a float64 number beyond the model's
  float32 range, which the cast would make infinite), before any model is built or any weight assigned, so a
  bad file leaves no half-loaded model; names that are not UTF-8 text are refused by name;
* every size a config asks for is bounded before anything is allocated (the weights it declares, the values
  per example at each layer, the parameters of a config read without weights), and a model read from a file
  draws its initial weights straight into its parameter vector (its weights' size once, not twice);
* writes go to a temporary file in the target's folder, renamed over the target once complete.

One concern per module: ``archive`` (the zip: members, sizes, compression, atomic writes), ``h5`` (HDF5
read defensively), ``json_io`` (strict JSON), ``config`` (the checked plan of a model, from the registries and
each class's ``config_schema``), ``serialize`` (configs written), ``optimizer_state`` (Keras's optimizer
variables), ``weights`` (the weights file's layout) and ``api`` (the entry points below).
"""

from __future__ import annotations

from ..schema import ModelFileError
from .api import (
    MAX_PARAMS_WITHOUT_WEIGHTS,
    load_model,
    load_weights,
    model_from_config,
    model_from_json,
    model_to_json,
    save_model,
    save_weights,
)
from .archive import KERAS_FORMAT_VERSION
from .config import keras_layer_paths, layer_from_entry, supported_layers
from .serialize import serialize_compile_config

__all__ = [
    "KERAS_FORMAT_VERSION",
    "MAX_PARAMS_WITHOUT_WEIGHTS",
    "ModelFileError",
    "keras_layer_paths",
    "layer_from_entry",
    "load_model",
    "load_weights",
    "model_from_config",
    "model_from_json",
    "model_to_json",
    "save_model",
    "save_weights",
    "serialize_compile_config",
    "supported_layers",
]
