"""What engineers expect of the training loop around the labs: Keras's progress output, validation_split,
save and load, checkpoints, sample and class weights, the everyday callbacks.

Synthetic data only, so this module runs everywhere.
"""

from __future__ import annotations

import csv
import re
import time

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense

BAR = "━" * 20
NUMBER = r"\d+\.\d{4}(?:e[+-]\d+)?"
STEP_TIME = r"\d+(?:us|ms|s)/step"


@pytest.fixture
def data():
    """1000 examples (32 batches of 32, the last one of 8), 4 features, labels 0/1 from a linear rule."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 1.5]) > 0).astype(np.float64).reshape(-1, 1)
    return X, y


def small_model(metrics=None, seed=1234) -> Sequential:
    tf.random.set_seed(seed)
    model = Sequential(
        [tf.keras.Input(shape=(4,)), Dense(8, activation="relu", name="L1"), Dense(1, activation="sigmoid", name="L2")],
        name="my_model",
    )
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.01), metrics=metrics)
    return model


# ------------------------------------------------------------------------------------------- progress output


def test_fit_verbose_1_to_a_log_prints_keras_lines(data, capsys):
    """Not a terminal (pytest's capture, a pipe, CI): each epoch's final bar once, no '\\r', no colours."""
    X, y = data
    small_model().fit(X, y, epochs=3)  # verbose defaults to 'auto', which is 1
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    bar = re.compile(rf"^32/32 {BAR} \d+s {STEP_TIME} - loss: {NUMBER}$")
    assert len(lines) == 6
    for line in lines[1::2]:
        assert bar.match(line), line


def test_fit_verbose_1_shows_metrics_sorted_as_keras(data, capsys):
    X, y = data
    small_model(metrics=["accuracy"]).fit(X, y, epochs=2, verbose=1, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    bar = re.compile(
        rf"^25/25 {BAR} \d+s {STEP_TIME} - accuracy: {NUMBER} - loss: {NUMBER} "
        rf"- val_accuracy: {NUMBER} - val_loss: {NUMBER}$"
    )
    assert lines[0] == "Epoch 1/2" and bar.match(lines[1]), lines[1]


def test_fit_verbose_2_prints_one_line_per_epoch(data, capsys):
    X, y = data
    small_model().fit(X, y, epochs=3, verbose=2)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "━" not in out
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    summary = re.compile(rf"^32/32 - \d+s - {STEP_TIME} - loss: {NUMBER}$")
    assert len(lines) == 6 and all(summary.match(line) for line in lines[1::2]), lines


def test_verbose_0_is_silent(data, capsys):
    X, y = data
    model = small_model(metrics=["accuracy"])
    model.fit(X, y, epochs=2, verbose=0, validation_split=0.1)
    model.evaluate(X, y, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_bars(data, capsys):
    X, y = data
    model = small_model(metrics=["accuracy"])
    model.fit(X, y, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(X, y, verbose=1)
    out = capsys.readouterr().out
    assert re.fullmatch(rf"32/32 {BAR} \d+s {STEP_TIME} - accuracy: {accuracy:.4f} - loss: {loss:.4f}\n", out), out
    p = model.predict(X[:5])  # verbose defaults to 'auto'
    out = capsys.readouterr().out
    assert p.shape == (5, 1)
    assert re.fullmatch(rf"1/1 {BAR} \d+s {STEP_TIME}\n", out), out
    model.predict(X, verbose=1)
    assert re.fullmatch(rf"32/32 {BAR} \d+s {STEP_TIME}\n", capsys.readouterr().out)


def _reported_seconds_per_step(out: str) -> float:
    value, unit = re.search(r"(\d+)(us|ms|s)/step", out).groups()
    return int(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def test_predict_bar_reports_the_time_the_steps_took(capsys):
    model = Sequential([tf.keras.Input(shape=(400,)), Dense(2000, activation="relu"), Dense(10)])
    X = np.random.default_rng(0).normal(size=(4096, 400))
    start = time.perf_counter()
    model.predict(X, batch_size=4096, verbose=1)  # one step
    took = time.perf_counter() - start
    out = capsys.readouterr().out
    assert took > 0.01
    assert _reported_seconds_per_step(out) >= 0.2 * took, (out, took)


# ------------------------------------------------------------------------------------------- validation_split


def test_validation_split_takes_the_last_fraction_before_shuffling(data):
    """``validation_split=0.2`` holds out the last 20% of the rows as given, whatever the shuffle."""
    X, y = data
    X, y = X[:100], y[:100].copy()
    y[80:] = 1 - y[80:]  # the last fifth is labelled the other way round: a very different loss there
    model = small_model()
    before_first = model.evaluate(X[:80], y[:80], verbose=0)
    history = model.fit(X, y, epochs=1, batch_size=80, validation_split=0.2, shuffle=True, verbose=0)
    # one batch of exactly the first 80 rows: its loss is computed before the update
    assert history.history["loss"][0] == pytest.approx(before_first, rel=1e-5)
    # validation runs at the end of the epoch, with the updated weights, on the last 20 rows
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(X[80:], y[80:], verbose=0), rel=1e-5)
    assert history.history["val_loss"][0] != pytest.approx(model.evaluate(X[:20], y[:20], verbose=0), rel=1e-2)


def test_validation_split_history_keys(data):
    X, y = data
    model = small_model(metrics=["accuracy"])
    history = model.fit(X, y, epochs=4, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    assert model.history is history


# ------------------------------------------------------------------------------------------- saving


def test_save_then_load_model_gives_the_same_predictions(data, tmp_path):
    X, y = data
    model = small_model(metrics=["accuracy"])
    model.fit(X, y, epochs=2, verbose=0)
    path = tmp_path / "my_model.keras"
    model.save(path)
    assert path.is_file() and path.stat().st_size > 0
    loaded = tf.keras.models.load_model(path)
    assert loaded.name == "my_model"
    assert [layer.name for layer in loaded.layers] == ["L1", "L2"]
    assert loaded.count_params() == model.count_params() == 49
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # compiled as saved: the same loss object type and optimizer, training goes on
    assert type(loaded.loss) is tf.keras.losses.BinaryCrossentropy
    assert type(loaded.optimizer) is tf.keras.optimizers.Adam
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    assert loaded.evaluate(X, y, verbose=0)[0] == pytest.approx(model.evaluate(X, y, verbose=0)[0])
    history = loaded.fit(X, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_model_checkpoint_save_best_only_writes_the_best_model(data, tmp_path):
    X, y = data
    X_val, y_val = X[800:], y[800:]
    model = small_model()
    path = tmp_path / "best.keras"
    checkpoint = tf.keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    history = model.fit(X[:800], y[:800], epochs=5, validation_data=(X_val, y_val), callbacks=[checkpoint], verbose=0)
    assert path.is_file()
    best = tf.keras.models.load_model(path)
    assert best.evaluate(X_val, y_val, verbose=0) == pytest.approx(min(history.history["val_loss"]), rel=1e-5)


# ------------------------------------------------------------------------------------------- weights


def test_sample_weight_scales_the_loss(data):
    X, y = data
    model = small_model()
    plain = model.evaluate(X, y, verbose=0)
    assert model.evaluate(X, y, sample_weight=np.full(len(X), 2.0), verbose=0) == pytest.approx(2 * plain, rel=1e-6)
    half = np.r_[np.ones(500), np.zeros(500)]
    # Keras's mean over the batch: the zero-weighted half still counts in the denominator
    assert model.evaluate(X, y, sample_weight=half, verbose=0) == pytest.approx(
        0.5 * model.evaluate(X[:500], y[:500], verbose=0), rel=1e-5
    )
    history = model.fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(X)), epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


def test_class_weight(data):
    X, y = data
    unit = small_model()
    unit.fit(X, y, class_weight={0: 1.0, 1: 1.0}, epochs=2, verbose=0)
    plain = small_model()
    plain.fit(X, y, epochs=2, verbose=0)
    for a, b in zip(unit.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    heavy = small_model()
    heavy.fit(X, y, class_weight={0: 1.0, 1: 10.0}, epochs=2, verbose=0)
    # weighting the positives pushes the predicted probabilities up
    assert heavy.predict(X, verbose=0).mean() > plain.predict(X, verbose=0).mean() + 0.05


# ------------------------------------------------------------------------------------------- callbacks


def test_everyday_callbacks_together(data, tmp_path):
    X, y = data
    model = small_model(metrics=["accuracy"])
    seen = []
    log = tmp_path / "training.csv"
    history = model.fit(
        X,
        y,
        epochs=4,
        validation_split=0.2,
        verbose=0,
        callbacks=[
            tf.keras.callbacks.CSVLogger(str(log)),
            tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"]))),
            tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch),
            tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=10),
            tf.keras.callbacks.TerminateOnNaN(),
        ],
    )
    assert [epoch for epoch, _ in seen] == [0, 1, 2, 3]
    assert [loss for _, loss in seen] == pytest.approx(history.history["loss"])
    assert model.optimizer.learning_rate == pytest.approx(0.01 * 0.5**3)
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[-1]["loss"]) == pytest.approx(history.history["loss"][-1], rel=1e-4)
