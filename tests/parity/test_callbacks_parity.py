"""Replay the recorded Keras trajectories with callbacks and learning-rate schedules in gradfit.

Each fixture (``fixtures/callbacks_*.npz``, made by ``record_callbacks.py`` from ``callback_cases.py``) starts
from the same float32 weights on the same data with ``shuffle=False``; gradfit must run the same number of
epochs, log the same per-epoch History (``learning_rate`` included where ReduceLROnPlateau or
LearningRateScheduler log it), and end with the same weights (for EarlyStopping: the restored best ones),
step count and learning rate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradfit.keras as K

from .callback_cases import CASES, build, build_callbacks, fit_kwargs
from .compare import ATOL, RTOL
from .compare import load as _load

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("callbacks_*.npz"))


def _close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    worst = float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), ATOL / RTOL), initial=0.0))
    np.testing.assert_allclose(
        actual, expected, rtol=RTOL, atol=ATOL, err_msg=f"{what} differs from Keras (worst relative error {worst:.2e})"
    )


def test_every_case_has_a_fixture():
    assert len(FIXTURES) >= 5
    assert sorted(p.stem for p in FIXTURES) == sorted(c["name"] for c in CASES)


def test_fixtures_stay_small():
    assert sum(p.stat().st_size for p in FIXTURES) < 512 * 1024


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_replays_keras_trajectory(path):
    data = _load(path)
    spec = json.loads(str(data["spec"]))
    # the fixture replays exactly the case in callback_cases.py (re-record after changing a case)
    assert spec == json.loads(json.dumps(next(c for c in CASES if c["name"] == path.stem)))

    x, y = data["x"], data["y"]
    model = build(K, spec, x.shape[1])
    model.set_weights([data[f"initial/{i}"] for i in range(sum(1 for k in data if k.startswith("initial/")))])
    callbacks = build_callbacks(K, spec)
    history = model.fit(x, y, callbacks=callbacks, **fit_kwargs(spec)).history

    epochs = int(data["epochs_run"])
    assert len(history["loss"]) == epochs, f"ran {len(history['loss'])} epochs, Keras ran {epochs}"
    assert sorted(history) == list(data["history_keys"])
    for key in data["history_keys"]:
        assert len(history[key]) == epochs
        _close(history[key], data["history/" + key], f"History[{key!r}]")

    for cb in callbacks:
        if isinstance(cb, K.callbacks.EarlyStopping):
            assert cb.stopped_epoch == int(data["stopped_epoch"])
            assert cb.best_epoch == int(data["best_epoch"])

    assert model.optimizer.iterations == int(data["iterations"])
    _close(float(model.optimizer.learning_rate), data["learning_rate"], "optimizer.learning_rate after fit")

    final = model.get_weights()
    assert len(final) == sum(1 for k in data if k.startswith("final/"))
    for i, w in enumerate(final):
        assert w.dtype == np.float32
        _close(w, data[f"final/{i}"], f"final weight {i} (shape {w.shape})")
