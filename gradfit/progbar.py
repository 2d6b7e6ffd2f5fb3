"""Keras-style progress output: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step - accuracy: 0.9910 - loss: 0.0435``.

On a terminal (or in Jupyter) the line is redrawn in place at most every 0.05 s; in a log, a pipe or CI
the final state of each line is printed once, with no control characters.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

_BAR = "━"


def _interactive(stream) -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def format_value(value) -> str:
    """Keras's figure for a logged value; an array-valued metric (F1Score per class) shows its mean, as Keras."""
    if not isinstance(value, float):
        value = float(np.mean(value))
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_time_per_step(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """One progress line for ``target`` steps.

    Parameters
    ----------
    target : int
        Number of steps (batches).
    verbose : {1, 2}
        1: a bar; 2: one summary line when finished.
    """

    width = 20
    interval = 0.05

    def __init__(self, target: int, verbose: int = 1, stream=None):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.dynamic = _interactive(self.stream)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._prev_width = 0

    def due(self) -> bool:
        """Whether an in-place redraw is wanted now (cheap: called after every batch)."""
        return self.dynamic and self.verbose == 1 and time.perf_counter() - self._last_draw >= self.interval

    def update(self, current: int, logs: dict, finalize: bool = False) -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / current if current else 0.0
        values = "".join(f" - {k}: {format_value(v)}" for k, v in logs.items())
        digits = int(math.log10(max(self.target, 1))) + 1
        count = f"{current:{digits}d}/{self.target}"
        if self.verbose == 2:
            if finalize:
                self._write(f"{count} - {elapsed:.0f}s - {format_time_per_step(per_step)}{values}\n")
            return
        if not finalize and not self.dynamic:
            return
        filled = int(self.width * current / self.target) if self.target else self.width
        when = f"{elapsed:.0f}s" if finalize else f"{per_step * (self.target - current):.0f}s"
        if self.dynamic:
            bar = f"\x1b[32m{_BAR * filled}\x1b[0m\x1b[37m{_BAR * (self.width - filled)}\x1b[0m"
            plain_len = len(count) + 1 + self.width
        else:
            bar = _BAR * self.width
            plain_len = 0
        line = f"{count} {bar} {when} {format_time_per_step(per_step)}{values}"
        if self.dynamic:
            width = plain_len + len(f" {when} {format_time_per_step(per_step)}{values}")
            pad = " " * max(0, self._prev_width - width)
            self._prev_width = width
            self._write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            self._write(line + "\n")
        self._last_draw = now

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
