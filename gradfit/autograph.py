"""``tf.autograph.set_verbosity(0)``: course notebooks call it to quiet TensorFlow; here it does nothing."""

from __future__ import annotations


def set_verbosity(level: int, alsologtostdout: bool = False) -> None:
    """Accepted for compatibility with TensorFlow code; gradfit has no graph tracing to log."""


__all__ = ["set_verbosity"]
