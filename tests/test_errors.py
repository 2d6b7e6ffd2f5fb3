"""Bad input: each mistake raises the right exception, with a message that names the problem, and leaves the
model as it was (still unbuilt, or with the same weights and an untouched optimizer)."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.losses import BinaryCrossentropy, SparseCategoricalCrossentropy


class Snapshot:
    """What a failed call must not change."""

    def __init__(self, model: Sequential):
        self.built = model.built
        self.layers_built = [layer.built for layer in model.layers]
        self.weights = model.get_weights() if model.built else None
        self.compiled = model.compiled
        self.optimizer = model.optimizer
        self.loss = model.loss
        self.iterations = model.optimizer.iterations if model.optimizer is not None else None

    def assert_unchanged(self, model: Sequential) -> None:
        assert model.built == self.built
        assert [layer.built for layer in model.layers] == self.layers_built
        if self.weights is not None:
            after = model.get_weights()
            assert len(after) == len(self.weights)
            for a, b in zip(after, self.weights):
                np.testing.assert_array_equal(a, b)
        assert model.compiled == self.compiled
        assert model.optimizer is self.optimizer
        assert model.loss is self.loss
        if self.optimizer is not None:
            assert model.optimizer.iterations == self.iterations


def make_model(built: bool, loss=None, units: int = 1, activation: str = "sigmoid", compile: bool = True):
    tf.random.set_seed(0)
    model = Sequential([Dense(3, activation="relu"), Dense(units, activation=activation)])
    if built:
        model.build((None, 4))
    if compile:
        model.compile(loss=loss or BinaryCrossentropy(), metrics=["accuracy"])
    return model


@pytest.fixture(params=["unbuilt", "built"])
def built(request) -> bool:
    return request.param == "built"


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    y = (rng.random((50, 1)) > 0.5).astype(np.float64)
    return x, y


# --------------------------------------------------------------------------------------------- compile first


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_fit_or_evaluate_before_compile(built, data, method):
    x, y = data
    model = make_model(built, compile=False)
    snap = Snapshot(model)
    with pytest.raises(RuntimeError, match=r"compile the model before calling .*compile\(loss="):
        getattr(model, method)(x, y)
    snap.assert_unchanged(model)


def test_predict_does_not_need_compile(data):
    x, _ = data
    model = make_model(False, compile=False)
    assert model.predict(x, verbose=0).shape == (50, 1)


# --------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch"])
def test_x_and_y_with_different_numbers_of_rows(built, data, method):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    kwargs = {"verbose": 0} if method != "train_on_batch" else {}
    with pytest.raises(ValueError, match="same number of examples.*x has 50 and y has 49"):
        getattr(model, method)(x, y[:49], **kwargs)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "__call__", "train_on_batch", "predict_on_batch"])
def test_x_with_different_number_of_features_than_the_built_model(data, method):
    x, y = data
    model = make_model(True)
    snap = Snapshot(model)
    x3 = x[:, :3]
    with pytest.raises(ValueError, match=r"3 features per example.*\(None, 4\)"):
        if method in ("fit", "evaluate", "train_on_batch"):
            getattr(model, method)(x3, y)
        else:
            getattr(model, method)(x3)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_1d_x_gets_advice_to_reshape(built, data, method):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=r"2-D array.*reshape\(-1, 1\).*reshape\(1, -1\)"):
        if method == "predict":
            model.predict(x[:, 0], verbose=0)
        else:
            getattr(model, method)(x[:, 0], y, verbose=0)
    snap.assert_unchanged(model)


def test_targets_with_wrong_number_of_columns(built, data):
    x, _ = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=r"targets y have shape \(50, 2\).*output has shape \('m', 1\)"):
        model.fit(x, np.zeros((50, 2)), verbose=0)
    snap.assert_unchanged(model)


# --------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["x", "y"])
def test_nan_or_inf_in_x_or_y(built, data, where, bad):
    x, y = data
    x, y = x.copy(), y.copy()
    (x if where == "x" else y)[7, 0] = bad
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"^{where} contains 1 NaN or infinite value"):
        model.fit(x, y, verbose=0)
    snap.assert_unchanged(model)
    with pytest.raises(ValueError, match=rf"^{where} contains 1 NaN or infinite value"):
        model.evaluate(x, y, verbose=0)
    snap.assert_unchanged(model)


def test_nan_in_x_for_predict(built, data):
    x, _ = data
    x = x.copy()
    x[0, 0] = np.nan
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.predict(x, verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("label", [3, -1, 10])
def test_labels_outside_range_for_sparse_categorical_crossentropy(built, data, label):
    x, _ = data
    y = np.arange(50) % 3
    y[5] = label
    model = make_model(built, loss=SparseCategoricalCrossentropy(from_logits=True), units=3, activation="linear")
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"labels must lie in \[0, 3\).*from {min(label, 0)} to {max(label, 2)}"):
        model.fit(x, y, verbose=0)
    snap.assert_unchanged(model)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.evaluate(x, y, verbose=0)
    snap.assert_unchanged(model)


def test_fractional_labels_for_sparse_categorical_crossentropy(built, data):
    x, _ = data
    y = (np.arange(50) % 3).astype(np.float64)
    y[0] = 1.5
    model = make_model(built, loss=SparseCategoricalCrossentropy(from_logits=True), units=3, activation="linear")
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="whole numbers"):
        model.fit(x, y, verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("label", [2.0, -1.0, 9.0])
def test_labels_outside_0_1_for_binary_crossentropy(built, data, label):
    x, y = data
    y = y.copy()
    y[3, 0] = label
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=r"targets y must lie in \[0, 1\].*SparseCategoricalCrossentropy"):
        model.fit(x, y, verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize(
    "where, bad",
    [
        ("x", lambda a: a.astype(str)),
        ("y", lambda a: np.where(a > 0, "one", "zero")),
        ("x", lambda a: np.array([[None, 1.0, "2", 3.0]] * len(a), dtype=object)),
    ],
    ids=["x strings", "y strings", "x objects"],
)
def test_non_numeric_data(built, data, where, bad):
    x, y = data
    if where == "x":
        x = bad(x)
    else:
        y = bad(y)
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"^{where} must hold numbers.*dtype=np.float32"):
        model.fit(x, y, verbose=0)
    snap.assert_unchanged(model)
    if where == "x":
        with pytest.raises(ValueError, match="must hold numbers"):
            model.predict(x, verbose=0)
        snap.assert_unchanged(model)


def test_ragged_rows(built):
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="rectangular"):
        model.fit([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]], [[0.0], [1.0]], verbose=0)
    snap.assert_unchanged(model)


# --------------------------------------------------------------------------------------------- unknown names


@pytest.mark.parametrize(
    "name, suggestion", [("sigmoud", "sigmoid"), ("rellu", "relu"), ("softmx", "softmax"), ("tanch", "tanh")]
)
def test_unknown_activation_suggests_the_closest(name, suggestion):
    with pytest.raises(ValueError, match=rf"Unknown activation '{name}'\. Did you mean '{suggestion}'\?"):
        Dense(3, activation=name)


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("binary_crossentropi", "binary_crossentropy"),
        ("mean_squared_eror", "mean_squared_error"),
        ("sparse_categorical_crosentropy", "sparse_categorical_crossentropy"),
    ],
)
def test_unknown_loss_suggests_the_closest(built, name, suggestion):
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"Unknown loss '{name}'\. Did you mean '{suggestion}'\?"):
        model.compile(loss=name)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("name, suggestion", [("adum", "adam"), ("rmsprob", "rmsprop"), ("sgdd", "sgd")])
def test_unknown_optimizer_suggests_the_closest(built, name, suggestion):
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"Unknown optimizer '{name}'\. Did you mean '{suggestion}'\?"):
        model.compile(loss="binary_crossentropy", optimizer=name)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("name, suggestion", [("accuracyy", "accuracy"), ("acuracy", "accuracy"), ("mae2", "mae")])
def test_unknown_metric_suggests_the_closest(built, name, suggestion):
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"Unknown metric '{name}'\. Did you mean '{suggestion}'\?"):
        model.compile(loss="binary_crossentropy", metrics=[name])
    snap.assert_unchanged(model)


def test_failed_compile_of_uncompiled_model_leaves_it_uncompiled(data):
    x, y = data
    model = make_model(False, compile=False)
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        model.compile(loss="binary_crossentropy", optimizer="adum")
    assert not model.compiled and model.optimizer is None
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)


# --------------------------------------------------------------------------------------------- fit arguments


@pytest.mark.parametrize("value", [0, -1, 2.5, "10", True])
def test_epochs_must_be_a_positive_integer(built, data, value):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"epochs must be a positive integer, got {value!r}"):
        model.fit(x, y, epochs=value, verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("value", [0, -1, 2.5, "10"])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_batch_size_must_be_a_positive_integer(built, data, value, method):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=rf"batch_size must be a positive integer, got {value!r}"):
        if method == "predict":
            model.predict(x, batch_size=value, verbose=0)
        else:
            getattr(model, method)(x, y, batch_size=value, verbose=0)
    snap.assert_unchanged(model)


def test_numpy_integers_are_fine_for_epochs_and_batch_size(data):
    x, y = data
    model = make_model(False)
    history = model.fit(x, y, epochs=np.int64(2), batch_size=np.int32(10), verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize(
    "validation_data, match",
    [
        (lambda x, y: (x[:10, :3], y[:10]), r"validation_data: x has 3 features per example.*\(None, 4\)"),
        (lambda x, y: (x[:10], y[:9]), r"validation_data: x and y must have the same number of examples"),
        (lambda x, y: (x[:10], np.zeros((10, 2))), r"validation_data: .*targets y have shape \(10, 2\)"),
        (lambda x, y: x[:10], r"validation_data must be a tuple \(x_val, y_val\)"),
        (lambda x, y: (x[:10],), r"validation_data must be a tuple \(x_val, y_val\)"),
        (lambda x, y: (x[:10, 0], y[:10]), r"validation_data: .*reshape\(-1, 1\)"),
    ],
    ids=["features", "rows", "target columns", "bare array", "1-tuple", "1-D x"],
)
def test_validation_data_of_wrong_shape(data, validation_data, match):
    x, y = data
    model = make_model(True)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=2, validation_data=validation_data(x, y), verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5, 0.99, "0.2"])
def test_validation_split_out_of_range(built, data, fraction):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=fraction, verbose=0)
    snap.assert_unchanged(model)


def test_class_weight_and_sample_weight_together_are_refused(built, data):
    # Keras 3 refuses both ("You cannot `class_weight` and `sample_weight` at the same time."); a class missing
    # from class_weight weighs 1.0 there (tests/test_training_semantics.py)
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="class_weight or sample_weight, not both"):
        model.fit(x, y, class_weight={0: 1.0, 1: 1.0}, sample_weight=np.ones(len(x)), verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("sample_weight", [np.ones(49), np.ones((50, 2)), -np.ones(50)], ids=["rows", "2-D", "neg"])
def test_bad_sample_weight(built, data, sample_weight):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(x, y, sample_weight=sample_weight, verbose=0)
    snap.assert_unchanged(model)


@pytest.mark.parametrize("verbose", [3, -1, "yes"])
def test_bad_verbose(built, data, verbose):
    x, y = data
    model = make_model(built)
    snap = Snapshot(model)
    with pytest.raises(ValueError, match=r"verbose must be 'auto', 0, 1 or 2"):
        model.fit(x, y, verbose=verbose)
    snap.assert_unchanged(model)


def test_count_params_of_unbuilt_model_explains():
    model = make_model(False)
    with pytest.raises(ValueError, match=r"not been built yet.*build\(\)"):
        model.count_params()
    assert not model.built


@pytest.mark.parametrize(
    "validation_data, match",
    [
        ((np.ones((5, 3)), np.zeros(5)), "same features"),
        ((np.ones((5, 4)), np.full(5, 7)), r"labels must lie in \[0, 2\)"),
        ((np.ones((5, 4)), np.zeros(4)), "same number of examples"),
    ],
)
def test_bad_validation_data_leaves_an_unbuilt_model_unbuilt(validation_data, match):
    model = Sequential([Dense(3, activation="relu"), Dense(2)])
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((20, 4))
    with pytest.raises(ValueError, match=match):
        model.fit(x, np.zeros(20), validation_data=validation_data, verbose=0)
    assert not model.built
