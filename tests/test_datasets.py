"""gradfit.datasets: real digits shaped like the course's data."""

from __future__ import annotations

import numpy as np
import pytest

from gradfit import datasets


def test_load_digits_binary_like_the_course():
    pytest.importorskip("sklearn")
    X, y = datasets.load_digits()
    assert X.shape == (360, 400) and y.shape == (360, 1)
    assert set(np.unique(y)) == {0, 1}
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_load_digits_is_column_major_like_the_course():
    """Upsampling 8x8 to 8x8 is the identity, so the column-by-column flattening can be checked exactly."""
    sk = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(classes=range(10), image_size=8)
    bunch = sk.load_digits()
    np.testing.assert_allclose(X[0].reshape(8, 8).T, bunch.images[0] / 16.0)
    assert y[0, 0] == bunch.target[0]


def test_resize_preserves_constant_images_and_range():
    img = np.full((2, 8, 8), 0.25)
    out = datasets._resize_bilinear(img, 20)
    assert out.shape == (2, 20, 20)
    np.testing.assert_allclose(out, 0.25)


def test_load_digits_rejects_bad_classes():
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="digits 0-9"):
        datasets.load_digits(classes=(0, 12))


def test_load_npz_refuses_pickles_and_checks_keys(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.array([object()], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError):
        datasets.load_npz(path)
    np.savez(tmp_path / "nokeys.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="'X' and 'y'"):
        datasets.load_npz(tmp_path / "nokeys.npz")
    np.savez(tmp_path / "ok.npz", X=np.ones((3, 4)), y=np.zeros((3, 1)))
    X, y = datasets.load_npz(tmp_path / "ok.npz")
    assert X.shape == (3, 4) and y.shape == (3, 1)


def test_course_files_load(digits01):
    X, y = digits01
    assert X.shape == (1000, 400) and y[0, 0] == 0 and y[500, 0] == 1
