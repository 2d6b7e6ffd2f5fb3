"""Writing configs: the model as Keras serializes it (``config.json``, ``to_json``) and its ``compile_config``.

Every object is written under the name and module its registry gives it; an object no registry knows (a
user's own loss class, say) cannot be written in a form gradfit would load back, so it is refused at save
time rather than when someone opens the file.
"""

from __future__ import annotations

from .. import registry
from ..schema import ModelFileError
from . import config as plans
from .json_io import dumps, loads


def _serialized(obj, reg: registry.Registry, what: str) -> dict:
    entry = reg.entry(type(obj))
    if entry is None:
        raise ValueError(f"Cannot save the {what} {obj!r}: only gradfit's registered {reg.plural} can be saved.")
    return {"module": entry.module, "class_name": entry.name, "config": obj.get_config(), "registered_name": None}


def _loss_entry(loss):
    from ..losses import Loss

    if isinstance(loss, type) and issubclass(loss, Loss):
        loss = loss()
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Loss):
        return _serialized(loss, registry.LOSSES, "loss")
    entry = registry.LOSSES.entry(getattr(loss, "__name__", None))
    if entry is not None and getattr(entry.obj, "function", None) is loss:  # a Keras function form
        return {"module": "builtins", "class_name": "function", "config": loss.__name__, "registered_name": "function"}
    raise ValueError(f"Cannot save the loss {loss!r}: give compile() a loss name or a gradfit loss object.")


def _metric_entry(m):
    from ..metrics import Metric

    if isinstance(m, type) and issubclass(m, Metric):
        m = m()
    if isinstance(m, Metric):
        return _serialized(m, registry.METRICS, "metric")
    if isinstance(m, str):
        return m
    raise ValueError(f"Cannot save the metric {m!r}: give compile() metric names or gradfit metric objects.")


def serialize_compile_config(model) -> dict | None:
    """Keras's ``compile_config`` of a compiled model: optimizer, loss and metrics as given to ``compile``."""
    if not getattr(model, "compiled", False):
        return None
    metrics = [_metric_entry(m) for m in model._metric_ids]
    return {
        "optimizer": _serialized(model.optimizer, registry.OPTIMIZERS, "optimizer"),
        "loss": _loss_entry(model.loss),
        "loss_weights": None,
        "metrics": metrics or None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def keras_model_dict(model, include_compile: bool = True) -> dict:
    """The model as Keras serializes it (``config.json`` and ``to_json``), checked to load back in gradfit."""
    from ..layers.input_layer import InputLayer

    config = model.get_config()
    entries = []
    for entry, layer in zip(config["layers"], model._layers):
        entry, layer_config = dict(entry), dict(entry["config"])
        shape = layer_config.get("batch_input_shape")
        if shape is not None and shape[0] is None:  # Keras 3 reads input_shape=…, not batch_input_shape
            layer_config["input_shape"] = list(layer_config.pop("batch_input_shape")[1:])
        entry["config"] = layer_config
        if not isinstance(layer, InputLayer) and layer.built and layer.input_shape is not None:
            entry["build_config"] = {"input_shape": list(layer.input_shape)}
        entries.append(entry)
    config = {**config, "layers": entries}
    if model.built:
        config["build_input_shape"] = list(model.input_shape)
    out = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if model.built:
        out["build_config"] = {"input_shape": list(model.input_shape)}
    if include_compile and getattr(model, "compiled", False):
        out["compile_config"] = serialize_compile_config(model)
    try:  # what gradfit writes, gradfit must read: refuse now, not when someone opens the file
        plans.plan_from_serialized(loads(dumps(out), "config"), "config")
    except ModelFileError as exc:
        raise ValueError(f"This model cannot be saved in a form gradfit can load back: {exc}") from None
    return out
