"""Week 2 practice lab: recognise all ten handwritten digits with a ReLU network and a softmax from logits.

What the lab teaches: the week-1 network grows to 10 output units, one per digit, with ReLU hidden units
and a linear output; ``SparseCategoricalCrossentropy(from_logits=True)`` takes the integer labels 0-9
directly, and ``tf.nn.softmax`` + ``argmax`` turn the outputs into a predicted digit.
What to look for: ``model.summary()`` counts 10,025 + 390 + 160 = 10,575 parameters; over 40 epochs the
loss falls from ~1.5 to ~0.03 and only ~15-25 of the 5000 training images stay misclassified; X[1015] is
a two and is predicted as one.

Data: the course's 5000 images (``shared/data/course_digits_0to9.npz`` beside the repository), or
scikit-learn's 1797 bundled digits upsampled to 20x20 when that file is absent.

    python examples/digits_0to9.py [--epochs 40] [--out examples-output]
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
    path = DATA_DIR / "course_digits_0to9.npz"
    if path.is_file():
        X, y = load_npz(path)
        return X, y, True
    X, y = load_digits(range(10))
    return X, y, False


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="passes over the data (the lab uses 40)")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    X, y, from_course = load_data()
    if from_course:
        print(f"Data: the course's digits ({DATA_DIR / 'course_digits_0to9.npz'})")
    else:
        print("Data: scikit-learn's digits upsampled to 20x20 (the course's file was not found)")
    print(f"The shape of X is: {X.shape}")
    print(f"The shape of y is: {y.shape}")

    tf.random.set_seed(1234)  # for consistent results
    model = Sequential(
        [
            tf.keras.Input(shape=(400,)),
            Dense(25, activation="relu", name="L1"),
            Dense(15, activation="relu", name="L2"),
            Dense(10, activation="linear", name="L3"),
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
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
    )
    history = model.fit(X, y, epochs=args.epochs, verbose=2)
    print(f"Loss: first epoch {history.history['loss'][0]:.4f}, final {history.history['loss'][-1]:.4f}")

    # the lab's check: X[1015] is a two in the course's data (sorted by label); else take the first two
    i_two = 1015 if from_course else int(np.argmax(y[:, 0] == 2))
    print(f"X[{i_two}] is labelled {y[i_two, 0]}")
    image_of_two = X[i_two]
    prediction = model.predict(image_of_two.reshape(1, 400), verbose=0)  # prediction
    print(f" predicting a Two: \n{prediction}")
    print(f" Largest Prediction index: {np.argmax(prediction)}")
    prediction_p = tf.nn.softmax(prediction)
    print(f" predicting a Two. Probability vector: \n{prediction_p}")
    print(f"Total of predictions: {np.sum(prediction_p):0.3f}")
    yhat = np.argmax(prediction_p)
    print(f"np.argmax(prediction_p): {yhat}")

    f = model.predict(X, verbose=0)
    yhat_all = np.argmax(f, axis=1)
    errors = int(np.sum(yhat_all != y[:, 0]))
    print(f"{errors} errors out of {len(X)} images")
    print(f"Training accuracy: {np.mean(yhat_all == y[:, 0]):.2%}")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    figures = [
        ("digits_0to9_loss.png", plot.plot_history(history)),
        ("digits_0to9_digits.png", plot.plot_digits(X, y, yhat_all)),
    ]
    if hasattr(plot, "plot_units"):  # the 25 first-layer units' weights, seen as 20x20 images
        figures.append(("digits_0to9_units.png", plot.plot_units(model, X)))
    for name, fig in figures:
        fig.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
