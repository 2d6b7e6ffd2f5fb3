"""Record the Keras parity fixtures for callbacks and schedules: run by hand with TensorFlow, never by CI.

    /tmp/tfenv/bin/python tests/parity/record_callbacks.py            # all cases
    /tmp/tfenv/bin/python tests/parity/record_callbacks.py NAME ...   # some cases

For every case in ``callback_cases.py`` this makes the data and the initial weights with NumPy from fixed
seeds, trains the model in Keras (TensorFlow backend, float32, ``shuffle=False``) with the case's callbacks
and learning-rate schedule, and writes ``fixtures/<name>.npz``: the spec (JSON), ``x``, ``y``, the initial
weights, the per-epoch History (``learning_rate`` included when a callback logs it), the epochs run, the
final weights, the optimizer's step count and learning rate at the end, and EarlyStopping's
``stopped_epoch`` / ``best_epoch``.

It also checks that no decision in the trajectory is a near tie: every comparison EarlyStopping and
ReduceLROnPlateau make must be decided by more than ``MARGIN`` (relative), so that gradfit's float32
rounding, which agrees with Keras's to ~1e-6, cannot flip it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from callback_cases import CASES, build, build_callbacks, fit_kwargs  # noqa: E402
from recording import add_trajectory, glorot_weights, record_all, save, versions  # noqa: E402

FIXTURES = HERE / "fixtures"
MARGIN = 1e-3


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n, f = d["n"], d["features"]
    X = rng.normal(size=(n, f)).astype(np.float32)
    w = rng.normal(size=f)
    y = (X @ w > 0).astype(np.float32)
    flip = rng.random(n) < d.get("label_noise", 0.0)
    y[flip] = 1.0 - y[flip]
    return X, y.reshape(n, 1)


def initial_weights(model, seed: int) -> list[np.ndarray]:
    """Glorot-uniform kernels and small non-zero biases, from NumPy (so both libraries start identically)."""
    rng = np.random.default_rng(2000 + seed)
    return glorot_weights(model, rng)


def check_margins(spec: dict, history: dict) -> None:
    """Fail when an improvement decision of a monitoring callback is closer than MARGIN to a tie."""
    for name, kwargs in spec["callbacks"]:
        if name not in ("EarlyStopping", "ReduceLROnPlateau"):
            continue
        monitor = kwargs.get("monitor", "val_loss")
        values = history[monitor]
        sign = 1.0 if "accuracy" in monitor else -1.0  # max / min
        default_delta = 1e-4 if name == "ReduceLROnPlateau" else 0.0
        delta = abs(kwargs.get("min_delta", default_delta))
        best = None
        start = kwargs.get("start_from_epoch", 0)
        for epoch, value in enumerate(values):
            if epoch < start:
                continue
            refs = [] if best is None else [best]
            if name == "EarlyStopping" and kwargs.get("baseline") is not None:
                refs.append(kwargs["baseline"])
            for ref in refs:
                gap = sign * (value - ref) - delta  # > 0: an improvement
                if abs(gap) <= MARGIN * max(abs(ref), 1e-3):
                    raise SystemExit(f"{spec['name']}: {name} decision at epoch {epoch} is a near tie ({gap:.2e})")
            if best is None or sign * (value - best) - delta > 0:
                best = value


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    model = build(keras, spec, X.shape[1])
    w0 = initial_weights(model, spec["data"]["seed"])
    model.set_weights(w0)
    callbacks = build_callbacks(keras, spec)
    history = model.fit(X, y, callbacks=callbacks, **fit_kwargs(spec)).history
    check_margins(spec, history)
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "history_keys": np.array(sorted(history)),
        "epochs_run": np.array(len(history["loss"])),
        "iterations": np.array(int(model.optimizer.iterations.numpy())),
        "learning_rate": np.array(float(np.asarray(model.optimizer.learning_rate))),
        "versions": versions(keras),
    }
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping):
            arrays["stopped_epoch"] = np.array(cb.stopped_epoch)
            arrays["best_epoch"] = np.array(cb.best_epoch)
    add_trajectory(arrays, history, w0, model.get_weights())
    return save(FIXTURES, spec["name"], arrays)


def _describe(path: Path) -> dict:
    with np.load(path) as f:
        return {k: f[k].item() for k in ("epochs_run", "stopped_epoch", "best_epoch", "learning_rate") if k in f}


def main(names: list[str]) -> None:
    record_all(CASES, names, record, _describe)


if __name__ == "__main__":
    main(sys.argv[1:])
