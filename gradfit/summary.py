"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations


def _size(n_params: int, bytes_per: int) -> str:
    size = float(n_params * bytes_per)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def summary_text(model) -> str:
    headers = ("Layer (type)", "Output Shape", "Param #")
    rows = []
    shape = model.input_shape if model.built else None
    for layer in model.layers:
        if shape is not None:
            shape = layer.compute_output_shape(shape)
        out = str(shape).replace(",)", ")") if shape is not None else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", out, params))

    # Keras's widths, widened when a long layer name would break the table
    cols = tuple(max([width] + [len(r[i]) for r in rows]) for i, width in enumerate((33, 24, 15)))

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in cols) + right

    def cells(values, edge="│"):
        a, b, c = values
        return f"{edge} {a:<{cols[0]}} {edge} {b:<{cols[1]}} {edge} {c:>{cols[2]}} {edge}"

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), cells(headers, "┃"), line("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        out.append(cells(row))
        if i < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    if model.built:
        trainable = sum(int(w.size) for w in model.trainable_weights)
        total = sum(int(w.size) for w in model.weights)
        itemsize = model.parameters.itemsize if model.parameters is not None and model.parameters.size else 4
        out.append(f" Total params: {total:,} ({_size(total, itemsize)})")
        out.append(f" Trainable params: {trainable:,} ({_size(trainable, itemsize)})")
        out.append(f" Non-trainable params: {total - trainable:,} ({_size(total - trainable, itemsize)})")
    else:
        out.append(" Total params: 0 (unbuilt: call build() or fit(), or start with Input(shape=…))")
    return "\n".join(out)
