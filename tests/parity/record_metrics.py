"""Record the Keras metric fixtures: run by hand in a throwaway environment with TensorFlow, never by CI.

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/parity/record_metrics.py

Writes two fixtures, replayed by ``test_metrics_parity.py``:

- ``fixtures/metrics_direct.npz``: fixed random ``y_true`` / ``y_pred`` / ``sample_weight`` arrays (float32;
  predictions include values on AUC's bucket boundaries ``k/199``, ties and 0, 0.5, 1), the metric cases
  (JSON: Keras class, constructor arguments, which arrays, weighted or not) and each case's ``result()``
  after each of three ``update_state`` batches;
- ``fixtures/metrics_fit.npz``: a tiny sigmoid model trained with ``shuffle=False`` from fixed initial
  weights with ``metrics=['accuracy', Precision(), Recall(), AUC(), 'mse']`` and a validation split: the
  per-epoch History, ``evaluate(return_dict=True)`` and the data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
N = 60
BATCHES = [0, 25, 45, N]  # three update_state calls: rows 0-24, 25-44, 45-59


def make_arrays() -> dict[str, np.ndarray]:
    """The inputs of every direct case (float32, except the integer labels)."""
    rng = np.random.default_rng(2024)
    f32 = np.float32
    a: dict[str, np.ndarray] = {}
    # binary: probabilities, some exactly on AUC's bucket boundaries (k/199 in float32) and at 0, 0.5, 1
    a["bin_y"] = (rng.random((N, 1)) < 0.45).astype(f32)
    p = rng.random((N, 1)).astype(f32)
    p[:12, 0] = (rng.integers(0, 200, size=12) / 199).astype(f32)
    p[12:16, 0] = [0.0, 0.5, 1.0, 0.5]
    p[16:20, 0] = p[20:24, 0]  # ties between examples
    a["bin_p"] = p
    a["bin_logits"] = (rng.normal(scale=3.0, size=(N, 1))).astype(f32)
    # five classes: one-hot / integer labels; scores on a 0.1 grid so that top-k has ties
    labels = rng.integers(0, 5, size=N)
    a["cat_labels"] = labels.astype(np.int64)
    a["cat_y"] = np.eye(5, dtype=f32)[labels]
    a["cat_p"] = np.round(rng.random((N, 5)), 1).astype(f32)
    # three labels at once (multi-label), probabilities with some boundary values
    a["ml_y"] = (rng.random((N, 3)) < 0.4).astype(f32)
    q = rng.random((N, 3)).astype(f32)
    q[:6] = (rng.integers(0, 200, size=(6, 3)) / 199).astype(f32)
    a["ml_p"] = q
    # regression, two outputs
    a["reg_y"] = rng.normal(size=(N, 2)).astype(f32)
    a["reg_p"] = (a["reg_y"] + rng.normal(scale=0.7, size=(N, 2))).astype(f32)
    # exact equality (Accuracy): small integers
    a["int_y"] = rng.integers(0, 3, size=(N, 1)).astype(f32)
    a["int_p"] = rng.integers(0, 3, size=(N, 1)).astype(f32)
    # per-example weights, some zero
    w = rng.uniform(0.0, 2.0, size=N).astype(f32)
    w[::7] = 0.0
    a["sw"] = w
    return a


# (Keras class, constructor kwargs, y key, p key)
METRICS = [
    ("Accuracy", {}, "int_y", "int_p"),
    ("BinaryAccuracy", {}, "bin_y", "bin_p"),
    ("BinaryAccuracy", {"threshold": 0.7}, "bin_y", "bin_p"),
    ("CategoricalAccuracy", {}, "cat_y", "cat_p"),
    ("SparseCategoricalAccuracy", {}, "cat_labels", "cat_p"),
    ("TopKCategoricalAccuracy", {"k": 2}, "cat_y", "cat_p"),
    ("TopKCategoricalAccuracy", {}, "cat_y", "cat_p"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "cat_labels", "cat_p"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "cat_labels", "cat_p"),
    ("MeanSquaredError", {}, "reg_y", "reg_p"),
    ("MeanAbsoluteError", {}, "reg_y", "reg_p"),
    ("RootMeanSquaredError", {}, "reg_y", "reg_p"),
    ("Precision", {}, "bin_y", "bin_p"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.8]}, "bin_y", "bin_p"),
    ("Precision", {"thresholds": [0.8, 0.2]}, "bin_y", "bin_p"),
    ("Precision", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin_y", "bin_p"),
    ("Precision", {}, "ml_y", "ml_p"),
    ("Precision", {"top_k": 2}, "ml_y", "ml_p"),
    ("Precision", {"class_id": 1}, "ml_y", "ml_p"),
    ("Precision", {"top_k": 1, "class_id": 2}, "ml_y", "ml_p"),
    ("Precision", {"top_k": 2, "thresholds": [0.4, 0.6]}, "cat_y", "cat_p"),
    ("Recall", {}, "bin_y", "bin_p"),
    ("Recall", {"thresholds": [0.3, 0.5, 0.8]}, "bin_y", "bin_p"),
    ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, "bin_y", "bin_p"),
    ("Recall", {"top_k": 2}, "ml_y", "ml_p"),
    ("Recall", {"class_id": 0}, "ml_y", "ml_p"),
    ("AUC", {}, "bin_y", "bin_p"),
    ("AUC", {"curve": "PR"}, "bin_y", "bin_p"),
    ("AUC", {"curve": "PRGAIN"}, "bin_y", "bin_p"),
    ("AUC", {"summation_method": "minoring"}, "bin_y", "bin_p"),
    ("AUC", {"summation_method": "majoring"}, "bin_y", "bin_p"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "bin_y", "bin_p"),
    ("AUC", {"num_thresholds": 50}, "bin_y", "bin_p"),
    ("AUC", {"num_thresholds": 3}, "bin_y", "bin_p"),
    ("AUC", {"thresholds": [0.1, 0.25, 0.6, 0.9]}, "bin_y", "bin_p"),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "bin_y", "bin_p"),
    ("AUC", {"from_logits": True}, "bin_y", "bin_logits"),
    ("AUC", {}, "ml_y", "ml_p"),
    ("AUC", {"multi_label": True}, "ml_y", "ml_p"),
    ("AUC", {"multi_label": True, "curve": "PR"}, "ml_y", "ml_p"),
    ("AUC", {"multi_label": True, "label_weights": [0.2, 1.0, 0.5]}, "ml_y", "ml_p"),
    ("AUC", {"label_weights": [0.2, 1.0, 0.5]}, "ml_y", "ml_p"),
]


def direct_cases() -> list[dict]:
    cases = []
    for cls, kwargs, y, p in METRICS:
        for weighted in (False, True):
            case_id = f"{cls}{json.dumps(kwargs, sort_keys=True)}[{y},{p}]{'[sw]' if weighted else ''}"
            cases.append({"id": case_id, "class": cls, "kwargs": kwargs, "y": y, "p": p, "weighted": weighted})
    return cases


def auc_random_data() -> tuple[np.ndarray, np.ndarray]:
    """2000 scores loosely related to the labels (also generated in tests/test_metrics.py)."""
    rng = np.random.default_rng(7)
    y = (rng.random(2000) < 0.4).astype(np.float32)
    p = (1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=2000))))).astype(np.float32)
    return y.reshape(-1, 1), p.reshape(-1, 1)


def record_direct(keras) -> Path:
    arrays = make_arrays()
    cases = direct_cases()
    out: dict[str, np.ndarray] = {f"data/{k}": v for k, v in arrays.items()}
    for i, case in enumerate(cases):
        metric = getattr(keras.metrics, case["class"])(**case["kwargs"])
        y, p = arrays[case["y"]], arrays[case["p"]]
        results = []
        for start, end in zip(BATCHES[:-1], BATCHES[1:]):
            sw = arrays["sw"][start:end] if case["weighted"] else None
            metric.update_state(y[start:end], p[start:end], sample_weight=sw)
            results.append(np.asarray(metric.result(), dtype=np.float64))
        out[f"result/{i}"] = np.stack(results)
    y, p = auc_random_data()
    auc = keras.metrics.AUC()
    for start, end in ((0, 700), (700, 1500), (1500, 2000)):
        auc.update_state(y[start:end], p[start:end])
    out["auc_random/y"], out["auc_random/p"] = y, p
    out["auc_random/result"] = np.asarray(float(auc.result()))
    out["cases"] = np.array(json.dumps(cases))
    out["batches"] = np.array(BATCHES)
    out["versions"] = np.array(json.dumps(_versions(keras)))
    path = FIXTURES / "metrics_direct.npz"
    np.savez_compressed(path, **out)
    print(f"AUC on the random data (tests/test_metrics.py): {float(auc.result())!r}")
    return path


FIT_SPEC = {
    "layers": [[4, "tanh"], [1, "sigmoid"]],
    "optimizer": ["Adam", {"learning_rate": 0.03}],
    "metrics": ["accuracy", "Precision()", "Recall()", "AUC()", "mse"],
    "fit": {"batch_size": 32, "epochs": 6, "validation_split": 0.25, "shuffle": False, "verbose": 0},
    "n": 120,
    "features": 3,
}


def fit_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(FIT_SPEC["n"], FIT_SPEC["features"])).astype(np.float32)
    logit = x @ np.array([1.5, -1.0, 0.5]) + 0.3 + 0.8 * rng.normal(size=FIT_SPEC["n"])
    return x, (logit > 0).astype(np.float32).reshape(-1, 1)


def record_fit(keras) -> Path:
    keras.backend.clear_session()  # default names: precision, recall, auc (not precision_12 …)
    keras.utils.set_random_seed(0)
    x, y = fit_data()
    metrics = [
        "accuracy",
        keras.metrics.Precision(),
        keras.metrics.Recall(),
        keras.metrics.AUC(),
        "mse",
    ]
    layers = [keras.Input(shape=(x.shape[1],))]
    layers += [keras.layers.Dense(u, activation=act) for u, act in FIT_SPEC["layers"]]
    model = keras.Sequential(layers)
    name, kwargs = FIT_SPEC["optimizer"]
    model.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss="binary_crossentropy", metrics=metrics)
    rng = np.random.default_rng(5)
    w0 = [rng.uniform(-0.8, 0.8, size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(w0)
    history = model.fit(x, y, **FIT_SPEC["fit"]).history
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    out = {
        "spec": np.array(json.dumps(FIT_SPEC, sort_keys=True)),
        "x": x,
        "y": y,
        "history_keys": np.array(sorted(history)),
        "evaluate_keys": np.array(sorted(evaluated)),
        "evaluate": np.array([float(evaluated[k]) for k in sorted(evaluated)]),
        "versions": np.array(json.dumps(_versions(keras))),
    }
    for key, values in history.items():
        out["history/" + key] = np.asarray(values, dtype=np.float64)
    for i, w in enumerate(w0):
        out[f"initial/{i}"] = w
    path = FIXTURES / "metrics_fit.npz"
    np.savez_compressed(path, **out)
    print("History keys:", sorted(history))
    return path


def _versions(keras) -> dict:
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__}


def main() -> None:
    import keras

    FIXTURES.mkdir(exist_ok=True)
    for path in (record_direct(keras), record_fit(keras)):
        print(f"{path.relative_to(FIXTURES.parent.parent.parent)}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
