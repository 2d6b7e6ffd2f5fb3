"""Week 3's lambda sweep as ``GridSearchCV(SKLearnClassifier(...))`` on a Dask cluster, through joblib's Dask backend.

The search of ``sweep_gridsearch.py``, unchanged, inside ``with joblib.parallel_backend("dask"):``: joblib
hands each (candidate, fold) fit to the ``dask.distributed`` cluster that the ``Client`` is connected to. Give
the scheduler of a running cluster with ``--scheduler tcp://HOST:8786`` (or the ``DASK_SCHEDULER_ADDRESS``
environment variable, which Dask reads itself); without one the script starts a ``LocalCluster`` of two worker
processes with one thread each on this machine, and stops it at the end. Every worker needs gradfit and
scikit-learn installed (the same versions as here); the model function below travels to them by value, as this
script's own code.
What to look for: the workers the search ran on, and ``same scores as n_jobs=1 here: True``.

    python examples/sweep_dask.py [--scheduler tcp://10.0.0.5:8786] [--epochs 300] [--out examples-output]

A cluster of your own, for instance: ``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786
--nthreads 1`` on each of the others.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split

import gradfit as tf
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.wrappers import SKLearnClassifier

LAMBDAS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3]


def build_model(X, y, lambda_=0.0, seed=1234):
    """The lab's complex model with ``kernel_regularizer=l2(lambda_)``, seeded so that it trains the same on any
    worker; the wrapper one-hot encodes ``y``, hence the categorical cross-entropy from logits."""
    tf.keras.utils.set_random_seed(seed)
    model = Sequential(
        [
            Input(shape=(X.shape[1],)),
            Dense(120, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
            Dense(40, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
            Dense(y.shape[1], activation="linear"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True), optimizer=tf.keras.optimizers.Adam(0.01)
    )
    return model


def lab_search(epochs: int, n_jobs: int):
    """The lambda grid over the lab's train / cross-validation split (6 blobs, 400 + 320 examples)."""
    centers = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [-2, 1], [-2, -1]])
    X, y = make_blobs(n_samples=800, centers=centers, cluster_std=0.4, random_state=2, n_features=2)
    X_train, X_, y_train, y_ = train_test_split(X, y, test_size=0.50, random_state=1)
    X_cv, _, y_cv, _ = train_test_split(X_, y_, test_size=0.20, random_state=1)
    split = PredefinedSplit(np.r_[np.full(len(X_train), -1), np.zeros(len(X_cv), int)])
    estimator = SKLearnClassifier(model=build_model, fit_kwargs={"epochs": epochs, "verbose": 0})
    grid = {"model_kwargs": [{"lambda_": lam} for lam in LAMBDAS]}
    search = GridSearchCV(estimator, grid, cv=split, return_train_score=True, n_jobs=n_jobs)
    return search, np.vstack([X_train, X_cv]), np.r_[y_train, y_cv]


def run(client: Client, epochs: int) -> GridSearchCV:
    workers = client.scheduler_info()["workers"]
    print(f"Dask scheduler {client.scheduler.address}: {len(workers)} workers")
    search, X, y = lab_search(epochs, n_jobs=-1)  # -1 with the Dask backend: every worker thread of the cluster
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    print(f"GridSearchCV on Dask: {len(LAMBDAS)} fits in {time.perf_counter() - start:.1f} s")
    print(f"{'lambda':>8}  {'train error':>11}  {'validation error':>16}")
    results = search.cv_results_
    for lam, train, test in zip(LAMBDAS, results["mean_train_score"], results["mean_test_score"]):
        print(f"{lam:>8}  {1 - train:>11.3f}  {1 - test:>16.3f}")
    print(f"Best lambda by validation error: {search.best_params_['model_kwargs']['lambda_']}")

    here, X, y = lab_search(epochs, n_jobs=1)
    here.fit(X, y)
    same = here.best_params_ == search.best_params_ and all(
        np.array_equal(here.cv_results_[key], results[key])
        for key in ("mean_train_score", "mean_test_score", "rank_test_score")
    )
    print(f"same scores as n_jobs=1 here: {same}")
    return search


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=os.environ.get("DASK_SCHEDULER_ADDRESS"), help="tcp://HOST:PORT")
    parser.add_argument("--epochs", type=int, default=300, help="passes over the 400 training examples per model")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the picture")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    if args.scheduler:
        with Client(args.scheduler) as client:
            search = run(client, args.epochs)
    else:
        print("No --scheduler (nor DASK_SCHEDULER_ADDRESS): starting a LocalCluster of 2 worker processes")
        local = {"host": "127.0.0.1", "dashboard_address": None}  # loopback only, no dashboard
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **local) as cluster:
            with Client(cluster) as client:
                search = run(client, args.epochs)

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(LAMBDAS, 1 - search.cv_results_["mean_train_score"], "o-", label="training error")
    ax.plot(LAMBDAS, 1 - search.cv_results_["mean_test_score"], "o-", label="validation (cv) error")
    ax.set_xlabel("lambda")
    ax.set_ylabel("fraction misclassified")
    ax.set_title("GridSearchCV over lambda on a Dask cluster")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = args.out / "sweep_dask_errors.png"
    fig.savefig(path, dpi=100)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
