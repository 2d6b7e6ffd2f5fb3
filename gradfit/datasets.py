"""Real handwritten digits, offline, shaped like the course's data (20x20 images, 400 features).

``load_digits`` uses the 1,797 8x8 digits that scikit-learn ships inside its package (the UCI
"Optical Recognition of Handwritten Digits" set), so nothing is downloaded. Each image is scaled to
[0, 1] and upsampled to ``image_size`` x ``image_size`` by bilinear interpolation, then flattened
column by column as the course's ``X.npy`` is (view one with ``X[i].reshape(20, 20).T``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_digits", "load_npz"]


def _resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Resize a stack of square images ``(n, h, h)`` to ``(n, size, size)`` by bilinear interpolation."""
    h = images.shape[1]
    # sample points at pixel centres, mapped into the source grid
    coords = (np.arange(size) + 0.5) * h / size - 0.5
    coords = np.clip(coords, 0, h - 1)
    lo = np.floor(coords).astype(int)
    hi = np.minimum(lo + 1, h - 1)
    frac = coords - lo
    rows = images[:, lo, :] * (1 - frac)[None, :, None] + images[:, hi, :] * frac[None, :, None]
    return rows[:, :, lo] * (1 - frac)[None, None, :] + rows[:, :, hi] * frac[None, None, :]


def load_digits(classes=(0, 1), image_size: int = 20, dtype="float64") -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits as ``(X, y)``: ``X`` is ``(m, image_size**2)`` in [0, 1], ``y`` is ``(m, 1)``.

    Parameters
    ----------
    classes : sequence of int
        Which digits to keep; labels stay the digits themselves (so ``(0, 1)`` gives binary labels).
    image_size : int
        Side of the square images returned (8 keeps scikit-learn's originals; 20 matches the course).
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError(
            "gradfit.datasets.load_digits needs scikit-learn, which ships the digit images: "
            "pip install 'gradfit[datasets]' (or pip install scikit-learn)."
        ) from None
    classes = tuple(int(c) for c in classes)
    if not classes or any(c < 0 or c > 9 for c in classes):
        raise ValueError(f"load_digits: classes must be digits 0-9, got {classes}.")
    if not isinstance(image_size, int) or image_size < 2:
        raise ValueError(f"load_digits: image_size must be an integer >= 2, got {image_size!r}.")
    bunch = _sk_load_digits()
    keep = np.isin(bunch.target, classes)
    images = bunch.images[keep] / 16.0
    if image_size != images.shape[1]:
        images = _resize_bilinear(images, image_size)
    # column by column, as the course's data: X[i].reshape(size, size).T shows the digit upright
    X = images.transpose(0, 2, 1).reshape(len(images), -1).astype(dtype)
    y = bunch.target[keep].reshape(-1, 1).astype(np.uint8)
    return X, y


def load_npz(path) -> tuple[np.ndarray, np.ndarray]:
    """Load the course's ``course_digits_*.npz`` (keys ``X`` and ``y``) without allowing pickles."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        missing = {"X", "y"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: expected arrays 'X' and 'y', missing {sorted(missing)}.")
        return data["X"], data["y"]
