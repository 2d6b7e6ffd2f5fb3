"""Record Keras's names and configs of the metric classes gradfit has: run by hand in a throwaway environment with
TensorFlow, never by CI.

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/parity/record_metric_configs.py

Writes ``fixtures/metric_configs.json``, read by ``tests/test_registry_metrics_callbacks.py``:

- ``names``: per class, every string ``keras.metrics.get`` maps to it (its class name, snake_case, aliases);
- ``cases``: Keras's ``get_config()`` of each class built with no arguments and with the arguments of the
  parity cases (``record_metrics.py``; ``fn`` names a function of ``keras.losses``), each after
  ``keras.backend.clear_session()`` (so the default names are not numbered).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

OUT = Path(__file__).resolve().parent / "fixtures" / "metric_configs.json"

#: the metric classes gradfit has, and the constructor arguments recorded for each besides the defaults
CASES = {
    "Accuracy": [{"name": "acc"}, {"dtype": "float64"}],
    "BinaryAccuracy": [{"threshold": 0.7}],
    "CategoricalAccuracy": [{}],
    "SparseCategoricalAccuracy": [{}],
    "TopKCategoricalAccuracy": [{"k": 2}],
    "SparseTopKCategoricalAccuracy": [{"k": 3}],
    "MeanSquaredError": [{"name": "mse"}],
    "MeanAbsoluteError": [{}],
    "RootMeanSquaredError": [{}],
    "MeanAbsolutePercentageError": [{}],
    "MeanSquaredLogarithmicError": [{"name": "msle"}],
    "R2Score": [{"class_aggregation": "variance_weighted_average"}, {"class_aggregation": None, "num_regressors": 2}],
    "F1Score": [{"average": "macro"}, {"average": "weighted", "threshold": 0.4}, {"average": "micro"}],
    "FBetaScore": [{"beta": 2.0}, {"beta": 0.5, "average": "micro", "threshold": 0.3}],
    "Mean": [{"name": "m"}],
    "MeanMetricWrapper": [{"fn": "mean_squared_error", "name": "w"}, {"fn": "binary_crossentropy", "name": "b"}],
    "Precision": [
        {"thresholds": [0.3, 0.5, 0.8]},
        {"thresholds": 0.4},
        {"top_k": 2},
        {"class_id": 1},
        {"top_k": 1, "class_id": 2, "name": "p"},
    ],
    "Recall": [{"thresholds": [0.0, 0.5, 1.0]}, {"top_k": 2}, {"class_id": 0}],
    "AUC": [
        {"curve": "PR"},
        {"curve": "PRGAIN", "summation_method": "minoring"},
        {"summation_method": "majoring"},
        {"num_thresholds": 50},
        {"thresholds": [0.1, 0.25, 0.6, 0.9]},
        {"from_logits": True},
        {"multi_label": True, "num_labels": 3},
        {"multi_label": True, "label_weights": [0.2, 1.0, 0.5]},
    ],
}


def main() -> None:
    import keras
    import numpy as np
    from keras.src import metrics as keras_metrics

    names = {
        cls: sorted(k for k, v in keras_metrics.ALL_OBJECTS_DICT.items() if v is getattr(keras.metrics, cls))
        for cls in CASES
    }
    cases = []
    for cls, extra in CASES.items():
        for kwargs in extra if cls == "MeanMetricWrapper" else [{}, *extra]:  # its fn has no default
            keras.backend.clear_session()
            given = {k: getattr(keras.losses, v) if k == "fn" else v for k, v in kwargs.items()}
            config = getattr(keras.metrics, cls)(**given).get_config()
            config = json.loads(json.dumps(config, default=lambda v: np.asarray(v).tolist()))  # tensors as lists
            cases.append({"class": cls, "kwargs": kwargs, "config": config})
    OUT.write_text(
        json.dumps({"keras": keras.__version__, "names": names, "cases": cases}, indent=1, sort_keys=True) + "\n"
    )
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
