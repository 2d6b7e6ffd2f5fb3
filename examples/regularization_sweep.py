"""Week 3 practice lab "Advice for applying machine learning": choose the regularization parameter lambda.

What the lab teaches: a big network (120-40-6 units) trained long enough fits the training set almost
perfectly but does worse on data it has not seen (high variance). An L2 penalty on the weights,
``kernel_regularizer=tf.keras.regularizers.l2(lambda)``, adds ``lambda * sum(W**2)`` to the cost and pulls the
network towards simpler boundaries. Sweeping lambda and comparing the training error with the error on a
separate cross-validation set picks the lambda that generalises best.
What to look for: at lambda = 0 the training error is near 0 but the validation error is much larger
(~0.11: the network has fitted the overlap between the classes); as lambda grows the training error rises
and the gap closes, both errors settling near 0.06-0.10 (each model starts from other random weights, so
expect a point or two of noise). Much larger lambdas would underfit (high bias: both errors high). The
chosen lambda is the one with the smallest validation error; the test set is kept for an unbiased estimate.

    python examples/regularization_sweep.py [--epochs 1000] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.losses import SparseCategoricalCrossentropy

LAMBDAS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3]


def gen_blobs():
    """The lab's data: 800 points in 6 overlapping classes (scikit-learn's make_blobs, else NumPy)."""
    classes, m, std = 6, 800, 0.4
    centers = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [-2, 1], [-2, -1]])
    try:
        from sklearn.datasets import make_blobs
    except ImportError:
        rng = np.random.default_rng(2)
        y = np.arange(m) % classes
        X = centers[y] + std * rng.normal(size=(m, 2))
        order = rng.permutation(m)
        return X[order], y[order], classes
    X, y = make_blobs(n_samples=m, centers=centers, cluster_std=std, random_state=2, n_features=2)
    return X, y, classes


def split(X, y, test_size, seed):
    """``train_test_split`` from scikit-learn when installed, else a NumPy shuffle and cut."""
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        order = np.random.default_rng(seed).permutation(len(X))
        cut = len(X) - int(np.ceil(test_size * len(X)))
        return X[order[:cut]], X[order[cut:]], y[order[:cut]], y[order[cut:]]
    return train_test_split(X, y, test_size=test_size, random_state=seed)


def eval_cat_err(y, yhat):
    """Categorization error: the fraction of examples whose predicted class is wrong."""
    return float(np.mean(y != yhat))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000, help="passes over the 400 training examples per model")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    X, y, classes = gen_blobs()
    # split the data: 50% train, 40% cross-validation, 10% test (kept aside, as in the lab)
    X_train, X_, y_train, y_ = split(X, y, test_size=0.50, seed=1)
    X_cv, X_test, y_cv, y_test = split(X_, y_, test_size=0.20, seed=1)
    print(f"X_train.shape: {X_train.shape}, X_cv.shape: {X_cv.shape}, X_test.shape: {X_test.shape}")

    tf.random.set_seed(1234)
    models = [None] * len(LAMBDAS)
    err_train, err_cv = [], []
    for i, lambda_ in enumerate(LAMBDAS):
        models[i] = Sequential(
            [
                tf.keras.Input(shape=(2,)),
                Dense(120, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
                Dense(40, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
                Dense(classes, activation="linear"),
            ]
        )
        if i == 0:
            models[i].summary()
            print(f"{'lambda':>8}  {'train error':>11}  {'validation error':>16}")
        models[i].compile(
            loss=SparseCategoricalCrossentropy(from_logits=True),
            optimizer=tf.keras.optimizers.Adam(0.01),
        )
        models[i].fit(X_train, y_train, epochs=args.epochs, verbose=0)
        yhat_train = np.argmax(models[i].predict(X_train, verbose=0), axis=1)
        yhat_cv = np.argmax(models[i].predict(X_cv, verbose=0), axis=1)
        err_train.append(eval_cat_err(y_train, yhat_train))
        err_cv.append(eval_cat_err(y_cv, yhat_cv))
        print(f"{lambda_:>8}  {err_train[-1]:>11.3f}  {err_cv[-1]:>16.3f}")

    best = int(np.argmin(err_cv))
    print(f"Best lambda by validation error: {LAMBDAS[best]}")
    print(f"  its training error {err_train[best]:.3f}, validation error {err_cv[best]:.3f}")
    yhat_test = np.argmax(models[best].predict(X_test, verbose=0), axis=1)
    print(f"Its test error (data not used to choose lambda): {eval_cat_err(y_test, yhat_test):.3f}")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(LAMBDAS, err_train, "o-", label="training error")
    ax.plot(LAMBDAS, err_cv, "o-", label="validation (cv) error")
    ax.axvline(LAMBDAS[best], color="gray", ls="--", lw=1, label=f"best lambda {LAMBDAS[best]}")
    ax.set_xlabel("lambda")
    ax.set_ylabel("fraction misclassified")
    ax.set_title("small lambda: low training error, high validation error (variance)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    figures = [("regularization_sweep_errors.png", fig)]
    if hasattr(plot, "plot_decision_boundary"):
        for i in sorted({0, best}):  # the boundaries with no penalty and with the chosen one, on the cv data
            fig = plot.plot_decision_boundary(models[i], X_cv, y_cv)
            fig.axes[0].set_title(f"lambda = {LAMBDAS[i]}, validation data: " + fig.axes[0].get_title(), fontsize=10)
            figures.append((f"regularization_sweep_lambda_{LAMBDAS[i]}.png", fig))
    for name, figure in figures:
        figure.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
