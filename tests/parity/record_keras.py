"""Record the Keras parity fixtures: run by hand in a throwaway environment with TensorFlow, never by CI.

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/parity/record_keras.py            # all cases
    /tmp/tfenv/bin/python tests/parity/record_keras.py NAME ...   # some cases

For every case in ``cases.py`` this makes the data and the initial weights with NumPy from fixed seeds,
trains the model in Keras (TensorFlow backend, float32, ``shuffle=False``) and writes
``fixtures/<name>.npz`` with the spec (JSON), ``x``, ``y``, the weighting, the initial weights, the
per-epoch History, the final weights, ``predict(x)`` and ``evaluate(x, y)``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, build, fit_kwargs  # noqa: E402
from recording import DATA_DIR, add_trajectory, data_file, glorot_weights, record_all, save, versions  # noqa: E402

FIXTURES = HERE / "fixtures"
DIGITS = DATA_DIR / "course_digits_01.npz"  # ../shared/data beside the repository


def make_data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    d = spec["data"]
    rng = np.random.default_rng(d["seed"])
    n = d["n"]
    if d["kind"] == "digits":
        with np.load(data_file(DIGITS.name)) as f:
            X_all, y_all = f["X"], f["y"]
        # the file is sorted by label: shuffle once with a fixed permutation (see keras-numerics.md)
        rows = rng.permutation(len(X_all))[:n]
        return X_all[rows].astype(np.float32), y_all[rows].astype(np.float32)
    f = d["features"]
    X = rng.normal(size=(n, f)).astype(np.float32)
    noise = d.get("label_noise", 0.0)  # share of labels replaced at random (confidently wrong examples)
    if d["kind"] == "binary":
        w = rng.normal(size=f)
        shift = 1.0 if d.get("imbalanced") else 0.0
        y = ((X @ w + 0.5 * rng.normal(size=n) - shift) > 0).astype(np.float32)
        if noise:
            flip = rng.random(n) < noise
            y[flip] = 1 - y[flip]
        X = (X * d.get("x_scale", 1.0)).astype(np.float32)
        return X, (y if d.get("flat_y") else y.reshape(n, 1))
    if d["kind"] == "classes":
        k = d["classes"]
        centers = rng.normal(scale=1.5, size=(k, f))
        labels = rng.integers(0, k, size=n)
        X = ((X + centers[labels]) * d.get("x_scale", 1.0)).astype(np.float32)
        if noise:
            flip = rng.random(n) < noise
            labels[flip] = rng.integers(0, k, size=int(flip.sum()))
        if d.get("one_hot"):
            return X, np.eye(k, dtype=np.float32)[labels]
        return X, (labels if d.get("flat_y") else labels.reshape(n, 1)).astype(np.int64)
    if d["kind"] == "regression":
        a = rng.normal(size=(f, d["outputs"]))
        y = np.sin(X @ a) + 0.5 * (X[:, :1] ** 2) + 0.1 * rng.normal(size=(n, d["outputs"]))
        return X, y.astype(np.float32)
    raise ValueError(d["kind"])


def initial_weights(model, seed: int, scale: float = 1.0) -> list[np.ndarray]:
    """Glorot-uniform kernels (times ``scale``) and small non-zero biases, from NumPy (so both libraries start
    identically)."""
    rng = np.random.default_rng(1000 + seed)
    return glorot_weights(model, rng, scale)


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    X, y = make_data(spec)
    n = len(X)
    sample_weight = None
    if spec["weights"] == "sample_weight":
        sample_weight = np.random.default_rng(spec["data"]["seed"] + 500).uniform(0.2, 2.0, size=n)
        sample_weight = sample_weight.astype(np.float32)
    model = build(keras, spec, X.shape[1])
    w0 = initial_weights(model, spec["data"]["seed"], spec.get("init_scale", 1.0))
    model.set_weights(w0)
    history = model.fit(X, y, **fit_kwargs(spec, sample_weight)).history
    evaluated = model.evaluate(X, y, verbose=0, return_dict=True)
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "x": X,
        "y": y,
        "pred": model.predict(X, verbose=0),
        "evaluate_keys": np.array(sorted(evaluated)),
        "evaluate": np.array([float(evaluated[k]) for k in sorted(evaluated)]),
        "history_keys": np.array(sorted(history)),
        "versions": versions(keras),
    }
    if sample_weight is not None:
        arrays["sample_weight"] = sample_weight
    add_trajectory(arrays, history, w0, model.get_weights())
    return save(FIXTURES, spec["name"], arrays)


def main(names: list[str]) -> None:
    record_all(CASES, names, record)


if __name__ == "__main__":
    main(sys.argv[1:])
