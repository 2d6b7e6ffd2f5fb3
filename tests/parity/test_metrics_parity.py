"""Replay the recorded Keras metric values (``fixtures/metrics_*.npz``, made by ``record_metrics.py``) in gradfit.

- ``metrics_direct``: every metric case's ``result()`` after each of three ``update_state`` batches, without and
  with ``sample_weight``, must agree with Keras's within 1e-5;
- ``metrics_fit``: a tiny sigmoid model trained from the recorded weights with
  ``metrics=['accuracy', Precision(), Recall(), AUC(), 'mse']`` must give Keras's History keys and per-epoch
  values (1e-4 relative) and ``evaluate(return_dict=True)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .compare import load as _load

FIXTURES = Path(__file__).parent / "fixtures"
DIRECT = FIXTURES / "metrics_direct.npz"
FIT = FIXTURES / "metrics_fit.npz"
ATOL_DIRECT = 1e-5
RTOL_FIT, ATOL_FIT = 1e-4, 1e-6


_direct = _load(DIRECT)
_cases = json.loads(str(_direct["cases"]))


@pytest.mark.parametrize("index", range(len(_cases)), ids=[c["id"] for c in _cases])
def test_metric_matches_keras_batch_by_batch(index):
    case = _cases[index]
    metric = getattr(K.metrics, case["class"])(**case["kwargs"])
    y, p, sw = _direct["data/" + case["y"]], _direct["data/" + case["p"]], _direct["data/sw"]
    batches = _direct["batches"]
    expected = _direct[f"result/{index}"]
    for i, (start, end) in enumerate(zip(batches[:-1], batches[1:])):
        metric.update_state(y[start:end], p[start:end], sample_weight=sw[start:end] if case["weighted"] else None)
        np.testing.assert_allclose(
            np.asarray(metric.result(), np.float64),
            expected[i],
            rtol=0,
            atol=ATOL_DIRECT,
            err_msg=f"{case['id']}: result() after batch {i + 1} differs from Keras",
        )


def test_every_keras_metric_class_is_covered():
    assert {c["class"] for c in _cases} == {
        "Accuracy",
        "BinaryAccuracy",
        "CategoricalAccuracy",
        "SparseCategoricalAccuracy",
        "TopKCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "RootMeanSquaredError",
        "Precision",
        "Recall",
        "AUC",
    }


def test_auc_on_random_data_equals_keras():
    y, p = _direct["auc_random/y"], _direct["auc_random/p"]
    auc = K.metrics.AUC()
    for start, end in ((0, 700), (700, 1500), (1500, 2000)):
        auc.update_state(y[start:end], p[start:end])
    assert abs(auc.result() - float(_direct["auc_random/result"])) < 1e-6


def test_fit_history_and_evaluate_match_keras():
    data = _load(FIT)
    spec = json.loads(str(data["spec"]))
    x, y = data["x"], data["y"]
    layers = [K.Input(shape=(x.shape[1],))] + [K.layers.Dense(u, activation=a) for u, a in spec["layers"]]
    model = K.Sequential(layers)
    name, kwargs = spec["optimizer"]
    metrics = ["accuracy", K.metrics.Precision(), K.metrics.Recall(), K.metrics.AUC(), "mse"]
    model.compile(optimizer=getattr(K.optimizers, name)(**kwargs), loss="binary_crossentropy", metrics=metrics)
    model.set_weights([data[f"initial/{i}"] for i in range(sum(k.startswith("initial/") for k in data))])
    history = model.fit(x, y, **spec["fit"]).history

    assert sorted(history) == list(data["history_keys"])
    for key in data["history_keys"]:
        assert len(history[key]) == spec["fit"]["epochs"]
        np.testing.assert_allclose(
            history[key], data["history/" + key], rtol=RTOL_FIT, atol=ATOL_FIT, err_msg=f"History[{key!r}]"
        )
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(evaluated) == list(data["evaluate_keys"])
    np.testing.assert_allclose(
        [evaluated[k] for k in data["evaluate_keys"]], data["evaluate"], rtol=RTOL_FIT, atol=ATOL_FIT
    )
