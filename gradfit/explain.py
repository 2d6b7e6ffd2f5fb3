"""``model.explain()``: the maths of ``fit`` for this model, in the course's notation, with its shapes.

Nothing here knows any layer, loss or optimizer: each layer writes its own formulas (``Layer.describe``), the
loss its ``formula``, the optimizer its ``describe()``. Layer ``l`` of the model (counting from 1, the
``Input`` left out) reads ``a[l-1]`` (``a[0]`` is ``X``) and writes ``a[l]``; its weights carry its number,
``W[l]``, ``b[l]``, ``gamma[l]``. In the backward pass ``dv`` stands for ``dJ/dv``.
"""

from __future__ import annotations

from .schema import Off

#: what a layer writes in its ``from_logits`` lines where the loss's ``dz_formula`` goes (``(f(X) - y) / m`` for
#: the cross-entropies; the focal loss has its own)
DZ_FROM_LOSS = "<dJ/dz>"

#: the course's symbols for weight attributes; any other weight is shown under its own name
SYMBOLS = {"kernel": "W", "bias": "b"}


def shape_text(shape) -> str:
    """``(m,400)``: a shape with the batch size written ``m``."""
    text = ",".join("m" if s is None else str(s) for s in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


def weight_list(layer, index: int, symbols: dict | None = None) -> list[str]:
    """``["W[1] (400,25)", "b[1] (25,)"]``: a built layer's weights in its declared order, with their shapes;
    the ones ``fit`` does not train are marked."""
    symbols = {**SYMBOLS, **(symbols or {})}
    trained = {s.name for s in layer.trainable_specs}
    out = []
    for spec in layer._specs:
        text = f"{symbols.get(spec.name, spec.name)}[{index}] {shape_text(spec.shape)}"
        out.append(text if spec.name in trained else text + " (not trained)")
    return out


def explain_text(model) -> str:
    if not model.built:
        raise ValueError("explain: the model is not built yet; call fit() or build((None, n_features)) first.")
    from .training import output_is_fused

    layers = list(model.layers)
    loss = getattr(model, "_loss", None)  # None until compile()
    fused = loss is not None and output_is_fused(model)
    lines = [f'Model "{model.name}": forward pass for a batch X of m examples']
    shape = model.input_shape
    prev = "X"
    described = []
    for index, layer in enumerate(layers, start=1):
        out_shape = layer.compute_output_shape(shape)
        name = f"a[{index}]"
        d = layer.describe(prev, name, index)
        forward = list(d["forward"])
        note = d.get("note")
        tag = f"[{layer.name}; {note}]" if note else f"[{layer.name}]"
        shapes = d.get("shapes") or shape_text(shape)
        lines.append(f"  {forward[0]}  {shapes} -> {shape_text(out_shape)}   {tag}")
        lines.extend(f"      {line}" for line in forward[1:])
        described.append((layer, d))
        prev, shape = name, out_shape
    lines.append(f"  f(X) = {prev}")

    weights = [(layer, d["weights"]) for layer, d in described if d.get("weights")]
    if weights:
        lines.append("Weights:")
        lines.extend(f"  {', '.join(w)}   [{layer.name}]" for layer, w in weights)

    if loss is not None:
        lines.append(f"Cost: J = (1/m) sum_i L(f(x_i), y_i), with {type(loss).__name__}: {loss.formula}")
        if fused:
            dz_formula = loss.dz_formula or "(f(X) - y) / m"
            lines.append(
                f"  computed from the output layer's logits z (before its {loss.logits_activation}), exactly, "
                f"as TensorFlow does: dJ/dz = {dz_formula}"
            )
        penalties = [
            f"{type(s.regularizer).__name__}({s.regularizer.get_config()}) on {layer.name}.{s.name}"
            for layer in layers
            for s in layer._specs
            if s.regularizer is not None
        ]
        if penalties:
            lines.append("  plus penalties: " + "; ".join(penalties))

    # fit runs the backward pass from the output down to the first layer with trainable weights only
    first = next((i for i, layer in enumerate(layers) if layer.trainable_specs), None)
    if first is not None:
        lines.append("Backward pass, last layer first (dv stands for dJ/dv):")
        for i in range(len(described) - 1, first - 1, -1):
            layer, d = described[i]
            steps = d.get("from_logits") if fused and i == len(described) - 1 and d.get("from_logits") else None
            for line in steps or d.get("backward", ()):
                lines.append(f"  {line}".replace(DZ_FROM_LOSS, dz_formula if fused else DZ_FROM_LOSS))
    opt = getattr(model, "optimizer", None)
    if opt is not None:
        schema = getattr(opt, "config_schema", None)
        off = {k for k, f in schema.fields.items() if isinstance(f, Off)} if schema is not None else set()
        numbers = ", ".join(
            f"{k}={v}" for k, v in opt.get_config().items() if k != "name" and v is not None and k not in off
        )
        lines.append(f"Update, once per batch: {opt.describe()}   [{numbers}]")
    return "\n".join(lines)
