"""The course's lambda sweep (test_sweeps.py) through joblib's Dask backend on a real ``dask.distributed``
cluster: a ``LocalCluster`` with a scheduler and two worker processes (one thread each) on localhost, started
and stopped by the fixture, gives the same ``best_params_`` and ``cv_results_`` scores as ``n_jobs=1``; nothing
it started is left running. examples/sweep_dask.py, in another process, runs the same search on that cluster
through the scheduler's address, as against a remote cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn", minversion="1.6")  # what gradfit.keras.wrappers needs
distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # a dependency of distributed and of ray

import dask  # noqa: E402
import joblib  # noqa: E402

from tests.test_sweeps import (  # noqa: E402
    assert_same_search,
    blas_threads_here,
    lab_search,
    lab_split,
    processes_started_since,
)


@pytest.fixture(scope="module")
def dask_client(tmp_path_factory):
    """A scheduler and two single-threaded worker processes on 127.0.0.1 (their scratch space under the test's
    temporary folder), and a client, for this module's tests; all stopped after them."""
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    cluster = client = None
    # the workers' and nannies' scratch space (else dask-scratch-space in the system's temporary folder)
    with dask.config.set({"temporary-directory": str(tmp_path_factory.mktemp("dask"))}):
        try:
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            client = distributed.Client(cluster)
            yield client
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
    left = processes_started_since(before)
    for process in left:  # stop them so that a failure here does not leave them running either
        process.kill()
    assert not left, f"processes left running after the cluster's shutdown: {left}"


def test_the_dask_backend_gives_the_serial_search(dask_client):
    X, y, _ = lab_split()
    serial = lab_search().set_params(n_jobs=1).fit(X, y)
    assert len(dask_client.scheduler_info()["workers"]) == 2
    with joblib.parallel_backend("dask"):
        on_dask = lab_search().set_params(n_jobs=2).fit(X, y)
    assert_same_search(serial, on_dask)
    # the fits ran in the workers, each with one BLAS thread (the nanny sets OMP/OPENBLAS/MKL_NUM_THREADS=1)
    threads = dask_client.run(blas_threads_here)
    assert len(threads) == 2
    for address, (_, counts) in threads.items():
        assert counts and set(counts) == {1}, f"worker {address}: BLAS threads {counts}"


def test_the_example_runs_on_a_running_cluster_by_its_address(dask_client, tmp_path):
    """examples/sweep_dask.py connects to the scheduler named by DASK_SCHEDULER_ADDRESS instead of starting a
    LocalCluster, and its search there gives the scores of its search in its own process."""
    address = dask_client.scheduler.address
    example = Path(__file__).resolve().parents[1] / "examples" / "sweep_dask.py"
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": address, "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, str(example), "--epochs", "2", "--out", str(tmp_path)],
        cwd=example.parents[1],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert f"Dask scheduler {address}: 2 workers" in result.stdout
    assert "LocalCluster" not in result.stdout
    assert "same scores as n_jobs=1 here: True" in result.stdout
