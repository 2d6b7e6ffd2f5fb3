"""Issue #13's figures: a scikit-learn ``GridSearchCV`` of gradfit models spread over the cores by joblib.

The sweep: 8 L2 ``lambda`` values x 5 folds of a 3000 x 100 two-class problem (scikit-learn's
``make_classification``), ``Dense(64, relu, kernel_regularizer=l2(lambda))`` then ``Dense(2, softmax)``, Adam,
40 epochs of batch 32, each fit seeded (``set_random_seed``) so that every candidate and fold trains the same in
any process. ``SKLearnClassifier(model=build_model, model_kwargs=..., fit_kwargs=...)`` is searched with

* ``n_jobs=1``: serial, in this process;
* ``n_jobs=2`` on joblib's default backend (loky): from a cold pool (the reusable executor is shut down first), so
  that starting the workers is counted; then once more on the workers joblib keeps (a second search's case);

and printed: serial s, parallel s, ratio (serial / parallel, from the same run), the worker start cost (a cold
pool's first two tasks: spawning two processes and importing gradfit's wrappers and scikit-learn's model
selection in them), the BLAS threads inside a worker (threadpoolctl, outside any fit: gradfit's fit limits BLAS
itself when the products are small) and whether ``best_params_`` and every ``cv_results_`` score are equal.
With loky, the CPU seconds of the serial search and of each worker (from its start) are printed too: the ratio
of the serial CPU seconds to the busier worker's is what the wall-clock ratio would be on two free cores.
"available" is the speed-up two processes of a plain NumPy loop get at the same time: on a machine where other
work takes the cores, the sweep cannot do better than that.

``--backend dask`` runs the parallel search through joblib's Dask backend on a ``LocalCluster`` of two worker
processes (one thread each); ``--backend ray`` through ``ray.util.joblib`` on ``ray.init(num_cpus=2)``. Their start
cost is the cluster's start.

    .venv/bin/python benchmarks/bench_sweep.py [--repeat 3] [--epochs 40] [--backend loky|dask|ray]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

LAMBDAS = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def build_model(X, y, lambda_=0.0, units=64, learning_rate=0.01, seed=0):
    """The swept network; the wrapper calls it with the fold's ``X`` and one-hot ``y``."""
    import gradfit as tf
    from gradfit.keras import Input, Sequential
    from gradfit.keras.layers import Dense

    tf.keras.utils.set_random_seed(seed)  # weights and shuffling the same for a candidate in every process
    model = Sequential(
        [
            Input(shape=(X.shape[1],)),
            Dense(units, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
            Dense(y.shape[1], activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=tf.keras.optimizers.Adam(learning_rate))
    return model


def make_data(n_samples: int = 3000, n_features: int = 100):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_samples, n_features=n_features, n_informative=20, random_state=0)
    return X.astype(np.float32), y


def search(X, y, n_jobs: int, epochs: int, folds: int = 5):
    """A fitted ``GridSearchCV`` over ``LAMBDAS`` and its wall-clock seconds."""
    from sklearn.model_selection import GridSearchCV, KFold

    from gradfit.keras.wrappers import SKLearnClassifier

    estimator = SKLearnClassifier(model=build_model, fit_kwargs={"epochs": epochs, "batch_size": 32, "verbose": 0})
    grid = GridSearchCV(
        estimator, {"model_kwargs": [{"lambda_": lam} for lam in LAMBDAS]}, cv=KFold(folds), n_jobs=n_jobs
    )
    start = time.perf_counter()
    grid.fit(X, y)
    return time.perf_counter() - start, grid


def scores(grid) -> dict:
    """Every score of ``cv_results_`` (times left out) and ``best_params_``, for comparing two searches."""
    out = {k: np.asarray(v).tolist() for k, v in grid.cv_results_.items() if "score" in k and "time" not in k}
    out["best_params_"] = grid.best_params_
    return out


def worker_info():
    """Run inside a worker: its pid, start-up imports and the BLAS thread counts threadpoolctl sees there."""
    import sklearn.model_selection  # noqa: F401  (what a search's task imports)
    from threadpoolctl import threadpool_info

    import gradfit.keras.wrappers  # noqa: F401

    blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return os.getpid(), blas


def burn(steps: int = 20_000) -> float:
    """A fixed amount of single-threaded NumPy work (small products, one BLAS thread), for "available"."""
    a = np.random.default_rng(0).normal(size=(32, 32))
    start = time.perf_counter()
    for _ in range(steps):
        a = np.tanh(a @ a.T * 0.01)
    return time.perf_counter() - start


def available_speedup(jobs: int = 2) -> float:
    """Serial over parallel seconds of ``jobs`` fixed work items on a warm pool: what the machine gives now."""
    from joblib import Parallel, delayed

    with Parallel(n_jobs=jobs) as parallel:
        parallel(delayed(burn)(10) for _ in range(jobs))  # start the workers first: not what this measures
        start = time.perf_counter()
        for _ in range(jobs):
            burn()
        serial = time.perf_counter() - start
        start = time.perf_counter()
        parallel(delayed(burn)() for _ in range(jobs))
        return serial / (time.perf_counter() - start)


def shut_down_loky_pool() -> None:
    """joblib keeps loky's workers between calls: shut them down so that the next search starts them."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def loky_start_cost(jobs: int = 2):
    """Seconds from a cold pool to the answers of ``jobs`` tasks that import what a search's task imports."""
    from joblib import Parallel, delayed

    shut_down_loky_pool()
    start = time.perf_counter()
    infos = Parallel(n_jobs=jobs)(delayed(worker_info)() for _ in range(jobs))
    return time.perf_counter() - start, infos


def loky_workers_cpu_seconds() -> list[float]:
    """CPU seconds (user + system) each live loky worker of this process has used since it started."""
    import psutil

    seconds = []
    for child in psutil.Process().children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                times = child.cpu_times()
                seconds.append(times.user + times.system)
        except psutil.NoSuchProcess:
            pass
    return seconds


def parallel_search(X, y, backend: str, epochs: int):
    """``(seconds of the search, seconds to start the backend, the search)``; the backend is stopped after."""
    if backend == "loky":
        shut_down_loky_pool()
        seconds, grid = search(X, y, n_jobs=2, epochs=epochs)
        return seconds, None, grid
    import joblib

    if backend == "dask":
        from dask.distributed import Client, LocalCluster

        start = time.perf_counter()
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
        started = time.perf_counter() - start
        try:
            with joblib.parallel_backend("dask"):
                seconds, grid = search(X, y, n_jobs=2, epochs=epochs)
        finally:
            client.close()
            cluster.close()
        return seconds, started, grid
    if backend == "ray":
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only (read at import)
        import ray
        from ray.util.joblib import register_ray

        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        register_ray()
        started = time.perf_counter() - start
        try:
            with joblib.parallel_backend("ray"):
                seconds, grid = search(X, y, n_jobs=2, epochs=epochs)
        finally:
            ray.shutdown()
        return seconds, started, grid
    raise ValueError(f"--backend: unknown backend {backend!r}; use 'loky', 'dask' or 'ray'.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs; the best of each is kept")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--backend", default="loky", choices=["loky", "dask", "ray"])
    args = parser.parse_args(argv)

    X, y = make_data()
    print(f"sweep: {len(LAMBDAS)} lambdas x 5 folds of {X.shape[0]} x {X.shape[1]}, Dense 64-2, {args.epochs} epochs")
    if args.backend == "loky":
        seconds, infos = loky_start_cost()
        cpu = ", ".join(f"{c:.2f}" for c in loky_workers_cpu_seconds())
        print(f"worker start cost (cold pool, 2 workers, imports): {seconds:.2f} s, CPU s in each worker: {cpu}")
        print(f"BLAS threads in the workers (pid, per library): {infos}")
    serial_best = parallel_best = start_best = warm_best = float("inf")
    equal = True
    for _ in range(args.repeat):
        cpu = time.process_time()
        serial, serial_grid = search(X, y, n_jobs=1, epochs=args.epochs)
        cpu = time.process_time() - cpu
        parallel, started, parallel_grid = parallel_search(X, y, args.backend, args.epochs)
        equal = equal and scores(serial_grid) == scores(parallel_grid)
        serial_best, parallel_best = min(serial_best, serial), min(parallel_best, parallel)
        if started is not None:
            start_best = min(start_best, started)
        print(f"  run: serial {serial:.2f} s, parallel {parallel:.2f} s, ratio {serial / parallel:.2f}")
        if args.backend == "loky":  # CPU seconds do not count waiting for a core that other work holds
            workers = loky_workers_cpu_seconds()
            print(
                f"  CPU s: serial {cpu:.2f}; workers {', '.join(f'{w:.2f}' for w in workers)} (their start and "
                f"imports included): on two free cores, a ratio of about {cpu / max(workers):.2f}"
            )
            warm, _ = search(X, y, n_jobs=2, epochs=args.epochs)  # joblib reuses the workers: no start
            warm_best = min(warm_best, warm)
            print(f"  again on the started workers: parallel {warm:.2f} s, ratio {serial / warm:.2f}")
    print(f"available speed-up of 2 processes now: {available_speedup():.2f}")
    print(f"serial s:   {serial_best:.2f}")
    print(f"parallel s: {parallel_best:.2f}  ({args.backend}, n_jobs=2)")
    print(f"ratio:      {serial_best / parallel_best:.2f}")
    if warm_best != float("inf"):
        print(f"ratio on started workers (a second search): {serial_best / warm_best:.2f}")
    if start_best != float("inf"):
        print(f"{args.backend} start s: {start_best:.2f}")
    print(f"best_params_ and cv_results_ scores equal: {equal}  (best: {serial_grid.best_params_})")


if __name__ == "__main__":
    main()
