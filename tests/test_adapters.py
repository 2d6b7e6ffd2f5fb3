"""Data that is not one NumPy array (issue #12, the core): lists, pandas DataFrames / Series, SciPy sparse
matrices, generators and iterators, re-iterable sources with ``.numpy()`` batches; Keras 3.15's rules for
exhausted generators and ``validation_data`` generators (recorded with Keras 3.15: ``/tmp/j/keras_gen.py`` in the
session that wrote this; the batch counts below are Keras's); every bad batch caught before its step, named by
its index, with the array path's message."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import gradfit.keras as K
from gradfit.adapters import streams
from gradfit.adapters.arrays import SparseAdapter

FEATURES, CLASSES, BATCH = 6, 3, 20

# Keras's warnings, asserted where they are the point of a test
pytestmark = [
    pytest.mark.filterwarnings("ignore:Your input ran out of data"),
    pytest.mark.filterwarnings("ignore:`shuffle=True` was passed"),
]


def _data(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, n)
    return x, y


def _model(metrics=("accuracy",), with_input: bool = True):
    K.utils.set_random_seed(1)
    layers = [K.layers.Dense(5, activation="relu"), K.layers.Dense(CLASSES, activation="softmax")]
    model = K.Sequential(([K.Input((FEATURES,))] if with_input else []) + layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _weights(model) -> list[bytes]:
    return [w.tobytes() for w in model.get_weights()]


def _trained_on_arrays(x, y, epochs=1, **kwargs):
    model = _model()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, **kwargs)
    return model


def _batches(x, y, sw=None, forever=False, limit=None):
    """(x, y[, sw]) batches of BATCH rows, once or forever."""
    starts = list(range(0, len(x), BATCH))[:limit]
    for start in itertools.cycle(starts) if forever else starts:
        end = start + BATCH
        yield (x[start:end], y[start:end]) if sw is None else (x[start:end], y[start:end], sw[start:end])


def _ran_out(caught) -> int:
    return sum("ran out of data" in str(w.message) for w in caught)


# ------------------------------------------------------------------------------------------- in memory


def test_lists_train_as_their_arrays():
    x, y = _data(60)
    assert _weights(_trained_on_arrays(x.tolist(), y.tolist())) == _weights(_trained_on_arrays(x, y))


def test_a_dataframe_and_a_series_train_in_column_order():
    pd = pytest.importorskip("pandas")
    x, y = _data(60)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)])
    assert _weights(_trained_on_arrays(frame, pd.Series(y))) == _weights(_trained_on_arrays(x, y))
    model = _trained_on_arrays(x, y)
    assert np.array_equal(model.predict(frame, verbose=0), model.predict(x, verbose=0))
    assert model.evaluate(frame, pd.Series(y), verbose=0) == model.evaluate(x, y, verbose=0)
    assert np.array_equal(model.predict_on_batch(frame), model.predict_on_batch(x))


def test_a_dataframe_with_nullable_integer_columns_trains():
    pd = pytest.importorskip("pandas")
    x, y = _data(40)
    frame = pd.DataFrame({f"f{i}": x[:, i] for i in range(FEATURES)})
    frame["f0"] = (frame["f0"] * 10).round().astype("Int64")
    expected = x.copy()
    expected[:, 0] = np.round(x[:, 0] * 10)
    assert _weights(_trained_on_arrays(frame, y)) == _weights(_trained_on_arrays(expected.astype(np.float64), y))


def test_non_numeric_dataframe_columns_are_refused_by_name():
    pd = pytest.importorskip("pandas")
    x, y = _data(20)
    frame = pd.DataFrame(x[:, :4], columns=["a", "b", "c", "d"])
    frame["city"] = ["Paris"] * 20
    frame["kind"] = pd.Categorical(["u", "v"] * 10)
    model = _model(with_input=False)
    with pytest.raises(
        ValueError, match=r"x is a pandas DataFrame with column\(s\) that are not numbers: 'city'.*'kind'"
    ):
        model.fit(frame, y, verbose=0)
    assert not model.built
    with pytest.raises(ValueError, match=r"y is a pandas Series with column\(s\) that are not numbers: 'label'"):
        model.fit(x, pd.Series(["a"] * 20, name="label"), verbose=0)


def test_missing_values_in_a_dataframe_get_the_nan_message():
    pd = pytest.importorskip("pandas")
    x, y = _data(20)
    frame = pd.DataFrame(x)
    frame.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"x contains 1 NaN or infinite value\(s\)"):
        _model().fit(frame, y, verbose=0)
    with_na = pd.DataFrame({"a": pd.array([1, None] * 10, dtype="Int64")})
    model = K.Sequential([K.Input((1,)), K.layers.Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"x contains 10 NaN"):
        model.fit(with_na, np.zeros(20), verbose=0)


@pytest.mark.parametrize("layout", ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array"])
def test_sparse_matrices_train_as_their_dense_arrays(layout):
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data(60)
    x[x < 0.5] = 0
    matrix = getattr(sparse, layout)(x)
    assert _weights(_trained_on_arrays(matrix, y, epochs=2)) == _weights(_trained_on_arrays(x, y, epochs=2))
    model = _trained_on_arrays(x, y)
    assert np.array_equal(model.predict(matrix, batch_size=BATCH, verbose=0), model.predict(x, verbose=0))
    assert model.evaluate(matrix, y, batch_size=BATCH, verbose=0) == model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert np.array_equal(model.predict_on_batch(matrix), model.predict_on_batch(x))


def test_a_sparse_matrix_is_densified_one_batch_at_a_time():
    sparse = pytest.importorskip("scipy.sparse")
    matrix = sparse.random(10_000, 1_000, density=0.001, format="csr", dtype=np.float32, random_state=0)
    adapter = SparseAdapter(matrix, np.zeros(10_000), batch_size=64, shuffle=True)
    shapes = {batch[0].shape for batch in itertools.islice(adapter.batches(0), 5)}
    assert shapes == {(64, 1_000)} and adapter.num_batches == 157
    assert all(isinstance(batch[0], np.ndarray) for batch in itertools.islice(adapter.batches(0), 2))


def test_sparse_shuffles_as_the_arrays_do():
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data(60)
    shuffled = []
    for source in (x, sparse.csr_matrix(x)):
        model = _model()
        K.utils.set_random_seed(7)
        model.fit(source, y, batch_size=BATCH, epochs=2, verbose=0)
        shuffled.append(_weights(model))
    assert shuffled[0] == shuffled[1]


def test_sparse_x_and_y_of_different_lengths_are_refused():
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data(20)
    with pytest.raises(ValueError, match="x has 20 and y has 19"):
        _model().fit(sparse.csr_matrix(x), y[:19], verbose=0)


# ------------------------------------------------------------------------------------------- generators


def test_an_infinite_generator_with_steps_per_epoch_trains_as_the_arrays():
    x, y = _data(60)
    model = _model()
    model.fit(_batches(x, y, forever=True), steps_per_epoch=3, epochs=3, shuffle=False, verbose=0)
    assert _weights(model) == _weights(_trained_on_arrays(x, y, epochs=3))


def test_float64_and_integer_batches_are_cast_as_the_arrays_are():
    x, y = _data(60)
    x64 = x.astype(np.float64) * 1.1  # not representable in float32: the cast rounds, as for the arrays
    model = _model()
    model.fit(_batches(x64, y.astype(np.int32), forever=True), steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    assert _weights(model) == _weights(_trained_on_arrays(x64, y, epochs=2))


def test_the_first_batch_of_a_generator_builds_the_model():
    x, y = _data(60)
    model = _model(with_input=False)
    assert not model.built
    model.fit(_batches(x, y), shuffle=False, verbose=0)
    assert model.built and model.input_shape == (None, FEATURES)


def test_a_finite_generator_follows_keras_each_epoch():
    # Keras 3.15: epochs of 5, 2, 2 batches (each new pass replays the two batches read ahead), a warning each
    x, y = _data(100)
    model = _model()
    counts = []
    counter = K.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: counts.append(0),
        on_train_batch_end=lambda batch, logs: counts.__setitem__(-1, counts[-1] + 1),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(_batches(x, y), epochs=3, verbose=0, callbacks=[counter])
    assert counts == [5, 2, 2]
    assert _ran_out(caught) == 3
    assert any("shuffle=True` was passed, but will be ignored" in str(w.message) for w in caught)


def test_a_generator_shorter_than_steps_per_epoch_warns_and_ends_the_epoch():
    # Keras 3.15, 5 batches and steps_per_epoch=3: epochs of 3, 2 (a warning), 2 (the replayed ones, a warning)
    x, y = _data(100)
    model = _model()
    history_counts = []
    counter = K.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: history_counts.append(model.optimizer.iterations)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(_batches(x, y), steps_per_epoch=3, epochs=3, shuffle=False, verbose=0, callbacks=[counter])
    assert history_counts == [3, 5, 7]
    assert _ran_out(caught) == 2


def test_an_empty_generator_is_refused_as_keras_does():
    model = _model(with_input=False)
    with pytest.raises(ValueError, match="must yield at least one batch. Received an empty generator"):
        model.fit((b for b in []), verbose=0)
    assert not model.built


def test_a_generator_of_lists_is_refused_as_keras_does():
    x, y = _data(40)
    with pytest.raises(ValueError, match=r"must yield a tuple, either \(input,\) or \(inputs, targets\)"):
        _model().fit(([x[:20], y[:20]] for _ in range(2)), verbose=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"y": np.zeros(20)}, "`y` should not be passed. Instead, the targets should be included"),
        ({"sample_weight": np.ones(20)}, "`sample_weights` should not be passed"),
        ({"class_weight": {0: 2.0}}, "`class_weight` is not supported for generator inputs"),
        ({"batch_size": 8}, "batch_size would have no effect"),
        ({"validation_split": 0.2}, "validation_split is only supported for arrays"),
    ],
)
def test_arguments_a_generator_cannot_take_are_refused(kwargs, message):
    x, y = _data(40)
    model = _model()
    with pytest.raises(ValueError, match=message):
        model.fit(_batches(x, y), verbose=0, **kwargs)


def test_sample_weights_yielded_by_a_generator_apply_per_batch():
    x, y = _data(60)
    sw = np.random.default_rng(3).uniform(0.1, 2.0, 60)
    model = _model(metrics=("accuracy",))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    K.utils.set_random_seed(1)
    reference = _model()
    reference.compile(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    expected = reference.fit(x, y, sample_weight=sw, batch_size=BATCH, shuffle=False, verbose=0).history
    got = model.fit(_batches(x, y, sw), shuffle=False, verbose=0).history
    assert _weights(model) == _weights(reference) and got == expected


def test_a_generator_evaluates_and_predicts_as_the_arrays():
    x, y = _data(60)
    model = _trained_on_arrays(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.evaluate(_batches(x, y), verbose=0) == model.evaluate(x, y, batch_size=BATCH, verbose=0)
        got = model.predict((x[s : s + BATCH] for s in range(0, 60, BATCH)), verbose=0)  # bare x batches
    assert _ran_out(caught) == 2  # each ran to its end (Keras warns there too)
    assert np.array_equal(got, model.predict(x, verbose=0))
    # (x,) and (x, y) batches: predict ignores the targets
    assert np.array_equal(model.predict(((b[0],) for b in _batches(x, y)), verbose=0), got)
    assert np.array_equal(model.predict(_batches(x, y), verbose=0), got)
    assert np.array_equal(model.predict(_batches(x, y, forever=True), steps=2, verbose=0), got[:40])


def test_validation_data_as_a_finite_generator_follows_keras():
    # Keras 3.15: the first validation reads all 4 batches, the later ones the two read ahead, a warning each
    x, y = _data(80)
    pulled = []

    def validation():
        for i, batch in enumerate(_batches(x, y)):
            pulled.append(i)
            yield batch

    seen = []
    counter = K.callbacks.LambdaCallback(on_test_begin=lambda logs: seen.append(0))
    counter.on_test_batch_end = lambda batch, logs=None: seen.__setitem__(-1, seen[-1] + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _model().fit(
            _batches(x, y, forever=True),
            steps_per_epoch=2,
            epochs=3,
            validation_data=validation(),
            verbose=0,
            callbacks=[counter],
        )
    assert seen == [4, 2, 2] and pulled == [0, 1, 2, 3]
    assert _ran_out(caught) == 3
    assert len(history.history["val_loss"]) == 3


def test_validation_data_as_an_infinite_generator_with_validation_steps_follows_keras():
    # Keras 3.15 resets the validation iterator every epoch: each validation starts with the two batches read
    # ahead, then continues the generator
    x, y = _data(200)
    pulled = []

    def validation():
        for i, batch in enumerate(_batches(x, y, forever=True)):
            pulled.append(i)
            yield batch

    model = _model()
    history = model.fit(
        _batches(x, y, forever=True),
        steps_per_epoch=2,
        epochs=3,
        validation_data=validation(),
        validation_steps=3,
        verbose=0,
    )
    assert pulled == [0, 1, 2, 3, 4]
    assert len(history.history["val_loss"]) == 3


def test_validation_data_as_arrays_with_a_generator_and_a_sparse_matrix():
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data(60)
    reference = _model()
    expected = reference.fit(x, y, batch_size=BATCH, shuffle=False, validation_data=(x, y), verbose=0).history
    for validation in ((x, y), (sparse.csr_matrix(x), y)):
        model = _model()
        got = model.fit(
            _batches(x, y), shuffle=False, validation_data=validation, validation_batch_size=BATCH, verbose=0
        ).history
        assert got == expected


class _Tensor:
    """A stand-in for a torch / TensorFlow tensor: ``.numpy()`` and ``.shape``, nothing NumPy converts."""

    def __init__(self, values):
        self._values = np.asarray(values)
        self.shape = self._values.shape

    def numpy(self):
        return self._values


class _Loader:
    """A stand-in for a torch DataLoader over a TensorDataset: re-iterable, sized, batches are lists."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __iter__(self):
        for start in range(0, len(self.x), BATCH):
            yield [_Tensor(self.x[start : start + BATCH]), _Tensor(self.y[start : start + BATCH])]


def test_batches_with_numpy_are_duck_typed():
    x, y = _data(60)
    expected = _weights(_trained_on_arrays(x, y, epochs=2))
    model = _model()
    model.fit(_Loader(x, y), epochs=2, shuffle=False, verbose=0)
    assert _weights(model) == expected
    model = _model()
    tensors = ((_Tensor(a), _Tensor(b)) for a, b in _batches(x, y, forever=True))
    model.fit(tensors, steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    assert _weights(model) == expected
    assert np.array_equal(model.predict(_Loader(x, y), verbose=0), model.predict(x, verbose=0))
    assert streams.IterableAdapter(_Loader(x, y), "loader").num_batches == 3


def test_a_generator_trains_with_a_progress_bar_of_unknown_length(capsys):
    x, y = _data(60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _model()
        model.fit(_batches(x, y), epochs=2, verbose=1)
        out = capsys.readouterr().out
        assert "3/3" in out and "2/2" in out
        model.evaluate(_batches(x, y), verbose=1)
        model.predict(_batches(x, y), verbose=1)
    assert capsys.readouterr().out.count("3/3") == 2


# ------------------------------------------------------------------------------------------- bad batches


def _bad_batches(x, y, at: int, bad):
    for i, (xb, yb) in enumerate(_batches(x, y)):
        yield bad(xb, yb) if i == at else (xb, yb)


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            lambda xb, yb: (xb[:, :4], yb),
            r"batch 3 \(0-based\) of epoch 1 of the generator: x has shape \(20, 4\), "
            r"but the model takes inputs of shape \(None, 6\)",
        ),
        (lambda xb, yb: (np.where(xb > 1.5, np.nan, xb), yb), r"batch 3 .*: x contains \d+ NaN or infinite value"),
        (lambda xb, yb: (xb, yb + 5), r"batch 3 .*: SparseCategoricalCrossentropy: labels must lie in \[0, 3\)"),
        (
            lambda xb, yb: (xb, yb[:-1]),
            r"batch 3 .*: x and y must have the same number of examples \(rows\), but x has "
            "20 and y has 19",
        ),
        (lambda xb, yb: (xb.astype(str), yb), r"batch 3 .*: x must hold numbers, but its dtype is <U"),
        (
            lambda xb, yb: (xb, np.stack([yb, yb], axis=1)),
            r"batch 3 .*: y has shape \(20, 2\), but the first batch's "
            r"targets had shape \(None,\)",
        ),
        (lambda xb, yb: (xb, np.where(np.arange(20) == 2, np.inf, yb)), r"batch 3 .*: y contains 1 NaN or infinite"),
        (lambda xb, yb: (xb[:0], yb[:0]), r"batch 3 .*: the batch is empty"),
        (
            lambda xb, yb: (np.where(np.arange(20)[:, None] == 4, 1e39, xb.astype(np.float64)), yb),
            r"batch 3 .*: x has 6 value\(s\) beyond the range of float32",
        ),
    ],
)
def test_a_bad_batch_midway_names_its_index_and_keeps_the_last_good_weights(bad, message):
    x, y = _data(120)
    model = _model()
    with pytest.raises(ValueError, match=message):
        model.fit(_bad_batches(x, y, 3, bad), shuffle=False, verbose=0)
    # the weights of the three good steps, as the arrays give them
    assert _weights(model) == _weights(_trained_on_arrays(x[:60], y[:60]))
    assert model.optimizer.iterations == 3
    model.fit(_batches(x, y), shuffle=False, verbose=0)  # still usable
    assert model.predict(x, verbose=0).shape == (120, CLASSES)


def test_a_bad_first_batch_leaves_the_model_unbuilt():
    x, y = _data(40)
    model = _model(with_input=False)
    with pytest.raises(ValueError, match=r"batch 0 \(0-based\) of the generator: x contains 6 NaN"):
        model.fit(
            _bad_batches(x, y, 0, lambda xb, yb: (np.where(np.arange(20)[:, None] == 1, np.nan, xb), yb)), verbose=0
        )
    assert not model.built


def test_a_bad_batch_in_evaluate_and_predict_names_its_index():
    x, y = _data(80)
    model = _trained_on_arrays(x, y)
    with pytest.raises(ValueError, match=r"evaluate: batch 2 \(0-based\) of the generator: SparseCategoricalCross"):
        model.evaluate(_bad_batches(x, y, 2, lambda xb, yb: (xb, yb - 4)), verbose=0)
    with pytest.raises(ValueError, match=r"predict: batch 1 \(0-based\) of the generator: x has shape \(20, 5\)"):
        model.predict(_bad_batches(x, y, 1, lambda xb, yb: (xb[:, :5], yb)), verbose=0)


def test_a_bad_sparse_batch_is_caught_by_the_per_batch_check():
    sparse = pytest.importorskip("scipy.sparse")
    x, y = _data(60)
    x[45, 1] = np.inf
    model = _model()
    with pytest.raises(ValueError, match=r"fit: batch 2 \(0-based\) of epoch 1 of the sparse matrix: x contains 1 NaN"):
        model.fit(sparse.csr_matrix(x), y, batch_size=BATCH, shuffle=False, verbose=0)
    assert _weights(model) == _weights(_trained_on_arrays(x[:40], y[:40]))


def test_targets_missing_from_a_generator_are_refused():
    x, _ = _data(40)
    with pytest.raises(ValueError, match=r"fit needs targets, but the generator's batches hold none"):
        _model().fit(((x[:20],) for _ in range(2)), verbose=0)


def test_shuffle_must_be_true_false_or_batch():
    x, y = _data(40)
    with pytest.raises(ValueError, match='shuffle must be True, False or "batch"'):
        _model().fit(x, y, shuffle="rows", verbose=0)
    _model().fit(x, y, shuffle="batch", verbose=0)
