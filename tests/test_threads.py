"""fit keeps BLAS on one thread when the step's products are small, and restores the setting afterwards."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    """Threads of the BLAS that NumPy's products run on (the one in numpy.libs when NumPy's wheel bundles
    one; otherwise every BLAS threadpoolctl sees)."""
    infos = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    numpy_own = [info for info in infos if "numpy.libs" in info["filepath"]]
    return [info["num_threads"] for info in (numpy_own or infos)]


class _Record(gradfit.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.seen = _blas_threads()


def _fit(units: int, batch_size: int):
    x = np.random.default_rng(0).normal(size=(64, 50)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = Sequential([Input(shape=(50,)), Dense(units, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    record = _Record()
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, callbacks=[record])
    return record.seen


def test_small_products_train_on_one_blas_thread_and_the_setting_comes_back():
    before = _blas_threads()
    if not before:
        pytest.skip("threadpoolctl sees no BLAS library")
    assert _fit(units=8, batch_size=32) == [1] * len(before)  # 32 x 50 x 8 multiply-adds: tiny
    assert _blas_threads() == before


def test_large_products_keep_the_default_threads():
    before = _blas_threads()
    if not before:
        pytest.skip("threadpoolctl sees no BLAS library")
    assert _fit(units=2048, batch_size=64) == before  # 64 x 50 x 2048 = 6.5M multiply-adds


def test_threadpoolctl_takes_over_where_numpy_bundles_no_openblas(monkeypatch):
    from gradfit import backend

    before = _blas_threads()
    if not before:
        pytest.skip("threadpoolctl sees no BLAS library")
    monkeypatch.setattr(backend, "_openblas", None)  # as if NumPy were built against MKL or a system BLAS
    assert _fit(units=8, batch_size=32) == [1] * len(before)
    assert _blas_threads() == before


def test_numpy_wheels_openblas_is_reached_directly():
    import os

    from gradfit import backend

    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    if not (os.path.isdir(libs) and any("openblas" in name for name in os.listdir(libs))):
        pytest.skip("this NumPy does not bundle OpenBLAS in numpy.libs")
    get, set_ = backend.numpy_openblas()
    before = get()
    with backend.one_thread(get, set_):
        assert get() == 1 and _blas_threads()[0] == 1
    assert get() == before
