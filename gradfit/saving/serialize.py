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
    reference = _function_reference(loss)  # a Keras function form
    if reference is not None:
        return reference
    raise ValueError(f"Cannot save the loss {loss!r}: give compile() a loss name or a gradfit loss object.")


def _function_reference(fn) -> dict | None:
    """Keras's reference to one of its loss functions (``keras.losses.binary_crossentropy``), else None."""
    entry = registry.LOSSES.entry(getattr(fn, "__name__", None))
    if entry is not None and getattr(entry.obj, "function", None) is fn:
        return {"module": "builtins", "class_name": "function", "config": fn.__name__, "registered_name": "function"}
    return None


def _metric_entry(m, argument: str = "metrics"):
    """One metric as Keras writes it in ``compile_config``: a name as given, a serialized metric object, a loss
    object given as a metric serialized as that loss (``keras.losses``: Keras loads it back as the loss, which
    its ``compile`` wraps as a metric again), or a reference to a loss function given as a metric."""
    from ..losses import Loss
    from ..metrics import Metric

    if isinstance(m, type) and issubclass(m, (Metric, Loss)):
        m = m()
    if isinstance(m, Metric):
        return _serialized(m, registry.METRICS, "metric")
    if isinstance(m, Loss):
        return _serialized(m, registry.LOSSES, f"loss given in {argument}=")
    if isinstance(m, str):
        return m
    reference = _function_reference(m) if callable(m) else None
    if reference is not None:
        return reference
    raise ValueError(
        f"Cannot save the metric {m!r} given in {argument}=: only metric names, gradfit's metric and loss objects "
        "and gradfit.keras.losses functions can be saved (a model file holds no code)."
    )


def _loss_weights_entry(loss_weights):
    """``compile(loss_weights=…)`` as Keras writes it: as given (a float, a list of one, or a dict by output
    name), the numbers as JSON numbers."""
    if loss_weights is None:
        return None
    if isinstance(loss_weights, dict):
        return {str(k): float(v) for k, v in loss_weights.items()}
    if isinstance(loss_weights, (list, tuple)):
        return [float(v) for v in loss_weights]
    return float(loss_weights)


def serialize_compile_config(model) -> dict | None:
    """Keras's ``compile_config`` of a compiled model: optimizer, loss and metrics as given to ``compile``."""
    if not getattr(model, "compiled", False):
        return None
    metrics = [_metric_entry(m) for m in model._metric_ids]
    weighted = [_metric_entry(m, "weighted_metrics") for m in getattr(model, "_weighted_metric_ids", [])]
    return {
        "optimizer": _serialized(model.optimizer, registry.OPTIMIZERS, "optimizer"),
        "loss": _loss_entry(model.loss),
        "loss_weights": _loss_weights_entry(getattr(model, "_loss_weights", None)),
        "metrics": metrics or None,
        "weighted_metrics": weighted or None,
        # as compile() kept them (Keras writes jit_compile resolved: 'auto' is False on a CPU)
        "run_eagerly": bool(getattr(model, "run_eagerly", False)),
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1)),
        "jit_compile": getattr(model, "jit_compile", False),
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
