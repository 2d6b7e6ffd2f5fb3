"""Week 1 lab "Coffee Roasting": a 2-3-1 sigmoid network learns which (temperature, duration) roasts are good.

What the lab teaches: normalise the features first (a ``Normalization`` layer learns each feature's mean and
variance with ``adapt``), then fit a tiny network; each of the 3 hidden sigmoid units learns one edge of the
"good roast" region, and the output unit combines them. The lab tiles its 200 examples 1000 times so that
a few epochs make many gradient steps.
What to look for: ``model.summary()`` counts 9 + 4 = 13 parameters; the loss falls from ~0.2 to below 0.01
in 10 epochs; the roast at 200 C for 13.9 min is predicted good (probability near 1) and the one at
200 C for 17 min bad (near 0).

    python examples/coffee_roasting.py [--epochs 10] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense


def load_coffee_data():
    """200 roasts: temperature 150-285 C, duration 11.5-15.5 min; good (1) inside a triangle-ish region."""
    rng = np.random.default_rng(2)
    X = rng.random(400).reshape(-1, 2)
    X[:, 1] = X[:, 1] * 4 + 11.5  # 12-15 min is best
    X[:, 0] = X[:, 0] * (285 - 150) + 150  # 175-260 C is best
    Y = np.zeros(len(X))
    for i, (t, d) in enumerate(X):
        y = -3 / (260 - 175) * t + 21  # too long at a high temperature burns the beans
        Y[i] = 1 if (175 < t < 260 and 12 < d < 15 and d <= y) else 0
    return X, Y.reshape(-1, 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the tiled data (the lab uses 10)")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    X, Y = load_coffee_data()
    print(f"X shape: {X.shape}, Y shape: {Y.shape}, good roasts: {int(Y.sum())} of {len(Y)}")

    print(f"Temperature Max, Min pre normalization: {np.max(X[:, 0]):0.2f}, {np.min(X[:, 0]):0.2f}")
    print(f"Duration    Max, Min pre normalization: {np.max(X[:, 1]):0.2f}, {np.min(X[:, 1]):0.2f}")
    norm_l = tf.keras.layers.Normalization(axis=-1)
    norm_l.adapt(X)  # learns mean, variance
    Xn = norm_l(X)
    print(f"Temperature Max, Min post normalization: {np.max(Xn[:, 0]):0.2f}, {np.min(Xn[:, 0]):0.2f}")
    print(f"Duration    Max, Min post normalization: {np.max(Xn[:, 1]):0.2f}, {np.min(Xn[:, 1]):0.2f}")

    Xt = np.tile(Xn, (1000, 1))
    Yt = np.tile(Y, (1000, 1))
    print(f"Tiled: {Xt.shape}, {Yt.shape}")

    tf.random.set_seed(1234)  # applied to achieve consistent results
    model = Sequential(
        [
            tf.keras.Input(shape=(2,)),
            Dense(3, activation="sigmoid", name="layer1"),
            Dense(1, activation="sigmoid", name="layer2"),
        ]
    )
    model.summary()

    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    )
    history = model.fit(Xt, Yt, epochs=args.epochs, verbose=2)
    print(f"Final loss: {history.history['loss'][-1]:.4f}")

    W1, b1 = model.get_layer("layer1").get_weights()
    W2, b2 = model.get_layer("layer2").get_weights()
    print(f"W1:\n{W1}\nb1: {b1}")
    print(f"W2:\n{W2}\nb2: {b2}")

    X_test = np.array([[200, 13.9], [200, 17]])  # positive example, negative example
    X_testn = norm_l(X_test)
    predictions = model.predict(X_testn, verbose=0)
    print(f"predictions = \n{predictions}")
    yhat = (predictions >= 0.5).astype(int)
    print(f"decisions = \n{yhat}")
    for (t, d), p in zip(X_test, predictions[:, 0]):
        print(f"  {t:.0f} C for {d:.1f} min: p(good) = {p:.4f} -> {'good' if p >= 0.5 else 'bad'} roast")

    accuracy = np.mean((model.predict(Xn, verbose=0) >= 0.5) == Y)
    print(f"Training accuracy (200 roasts): {accuracy:.2%}")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    figures = [("coffee_roasting_loss.png", plot.plot_history(history))]
    if hasattr(plot, "plot_decision_boundary"):  # the network sees normalised features
        figures.append(("coffee_roasting_boundary.png", plot.plot_decision_boundary(model, np.asarray(Xn), Y)))
    if hasattr(plot, "plot_units"):  # what each of the 3 hidden units has learned
        figures.append(("coffee_roasting_units.png", plot.plot_units(model, np.asarray(Xn))))
    for name, fig in figures:
        fig.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
