"""Replay the recorded Keras trajectories (``fixtures/*.npz``, made by ``record_keras.py``) in gradfit.

Each case starts from the same float32 weights on the same data with ``shuffle=False``, so gradfit must
reproduce Keras's per-epoch History (loss, metrics, val_*), final weights, ``predict`` and ``evaluate``.
The global float32 / epsilon state is reset around every test by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .cases import CASES, build, fit_kwargs
from .compare import close as _close
from .compare import load as _load

FIXTURES = sorted(
    p for p in (Path(__file__).parent / "fixtures").glob("*.npz") if not p.stem.startswith(("callbacks_", "metrics_"))
)  # callbacks_*.npz: test_callbacks_parity.py; metrics_*.npz: test_metrics_parity.py

# Agreement required: compare.RTOL (1e-4) relative, with compare.ATOL (1e-6) as the floor near zero.


def test_every_case_has_a_fixture():
    assert len(FIXTURES) >= 6
    assert sorted(p.stem for p in FIXTURES) == sorted(c["name"] for c in CASES)


def test_fixtures_stay_small():
    assert sum(p.stat().st_size for p in FIXTURES) < 2 * 1024 * 1024


def replay(data: dict):
    """Train the recorded case in gradfit; returns (model, history dict)."""
    spec = json.loads(str(data["spec"]))
    x, y = data["x"], data["y"]
    model = build(K, spec, x.shape[1])
    n_weights = sum(1 for key in data if key.startswith("initial/"))
    model.set_weights([data[f"initial/{i}"] for i in range(n_weights)])
    history = model.fit(x, y, **fit_kwargs(spec, data.get("sample_weight"))).history
    return model, history


# bce_logits_sgd_l2 measures 'accuracy' on logits on purpose (Keras thresholds them at 0.5 too): gradfit's advice
# warning about it is expected there.
@pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_replays_keras_trajectory(path):
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in cases.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in CASES if c["name"] == path.stem)))
    model, history = replay(data)

    assert sorted(history) == list(data["history_keys"])
    epochs = spec["fit"]["epochs"]
    for key in data["history_keys"]:
        assert len(history[key]) == epochs
        _close(history[key], data["history/" + key], f"History[{key!r}]")

    final = model.get_weights()
    assert len(final) == sum(1 for key in data if key.startswith("final/"))
    for i, w in enumerate(final):
        assert w.dtype == np.float32
        _close(w, data[f"final/{i}"], f"final weight {i} (shape {w.shape})")

    pred = model.predict(data["x"], verbose=0)
    assert pred.dtype == np.float32 and pred.shape == data["pred"].shape
    _close(pred, data["pred"], "predict(x)")

    evaluated = model.evaluate(data["x"], data["y"], verbose=0, return_dict=True)
    assert sorted(evaluated) == list(data["evaluate_keys"])
    _close([evaluated[k] for k in data["evaluate_keys"]], data["evaluate"], "evaluate(x, y)")
