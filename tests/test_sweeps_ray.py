"""The course's lambda sweep (test_sweeps.py) through Ray's joblib backend (``ray.util.joblib``): a local Ray
instance of two CPUs (``ray.init(num_cpus=2)``, no dashboard), started and shut down by the fixture, gives the
same ``best_params_`` and ``cv_results_`` scores as ``n_jobs=1``; nothing it started is left running."""

from __future__ import annotations

import os

import pytest

# Ray's processes talk over loopback only: on Linux Ray would pick the machine's own network address (read when
# ray is imported; macOS and Windows always use 127.0.0.1, which this setting asks for everywhere)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

pytest.importorskip("sklearn", minversion="1.6")  # what gradfit.keras.wrappers needs
ray = pytest.importorskip("ray")
ray_joblib = pytest.importorskip("ray.util.joblib")
psutil = pytest.importorskip("psutil")

import joblib  # noqa: E402

from tests.test_sweeps import (  # noqa: E402
    assert_same_search,
    blas_threads_here,
    lab_search,
    lab_split,
    processes_started_since,
)


@pytest.fixture
def ray_backend(tmp_path_factory):
    """``ray.init(num_cpus=2)`` with its session files under a short temporary folder (Ray's sockets live there
    and a socket's path is limited to ~107 characters), the ``"ray"`` joblib backend registered; shut down after."""
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=str(tmp_path_factory.mktemp("ray")),
        )
        ray_joblib.register_ray()
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")  # loopback only
        yield
    finally:
        ray.shutdown()
        left = processes_started_since(before)
        if left:  # Ray's processes may take a moment to exit after shutdown returns
            _, left = psutil.wait_procs(left, timeout=10)
        for process in left:
            process.kill()
        assert not left, f"processes left running after ray.shutdown(): {left}"


def test_the_ray_backend_gives_the_serial_search(ray_backend):
    X, y, _ = lab_split()
    serial = lab_search().set_params(n_jobs=1).fit(X, y)
    with joblib.parallel_backend("ray"):
        on_ray = lab_search().set_params(n_jobs=2).fit(X, y)
        workers = joblib.Parallel(n_jobs=2)(joblib.delayed(blas_threads_here)() for _ in range(4))
    assert_same_search(serial, on_ray)
    # Ray's workers run a 1-CPU task with OMP_NUM_THREADS=1, which OpenBLAS follows: one BLAS thread each
    for pid, counts in workers:
        assert counts and set(counts) == {1}, f"Ray worker {pid}: BLAS threads {counts}"
