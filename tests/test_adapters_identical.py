"""With ``shuffle=False`` every kind of data source trains to bit-identical weights (and logs) as the equivalent
NumPy array (issue #12): a DataFrame, a sparse matrix, a generator, a PyDataset, a memmap and an h5py dataset
give the loop the same batches, cast and prepared the same way."""

from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest

import gradfit.keras as K

N, FEATURES, CLASSES, BATCH, EPOCHS = 130, 7, 4, 16, 3  # a last, shorter batch of 2 rows
STEPS = -(-N // BATCH)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, FEATURES)).astype(np.float32)
    x[x < -0.3] = 0.0  # sparse enough to mean something as a sparse matrix
    y = rng.integers(0, CLASSES, N)
    sw = rng.uniform(0.2, 2.0, N)
    return x, y, sw


def _model(weighted: bool):
    K.utils.set_random_seed(3)
    model = K.Sequential(
        [K.Input((FEATURES,)), K.layers.Dense(6, activation="relu"), K.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(
        optimizer=K.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["sparse_categorical_accuracy"] if weighted else None,
    )
    return model


def _batches(x, y, sw=None):
    for start in itertools.cycle(range(0, N, BATCH)):
        end = start + BATCH
        yield (x[start:end], y[start:end]) if sw is None else (x[start:end], y[start:end], sw[start:end])


class _Dataset(K.utils.PyDataset):
    def __init__(self, x, y, sw=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sw = x, y, sw

    def __len__(self):
        return STEPS

    def __getitem__(self, i):
        rows = slice(i * BATCH, (i + 1) * BATCH)
        if self.sw is None:
            return self.x[rows], self.y[rows]
        return self.x[rows], self.y[rows], self.sw[rows]


def _fit(source_kind: str, weighted: bool, tmp_path):
    """(weights, history) of EPOCHS epochs on the source, shuffle=False."""
    x, y, sw = _data()
    w = sw if weighted else None
    model = _model(weighted)
    common = dict(epochs=EPOCHS, shuffle=False, verbose=0)
    if source_kind == "array":
        history = model.fit(x, y, sample_weight=w, batch_size=BATCH, **common)
    elif source_kind == "dataframe":
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(FEATURES)])
        weights = None if w is None else pd.Series(w)
        history = model.fit(frame, pd.Series(y), sample_weight=weights, batch_size=BATCH, **common)
    elif source_kind == "sparse":
        sparse = pytest.importorskip("scipy.sparse")
        history = model.fit(sparse.csr_matrix(x), y, sample_weight=w, batch_size=BATCH, **common)
    elif source_kind == "generator":
        history = model.fit(_batches(x, y, w), steps_per_epoch=STEPS, **common)
    elif source_kind == "pydataset":
        history = model.fit(_Dataset(x, y, w), **common)
    elif source_kind == "pydataset_threads":
        history = model.fit(_Dataset(x, y, w, workers=3, max_queue_size=4), **common)
    elif source_kind == "memmap":
        np.save(tmp_path / "x.npy", x)
        history = model.fit(np.load(tmp_path / "x.npy", mmap_mode="r"), y, sample_weight=w, batch_size=BATCH, **common)
    elif source_kind == "h5py":
        with h5py.File(tmp_path / "data.h5", "w") as f:
            f["x"], f["y"] = x, y
        with h5py.File(tmp_path / "data.h5", "r") as f:
            history = model.fit(f["x"], f["y"], sample_weight=w, batch_size=BATCH, **common)
    else:
        raise AssertionError(source_kind)
    return [a.tobytes() for a in model.get_weights()], history.history


KINDS = ["dataframe", "sparse", "generator", "pydataset", "pydataset_threads", "memmap", "h5py"]


@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_source_trains_to_the_arrays_weights_bit_for_bit(kind, weighted, tmp_path):
    expected_weights, expected_history = _fit("array", weighted, tmp_path)
    weights, history = _fit(kind, weighted, tmp_path)
    assert weights == expected_weights
    assert history == expected_history


@pytest.mark.parametrize("kind", ["sparse", "pydataset"])
def test_class_weights_apply_per_batch_as_for_arrays(kind):
    x, y, _ = _data()
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0, 3: 3.0}
    reference = _model(weighted=True)
    expected = reference.fit(x, y, class_weight=class_weight, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    model = _model(weighted=True)
    if kind == "sparse":
        sparse = pytest.importorskip("scipy.sparse")
        got = model.fit(
            sparse.csr_matrix(x), y, class_weight=class_weight, batch_size=BATCH, epochs=2, shuffle=False, verbose=0
        )
    else:
        got = model.fit(_Dataset(x, y), class_weight=class_weight, epochs=2, shuffle=False, verbose=0)
    assert [a.tobytes() for a in model.get_weights()] == [a.tobytes() for a in reference.get_weights()]
    assert got.history == expected.history


def test_every_source_evaluates_and_predicts_as_the_arrays(tmp_path):
    x, y, _ = _data()
    model = _model(weighted=False)
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    expected_eval = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    expected_predict = model.predict(x, batch_size=BATCH, verbose=0)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    sparse = pytest.importorskip("scipy.sparse")
    evaluations = {
        "generator": model.evaluate(_batches(x, y), steps=STEPS, verbose=0),
        "pydataset": model.evaluate(_Dataset(x, y), verbose=0),
        "sparse": model.evaluate(sparse.csr_matrix(x), y, batch_size=BATCH, verbose=0),
        "memmap": model.evaluate(mapped, y, batch_size=BATCH, verbose=0),
    }
    assert evaluations == dict.fromkeys(evaluations, expected_eval)
    predictions = {
        "generator": model.predict(_batches(x, y), steps=STEPS, verbose=0),
        "pydataset": model.predict(_Dataset(x, y), verbose=0),
        "sparse": model.predict(sparse.csr_matrix(x), batch_size=BATCH, verbose=0),
        "memmap": model.predict(mapped, batch_size=BATCH, verbose=0),
    }
    for name, got in predictions.items():
        assert got.tobytes() == expected_predict.tobytes(), name


@pytest.mark.parametrize("shuffle", [True, "batch"])
def test_large_arrays_gathered_per_batch_train_as_the_per_epoch_copy(shuffle, monkeypatch):
    # over GATHER_BYTES, fit gathers each batch's rows instead of copying the shuffled data whole each pass
    from gradfit import training

    x, y, sw = _data()
    labels = (y > 1).astype(np.int64)
    results = []
    for threshold in (training._ArraySource.GATHER_BYTES, 0):
        monkeypatch.setattr(training._ArraySource, "GATHER_BYTES", threshold)
        K.utils.set_random_seed(3)
        model = K.Sequential([K.Input((FEATURES,)), K.layers.Dense(6, activation="relu"), K.layers.Dense(1, "sigmoid")])
        model.compile(
            optimizer=K.optimizers.Adam(0.01),
            loss="binary_crossentropy",  # targets (m, 1) for the loss, labels (m,) for the sparse metric: 4 arrays
            metrics=["accuracy", "sparse_categorical_accuracy"],
            weighted_metrics=["binary_accuracy"],
        )
        K.utils.set_random_seed(11)
        history = model.fit(
            x, labels, sample_weight=sw, batch_size=BATCH, epochs=3, steps_per_epoch=5, shuffle=shuffle, verbose=0
        )
        results.append(([a.tobytes() for a in model.get_weights()], history.history))
    assert results[0] == results[1]
