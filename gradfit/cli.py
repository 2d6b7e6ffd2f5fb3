"""``gradfit`` on the command line: ``gradfit demo`` trains the seeds' network on real digits."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def _split(X, y, test_fraction: float, seed: int):
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * (1 - test_fraction))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        return False


def _tensorboard_callback(log_dir: Path):
    """gradfit's ``TensorBoard`` callback writing the runs ``log_dir/train`` and ``log_dir/validation``.

    ``None``, after a line saying how to get it, when the writer library (tensorboardX) is not installed. The
    previous demo's event files in those two run folders are removed first: TensorBoard would otherwise draw
    the old and the new run as one (as the PNGs, the run is the last demo's).
    """
    if not _importable("tensorboardX"):
        print('(No TensorBoard run: tensorboardX is not installed; pip install "gradfit[tensorboard]" to get it)')
        return None
    try:
        from .callbacks import TensorBoard

        callback = TensorBoard(log_dir=str(log_dir))
    except ImportError as exc:
        print(f"(No TensorBoard run: {exc})")  # the callback's message says what to install
        return None
    for run in ("train", "validation"):  # the callback opens its files when fit begins, after this
        for old in (log_dir / run).glob("events.out.tfevents.*"):
            old.unlink()
    return callback


def _print_tensorboard_command(log_dir: str | None) -> None:
    if log_dir is not None:
        print(f"Wrote a TensorBoard run to {log_dir}; open it with:  {_tensorboard_command(Path(log_dir))}")
        if not _importable("tensorboard"):
            print('(TensorBoard itself is not installed: pip install "gradfit[tensorboard]")')


def _tensorboard_command(log_dir: Path) -> str:
    """The shell command that serves ``log_dir``: ``tensorboard --logdir …``, with the path to this Python's
    ``tensorboard`` script where that is not the one on ``PATH`` (a venv that is not activated)."""
    script = Path(sys.executable).with_name("tensorboard")
    executable = "tensorboard"
    if script.is_file() and shutil.which("tensorboard") != str(script):
        executable = os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)
    return f"{executable} --logdir {log_dir}"


def demo(
    epochs: int | None = None,
    out: str = "demo-output",
    multiclass: bool = False,
    seed: int = 1234,
    verbose: int | str = "auto",
) -> dict:
    """Train on scikit-learn's handwritten digits (upsampled to 20x20); print accuracy; write PNGs.

    The held-out digits are also ``fit``'s validation data (watched, never trained on), so that the loss
    picture and the TensorBoard run under ``out/logs`` (when tensorboardX is installed) show both curves.
    """
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
    log_dir = Path(out) / "logs"
    tensorboard = _tensorboard_callback(log_dir)
    start = time.perf_counter()
    history = model.fit(
        X_train,
        y_train,
        epochs=epochs,
        verbose=verbose,
        validation_data=(X_test, y_test),
        callbacks=[tensorboard] if tensorboard is not None else None,
    )
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
    result["history"] = history.history
    result["tensorboard_logdir"] = str(log_dir) if tensorboard is not None else None
    try:
        from .plot import plot_digits, plot_history
    except ImportError:  # pragma: no cover - plot module itself imports nothing heavy
        _print_tensorboard_command(result["tensorboard_logdir"])
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
    _print_tensorboard_command(result["tensorboard_logdir"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gradfit", description="Train neural networks with the Keras API on NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train the course's network on real handwritten digits")
    d.add_argument("--multiclass", action="store_true", help="digits 0-9 with ReLU and softmax from logits")
    d.add_argument("--epochs", type=int, default=None, help="epochs (default 100, or 40 with --multiclass)")
    d.add_argument("--out", default="demo-output", help="folder for loss.png, digits.png and logs/ (TensorBoard)")
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
