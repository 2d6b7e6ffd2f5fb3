"""Shuffled training on a file-backed array keeps the process's anonymous memory small (issue #12).

A 1 GiB float32 .npy is opened with ``np.load(mmap_mode="r")`` and trained on for one shuffled epoch, while a
thread samples ``RssAnon`` from /proc/self/status every 50 ms: the peak stays under 300 MB above the level before
``fit`` (the map's pages are file-backed and reclaimable, so they are not anonymous memory; a shuffled copy of the
data, as fit made for arrays before, would be 1 GiB of it). Few features and many rows keep the epoch's
arithmetic small; the permutation of the rows (8 bytes a row) is part of what is measured.
"""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

from gradfit.adapters.files import RowSourceAdapter

STATUS = "/proc/self/status"
ROWS, FEATURES = 1 << 20, 256  # 1 GiB of float32
BOUND_MB = 300

pytestmark = pytest.mark.skipif(not os.path.exists(STATUS), reason="needs /proc/self/status (Linux) for RssAnon")


def rss_anon_mb() -> float:
    with open(STATUS) as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    pytest.skip("this kernel's /proc/self/status has no RssAnon")


class PeakSampler:
    """The largest ``RssAnon`` seen by a thread that samples it every ``interval`` seconds while in the block."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon_mb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon_mb())


@pytest.fixture(scope="module")
def big_npy(tmp_path_factory):
    """A (2**20, 256) float32 .npy of uniform values, written in chunks through the file (not through a map, so
    that writing it leaves no pages in this process)."""
    folder = tmp_path_factory.mktemp("memmap")
    if shutil.disk_usage(folder).free < ROWS * FEATURES * 4 + (512 << 20):
        pytest.skip("needs about 1.5 GB free in the temporary folder")
    path = folder / "big.npy"
    rng = np.random.default_rng(0)
    chunk = 1 << 15
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (ROWS, FEATURES)})
        for _ in range(ROWS // chunk):
            f.write(rng.random((chunk, FEATURES), dtype=np.float32).tobytes())
    yield path
    path.unlink()


def test_shuffled_pass_over_a_memmap_reads_batches_only(big_npy):
    """The adapter alone: one shuffled pass of 4096-row batches over the whole file."""
    x = np.load(big_npy, mmap_mode="r")
    base = rss_anon_mb()
    adapter = RowSourceAdapter(x, batch_size=4096, shuffle=True, dtype=np.float32, rng=np.random.default_rng(0))
    total = 0
    with PeakSampler() as sampler:
        for xb, _, _ in adapter.batches(0):
            total += len(xb)
    assert total == ROWS
    assert sampler.peak - base < BOUND_MB, f"RssAnon rose {sampler.peak - base:.0f} MB over {base:.0f} MB"


def test_shuffled_fit_epoch_on_a_memmap(big_npy):
    """fit itself: one shuffled epoch of a linear model on the mapped file, y in memory."""
    import gradfit.keras as gk

    x = np.load(big_npy, mmap_mode="r")
    y = np.zeros((ROWS, 1), np.float32)
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.Input(shape=(FEATURES,)), gk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    base = rss_anon_mb()
    with PeakSampler() as sampler:
        history = model.fit(x, y, batch_size=8192, epochs=1, shuffle=True, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert sampler.peak - base < BOUND_MB, f"RssAnon rose {sampler.peak - base:.0f} MB over {base:.0f} MB"
