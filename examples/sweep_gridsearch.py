"""Week 3's lambda sweep as a scikit-learn search: ``GridSearchCV(SKLearnClassifier(...))``, serial and over 2 cores.

The lab "Advice for applying machine learning" trains the 120-40-6 network once per L2 penalty ``lambda`` and
keeps the one with the smallest error on the cross-validation set. That loop is what scikit-learn's
``GridSearchCV`` does: ``gradfit.keras.wrappers.SKLearnClassifier`` makes a gradfit model a scikit-learn
estimator (Keras 3's ``keras.wrappers`` API: ``model=`` a function that builds and compiles the model,
``model_kwargs=`` its arguments, ``fit_kwargs=`` those of ``model.fit``), the grid is over ``model_kwargs``, and
``PredefinedSplit`` keeps the lab's own training / cross-validation split (``return_train_score`` gives the
training error beside it). ``n_jobs=2`` fits two candidates at a time in two worker processes (joblib's loky
backend, one BLAS thread each); the model function seeds gradfit (``set_random_seed``), so each candidate trains
the same in any process and both searches give the same scores.
What to look for: the same table twice, ``same scores with n_jobs=1 and n_jobs=2: True``, and the second search
taking less time once there is enough work (the first parallel search also starts the workers: about a second).

    python examples/sweep_gridsearch.py [--epochs 300] [--jobs 2] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split

import gradfit as tf
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.wrappers import SKLearnClassifier

LAMBDAS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3]


def build_model(X, y, lambda_=0.0, seed=1234):
    """The lab's complex model with ``kernel_regularizer=l2(lambda_)``. The wrapper one-hot encodes ``y``, so the
    loss is the categorical cross-entropy (from the linear output's logits)."""
    tf.keras.utils.set_random_seed(seed)  # the same initial weights and batches for this candidate anywhere
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


def lab_data():
    """The lab's 6 blobs split 50 % train, 40 % cross-validation, 10 % test."""
    centers = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [-2, 1], [-2, -1]])
    X, y = make_blobs(n_samples=800, centers=centers, cluster_std=0.4, random_state=2, n_features=2)
    X_train, X_, y_train, y_ = train_test_split(X, y, test_size=0.50, random_state=1)
    X_cv, X_test, y_cv, y_test = train_test_split(X_, y_, test_size=0.20, random_state=1)
    return X_train, y_train, X_cv, y_cv, X_test, y_test


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="passes over the 400 training examples per model")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes of the parallel search")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the picture")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    X_train, y_train, X_cv, y_cv, X_test, y_test = lab_data()
    X, y = np.vstack([X_train, X_cv]), np.r_[y_train, y_cv]
    # -1: always in the training part; 0: the one validation fold (the lab's cross-validation set)
    split = PredefinedSplit(np.r_[np.full(len(X_train), -1), np.zeros(len(X_cv), int)])
    estimator = SKLearnClassifier(model=build_model, fit_kwargs={"epochs": args.epochs, "verbose": 0})
    grid = {"model_kwargs": [{"lambda_": lam} for lam in LAMBDAS]}

    searches = {}
    for n_jobs in (1, args.jobs):
        search = GridSearchCV(estimator, grid, cv=split, return_train_score=True, n_jobs=n_jobs)
        start = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
        searches[n_jobs] = search
        print(f"GridSearchCV(n_jobs={n_jobs}): {len(LAMBDAS)} fits in {seconds:.1f} s")
        print(f"{'lambda':>8}  {'train error':>11}  {'validation error':>16}")
        results = search.cv_results_
        for lam, train, test in zip(LAMBDAS, results["mean_train_score"], results["mean_test_score"]):
            print(f"{lam:>8}  {1 - train:>11.3f}  {1 - test:>16.3f}")

    serial, parallel = searches[1], searches[args.jobs]
    same = serial.best_params_ == parallel.best_params_ and all(
        np.array_equal(serial.cv_results_[key], parallel.cv_results_[key])
        for key in ("mean_train_score", "mean_test_score", "rank_test_score")
    )
    print(f"same scores with n_jobs=1 and n_jobs={args.jobs}: {same}")
    best = serial.best_params_["model_kwargs"]["lambda_"]
    print(f"Best lambda by validation error: {best}")
    # refit=True retrained the best candidate on the training and cross-validation sets together
    print(f"Its test error (data not used to choose lambda): {1 - serial.score(X_test, y_test):.3f}")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(LAMBDAS, 1 - serial.cv_results_["mean_train_score"], "o-", label="training error")
    ax.plot(LAMBDAS, 1 - serial.cv_results_["mean_test_score"], "o-", label="validation (cv) error")
    ax.axvline(best, color="gray", ls="--", lw=1, label=f"best lambda {best}")
    ax.set_xlabel("lambda")
    ax.set_ylabel("fraction misclassified")
    ax.set_title("GridSearchCV over lambda (the lab's split)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = args.out / "sweep_gridsearch_errors.png"
    fig.savefig(path, dpi=100)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
