"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts, character for character.

Keras draws the table with ``rich``; this module lays it out by the same rules without it:

* the line is ``line_length`` wide, by default ``min(88, terminal columns - 4)``: 76 in a pipe, a log, Jupyter
  or pytest, where the terminal size falls back to 80 columns (``show_trainable`` adds 12 to the 88, and a
  fourth column, ``Trainable``, centred: ``Y``, ``N``, or ``-`` for a layer without weights);
* the columns end at ``positions`` (fractions of the line, default 0.45, 0.80, 1.0): column ``i`` asks for
  ``int(p_i * line_length) - int(p_{i-1} * line_length)`` characters plus a space either side, and the excess
  over the line (less its borders) is taken back from the columns in turn, ``round(excess_left / columns_left)``
  each, as ``rich``'s ``ratio_reduce`` does (``show_trainable`` scales the positions by 0.9 and adds 1.0);
* a cell wraps at spaces; a word wider than its cell keeps a line of its own, cut to ``width - 1`` characters
  and ``…`` (``rich``'s "ellipsis" overflow);
* the memory sizes count each weight's own dtype (Normalization's int64 ``count``: 8 bytes), and after the
  optimizer's first step (``fit``, ``train_on_batch``) an ``Optimizer params`` line counts its variables
  (``iterations`` int64, the learning rate, the slots) as Keras saves them; ``Total params`` includes them.
"""

from __future__ import annotations

import re
import shutil

import numpy as np

__all__ = ["summary_text"]

#: Keras's default line for a sequential model, and where its three columns end
DEFAULT_LINE_LENGTH = 88
DEFAULT_POSITIONS = (0.45, 0.80, 1.0)
HEADERS = ("Layer (type)", "Output Shape", "Param #")
#: how each column's cells are aligned: Layer and Output Shape left, Param # right, Trainable centred
ALIGNMENT = ("left", "left", "right", "center")


def readable_memory_size(n_bytes: float) -> str:
    """Keras's ``readable_memory_size``: ``1023.00 B``, ``40.75 KB``, … dividing by 1024 while it is >= 1024."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _count_and_bytes(arrays) -> tuple[int, int]:
    """How many numbers ``arrays`` hold, and their bytes (each array's own dtype)."""
    arrays = list(arrays)
    return sum(int(np.size(a)) for a in arrays), sum(int(np.size(a)) * np.asarray(a).dtype.itemsize for a in arrays)


def column_widths(line_length: int, positions=DEFAULT_POSITIONS) -> list[int]:
    """Each column's width, its one-space padding either side included (its borders not)."""
    asked, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError(
                f"summary: line_length={line_length} (with positions {list(positions)}) leaves a column {width} "
                "characters wide; it needs at least 4. Give a larger line_length."
            )
        asked.append(width + 2)
        current += width
    available = line_length - (len(asked) + 1)  # the borders: one before each column and one at the end
    excess = sum(asked) - available
    if excess <= 0:
        return asked
    widths, left = [], len(asked)
    for width in asked:  # rich's ratio_reduce with equal ratios
        taken = min(width, round(excess / left))
        widths.append(width - taken)
        excess -= taken
        left -= 1
    return widths


def wrap_cell(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters, as ``rich`` wraps a table cell."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if word == "":
            continue
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return [ln if len(ln) <= width else ln[: width - 1] + "…" for ln in lines]


def _align(text: str, width: int, how: str) -> str:
    if how == "right":
        return text.rjust(width)
    if how == "center":  # rich: the odd space of the excess goes to the right
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text.ljust(width)


def _render_row(cells, widths, edge: str) -> list[str]:
    wrapped = [wrap_cell(cell, w - 2) for cell, w in zip(cells, widths)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for k in range(height):
        parts = []
        for lines, w, how in zip(wrapped, widths, ALIGNMENT):
            text = lines[k] if k < len(lines) else ""
            parts.append(" " + _align(text, w - 2, how) + " ")
        out.append(edge + edge.join(parts) + edge)
    return out


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def layer_index_range(layers, layer_range) -> tuple[int, int]:
    """Keras's ``layer_range``: from the first layer whose name matches ``layer_range[0]`` (``re.match``) to the last
    that matches ``layer_range[1]``, both included (the other way round when they come in that order)."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2 or not all(isinstance(p, str) for p in layer_range):
        raise ValueError(f"summary: layer_range must be two layer names (or regular expressions), got {layer_range!r}.")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(
            f"summary: layer_range {list(layer_range)} does not match the layer names "
            f"{[layer.name for layer in layers]}."
        )
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _layer_rows(model, show_trainable: bool) -> list[tuple[str, ...]]:
    rows = []
    shape = model.input_shape if model.built else None
    for layer in model.layers:
        if shape is not None:
            shape = layer.compute_output_shape(shape)
            out = _shape_text(shape)
        elif layer.built and layer.output_shape is not None:
            out = _shape_text(layer.output_shape)
        else:
            out = "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = (f"{layer.name} ({type(layer).__name__})", out, params)
        if show_trainable:
            row += (("Y" if layer.trainable else "N") if layer.built and layer.weights else "-",)
        rows.append(row)
    return rows


def _optimizer_arrays(model) -> list[np.ndarray] | None:
    """Keras's ``optimizer.variables`` once it is built (its first step), else None (no ``Optimizer params``)."""
    opt = getattr(model, "optimizer", None)
    if not (getattr(model, "compiled", False) and opt is not None and getattr(opt, "built", False) and model.built):
        return None
    from .saving.optimizer_state import optimizer_values

    return optimizer_values(model)


def terminal_line_length(longest: int = DEFAULT_LINE_LENGTH) -> int:
    """Keras's default: ``min(88, columns - 4)``, the columns of the terminal (80 when there is none)."""
    return min(longest, shutil.get_terminal_size().columns - 4)


def summary_text(
    model, line_length: int | None = None, positions=None, show_trainable: bool = False, layer_range=None
) -> str:
    """The text ``model.summary()`` prints, lines joined by ``\\n`` (no final newline)."""
    positions = list(positions) if positions is not None else list(DEFAULT_POSITIONS)
    headers = HEADERS
    longest = DEFAULT_LINE_LENGTH
    if show_trainable:
        longest += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers += ("Trainable",)
    line_length = int(line_length or terminal_line_length(longest))
    widths = column_widths(line_length, positions)

    def rule(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    out = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━")]
    out += _render_row(headers, widths, "┃")
    out.append(rule("┡", "╇", "┩", "━"))
    rows = _layer_rows(model, show_trainable)
    start, stop = layer_index_range(model.layers, layer_range)
    rows = rows[start:stop]
    for i, row in enumerate(rows):
        out += _render_row(row, widths, "│")
        if i < len(rows) - 1:
            out.append(rule("├", "┼", "┤", "─"))
    out.append(rule("└", "┴", "┘", "─"))

    trainable, trainable_bytes = _count_and_bytes(model.trainable_weights if model.built else [])
    frozen, frozen_bytes = _count_and_bytes(model.non_trainable_weights if model.built else [])
    optimizer = _optimizer_arrays(model)
    opt_count, opt_bytes = _count_and_bytes(optimizer or [])
    total, total_bytes = trainable + frozen + opt_count, trainable_bytes + frozen_bytes + opt_bytes
    out.append(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    out.append(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})")
    out.append(f" Non-trainable params: {frozen:,} ({readable_memory_size(frozen_bytes)})")
    if optimizer is not None:
        out.append(f" Optimizer params: {opt_count:,} ({readable_memory_size(opt_bytes)})")
    return "\n".join(out)
