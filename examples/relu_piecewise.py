"""Week 2 lab "ReLU activation": three ReLU units are enough to draw a piecewise-linear curve.

What the lab teaches: a ReLU unit ``a = max(0, w x + b)`` is off (0) on one side of ``x = -b / w`` and a
straight line on the other, so it adds one kink to the output. A linear output unit sums the units, so
``Dense(3, relu) + Dense(1, linear)`` can represent any continuous curve made of straight pieces with two
kinks inside the data (the third unit supplies the first slope). The lab sets the weights by hand; here
we do that too, and then let Adam find them from random weights.
What to look for: the hand-set weights reach a loss of exactly 0; training ends with a loss near 0
(below ~1e-3) and kinks near x = -0.5 and x = 0.5. With only 3 units, gradient descent sometimes gets
stuck (a unit switches off for every example and gets no gradient, a "dead" ReLU), so the script retrains
from another seed when that happens: one reason real networks use more units than the bare minimum.

    python examples/relu_piecewise.py [--epochs 300] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense


def target(x):
    """Slope -2 up to x = -0.5, then slope 1 up to x = 0.5, then slope 3."""
    relu = lambda z: np.maximum(0, z)
    return -2 * x - 2 + 3 * relu(x + 0.5) + 2 * relu(x - 0.5)


def build_model():
    return Sequential(
        [
            tf.keras.Input(shape=(1,)),
            Dense(3, activation="relu", name="l1"),
            Dense(1, activation="linear", name="l2"),
        ]
    )


def kinks(model):
    """Where each ReLU unit of the first layer switches on or off: x = -b / w."""
    W, b = model.get_layer("l1").get_weights()
    return [float(-bj / wj) if abs(wj) > 1e-6 else float("nan") for wj, bj in zip(W[0], b)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="passes over the 200 examples")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    X = np.linspace(-1.5, 1.5, 200).reshape(-1, 1)
    y = target(X)
    print(f"X shape: {X.shape}, y from {y.min():.2f} to {y.max():.2f}, kinks at x = -0.5 and x = 0.5")

    # 1. by hand, as in the lab: one unit per straight piece
    #    relu(-x - 0.5) gives the first slope, relu(x + 0.5) the second, relu(x - 0.5) the third
    hand = build_model()
    hand.summary()
    hand.get_layer("l1").set_weights([np.array([[-1.0, 1.0, 1.0]]), np.array([-0.5, 0.5, -0.5])])
    hand.get_layer("l2").set_weights([np.array([[2.0], [1.0], [2.0]]), np.array([-1.0])])
    hand.compile(loss=tf.keras.losses.MeanSquaredError())
    print(f"Hand-set weights: loss = {hand.evaluate(X, y, verbose=0):.6f}, kinks at {np.round(kinks(hand), 3)}")

    # 2. trained from random weights; retrain from another seed if a unit died
    best = None
    for seed in range(10):
        tf.random.set_seed(seed)
        model = build_model()
        model.compile(loss=tf.keras.losses.MeanSquaredError(), optimizer=tf.keras.optimizers.Adam(0.01))
        history = model.fit(X, y, epochs=args.epochs, verbose=0)
        loss = history.history["loss"][-1]
        print(f"seed {seed}: final loss {loss:.6f}, kinks at {np.round(kinks(model), 2)}")
        if best is None or loss < best[0]:
            best = (loss, seed, model, history)
        if loss < 1e-3:
            break
        print("  loss still high: too few epochs, or stuck (a unit died, or two share a kink); trying another seed")
    loss, seed, model, history = best
    print(f"Final loss: {loss:.6f} (seed {seed})")
    print(f"Learned kinks x = -b/w: {np.round(sorted(kinks(model)), 3)}")
    print("  (a kink at or beyond the edge of the data belongs to the unit that gives the first slope)")
    yhat = model.predict(X, verbose=0)
    print(f"Largest error |f(x) - y|: {np.abs(yhat - y).max():.4f}")

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gradfit import plot

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(X[:, 0], y[:, 0], lw=4, alpha=0.4, label="target")
    ax.plot(X[:, 0], yhat[:, 0], "k--", label=f"network (loss {loss:.2g})")
    W1, b1 = model.get_layer("l1").get_weights()
    W2, b2 = model.get_layer("l2").get_weights()
    units = np.maximum(0, X @ W1 + b1)
    for j in range(3):
        ax.plot(X[:, 0], W2[j, 0] * units[:, j], lw=1, label=f"unit {j} x its output weight")
    ax.set_xlabel("x")
    ax.set_title(f"f(x) = sum of the 3 weighted ReLU units + b ({b2[0]:.2f})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures = [("relu_piecewise_fit.png", fig), ("relu_piecewise_loss.png", plot.plot_history(history))]
    if hasattr(plot, "plot_units"):
        figures.append(("relu_piecewise_units.png", plot.plot_units(model, X)))
    for name, figure in figures:
        figure.savefig(args.out / name, dpi=100)
        print(f"Wrote {args.out / name}")


if __name__ == "__main__":
    main()
