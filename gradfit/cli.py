"""``gradfit`` on the command line: ``gradfit demo`` trains the seeds' network on real digits."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _split(X, y, test_fraction: float, seed: int):
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * (1 - test_fraction))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def demo(
    epochs: int | None = None,
    out: str = "demo-output",
    multiclass: bool = False,
    seed: int = 1234,
    verbose: int | str = "auto",
) -> dict:
    """Train on scikit-learn's handwritten digits (upsampled to 20x20); print accuracy; write PNGs."""
    from . import keras
    from .datasets import load_digits

    keras.utils.set_random_seed(seed)
    classes = tuple(range(10)) if multiclass else (0, 1)
    X, y = load_digits(classes=classes)
    X_train, y_train, X_test, y_test = _split(X, y, 0.2, seed)
    Dense = keras.layers.Dense
    if multiclass:
        epochs = 40 if epochs is None else epochs
        print(f"Digits 0-9: {len(X_train)} training and {len(X_test)} held-out images of 20x20 pixels")
        model = keras.Sequential(
            [
                keras.Input(shape=(400,)),
                Dense(25, activation="relu"),
                Dense(15, activation="relu"),
                Dense(10, activation="linear"),
            ]
        )
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            optimizer=keras.optimizers.Adam(0.001),
            metrics=["accuracy"],
        )
    else:
        epochs = 100 if epochs is None else epochs
        print(f"Digits 0 and 1: {len(X_train)} training and {len(X_test)} held-out images of 20x20 pixels")
        model = keras.Sequential(
            [
                keras.Input(shape=(400,)),
                Dense(25, activation="sigmoid"),
                Dense(15, activation="sigmoid"),
                Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(loss=keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, verbose=verbose)
    seconds = time.perf_counter() - start

    def predict_labels(data):
        p = model.predict(data, verbose=0)
        return p.argmax(axis=1) if multiclass else (p[:, 0] >= 0.5).astype(int)

    train_acc = float((predict_labels(X_train) == y_train[:, 0]).mean())
    test_pred = predict_labels(X_test)
    test_acc = float((test_pred == y_test[:, 0]).mean())
    print(f"Trained {epochs} epochs in {seconds:.2f} s")
    print(
        f"Training accuracy: {train_acc:.2%}   held-out accuracy: {test_acc:.2%} "
        f"({int((test_pred != y_test[:, 0]).sum())} of {len(y_test)} held-out digits wrong)"
    )
    result = {"train_accuracy": train_acc, "test_accuracy": test_acc, "seconds": seconds, "files": []}
    try:
        from .plot import plot_digits, plot_history
    except ImportError:  # pragma: no cover - plot module itself imports nothing heavy
        return result
    try:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, fig in (("loss.png", plot_history(history)), ("digits.png", plot_digits(X_test, y_test, test_pred))):
            fig.savefig(out_dir / name, dpi=100)
            result["files"].append(str(out_dir / name))
        print("Wrote " + " and ".join(result["files"]))
    except ImportError as exc:
        print(f"(No pictures: {exc})")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gradfit", description="Train neural networks with the Keras API on NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train the course's network on real handwritten digits")
    d.add_argument("--multiclass", action="store_true", help="digits 0-9 with ReLU and softmax from logits")
    d.add_argument("--epochs", type=int, default=None, help="epochs (default 100, or 40 with --multiclass)")
    d.add_argument("--out", default="demo-output", help="folder for loss.png and digits.png")
    d.add_argument("--seed", type=int, default=1234)
    d.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    if args.command == "demo":
        verbose = "auto" if args.verbose is None else args.verbose
        if args.epochs is not None and args.epochs <= 0:
            parser.error("--epochs must be a positive integer")
        demo(epochs=args.epochs, out=args.out, multiclass=args.multiclass, seed=args.seed, verbose=verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
