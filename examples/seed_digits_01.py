"""Week 1 practice lab: a neural network that tells handwritten 0s from 1s.

What the lab teaches: the three steps of Keras, unchanged but for the import,
  1. ``Sequential([...])`` says how to compute f(x): 400 pixels -> 25 -> 15 -> 1 sigmoid units;
  2. ``compile(loss=BinaryCrossentropy())`` picks the loss that ``fit`` minimises;
  3. ``fit(X, y)`` runs backpropagation and gradient descent (Adam).
What to look for: ``model.summary()`` counts 10,025 + 390 + 16 = 10,431 parameters (W1 is 400x25, W2 25x15,
W3 15x1, plus one bias per unit); the loss falls towards ~0.03 within 20 epochs; the prediction for X[0]
(a zero) is near 0 and for X[500] (a one) near 1, and thresholding at 0.5 turns them into labels.

Data: the course's 1000 images (``shared/data/course_digits_01.npz`` beside the repository), or
scikit-learn's bundled digits upsampled to 20x20 when that file is absent.

    python examples/seed_digits_01.py [--epochs 20] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import gradfit as tf
from gradfit.datasets import load_digits, load_npz
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_data():
    """``(X, y, from_course)``: the course's file when it is there, else scikit-learn's digits."""
    path = DATA_DIR / "course_digits_01.npz"
    if path.is_file():
        X, y = load_npz(path)
        return X, y, True
    X, y = load_digits((0, 1))
    return X, y, False


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the data (the lab uses 20)")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    X, y, from_course = load_data()
    if from_course:
        print(f"Data: the course's digits ({DATA_DIR / 'course_digits_01.npz'})")
    else:
        print("Data: scikit-learn's digits upsampled to 20x20 (the course's file was not found)")
    print(f"The shape of X is: {X.shape}")
    print(f"The shape of y is: {y.shape}")

    tf.random.set_seed(1234)
    model = Sequential(
        [
            tf.keras.Input(shape=(400,)),  # specify input size
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
    )
    model.summary()

    [layer1, layer2, layer3] = model.layers
    W1, b1 = layer1.get_weights()
    W2, b2 = layer2.get_weights()
    W3, b3 = layer3.get_weights()
    print(f"W1 shape = {W1.shape}, b1 shape = {b1.shape}")
    print(f"W2 shape = {W2.shape}, b2 shape = {b2.shape}")
    print(f"W3 shape = {W3.shape}, b3 shape = {b3.shape}")

    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(),
        optimizer=tf.keras.optimizers.Adam(0.001),
    )
    history = model.fit(X, y, epochs=args.epochs)
    print(f"Final loss: {history.history['loss'][-1]:.4f}")

    # the lab's two checks: X[0] is a zero and X[500] is a one in the course's data (sorted by label)
    i_zero = 0 if from_course else int(np.argmax(y[:, 0] == 0))
    i_one = 500 if from_course else int(np.argmax(y[:, 0] == 1))
    prediction = model.predict(X[i_zero].reshape(1, 400), verbose=0)  # a zero
    print(f" predicting a zero: {prediction}  (X[{i_zero}])")
    prediction = model.predict(X[i_one].reshape(1, 400), verbose=0)  # a one
    print(f" predicting a one:  {prediction}  (X[{i_one}])")
    yhat = 1 if prediction >= 0.5 else 0
    print(f"prediction after threshold: {yhat}")

    p = model.predict(X, verbose=0)
    yhat_all = (p >= 0.5).astype(int)
    errors = int((yhat_all != y).sum())
    print(f"Training accuracy: {np.mean(yhat_all == y):.2%} ({errors} of {len(y)} wrong)")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    for name, fig in (
        ("seed_digits_01_loss.png", plot.plot_history(history)),
        ("seed_digits_01_digits.png", plot.plot_digits(X, y, yhat_all)),
    ):
        fig.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
