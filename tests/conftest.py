"""Shared fixtures: a clean global state for every test, the course's digit data, small synthetic sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gradfit

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _clean_global_state():
    """Every test starts and ends with float32, epsilon 1e-7 and fresh layer-name counters."""
    gradfit.backend.set_floatx("float32")
    gradfit.backend.set_epsilon(1e-7)
    gradfit.keras.backend.clear_session()
    yield
    gradfit.backend.set_floatx("float32")
    gradfit.backend.set_epsilon(1e-7)
    gradfit.keras.backend.clear_session()


@pytest.fixture
def float64():
    """New layers and data in float64 for the test (finite-difference checks need its precision)."""
    gradfit.backend.set_floatx("float64")
    yield
    gradfit.backend.set_floatx("float32")


def load_npz(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from ``../shared/data/<name>`` beside the repository, or skip the test when the file is absent."""
    path = DATA_DIR / name
    if not path.is_file():
        pytest.skip(f"data file {path} is not available")
    with np.load(path) as data:
        return data["X"], data["y"]


@pytest.fixture(scope="session")
def digits01() -> tuple[np.ndarray, np.ndarray]:
    """The course's week-1 data: 1000 images of 0s and 1s, X (1000, 400), y (1000, 1)."""
    return load_npz("course_digits_01.npz")


@pytest.fixture(scope="session")
def digits0to9() -> tuple[np.ndarray, np.ndarray]:
    """The course's week-2 data: 5000 images of digits 0-9, X (5000, 400), y (5000, 1)."""
    return load_npz("course_digits_0to9.npz")


@pytest.fixture
def binary_data() -> tuple[np.ndarray, np.ndarray]:
    """50 examples, 4 features, labels 0/1 (column) from a linear rule."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) > 0).astype(np.float64).reshape(-1, 1)
    return x, y


@pytest.fixture
def multiclass_data() -> tuple[np.ndarray, np.ndarray]:
    """60 examples, 4 features, integer labels 0, 1, 2 (shape (m,))."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4))
    y = np.argmax(x[:, :3], axis=1)
    return x, y


@pytest.fixture
def regression_data() -> tuple[np.ndarray, np.ndarray]:
    """200 examples, 3 features, y = x w + b + small noise, shape (m, 1)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([[2.0], [-1.0], [0.5]]) + 0.3 + 0.01 * rng.normal(size=(200, 1))
    return x, y
