"""How every parity test compares gradfit with a TensorFlow recording: within 1e-4 relative, with an absolute
floor of 1e-6 for values near zero (a weight or a prediction of 1e-5, where float32 rounding differences are larger
relative to the value than 1e-4; everywhere else the relative tolerance decides)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RTOL = 1e-4
ATOL = 1e-6


def load(path: Path) -> dict:
    """A fixture's arrays, read into memory (the file is closed at once)."""
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def worst(actual, expected) -> float:
    """The largest |actual - expected| / |expected| (with the ATOL floor), for the failure message."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), ATOL / RTOL), initial=0.0))


def close(actual, expected, what: str) -> None:
    """Assert ``actual`` matches Keras's ``expected`` within the parity tolerances, naming ``what`` if not."""
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        np.asarray(expected, np.float64),
        rtol=RTOL,
        atol=ATOL,
        err_msg=f"{what} differs from Keras (worst relative error {worst(actual, expected):.2e})",
    )
