"""Week 2 lab "Softmax": four classes of points in the plane, with the output left as logits.

What the lab teaches: for multiclass classification the last layer has one unit per class and a *linear*
activation; ``SparseCategoricalCrossentropy(from_logits=True)`` applies the softmax inside the loss, which is
numerically more accurate than a softmax layer. The model's outputs are then logits, not probabilities:
``tf.nn.softmax`` turns them into probabilities, and ``argmax`` picks the class (softmax keeps the order).
What to look for: ``model.summary()`` counts 75 + 390 + 64 = 529 parameters; the raw outputs are unbounded
numbers that do not sum to 1, the softmax outputs lie in [0, 1] and sum to 1; training accuracy ~99%.

    python examples/softmax_blobs.py [--epochs 10] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense

CENTERS = [[-5, 2], [-2, -2], [1, 2], [5, -2]]


def make_blobs(n_samples=2000, centers=CENTERS, cluster_std=1.0, random_state=30):
    """scikit-learn's ``make_blobs`` when it is installed, else the same kind of data from NumPy."""
    try:
        from sklearn.datasets import make_blobs as sk_make_blobs
    except ImportError:
        rng = np.random.default_rng(random_state)
        centers = np.asarray(centers, dtype=float)
        y = np.arange(n_samples) % len(centers)
        X = centers[y] + cluster_std * rng.normal(size=(n_samples, centers.shape[1]))
        order = rng.permutation(n_samples)
        return X[order], y[order]
    return sk_make_blobs(n_samples=n_samples, centers=centers, cluster_std=cluster_std, random_state=random_state)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the 2000 examples (the lab uses 10)")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    # make 4-class dataset for classification
    X_train, y_train = make_blobs(n_samples=2000, centers=CENTERS, cluster_std=1.0, random_state=30)
    print(f"X_train shape: {X_train.shape}, classes: {np.unique(y_train)}")

    tf.random.set_seed(1234)
    preferred_model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            Dense(25, activation="relu"),
            Dense(15, activation="relu"),
            Dense(4, activation="linear"),  # <-- Note: logits, no softmax here
        ]
    )
    preferred_model.summary()
    preferred_model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # <-- Note
        optimizer=tf.keras.optimizers.Adam(0.001),
        metrics=["accuracy"],
    )
    history = preferred_model.fit(X_train, y_train, epochs=args.epochs, verbose=2)
    print(f"Final loss: {history.history['loss'][-1]:.4f}")

    p_preferred = preferred_model.predict(X_train, verbose=0)
    print("two example output vectors (logits):\n", p_preferred[:2])
    print("largest value", np.max(p_preferred), "smallest value", np.min(p_preferred))

    sm_preferred = tf.nn.softmax(p_preferred).numpy()
    print("two example output vectors after softmax:\n", sm_preferred[:2])
    print("largest value", np.max(sm_preferred), "smallest value", np.min(sm_preferred))
    print(f"rows sum to 1: {np.allclose(sm_preferred.sum(axis=1), 1, atol=1e-5)}")

    for i in range(5):
        print(f"{p_preferred[i]}, category: {np.argmax(p_preferred[i])}, label: {y_train[i]}")

    yhat = np.argmax(sm_preferred, axis=1)
    print(f"Training accuracy: {np.mean(yhat == y_train):.2%} ({int((yhat != y_train).sum())} of {len(y_train)} wrong)")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    figures = [("softmax_blobs_history.png", plot.plot_history(history))]
    if hasattr(plot, "plot_decision_boundary"):
        figures.append(("softmax_blobs_regions.png", plot.plot_decision_boundary(preferred_model, X_train, y_train)))
    for name, fig in figures:
        fig.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
