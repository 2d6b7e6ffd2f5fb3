"""Keras's callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN,
CSVLogger, LambdaCallback, and ``model.stop_training`` from custom callbacks.

Most tests script the monitored value (a callback placed first writes ``logs[key]`` at each epoch end) so the
expected epochs can be worked out by hand from Keras 3's rules; ``test_callbacks_parity.py`` checks real
trajectories against Keras itself.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest

import gradfit as tf
from gradfit.callbacks import Callback

K = tf.keras
CB = K.callbacks


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0]]) + 0.5).astype(np.float32)
    return x, y


def linear_model(lr=0.1, optimizer=None, metrics=None, units=1):
    model = K.Sequential([K.Input(shape=(2,)), K.layers.Dense(units)])
    model.compile(optimizer=optimizer or K.optimizers.SGD(lr), loss="mse", metrics=metrics)
    return model


class Script(Callback):
    """Writes scripted values into the epoch logs (put it first so later callbacks see them)."""

    def __init__(self, **series):
        super().__init__()
        self.series = series

    def on_epoch_end(self, epoch, logs=None):
        for key, values in self.series.items():
            logs[key] = values[epoch]


class Snapshots(Callback):
    """The model's weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()


def epochs_run(history) -> int:
    return len(history.history["loss"])


def assert_weights_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


# ------------------------------------------------------------------------------------------- EarlyStopping


@pytest.mark.parametrize(
    ("kwargs", "values", "stopped_epoch"),
    [
        # patience 0: the first epoch without improvement stops
        ({}, [5.0, 4.0, 4.5, 3.0, 2.0, 1.0], 2),
        # patience 2: two epochs in a row without improvement (epochs 2 and 3)
        ({"patience": 2}, [3.0, 2.0, 2.5, 2.2, 1.9, 1.8], 3),
        # the count restarts at an improvement: 2.5 (no), 1.5 (yes), 1.6, 1.7 (no, no) -> stop at 5
        ({"patience": 2}, [3.0, 2.0, 2.5, 1.5, 1.6, 1.7, 1.0], 5),
        # min_delta 0.5: 2.6 and later 1.8, 1.7 do not beat the best by more than 0.5; 2.0 beats 3.0 does
        ({"patience": 2, "min_delta": 0.5}, [3.0, 2.6, 2.0, 1.8, 1.7, 1.0], 4),
        # a negative min_delta counts as its absolute value (Keras)
        ({"patience": 2, "min_delta": -0.5}, [3.0, 2.6, 2.0, 1.8, 1.7, 1.0], 4),
        # baseline 1.0 never beaten: improvements no longer restart the count (but never stop training
        # themselves), so the first epoch without improvement, epoch 2, is the 3rd counted -> stop
        ({"patience": 2, "baseline": 1.0}, [3.0, 2.0, 2.5, 2.4, 2.3], 2),
        # baseline beaten at epoch 1: counts normally from there -> epochs 2, 3 without improvement
        ({"patience": 2, "baseline": 1.0}, [3.0, 0.9, 1.2, 1.1, 1.3], 3),
        # start_from_epoch 3: epochs 0-2 are ignored; epoch 3 is the first best, epoch 4 worse -> stop
        ({"start_from_epoch": 3}, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 4),
    ],
)
def test_early_stopping_stops_at_the_right_epoch(data, kwargs, values, stopped_epoch):
    es = CB.EarlyStopping(monitor="val_loss", **kwargs)
    history = linear_model().fit(*data, epochs=len(values), verbose=0, callbacks=[Script(val_loss=values), es])
    assert es.stopped_epoch == stopped_epoch
    assert epochs_run(history) == stopped_epoch + 1
    assert history.history["val_loss"] == values[: stopped_epoch + 1]


def test_early_stopping_runs_all_epochs_while_improving(data):
    es = CB.EarlyStopping(monitor="val_loss", patience=1, baseline=0.1)
    values = [5.0, 4.0, 3.0, 2.0, 1.0]
    history = linear_model().fit(*data, epochs=5, verbose=0, callbacks=[Script(val_loss=values), es])
    assert epochs_run(history) == 5
    assert es.stopped_epoch == 0
    assert es.best == 1.0 and es.best_epoch == 4


def test_early_stopping_mode_max_and_auto_for_accuracy(data):
    values = [0.5, 0.6, 0.55, 0.58, 0.7]
    for mode in ("max", "auto"):  # 'auto': the compiled accuracy metric is maximised
        es = CB.EarlyStopping(monitor="val_accuracy", mode=mode, patience=1)
        model = linear_model(metrics=["accuracy"])
        model.fit(*data, epochs=5, verbose=0, callbacks=[Script(val_accuracy=values), es])
        assert es.stopped_epoch == 2 and es.best == 0.6
    es = CB.EarlyStopping(monitor="val_accuracy", mode="min", patience=1)
    linear_model(metrics=["accuracy"]).fit(*data, epochs=5, verbose=0, callbacks=[Script(val_accuracy=values), es])
    assert es.stopped_epoch == 1 and es.best == 0.5


def test_early_stopping_auto_mode_minimises_errors_and_losses(data):
    values = [3.0, 2.0, 2.5, 1.0]
    for monitor, metrics in (("val_mae", ["mae"]), ("mean_squared_error", ["mean_squared_error"]), ("loss", None)):
        es = CB.EarlyStopping(monitor=monitor, patience=0)
        linear_model(metrics=metrics).fit(*data, epochs=4, verbose=0, callbacks=[Script(**{monitor: values}), es])
        assert es.stopped_epoch == 2, monitor


def test_early_stopping_auto_mode_unknown_direction_raises(data):
    es = CB.EarlyStopping(monitor="my_score")
    with pytest.raises(ValueError, match="mode='max'"):
        linear_model().fit(*data, epochs=2, verbose=0, callbacks=[Script(my_score=[1.0, 2.0]), es])
    es = CB.EarlyStopping(monitor="my_score", mode="max", patience=0)
    linear_model().fit(*data, epochs=3, verbose=0, callbacks=[Script(my_score=[1.0, 2.0, 1.5]), es])
    assert es.stopped_epoch == 2


@pytest.mark.parametrize("stop_early", [True, False])
def test_early_stopping_restores_the_best_weights(data, stop_early):
    values = [3.0, 1.0, 2.0, 2.5, 2.6]
    snaps = Snapshots()
    es = CB.EarlyStopping(monitor="val_loss", patience=2 if stop_early else 10, restore_best_weights=True)
    model = linear_model()
    history = model.fit(*data, epochs=5, verbose=0, callbacks=[Script(val_loss=values), snaps, es])
    assert epochs_run(history) == (4 if stop_early else 5)
    assert es.best_epoch == 1
    # Keras 3 restores the best epoch's weights whether or not training stopped early
    assert_weights_equal(model.get_weights(), snaps.weights[1])
    assert not np.array_equal(snaps.weights[1][0], snaps.weights[epochs_run(history) - 1][0])


def test_early_stopping_without_restore_keeps_the_last_weights(data):
    snaps = Snapshots()
    model = linear_model()
    es = CB.EarlyStopping(monitor="val_loss", patience=1)
    model.fit(*data, epochs=5, verbose=0, callbacks=[Script(val_loss=[3.0, 1.0, 2.0, 2.5, 2.6]), snaps, es])
    assert es.stopped_epoch == 2
    assert_weights_equal(model.get_weights(), snaps.weights[2])


def test_early_stopping_restore_counts_warmup_epochs_out(data):
    # with start_from_epoch the first monitored epoch is the first candidate, even if an earlier one was better
    snaps = Snapshots()
    model = linear_model()
    es = CB.EarlyStopping(monitor="val_loss", patience=1, start_from_epoch=2, restore_best_weights=True)
    model.fit(*data, epochs=6, verbose=0, callbacks=[Script(val_loss=[0.1, 0.2, 1.0, 0.9, 1.1, 1.2]), snaps, es])
    assert es.stopped_epoch == 4 and es.best_epoch == 3
    assert_weights_equal(model.get_weights(), snaps.weights[3])


def test_early_stopping_restores_in_place(data):
    model = linear_model()
    kernel = model.layers[0].kernel
    es = CB.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(*data, epochs=4, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0, 3.0, 4.0]), es])
    assert model.layers[0].kernel is kernel  # the same array (a view into the flat parameter vector)
    model.fit(*data, epochs=1, verbose=0)  # and training goes on from the restored weights


def test_early_stopping_with_real_validation_loss(data):
    x, y = data
    es = CB.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = linear_model(lr=0.05)
    history = model.fit(x, y, epochs=200, validation_split=0.25, verbose=0, callbacks=[es])
    val = history.history["val_loss"]
    assert es.best == min(val) and val.index(min(val)) == es.best_epoch
    if es.stopped_epoch:  # stopped: exactly `patience` epochs after the best
        assert es.stopped_epoch == es.best_epoch + 2
    assert model.evaluate(x[15:], y[15:], verbose=0) == pytest.approx(min(val), rel=1e-5)


def test_early_stopping_is_reusable_across_fits(data):
    es = CB.EarlyStopping(monitor="val_loss", patience=0)
    model = linear_model()
    model.fit(*data, epochs=3, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0, 3.0]), es])
    assert es.stopped_epoch == 1
    history = model.fit(*data, epochs=3, verbose=0, callbacks=[Script(val_loss=[5.0, 4.0, 3.0]), es])
    assert epochs_run(history) == 3 and es.stopped_epoch == 0 and es.best == 3.0


def test_early_stopping_warns_when_the_monitor_is_missing(data):
    es = CB.EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available\. Available metrics are: loss") as rec:
        history = linear_model().fit(*data, epochs=3, verbose=0, callbacks=[es])
    assert epochs_run(history) == 3  # as Keras: warns and keeps training
    assert "validation_split" in str(rec[0].message)
    with pytest.warns(UserWarning, match="Available metrics are: accuracy, loss"):
        linear_model(metrics=["accuracy"]).fit(*data, epochs=1, verbose=0, callbacks=[CB.EarlyStopping()])


def test_early_stopping_verbose_messages(data, capsys):
    es = CB.EarlyStopping(monitor="val_loss", patience=0, verbose=1, restore_best_weights=True)
    linear_model().fit(*data, epochs=3, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0, 3.0]), es])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


@pytest.mark.parametrize("cls", [CB.EarlyStopping, CB.ReduceLROnPlateau])
def test_monitor_callbacks_refuse_bad_arguments(cls):
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        cls(mode="maximum")
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        cls(patience=-1)
    with pytest.raises(ValueError, match="patience"):
        cls(patience=1.5)
    with pytest.raises(TypeError, match="monitor"):
        cls(monitor=None)


def test_early_stopping_refuses_bad_start_from_epoch_and_baseline():
    with pytest.raises(ValueError, match="start_from_epoch"):
        CB.EarlyStopping(start_from_epoch=-1)
    with pytest.raises(ValueError, match="baseline"):
        CB.EarlyStopping(baseline="high")


# ------------------------------------------------------------------------------------------- ModelCheckpoint


class FakeSaves:
    """Records ModelCheckpoint's save calls on one model instead of writing files."""

    def __init__(self, model):
        self.calls = []
        model.save = lambda path, overwrite=True: self.calls.append(("save", path, overwrite))
        model.save_weights = lambda path, overwrite=True: self.calls.append(("save_weights", path, overwrite))

    @property
    def paths(self):
        return [c[1] for c in self.calls]


def test_checkpoint_formats_the_filepath_every_epoch(data, tmp_path):
    model = linear_model()
    saves = FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.weights.h5"), save_weights_only=True)
    model.fit(*data, epochs=4, verbose=0, callbacks=[Script(val_loss=[0.5, 0.4, 0.45, 0.3]), ckpt])
    names = ["w-01-0.50", "w-02-0.40", "w-03-0.45", "w-04-0.30"]
    assert saves.calls == [("save_weights", str(tmp_path / f"{n}.weights.h5"), True) for n in names]


def test_checkpoint_save_best_only(data, tmp_path):
    model = linear_model()
    saves = FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"), save_best_only=True)
    model.fit(*data, epochs=5, verbose=0, callbacks=[Script(val_loss=[0.5, 0.4, 0.45, 0.3, 0.3]), ckpt])
    assert saves.calls == [("save", str(tmp_path / f"m-{e}.keras"), True) for e in (1, 2, 4)]
    assert ckpt.best == 0.3


def test_checkpoint_mode_max_and_initial_value_threshold(data, tmp_path):
    model = linear_model(metrics=["accuracy"])
    saves = FakeSaves(model)
    ckpt = CB.ModelCheckpoint(
        str(tmp_path / "best.keras"), monitor="val_accuracy", save_best_only=True, initial_value_threshold=0.55
    )
    model.fit(*data, epochs=5, verbose=0, callbacks=[Script(val_accuracy=[0.5, 0.6, 0.55, 0.58, 0.7]), ckpt])
    assert len(saves.calls) == 2  # epochs 2 and 5: 0.5 does not beat the threshold 0.55
    ckpt = CB.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss", mode="max", save_best_only=True)
    saves.calls.clear()
    model.fit(*data, epochs=3, verbose=0, callbacks=[Script(loss=[1.0, 0.5, 2.0]), ckpt])
    assert len(saves.calls) == 2


def test_checkpoint_save_best_only_without_the_monitor_saves_and_warns(data, tmp_path):
    model = linear_model()
    saves = FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        model.fit(*data, epochs=2, verbose=0, callbacks=[ckpt])
    assert len(saves.calls) == 2


def test_checkpoint_every_n_batches(data, tmp_path):
    model = linear_model()
    saves = FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.weights.h5"), save_weights_only=True, save_freq=2)
    model.fit(*data, epochs=2, batch_size=4, verbose=0, callbacks=[ckpt])  # 5 batches per epoch
    # Keras's count carries over the epoch boundary: batches 2, 4 of epoch 1, then 1, 3, 5 of epoch 2
    names = ["e1-b2", "e1-b4", "e2-b1", "e2-b3", "e2-b5"]
    assert saves.paths == [str(tmp_path / f"{n}.weights.h5") for n in names]
    assert CB.ModelCheckpoint(str(tmp_path / "m.keras")).uses_batch_hooks() is False
    assert ckpt.uses_batch_hooks() is True


def test_checkpoint_missing_format_field(data, tmp_path):
    model = linear_model()
    FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc:.2f}.keras"))
    with pytest.raises(
        KeyError, match=r"Failed to format this callback filepath.*val_acc.*Fields available: epoch, loss"
    ):
        model.fit(*data, epochs=1, verbose=0, callbacks=[ckpt])


def test_checkpoint_creates_directories_and_refuses_a_directory_path(data, tmp_path):
    model = linear_model()
    FakeSaves(model)
    model.fit(*data, epochs=1, verbose=0, callbacks=[CB.ModelCheckpoint(str(tmp_path / "a" / "b" / "m.keras"))])
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "dir.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        model.fit(*data, epochs=1, verbose=0, callbacks=[CB.ModelCheckpoint(str(tmp_path / "dir.keras"))])


def test_checkpoint_verbose_messages(data, tmp_path, capsys):
    model = linear_model()
    FakeSaves(model)
    ckpt = CB.ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True, verbose=1)
    model.fit(*data, epochs=2, verbose=0, callbacks=[Script(val_loss=[0.5, 0.6]), ckpt])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.50000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


def test_checkpoint_checks_the_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        CB.ModelCheckpoint(str(tmp_path / "m.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        CB.ModelCheckpoint(str(tmp_path / "m.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras`.*save_weights_only=True"):
        CB.ModelCheckpoint(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        CB.ModelCheckpoint(str(tmp_path / "model.ckpt"))
    with pytest.raises(ValueError, match=r"must end in `\.keras`.*legacy \.h5"):
        CB.ModelCheckpoint(str(tmp_path / "model.h5"))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        CB.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        CB.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=0)
    CB.ModelCheckpoint(tmp_path / "m.keras")  # a PathLike is fine


def test_checkpoint_writes_real_weight_files(data, tmp_path):
    """With gradfit's own ``save_weights`` / ``load_weights``: the files exist and hold the best epoch's weights."""
    snaps = Snapshots()
    model = linear_model()
    ckpt = CB.ModelCheckpoint(
        str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5"), save_weights_only=True, save_best_only=True
    )
    model.fit(*data, epochs=4, verbose=0, callbacks=[Script(val_loss=[0.5, 0.4, 0.45, 0.3]), snaps, ckpt])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ckpt-01-0.50.weights.h5", "ckpt-02-0.40.weights.h5", "ckpt-04-0.30.weights.h5"]
    fresh = linear_model()
    fresh.load_weights(str(tmp_path / "ckpt-02-0.40.weights.h5"))
    assert_weights_equal(fresh.get_weights(), snaps.weights[1])


def test_checkpoint_writes_real_model_files(data, tmp_path):
    """With gradfit's own ``model.save``: a ``.keras`` file per epoch, loadable with ``load_model``."""
    model = linear_model()
    model.fit(*data, epochs=2, verbose=0, callbacks=[CB.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.keras", "m-2.keras"]
    loaded = K.models.load_model(str(tmp_path / "m-2.keras"))
    assert_weights_equal(loaded.get_weights(), model.get_weights())


# ------------------------------------------------------------------------------------------- ReduceLROnPlateau

VALUES = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "logged", "final"),
    [
        # patience 2: reductions at the end of epochs 3, 5, 7 (logged rate: the one used in that epoch)
        ({}, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025], 0.0125),
        # cooldown 2: after the reduction at epoch 3, epoch 4 is skipped, so epochs 5, 6 count -> reduce at 6
        ({"cooldown": 2}, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025], 0.025),
        # cooldown 1 has no effect in Keras (the counter is decremented before it is checked)
        ({"cooldown": 1}, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025], 0.0125),
        # min_lr 0.03: 0.05 -> 0.03, then no lower
        ({"min_lr": 0.03}, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03], 0.03),
        # min_delta 0.2: 0.9 does not improve on 1.0 by more than 0.2 -> reductions at the end of 2, 4, 6
        ({"min_delta": 0.2}, [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], 0.0125),
        # patience 0: every epoch without improvement reduces
        ({"patience": 0}, [0.1, 0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125], 0.0015625),
    ],
)
def test_reduce_lr_on_plateau(data, kwargs, logged, final):
    kwargs = {"monitor": "val_loss", "factor": 0.5, "patience": 2, **kwargs}
    model = linear_model(lr=0.1)
    rl = CB.ReduceLROnPlateau(**kwargs)
    history = model.fit(*data, epochs=8, verbose=0, callbacks=[Script(val_loss=VALUES), rl])
    np.testing.assert_allclose(history.history["learning_rate"], logged, rtol=1e-12)
    assert model.optimizer.learning_rate == pytest.approx(final, rel=1e-12)


def test_reduce_lr_min_lr_reached_does_not_restart_the_cooldown(data):
    # min_lr 0.05: at epoch 3 the rate reaches 0.05; later plateaus leave it there and the count keeps going
    model = linear_model(lr=0.1)
    rl = CB.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=3, min_lr=0.05)
    model.fit(*data, epochs=8, verbose=0, callbacks=[Script(val_loss=VALUES), rl])
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    assert rl.cooldown_counter == 0  # the last "reduction" at 0.05 = min_lr did not happen, so no new cooldown


def test_reduce_lr_applies_the_new_rate_to_the_updates(data):
    x, y = data

    class Rates(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.seen = [*getattr(self, "seen", []), float(self.model.optimizer.learning_rate)]

    model = linear_model(lr=0.1)
    rates = Rates()
    model.fit(
        x, y, epochs=3, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0, 3.0]), CB.ReduceLROnPlateau(patience=0), rates]
    )
    assert rates.seen == pytest.approx([0.1, 0.01, 0.001])
    # the next update uses the reduced rate: w -= 0.001 * dJ/dw
    before = model.get_weights()
    _, grads = model.compute_gradients(x, y)
    model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], before[0] - 0.001 * grads[0], rtol=1e-5)


def test_reduce_lr_verbose_and_missing_monitor(data, capsys):
    model = linear_model(lr=0.1)
    rl = CB.ReduceLROnPlateau(patience=0, verbose=1)
    model.fit(*data, epochs=2, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0]), rl])
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="Learning rate reduction is conditioned on metric `val_loss`.*loss"):
        history = linear_model().fit(*data, epochs=2, verbose=0, callbacks=[CB.ReduceLROnPlateau()])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1])


def test_reduce_lr_refuses_bad_arguments():
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        CB.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        CB.ReduceLROnPlateau(factor=2)
    with pytest.raises(ValueError, match="factor"):
        CB.ReduceLROnPlateau(factor=-0.5)
    with pytest.raises(ValueError, match="cooldown"):
        CB.ReduceLROnPlateau(cooldown=-1)
    with pytest.raises(ValueError, match="min_lr"):
        CB.ReduceLROnPlateau(min_lr=-1e-3)


def test_reduce_lr_with_a_schedule_raises_when_it_reduces(data):
    schedule = K.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    model = linear_model(optimizer=K.optimizers.SGD(schedule))
    rl = CB.ReduceLROnPlateau(patience=1)
    with pytest.raises(TypeError, match="ReduceLROnPlateau cannot set the learning rate.*schedule.*ExponentialDecay"):
        model.fit(*data, epochs=4, verbose=0, callbacks=[Script(val_loss=[1.0, 2.0, 3.0, 4.0]), rl])
    # while it has nothing to reduce it logs the schedule's current value, as Keras
    model = linear_model(optimizer=K.optimizers.SGD(schedule))
    history = model.fit(*data, epochs=2, batch_size=10, verbose=0, callbacks=[Script(val_loss=[2.0, 1.0]), rl])
    assert history.history["learning_rate"] == pytest.approx([0.1 * 0.5**0.2, 0.1 * 0.5**0.4])


# ------------------------------------------------------------------------------------------- LearningRateScheduler


def hand_rolled_sgd(x, y, w, b, rates):
    """Full-batch gradient descent on J = mean((x w + b - y)^2), one step per rate, in float64."""
    w, b = w.astype(np.float64), b.astype(np.float64)
    for lr in rates:
        err = x @ w + b - y
        w = w - lr * (2 / len(x)) * x.T @ err
        b = b - lr * (2 / len(x)) * err.sum(axis=0)
    return w, b


def test_learning_rate_scheduler_values_reach_the_optimizer(data):
    x, y = data
    model = linear_model(lr=0.1)
    w0, b0 = model.get_weights()
    sched = CB.LearningRateScheduler(lambda epoch, lr: 0.2 / (epoch + 1))
    history = model.fit(x, y, epochs=4, batch_size=len(x), shuffle=False, verbose=0, callbacks=[sched])
    rates = [0.2, 0.1, 0.2 / 3, 0.05]
    assert history.history["learning_rate"] == pytest.approx(rates, rel=1e-12)
    w, b = hand_rolled_sgd(x.astype(np.float64), y.astype(np.float64), w0, b0, rates)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-7)
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_learning_rate_scheduler_gets_the_current_rate(data):
    seen = []

    def halve(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5

    model = linear_model(lr=0.8)
    model.fit(*data, epochs=3, initial_epoch=1, verbose=0, callbacks=[CB.LearningRateScheduler(halve)])
    assert seen == [(1, pytest.approx(0.8)), (2, pytest.approx(0.4))]
    assert model.optimizer.learning_rate == pytest.approx(0.2)


def test_learning_rate_scheduler_one_argument_schedule_and_verbose(data, capsys):
    model = linear_model(lr=0.8)
    history = model.fit(
        *data, epochs=2, verbose=0, callbacks=[CB.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1), verbose=1)]
    )
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.02])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.02." in capsys.readouterr().out


def test_learning_rate_scheduler_errors(data):
    with pytest.raises(ValueError, match="should be a float.*1.0 rather than 1"):
        linear_model().fit(*data, epochs=1, verbose=0, callbacks=[CB.LearningRateScheduler(lambda e, lr: 1)])
    with pytest.raises(ValueError, match="should be a float"):
        linear_model().fit(*data, epochs=1, verbose=0, callbacks=[CB.LearningRateScheduler(lambda e, lr: "0.1")])
    with pytest.raises(ValueError, match="learning_rate must be a non-negative number"):
        linear_model().fit(*data, epochs=1, verbose=0, callbacks=[CB.LearningRateScheduler(lambda e, lr: -0.1)])
    with pytest.raises(TypeError, match="schedule must be a function"):
        CB.LearningRateScheduler(0.1)
    schedule = K.optimizers.schedules.PiecewiseConstantDecay([10], [0.1, 0.01])
    model = linear_model(optimizer=K.optimizers.SGD(schedule))
    with pytest.raises(TypeError, match="LearningRateScheduler cannot set the learning rate.*schedule"):
        model.fit(*data, epochs=1, verbose=0, callbacks=[CB.LearningRateScheduler(lambda e, lr: lr)])


def test_learning_rate_scheduler_errors_inside_the_schedule_propagate(data):
    def broken(epoch, lr):
        raise TypeError("my bug")

    with pytest.raises(TypeError, match="my bug"):
        linear_model().fit(*data, epochs=1, verbose=0, callbacks=[CB.LearningRateScheduler(broken)])


# ------------------------------------------------------------------------------------------- TerminateOnNaN


def test_terminate_on_nan_stops_after_the_first_bad_batch(data, capsys):
    x, y = data
    losses = []
    record = CB.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    model = linear_model(lr=1e6)  # diverges: the loss overflows to inf, then NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x * 100, y, epochs=5, batch_size=2, verbose=0, callbacks=[CB.TerminateOnNaN(), record])
    assert epochs_run(history) == 1
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
    assert model.optimizer.iterations == len(losses) < 10  # stopped mid-epoch, right after the bad batch
    assert f"Batch {len(losses) - 1}: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error(data):
    x, y = data
    ended = []
    model = linear_model(lr=1e6)
    callbacks = [CB.TerminateOnNaN(raise_error=True), CB.LambdaCallback(on_train_end=lambda logs: ended.append(1))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
            model.fit(x * 100, y, epochs=5, batch_size=2, verbose=0, callbacks=callbacks)
    assert ended == []


def test_terminate_on_nan_leaves_finite_training_alone(data):
    history = linear_model().fit(*data, epochs=3, verbose=0, callbacks=[CB.TerminateOnNaN()])
    assert epochs_run(history) == 3


# ------------------------------------------------------------------------------------------- CSVLogger


def read_rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_with_validation(data, tmp_path):
    path = tmp_path / "log.csv"
    model = linear_model(metrics=["mae"])
    history = model.fit(*data, epochs=3, validation_split=0.25, verbose=0, callbacks=[CB.CSVLogger(str(path))])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, row in enumerate(rows[1:]):
        assert [float(v) for v in row[1:]] == [history.history[k][i] for k in rows[0][1:]]  # repr: exact
    assert path.read_bytes().count(b"\r\n") == 4  # csv's excel dialect, as Keras


def test_csv_logger_without_validation_adds_na_columns(data, tmp_path):
    path = tmp_path / "log.csv"
    linear_model().fit(*data, epochs=2, verbose=0, callbacks=[CB.CSVLogger(path)])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]  # Keras adds val_ columns when there are none
    assert [r[2] for r in rows[1:]] == ["NA", "NA"]


def test_csv_logger_separator_append_and_learning_rate(data, tmp_path):
    path = tmp_path / "log.csv"
    model = linear_model()
    callbacks = [CB.ReduceLROnPlateau(monitor="loss"), CB.CSVLogger(str(path), separator=";")]
    model.fit(*data, epochs=2, verbose=0, callbacks=callbacks)
    callbacks = [CB.ReduceLROnPlateau(monitor="loss"), CB.CSVLogger(str(path), separator=";", append=True)]
    model.fit(*data, epochs=1, verbose=0, callbacks=callbacks)
    rows = read_rows(path, ";")
    assert rows[0] == ["epoch", "learning_rate", "loss", "val_learning_rate", "val_loss"]
    assert len(rows) == 4 and rows[3][0] == "0"  # appended without a second header
    assert [float(r[1]) for r in rows[1:]] == pytest.approx([0.1, 0.1, 0.1])
    assert [r[3:] for r in rows[1:]] == [["NA", "NA"]] * 3
    model.fit(*data, epochs=1, verbose=0, callbacks=[CB.CSVLogger(str(path), separator=";")])
    assert len(read_rows(path, ";")) == 2  # append=False overwrites


# ------------------------------------------------------------------------------------------- LambdaCallback


def test_lambda_callback_hooks_get_the_right_epochs_and_batches(data):
    calls = []
    cb = CB.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
    )
    linear_model(metrics=["mae"]).fit(*data, epochs=3, initial_epoch=1, batch_size=10, verbose=0, callbacks=[cb])
    keys = ["loss", "mae"]
    epoch = [("batch_begin", 0), ("batch_end", 0, keys), ("batch_begin", 1), ("batch_end", 1, keys)]
    assert calls == [
        ("train_begin",),
        ("epoch_begin", 1),
        *epoch,
        ("epoch_end", 1, keys),
        ("epoch_begin", 2),
        *epoch,
        ("epoch_end", 2, keys),
        ("train_end", keys),
    ]


def test_lambda_callback_other_hooks_and_errors(data):
    ends = []
    cb = CB.LambdaCallback(on_batch_end=lambda batch, logs: ends.append(batch))
    assert cb.uses_batch_hooks()
    assert not CB.LambdaCallback(on_epoch_end=lambda epoch, logs: None).uses_batch_hooks()
    linear_model().fit(*data, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    assert ends == [0, 1, 2, 0, 1, 2]
    with pytest.raises(TypeError, match="unknown hook"):
        CB.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="must be a function"):
        CB.LambdaCallback(on_epoch_end=3)


# ------------------------------------------------------------------------------------------- stop_training


def test_stop_training_from_on_epoch_end(data):
    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = linear_model().fit(*data, epochs=10, verbose=0, callbacks=[StopAt()])
    assert history.epoch == [0, 1]


def test_stop_training_from_a_batch_hook_stops_mid_epoch(data):
    class StopAtBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    ends = []
    model = linear_model()
    history = model.fit(
        *data,
        epochs=5,
        batch_size=2,
        verbose=0,
        callbacks=[StopAtBatch(), CB.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(e))],
    )
    assert model.optimizer.iterations == 3  # batches 0, 1, 2 of the first epoch
    assert history.epoch == [0] and ends == [0]  # as Keras, the epoch still ends (logs, validation, callbacks)


def test_stop_training_from_on_train_begin_still_runs_one_batch(data):
    # as Keras: fit resets stop_training before on_train_begin, and checks it after each batch
    model = linear_model()
    cb = CB.LambdaCallback(on_train_begin=lambda logs: setattr(model, "stop_training", True))
    history = model.fit(*data, epochs=5, batch_size=5, verbose=0, callbacks=[cb])
    assert model.optimizer.iterations == 1 and history.epoch == [0]
    history = model.fit(*data, epochs=2, batch_size=5, verbose=0)
    assert history.epoch == [0, 1]  # the next fit starts afresh


def test_callbacks_are_exported_under_keras():
    import gradfit.keras.callbacks as kc

    for name in (
        "EarlyStopping",
        "ModelCheckpoint",
        "ReduceLROnPlateau",
        "LearningRateScheduler",
        "TerminateOnNaN",
        "CSVLogger",
        "LambdaCallback",
        "History",
        "Callback",
    ):
        assert getattr(kc, name) is getattr(tf.callbacks, name)


def test_evaluate_calls_the_test_hooks_of_its_callbacks():
    import gradfit as tf

    seen = []
    cb = tf.keras.callbacks.LambdaCallback(
        on_test_begin=lambda logs: seen.append("begin"),
        on_test_batch_end=lambda batch, logs: seen.append(("batch", batch, sorted(logs))),
        on_test_end=lambda logs: seen.append(("end", sorted(logs))),
    )
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    model.evaluate(np.ones((5, 2)), np.ones(5), batch_size=2, verbose=0, callbacks=[cb])
    assert seen[0] == "begin" and seen[-1] == ("end", ["accuracy", "loss"])
    assert [s[1] for s in seen[1:-1]] == [0, 1, 2]


def test_restore_best_weights_of_a_run_that_diverged_returns_the_history():
    # the best epoch's weights are the model's own, NaN or not: restoring them must not raise after training
    # (Keras restores them; the finiteness check is for weights a user gives set_weights)
    import gradfit as tf

    K = tf.keras
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32") * 1e3
    model = K.Sequential([K.Input((4,)), K.layers.Dense(5, activation="exponential"), K.layers.Dense(1)])
    model.compile(loss="mse", optimizer=K.optimizers.SGD(10.0))
    stop = K.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    # TerminateOnNaN: Keras's way (stop, weights as they are); without it fit raises and puts the weights back
    with np.errstate(invalid="ignore"):  # inf * 0 once the run has diverged
        history = model.fit(x, y, epochs=5, verbose=0, callbacks=[stop, K.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(model.get_weights()[0]).all()
    with pytest.raises(ValueError, match="finite"):  # a user's NaN weights are still refused
        model.set_weights(model.get_weights())
