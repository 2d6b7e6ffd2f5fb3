"""Finite differences for the tests' gradient checks (float64, centred), written apart from gradfit's own
``gradcheck`` so that the two check each other."""

from __future__ import annotations

import numpy as np


def numeric(f, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred differences of the scalar ``f()`` with respect to every entry of ``arr`` (changed in place)."""
    grad = np.zeros(arr.shape)
    flat, g = arr.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return grad


def rel(a, b) -> float:
    """``|a - b| / (|a| + |b|)``: the relative difference of two gradients."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))
