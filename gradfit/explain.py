"""``model.explain()``: the maths of ``fit`` for this model, in the course's notation, with its shapes."""

from __future__ import annotations

from .layers.dense import Dense
from .layers.normalization import Normalization


def _shape(shape) -> str:
    return "(" + ",".join("m" if s is None else str(s) for s in shape) + ")"


def explain_text(model) -> str:
    if not model.built:
        raise ValueError("explain: the model is not built yet; call fit() or build((None, n_features)) first.")
    lines = [f'Model "{model.name}": forward pass for a batch X of m examples']
    shape = model.input_shape
    prev = "X"
    depth = 0
    for layer in model.layers:
        out = layer.compute_output_shape(shape)
        if isinstance(layer, Dense):
            depth += 1
            bias = f" + b[{depth}]" if layer.use_bias else ""
            act = layer.activation.__name__
            lines.append(
                f"  a[{depth}] = {act}({prev} @ W[{depth}]{bias})  {_shape(shape)}@{_shape(layer.kernel.shape)} -> "
                f"{_shape(out)}   [{layer.name}; {act}: {layer.activation.formula}]"
            )
            prev = f"a[{depth}]"
        elif isinstance(layer, Normalization):
            lines.append(
                f"  {prev}_norm = ({prev} - mean) / sqrt(variance)  {_shape(shape)} -> {_shape(out)}   [{layer.name}]"
            )
            prev = f"{prev}_norm"
        else:
            act = getattr(layer, "activation", None)
            what = f"{act.__name__}({prev})" if act is not None else f"{type(layer).__name__}({prev})"
            name = f"h{len(lines)}"
            lines.append(f"  {name} = {what}  {_shape(shape)} -> {_shape(out)}   [{layer.name}]")
            prev = name
        shape = out
    lines.append(f"  f(X) = {prev}")
    loss = model._loss
    if loss is not None:
        from .training import output_is_fused

        lines.append(f"Cost: J = (1/m) sum_i L(f(x_i), y_i), with {type(loss).__name__}: {loss.formula}")
        if output_is_fused(model):
            lines.append(
                f"  computed from the output layer's logits z (before its {loss.logits_activation}), exactly, "
                f"as TensorFlow does: dJ/dz = (f(X) - y) / m"
            )
        penalties = [
            f"{type(s.regularizer).__name__}({s.regularizer.get_config()}) on {layer.name}.{s.name}"
            for layer in model.layers
            for s in layer._specs
            if s.regularizer is not None
        ]
        if penalties:
            lines.append("  plus penalties: " + "; ".join(penalties))
    lines.append(
        "Backward pass, last layer first: dz = da * g'(z);  dJ/dW = a_prev.T @ dz;  dJ/db = sum(dz);"
        "  da_prev = dz @ W.T"
    )
    opt = model.optimizer
    if opt is not None:
        numbers = ", ".join(f"{k}={v}" for k, v in opt.get_config().items() if k != "name" and v is not None)
        lines.append(f"Update, once per batch: {opt.describe()}   [{numbers}]")
    return "\n".join(lines)
