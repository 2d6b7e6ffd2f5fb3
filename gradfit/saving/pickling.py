"""A model as in-memory ``.keras`` bytes and back: what ``pickle`` of a model uses (``copy.deepcopy`` copies objects).

Keras 3 pickles a model the same way (``Model.__reduce__`` saves it to an in-memory ``.keras`` archive):
the pickle holds the archive's bytes (config, weights and optimizer state) and nothing else of the model, so
unpickling rebuilds it through gradfit's safe loader (the same checks as ``load_model``) and never recreates
arbitrary Python objects from the model. Pickle itself is no safer for that: unpickle only what your own
processes wrote (``joblib`` moving estimators between workers, say). Model *files* stay pickle-free.

A model that cannot be written as a ``.keras`` file (a loss that is a Python function of the user's, say)
cannot be pickled either: :func:`model_to_bytes` raises a ``TypeError`` that names the part.
"""

from __future__ import annotations

import io
import warnings

from . import archive
from .json_io import dumps
from .serialize import keras_model_dict
from .weights import weights_h5_bytes

__all__ = ["model_from_bytes", "model_to_bytes"]


def model_to_bytes(model) -> bytes:
    """The ``.keras`` archive of ``model`` (config, compile settings, weights and optimizer state), in memory.

    An unbuilt model (no weights yet) and a compiled model that has not trained (no optimizer state yet) are
    written too; they come back unbuilt and compiled-but-untrained."""
    try:
        config_json = dumps(keras_model_dict(model))
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"cannot pickle the model {getattr(model, 'name', model)!r} (a model pickles as its .keras archive: "
            f"config, weights and optimizer state): {exc} Use only gradfit's own layers, activations, losses, "
            "metrics and optimizers (by name or object) in a model that is pickled, copied or cloned."
        ) from None
    metadata_json = dumps({"keras_version": archive.KERAS_FORMAT_VERSION, "gradfit_pickle": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the advice on an unbuilt model: nothing the user asked to save
        weights = weights_h5_bytes(model) if model.built else None
    buffer = io.BytesIO()
    if weights is None:
        import zipfile

        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(archive.METADATA_NAME, metadata_json)
            zf.writestr(archive.CONFIG_NAME, config_json)
    else:
        archive.write_archive(buffer, metadata_json, config_json, weights)
    return buffer.getvalue()


def model_from_bytes(data: bytes):
    """The model :func:`model_to_bytes` wrote, rebuilt through ``load_model``'s checks, compiled with its
    optimizer state when it was compiled."""
    from .. import backend
    from .api import load_model

    buffer = io.BytesIO(bytes(data))
    buffer.name = "<pickled model>"  # what an error names
    # building draws initial weights (then overwritten) from the global generator: unpickling must not move
    # the user's random stream
    generator = backend.rng()
    state = generator.bit_generator.state
    try:
        return load_model(buffer)
    finally:
        generator.bit_generator.state = state
