"""The public entry points: ``load_model``, ``save_model``, ``load_weights``, ``save_weights`` and the config
and JSON forms. Each one is the same three steps: check the file (``archive``, ``h5``, ``json_io``), plan the
model from its config (``config``), then build it and assign the checked values (``weights``)."""

from __future__ import annotations

import os
import warnings

from ..schema import ModelFileError, fail
from . import archive
from . import config as plans
from .h5 import H5, open_h5
from .json_io import dumps, loads
from .serialize import keras_model_dict
from .weights import assign, read_weights, weights_h5_bytes

#: a config read without weights (``model_from_json``, ``from_config``) may declare at most this many parameters
MAX_PARAMS_WITHOUT_WEIGHTS = 1 << 27


def _path_and_where(filepath):
    if hasattr(filepath, "read"):
        return filepath, getattr(filepath, "name", "<file object>")
    path = os.fspath(filepath)
    return path, os.path.basename(str(path))


def _weights_bytes(zf, members, plan: plans.ModelPlan, where: str) -> bytes:
    info = members[archive.WEIGHTS_NAME]
    limit = archive.check_weights_size(info.file_size, plan.counts(), len(plan.weighted), where)
    return archive.read_member(zf, info, limit, where)


def _plan(config, where: str, inner: bool = False) -> plans.ModelPlan:
    """The checked plan of a config; a config nested deeper than Python's recursion allows is refused too (every
    nesting gradfit reads is bounded by its schemas; this is the net under them)."""
    try:
        return plans.plan_from_config(config, where) if inner else plans.plan_from_serialized(config, where)
    except RecursionError:
        fail(where, "nested too deeply")


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a Keras 3 ``.keras`` file (written by gradfit or by Keras 3) as a gradfit ``Sequential`` model.

    Every layer, activation, initializer, regularizer, loss, metric, optimizer and schedule gradfit has can
    be read; anything else is refused with a :class:`ModelFileError` naming it, and nothing named by the
    file is ever imported or run. With ``compile=True`` the model comes back compiled with its optimizer
    state, so ``fit`` continues where it stopped.

    ``custom_objects`` is not supported (gradfit never loads code from outside itself); ``safe_mode`` is
    accepted for compatibility and has no effect: loading is always safe.
    """
    if custom_objects:
        raise ValueError("load_model: gradfit never loads custom objects (custom_objects must be None).")
    source, where = _path_and_where(filepath)
    if not hasattr(source, "read"):
        name = str(source)
        if name.endswith((".h5", ".hdf5")) and not name.endswith(".weights.h5"):
            raise ModelFileError(
                f"{where}: legacy HDF5 model files are not supported by gradfit; open it in Keras and save it "
                "again with model.save('model.keras')."
            )
        if not name.endswith(".keras"):
            raise ValueError(
                f"File format not supported: filepath={name}. gradfit loads Keras 3 `.keras` files "
                f"(model.weights.h5 files go to model.load_weights)."
            )
        if os.path.isdir(name):
            raise ModelFileError(f"{where}: is a folder; unzipped Keras models are not supported.")
    zf, members = archive.open_archive(source, where)
    config_where = f"{where}: {archive.CONFIG_NAME}"
    with zf:
        text = archive.read_member(zf, members[archive.CONFIG_NAME], archive.MAX_CONFIG_BYTES, where)
        plan = _plan(loads(text, config_where), config_where)
        if not compile:
            plan.compile = None
        if archive.WEIGHTS_NAME not in members:
            if plan.counts()[0]:
                fail(where, f"the archive has no {archive.WEIGHTS_NAME}")
            layer_values, opt_state = [], None
        else:
            h5_where = f"{where}: {archive.WEIGHTS_NAME}"
            with open_h5(_weights_bytes(zf, members, plan, where), h5_where) as h5file:
                opt = plan.compile["optimizer"] if plan.compile else None
                layer_values, opt_state = read_weights(H5(h5file, h5_where), plan, opt)
    model = plans.build(plan, where)
    if plan.compile is not None:
        plans.compile_model(model, plan)
    assign(model, layer_values, opt_state)
    return model


def model_from_config(config, custom_objects=None):
    """A Sequential model from Keras's serialized form (``{"class_name": "Sequential", "config": …}``) or from
    the inner config ``{"name": …, "layers": [...]}`` that ``model.get_config()`` returns."""
    if custom_objects:
        raise ValueError("gradfit never loads custom objects (custom_objects must be None).")
    if isinstance(config, dict) and "class_name" in config:
        plan = _plan(config, "config")
    else:
        plan = _plan(config, "config", inner=True)
    n = plan.counts()[1]
    if n > MAX_PARAMS_WITHOUT_WEIGHTS:
        fail("config", f"declares {n} parameters, more than the {MAX_PARAMS_WITHOUT_WEIGHTS} a config alone may")
    model = plans.build(plan, "config")
    if plan.compile is not None:
        plans.compile_model(model, plan)
    return model


def model_from_json(json_string, custom_objects=None):
    """The model described by ``model.to_json()`` (or Keras's), compiled when the JSON says how; weights fresh."""
    return model_from_config(loads(json_string, "JSON"), custom_objects)


def model_to_json(model, **kwargs) -> str:
    """``model.to_json()``: the serialized model (config, build and compile settings) as JSON text."""
    return dumps(keras_model_dict(model), **kwargs)


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights (and optimizer state) from a ``.weights.h5`` file or a ``.keras`` archive into ``model``.

    Every array is checked against the model before any is assigned: on error the model is unchanged.
    """
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building the model first by "
            "calling it on some data or by using `build()`."
        )
    if hasattr(filepath, "read"):
        raise TypeError("load_weights: give the path of a `.weights.h5` or `.keras` file.")
    source, where = _path_and_where(filepath)
    name = str(source)
    plan = plans.plan_for_model(model)
    opt = model.optimizer if getattr(model, "compiled", False) else None
    if name.endswith(".keras"):
        zf, members = archive.open_archive(source, where)
        with zf:
            if archive.WEIGHTS_NAME not in members:
                fail(where, f"the archive has no {archive.WEIGHTS_NAME}")
            data = _weights_bytes(zf, members, plan, where)
        h5file = open_h5(data, f"{where}: {archive.WEIGHTS_NAME}")
    elif name.endswith(".weights.h5"):
        h5file = open_h5(source, where)
    elif name.endswith(".npz"):
        raise ModelFileError(f"{where}: .npz weight files may hold pickled Python objects; gradfit never reads them.")
    elif name.endswith((".h5", ".hdf5")):
        raise ModelFileError(f"{where}: legacy HDF5 weight files are not supported; gradfit reads `.weights.h5`.")
    elif name.endswith(".weights.json"):
        raise NotImplementedError(f"{where}: sharded weight files are not supported by gradfit.")
    else:
        raise ValueError(
            f"File format not supported: filepath={name}. Keras 3 weight files end in `.weights.h5` (or load "
            "them from a `.keras` archive)."
        )
    with h5file:
        layer_values, opt_state = read_weights(H5(h5file, where), plan, opt, skip_mismatch)
    assign(model, layer_values, opt_state)


# ------------------------------------------------------------------------------------------- writing


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` archive (config, weights and optimizer state) that Keras 3 loads.

    The file is written to a temporary file in the same folder and renamed over ``filepath`` once complete.
    """
    import datetime

    if kwargs:
        raise TypeError(f"save_model: unexpected arguments {sorted(kwargs)}.")
    if zipped is False:
        raise ValueError("save_model: gradfit writes only zipped .keras archives (zipped=False is not supported).")
    path = os.fspath(filepath)
    if not str(path).endswith(".keras"):
        hint = " (legacy .h5 model files are not written by gradfit)" if str(path).endswith((".h5", ".hdf5")) else ""
        raise ValueError(
            f"Invalid filepath extension for saving{hint}. Please add the `.keras` extension, e.g. "
            f"model.save('model.keras'). Received: filepath={path}"
        )
    archive.check_overwrite(path, overwrite)
    if not model.built:
        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any weights yet. Consider "
            "building the model first by calling it on some data.",
            stacklevel=3,
        )
    config_json = dumps(keras_model_dict(model))
    metadata_json = dumps(
        {
            "keras_version": archive.KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "gradfit_version": _gradfit_version(),
        }
    )
    weights = weights_h5_bytes(model)
    archive.atomic_write(path, lambda f: archive.write_archive(f, metadata_json, config_json, weights))


def _gradfit_version() -> str:
    from .. import __version__

    return __version__


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """Save the model's weights (and optimizer state) as Keras's ``.weights.h5`` file."""
    path = os.fspath(filepath)
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: sharded weight files (max_shard_size) are not supported by gradfit.")
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model first by calling it on "
            "some data or by using `build()`."
        )
    archive.check_overwrite(path, overwrite)
    data = weights_h5_bytes(model)
    archive.atomic_write(path, lambda f: f.write(data))
