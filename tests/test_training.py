"""fit / evaluate / predict behaviour: History, metrics, reproducibility, validation, weights, verbosity.

Many checks use a *frozen* model (SGD with learning_rate=0): its weights never change, so every quantity
fit reports can be computed by hand from predict().
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit
import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)


def frozen(layers, loss, metrics=None, input_dim=4) -> Sequential:
    model = Sequential(layers)
    model.build((None, input_dim))
    model.compile(loss=loss, optimizer=tf.keras.optimizers.SGD(learning_rate=0.0), metrics=metrics)
    return model


def bce(y, p):
    p = np.asarray(p, dtype=np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1)


def mse(y, p):
    return ((np.asarray(p, dtype=np.float64) - y) ** 2).mean(axis=-1)


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


# --------------------------------------------------------------------------------------------- History loss


@pytest.mark.parametrize("batch_size", [None, 1, 7, 16, 50, 64])
def test_history_loss_of_frozen_model_equals_evaluate(binary_data, batch_size):
    x, y = binary_data
    tf.random.set_seed(0)
    model = frozen([Dense(4, activation="tanh"), Dense(1, activation="sigmoid")], BinaryCrossentropy())
    before = model.get_weights()
    history = model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0)
    assert_same_weights(model.get_weights(), before)
    loss = model.evaluate(x, y, verbose=0)
    expected = bce(y, model.predict(x, verbose=0)).mean()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert history.history["loss"] == pytest.approx([loss, loss], rel=1e-5)


def test_history_loss_is_batch_size_weighted_mean_of_step_losses(regression_data):
    x, y = regression_data[0][:50], regression_data[1][:50]
    tf.random.set_seed(1)
    model = frozen([Dense(1)], MeanSquaredError(), input_dim=3)
    history = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    per_sample = mse(y, model.predict(x, verbose=0))
    step1, step2 = per_sample[:32].mean(), per_sample[32:].mean()
    weighted = (32 * step1 + 18 * step2) / 50
    unweighted = (step1 + step2) / 2
    assert abs(weighted - unweighted) > 1e-3 * weighted  # the check below can tell them apart
    assert history.history["loss"][0] == pytest.approx(weighted, rel=1e-5)


def test_history_loss_uses_step_losses_before_each_update(regression_data):
    """Replay SGD on a linear model in float64: the epoch loss averages the losses seen before each step."""
    x, y = regression_data[0][:40], regression_data[1][:40]
    tf.random.set_seed(2)
    model = Sequential([Dense(1)])
    model.build((None, 3))
    model.compile(loss=MeanSquaredError(), optimizer=tf.keras.optimizers.SGD(0.1))
    W, b = (w.astype(np.float64) for w in model.get_weights())
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    expected = []
    for _ in range(3):
        total = 0.0
        for start in range(0, 40, 16):
            xb, yb = x[start : start + 16], y[start : start + 16]
            m = len(xb)
            err = xb @ W + b - yb
            total += (err**2).mean() * m
            W = W - 0.1 * 2 * xb.T @ err / m
            b = b - 0.1 * 2 * err.sum(axis=0) / m
        expected.append(total / 40)
    assert history.history["loss"] == pytest.approx(expected, rel=1e-4)
    assert expected[0] > expected[1] > expected[2]
    W_fit, b_fit = model.get_weights()
    np.testing.assert_allclose(W_fit, W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b_fit, b, rtol=1e-4, atol=1e-5)
    # and the last epoch's history loss is not the loss after training
    assert model.evaluate(x, y, verbose=0) < history.history["loss"][-1]


# --------------------------------------------------------------------------------------------- accuracy


def test_accuracy_resolves_to_binary(binary_data):
    x, y = binary_data
    tf.random.set_seed(3)
    model = frozen([Dense(3, activation="relu"), Dense(1, activation="sigmoid")], BinaryCrossentropy(), ["accuracy"])
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert isinstance(model.compiled_metrics[0], gradfit.metrics.BinaryAccuracy)
    assert sorted(history.history) == ["accuracy", "loss"]
    p = model.predict(x, verbose=0)
    expected = np.mean((p > 0.5) == y)
    assert 0 <= history.history["accuracy"][0] <= 1
    assert history.history["accuracy"][0] == pytest.approx(expected)
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(expected)


def test_accuracy_with_label_vector_for_one_unit_output(binary_data):
    x, y = binary_data
    tf.random.set_seed(3)
    model = frozen([Dense(1, activation="sigmoid")], BinaryCrossentropy(), ["accuracy"])
    history = model.fit(x, y.ravel(), epochs=1, verbose=0)
    p = model.predict(x, verbose=0)
    # a (m,) label vector must not broadcast against the (m, 1) output
    assert history.history["accuracy"][0] == pytest.approx(np.mean((p.ravel() > 0.5) == y.ravel()))
    assert history.history["loss"][0] == pytest.approx(bce(y, p).mean(), rel=1e-5)


@pytest.mark.parametrize("column", [False, True], ids=["labels (m,)", "labels (m, 1)"])
def test_accuracy_resolves_to_sparse_categorical(multiclass_data, column):
    x, y = multiclass_data
    labels = y.reshape(-1, 1) if column else y
    tf.random.set_seed(4)
    model = frozen(
        [Dense(5, activation="relu"), Dense(3)], SparseCategoricalCrossentropy(from_logits=True), ["accuracy"]
    )
    history = model.fit(x, labels, epochs=1, batch_size=16, verbose=0)
    assert isinstance(model.compiled_metrics[0], gradfit.metrics.SparseCategoricalAccuracy)
    assert sorted(history.history) == ["accuracy", "loss"]
    z = model.predict(x, verbose=0).astype(np.float64)
    assert history.history["accuracy"][0] == pytest.approx(np.mean(z.argmax(axis=1) == y))
    logsumexp = np.log(np.exp(z).sum(axis=1))
    expected_loss = (logsumexp - z[np.arange(len(y)), y]).mean()
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-5)


def test_accuracy_resolves_to_categorical(multiclass_data):
    x, y = multiclass_data
    onehot = np.eye(3)[y]
    tf.random.set_seed(5)
    model = frozen([Dense(5, activation="relu"), Dense(3, activation="softmax")], CategoricalCrossentropy(), ["acc"])
    history = model.fit(x, onehot, epochs=1, verbose=0)
    assert isinstance(model.compiled_metrics[0], gradfit.metrics.CategoricalAccuracy)
    assert sorted(history.history) == ["acc", "loss"]
    p = model.predict(x, verbose=0)
    assert history.history["acc"][0] == pytest.approx(np.mean(p.argmax(axis=1) == y))
    assert history.history["loss"][0] == pytest.approx(-np.log(p[np.arange(len(y)), y]).mean(), rel=1e-5)


def test_accuracy_is_computed_before_each_update(binary_data):
    """Training metrics come from the step's forward pass, before the weights change."""
    x, y = binary_data
    tf.random.set_seed(6)
    model = Sequential([Dense(1, activation="sigmoid")])
    model.build((None, 4))
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(1.0), metrics=["accuracy"])
    before = np.mean((model.predict(x, verbose=0) > 0.5) == y)
    history = model.fit(x, y, epochs=1, batch_size=50, verbose=0)  # one step on all examples
    assert history.history["accuracy"][0] == pytest.approx(before)


# --------------------------------------------------------------------------------------------- reproducibility


def _train(x, y, seed_fn, seed):
    seed_fn(seed)
    model = Sequential([Dense(6, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.01), metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0)  # shuffle=True draws from the seeded state
    return model.get_weights(), history.history


@pytest.mark.parametrize(
    "seed_fn",
    [tf.random.set_seed, tf.keras.utils.set_random_seed, gradfit.keras.utils.set_random_seed],
    ids=["tf.random.set_seed", "tf.keras.utils.set_random_seed", "gradfit.keras.utils.set_random_seed"],
)
def test_same_seed_gives_bit_identical_training(binary_data, seed_fn):
    x, y = binary_data
    w1, h1 = _train(x, y, seed_fn, 1234)
    w2, h2 = _train(x, y, seed_fn, 1234)
    assert_same_weights(w1, w2)
    assert h1 == h2
    w3, h3 = _train(x, y, seed_fn, 4321)
    assert not np.array_equal(w1[0], w3[0])
    assert h1 != h3


def test_shuffle_changes_the_trajectory(binary_data):
    x, y = binary_data
    results = []
    for shuffle in (True, False):
        tf.random.set_seed(7)
        model = Sequential([Dense(1, activation="sigmoid")])
        model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(0.5))
        results.append(model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0).history["loss"])
    # shuffle=True visits the batches in a different order, so the weights follow another path
    assert results[0] != results[1]


# --------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("shuffle", [True, False])
def test_validation_split_takes_the_last_fraction(binary_data, shuffle):
    x, y = binary_data
    tf.random.set_seed(8)
    model = frozen([Dense(3, activation="tanh"), Dense(1, activation="sigmoid")], BinaryCrossentropy(), ["accuracy"])
    history = model.fit(x, y, epochs=2, validation_split=0.2, shuffle=shuffle, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    train_loss, train_acc = model.evaluate(x[:40], y[:40], verbose=0)
    val_loss, val_acc = model.evaluate(x[40:], y[40:], verbose=0)
    assert history.history["loss"] == pytest.approx([train_loss] * 2, rel=1e-5)
    assert history.history["accuracy"] == pytest.approx([train_acc] * 2)
    assert history.history["val_loss"] == pytest.approx([val_loss] * 2, rel=1e-5)
    assert history.history["val_accuracy"] == pytest.approx([val_acc] * 2)
    assert val_loss != pytest.approx(model.evaluate(x[:10], y[:10], verbose=0)[0], rel=1e-3)


def test_validation_data_is_evaluated_after_each_epoch(binary_data):
    x, y = binary_data
    x_val, y_val = x[:20] + 0.1, y[:20]
    tf.random.set_seed(9)
    model = Sequential([Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.Adam(0.01), metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, validation_data=(x_val, y_val), verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in history.history.values())
    val_loss, val_acc = model.evaluate(x_val, y_val, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)
    assert all(0 <= a <= 1 for a in history.history["val_accuracy"])


def test_validation_data_with_sample_weight(regression_data):
    x, y = regression_data
    w_val = np.linspace(0.0, 2.0, 50)
    model = frozen([Dense(1)], MeanSquaredError(), input_dim=3)
    history = model.fit(x[:150], y[:150], epochs=1, validation_data=(x[150:], y[150:], w_val), verbose=0)
    expected = (w_val * mse(y[150:], model.predict(x[150:], verbose=0))).sum() / 50
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------------------------- sample and class weights


@pytest.mark.parametrize("batch_size", [16, 200])
def test_sample_weight_is_weighted_sum_over_m(regression_data, batch_size):
    x, y = regression_data
    weights = np.random.default_rng(0).uniform(0, 3, size=len(x))
    tf.random.set_seed(10)
    model = frozen([Dense(2, activation="tanh"), Dense(1)], MeanSquaredError(), input_dim=3)
    history = model.fit(x, y, epochs=1, batch_size=batch_size, sample_weight=weights, verbose=0)
    per_sample = mse(y, model.predict(x, verbose=0))
    expected = (weights * per_sample).sum() / len(x)
    assert expected != pytest.approx(per_sample.mean(), rel=1e-2)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(x, y, sample_weight=weights, verbose=0) == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(per_sample.mean(), rel=1e-5)


def test_class_weight_weights_each_example_by_its_class(binary_data):
    x, y = binary_data
    tf.random.set_seed(11)
    model = frozen([Dense(1, activation="sigmoid")], BinaryCrossentropy())
    history = model.fit(x, y, epochs=1, class_weight={0: 1.0, 1: 3.0}, verbose=0)
    weights = np.where(y.ravel() == 1, 3.0, 1.0)
    expected = (weights * bce(y, model.predict(x, verbose=0))).sum() / len(x)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    same = model.fit(x, y, epochs=1, sample_weight=weights, verbose=0)
    assert same.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_class_weight_with_sparse_labels(multiclass_data):
    x, y = multiclass_data
    tf.random.set_seed(12)
    model = frozen([Dense(3)], SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=1, class_weight={0: 0.5, 1: 1.0, 2: 2.0}, verbose=0)
    z = model.predict(x, verbose=0).astype(np.float64)
    per_sample = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]
    expected = (np.array([0.5, 1.0, 2.0])[y] * per_sample).sum() / len(y)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_sample_weight_changes_training(binary_data):
    x, y = binary_data
    results = []
    for sw in (None, np.where(y.ravel() == 1, 5.0, 0.2)):
        tf.random.set_seed(13)
        model = Sequential([Dense(1, activation="sigmoid")])
        model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(0.5))
        model.fit(x, y, epochs=3, sample_weight=sw, verbose=0)
        results.append(model.predict(x, verbose=0))
    # up-weighting the positives pushes their predictions higher
    pos = y.ravel() == 1
    assert results[1][pos].mean() > results[0][pos].mean()


# --------------------------------------------------------------------------------------------- verbosity


def _small_fit(binary_data, **kwargs):
    x, y = binary_data
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy(), metrics=["accuracy"])
    model.fit(x, y, epochs=3, **kwargs)
    return model


def test_verbose_0_prints_nothing(binary_data, capsys):
    x, y = binary_data
    model = _small_fit(binary_data, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_one_line_per_epoch(binary_data, capsys):
    _small_fit(binary_data, verbose=2)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    epoch_lines = [line for line in lines if "loss:" in line]
    assert len(epoch_lines) == 3
    assert all("accuracy:" in line for line in epoch_lines)
    assert len(lines) == 6
    assert "━" not in out and "\r" not in out and "\x1b" not in out


@pytest.mark.parametrize("verbose", [1, "auto"])
def test_verbose_1_prints_a_plain_bar_when_not_a_terminal(binary_data, capsys, verbose):
    x, y = binary_data
    model = _small_fit(binary_data, verbose=verbose)
    out = capsys.readouterr().out
    assert "Epoch 1/3" in out and "Epoch 3/3" in out
    bar_lines = [line for line in out.splitlines() if "━" in line]
    assert len(bar_lines) == 3
    assert all("loss:" in line and line.startswith("2/2") for line in bar_lines)
    assert "\r" not in out and "\x1b" not in out
    model.evaluate(x, y, verbose=1)
    out = capsys.readouterr().out
    assert "━" in out and "loss:" in out and "\r" not in out and "\x1b" not in out


# --------------------------------------------------------------------------------------------- misc fit behaviour


def test_fit_continues_from_current_weights(binary_data):
    x, y = binary_data
    tf.random.set_seed(14)
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(0.5))
    first = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    second = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert second[0] < first[0]
    assert len(second) == 5


def test_custom_callback_sees_epoch_logs_and_can_stop(binary_data):
    x, y = binary_data
    seen = []

    class Stop(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs)))
            if epoch == 1:
                self.model.stop_training = True

    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy())
    history = model.fit(x, y, epochs=10, callbacks=[Stop()], verbose=0)
    assert [e for e, _ in seen] == [0, 1]
    assert len(history.history["loss"]) == 2
    assert seen[1][1]["loss"] == history.history["loss"][1]


def test_integer_and_list_inputs_are_accepted(binary_data):
    x, y = binary_data
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(loss=BinaryCrossentropy())
    history = model.fit(x.tolist(), y.astype(np.int64).tolist(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    out = model.predict((x * 10).astype(np.int32), verbose=0)
    assert out.dtype == np.float32 and out.shape == (50, 1)


@pytest.mark.parametrize("activation, loss", [("sigmoid", "binary_crossentropy"), (None, "mse")])
def test_dense_on_sequences_costs_the_mean_over_every_position(float64, activation, loss):
    """Dense on (m, k, n) inputs: one loss value per (example, position), J their mean, as Keras; the fused
    sigmoid gets dJ/dz shaped as Dense keeps z. The same numbers as the (m * k, n) model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4, 3))
    y = (x[..., :1] > 0).astype(np.float64)
    seq = Sequential([tf.keras.Input((4, 3)), Dense(1, activation=activation)])
    flat = Sequential([tf.keras.Input((3,)), Dense(1, activation=activation)])
    flat.set_weights(seq.get_weights())
    for model in (seq, flat):
        model.compile(loss=loss, optimizer=tf.keras.optimizers.SGD(0.1))
    j_seq, g_seq = seq.compute_gradients(x, y)
    j_flat, g_flat = flat.compute_gradients(x.reshape(-1, 3), y.reshape(-1, 1))
    assert j_seq == pytest.approx(j_flat, rel=1e-12)
    for a, b in zip(g_seq, g_flat):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert gradfit.check_gradients(seq, x, y) < 1e-7
    history = seq.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert history[0] == pytest.approx(j_seq, rel=1e-12)


def test_the_step_divides_as_the_loss_reduction_says():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 0.0])
    costs = {}
    for reduction in ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight"):
        tf.keras.utils.set_random_seed(0)
        model = Sequential([tf.keras.Input((4,)), Dense(1)])
        model.compile(loss=MeanSquaredError(reduction=reduction), optimizer=tf.keras.optimizers.SGD(0.0))
        costs[reduction] = model.compute_gradients(x, y, sample_weight=w)[0]
    per_example = costs["sum"] / 6
    assert costs["sum_over_batch_size"] == pytest.approx(per_example, rel=1e-6)
    assert costs["mean"] == pytest.approx(per_example, rel=1e-6)
    assert costs["mean_with_sample_weight"] == pytest.approx(costs["sum"] / w.sum(), rel=1e-6)
