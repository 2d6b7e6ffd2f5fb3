"""``model.weights.h5`` in Keras's layout: ``layers/<keras path>/vars/<i>`` per layer weight, then the
optimizer's state (``optimizer_state.py``). Reading checks every entry against the plan before any weight
is assigned, so a bad file leaves the model as it was."""

from __future__ import annotations

import io
import warnings

import numpy as np

from ..schema import ModelFileError, fail
from . import optimizer_state
from .config import ModelPlan, keras_layer_paths, weight_specs
from .h5 import H5, h5py


def _activation_layer(layer):
    """The layer object used as ``layer``'s activation (``Dense(3, activation=LeakyReLU(0.2))``), else None.
    Keras saves it as a sub-layer: an ``activation/vars`` group (empty: activation layers have no weights)."""
    from ..activations import LayerActivation

    activation = getattr(layer, "activation", None)
    return activation.layer if isinstance(activation, LayerActivation) else None


def _write_activation_groups(group, layer) -> None:
    inner = _activation_layer(layer)
    while inner is not None:  # an Activation(LeakyReLU(…)) as the activation nests one level more, as in Keras
        group = group.create_group("activation")
        group.create_group("vars").attrs["name"] = inner.name
        inner = _activation_layer(inner)


def weights_h5_bytes(model) -> bytes:
    """``model.weights.h5`` of ``model``, in memory."""
    buffer = io.BytesIO()
    with h5py().File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        f.create_group("layers")
        layers = model.layers
        for layer, path in zip(layers, keras_layer_paths(type(layer).__name__ for layer in layers)):
            layer_group = f.create_group(path)
            _write_activation_groups(layer_group, layer)
            group = layer_group.create_group("vars")
            group.attrs["name"] = layer.name
            for i, (name, *_) in enumerate(weight_specs(layer)):
                group[str(i)] = np.asarray(getattr(layer, name))
        if getattr(model, "compiled", False) and model.optimizer is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, value in enumerate(optimizer_state.optimizer_values(model)):
                group[str(i)] = value
    return buffer.getvalue()


def read_weights(h5: H5, plan: ModelPlan, opt, skip_mismatch: bool = False):
    """Every value the file holds for this model, checked, as ``(layer values, optimizer state)``.

    ``layer values`` is ``[(layer plan, [arrays in the plan's order])]``; ``optimizer state`` is None when it
    is absent or does not fit this optimizer (Keras then keeps the fresh optimizer too).
    """
    f = h5.f
    unexpected = set(h5.keys(f, "/")) - {"vars", "layers", "optimizer"}
    if unexpected:
        fail(h5.where, f"unexpected entries {sorted(unexpected)[:5]} at the top of the weights file")
    own = h5.child(f, "vars", True, "/vars")
    if own is not None and h5.keys(own, "/vars"):
        fail(h5.where, "/vars: a Sequential model has no weights of its own")
    layers_group = h5.child(f, "layers", True, "/layers")
    expected = {p.path.split("/", 1)[1]: p for p in plan.weighted}
    present = h5.hard_children(layers_group, "/layers") if layers_group is not None else set()
    extra = sorted(present - set(expected))
    if extra:
        fail(h5.where, f"/layers: weights for layers the config does not have: {extra[:5]}")
    layer_values = []
    for key, p in expected.items():
        if not p.weights and _activation_layer(p.layer) is None:
            # Nothing to read, so the group of a layer without weights is not opened: its link was checked
            # above, and opening 10,000 HDF5 groups (an Activation stack) would take seconds.
            continue
        try:
            values = _read_layer(h5, layers_group if key in present else None, key, p)
        except ModelFileError as exc:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping loading weights for layer {p.layer.name!r}: {exc}", stacklevel=4)
            continue
        layer_values.append((p, values))
    opt_state = None
    opt_group = h5.child(f, "optimizer", True, "/optimizer")
    if opt_group is not None:
        if set(h5.keys(opt_group, "/optimizer")) - {"vars"}:
            fail(h5.where, "/optimizer: unexpected entries")
        vars_group = h5.child(opt_group, "vars", True, optimizer_state.AT)
        if opt is not None and vars_group is not None:
            dtype = optimizer_state.state_dtype(plan)
            opt_state = optimizer_state.read_optimizer(h5, vars_group, plan.trainable_shapes(), dtype, opt)
    return layer_values, opt_state


def _read_layer(h5: H5, layers_group, key: str, p) -> list[np.ndarray]:
    at = f"/{p.path}/vars"
    group = h5.child(layers_group, key, True, f"/{p.path}") if layers_group is not None else None
    vars_group = h5.child(group, "vars", True, at) if group is not None else None
    if group is not None:
        _check_activation_groups(h5, group, f"/{p.path}", p.layer)
    names = h5.keys(vars_group, at) if vars_group is not None else []
    if sorted(names) != sorted(str(i) for i in range(len(p.weights))):
        fail(
            h5.where,
            f"{at}: layer {p.layer.name!r} ({p.class_name}) has {len(p.weights)} weights "
            f"({', '.join(w[0] for w in p.weights) or 'none'}) but the file holds {len(names)}",
        )
    return [
        h5.array(
            h5.child(vars_group, str(i), False, f"{at}/{i}"),
            shape,
            dtype,
            f"{at}/{i} (weight {name!r} of layer {p.layer.name!r})",
        )
        for i, (name, shape, _, dtype) in enumerate(p.weights)
    ]


def _check_activation_groups(h5: H5, group, at: str, layer) -> None:
    """A layer's group holds ``vars`` and, where a layer object is its activation, that layer's ``activation``
    group (absent in files written before gradfit wrote it) holding an empty ``vars``; nothing else."""
    inner = _activation_layer(layer)
    allowed = {"vars", "activation"} if inner is not None else {"vars"}
    others = set(h5.keys(group, at)) - allowed
    if others:
        fail(h5.where, f"{at}: unexpected entries {sorted(others)[:5]}")
    if inner is None:
        return
    sub = h5.child(group, "activation", True, f"{at}/activation")
    if sub is None:
        return
    _check_activation_groups(h5, sub, f"{at}/activation", inner)
    sub_vars = h5.child(sub, "vars", True, f"{at}/activation/vars")
    held = h5.keys(sub_vars, f"{at}/activation/vars") if sub_vars is not None else []
    if held:
        fail(
            h5.where,
            f"{at}/activation/vars: the {type(inner).__name__} layer {inner.name!r} used as an activation has no "
            f"weights, but the file holds {len(held)} entries there",
        )


def assign(model, layer_values, opt_state) -> None:
    """Copy the checked values in: each layer weight through its attribute (the store copies it in place). The
    optimizer's state is checked against the model first: a refusal leaves weights and state as they were."""
    optimizer_state.check_assignable(model, opt_state)
    for p, values in layer_values:
        for (name, *_), value in zip(p.weights, values):
            getattr(p.layer, name)[...] = value
    optimizer_state.assign_optimizer(model, opt_state)
