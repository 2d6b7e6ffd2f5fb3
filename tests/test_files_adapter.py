"""Row sources (gradfit.adapters.files): memmaps, np.load(mmap_mode='r'), h5py datasets and duck-typed array-likes
read batch by batch; Keras 3.15's shuffle="batch"; the RowSourceAdapter's batches."""

from __future__ import annotations

import numpy as np
import pytest

from gradfit.adapters import files
from gradfit.adapters.files import RowSourceAdapter, batch_order, is_row_source, read_rows

h5py = pytest.importorskip("h5py")


@pytest.fixture
def table():
    """60 rows x 3 features of float64; each row's first value is its index."""
    x = np.arange(180, dtype=np.float64).reshape(60, 3)
    x[:, 0] = np.arange(60)
    return x


@pytest.fixture
def npy(tmp_path, table):
    path = tmp_path / "x.npy"
    np.save(path, table)
    return np.load(path, mmap_mode="r")


@pytest.fixture
def dataset(tmp_path, table):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=table, chunks=(8, 3))
        f.create_dataset("y", data=np.arange(60, dtype=np.int64))
    f = h5py.File(tmp_path / "x.h5", "r")
    yield f["x"]
    f.close()


class Strict:
    """A duck-typed row source that, like HDF5, only takes increasing, distinct index arrays (or slices)."""

    def __init__(self, arr):
        self.arr, self.shape, self.dtype, self.reads = arr, arr.shape, arr.dtype, []

    def __len__(self):
        return len(self.arr)

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and (np.diff(key) <= 0).any():
            raise TypeError("Indexing elements must be in increasing order")
        self.reads.append(key)
        return self.arr[key]


# ------------------------------------------------------------------------------------------- is_row_source


def test_is_row_source_kinds(tmp_path, npy, dataset, table):
    mm = np.memmap(tmp_path / "raw.bin", dtype=np.float32, mode="w+", shape=(4, 2))
    assert is_row_source(mm) and is_row_source(npy) and is_row_source(dataset)
    assert is_row_source(np.asarray(npy))  # an ndarray view of a map
    assert is_row_source(npy[10:20])
    assert is_row_source(Strict(table))
    for not_one in (table, [1, 2], (1, 2), 3.0, None, "abc", {"a": 1}, table.copy()):
        assert not is_row_source(not_one)

    class Tensor(Strict):
        def numpy(self):
            return self.arr

    assert not is_row_source(Tensor(table))  # tensors (.numpy()) are in memory

    class Strings(Strict):
        pass

    assert not is_row_source(Strings(np.array(["a", "b"])))


# ------------------------------------------------------------------------------------------- batch_order


def test_batch_order_false_and_true():
    np.testing.assert_array_equal(batch_order(7, 3, np.random.default_rng(0), False), np.arange(7))
    # True is the permutation fit draws for arrays: the same seed gives the same order for files and arrays
    np.testing.assert_array_equal(
        batch_order(50, 8, np.random.default_rng(3), True), np.random.default_rng(3).permutation(50)
    )


def test_batch_order_batch_is_keras_3_15():
    """Keras 3.15 (ArrayDataAdapter._get_iterator): batch i holds rows [i*bs, min((i+1)*bs, n)), in that order;
    only the rows within each batch are permuted."""
    n, bs = 23, 5
    order = batch_order(n, bs, np.random.default_rng(1), "batch")
    assert sorted(order) == list(range(n))
    for start in range(0, n, bs):
        chunk = order[start : start + bs]
        assert sorted(chunk) == list(range(start, min(start + bs, n)))
    assert not np.array_equal(order, np.arange(n))  # it shuffles
    # a different draw each pass
    rng = np.random.default_rng(2)
    assert not np.array_equal(batch_order(n, bs, rng, "batch"), batch_order(n, bs, rng, "batch"))


def test_batch_order_refuses_other_values():
    with pytest.raises(ValueError, match="shuffle must be True, False or 'batch'"):
        batch_order(5, 2, np.random.default_rng(0), "rows")


# ------------------------------------------------------------------------------------------- read_rows


@pytest.mark.parametrize(
    "index",
    [
        [5, 6, 7, 8],  # in file order
        [8, 5, 7, 6],  # one block, permuted (shuffle="batch")
        [59, 0, 31, 2],  # scattered (shuffle=True)
        [4, 4, 1, 50, 1],  # repeated rows
        [17],
        [],
    ],
)
def test_read_rows_gives_the_rows_in_order(npy, dataset, table, index):
    index = np.array(index, dtype=np.int64)
    for source in (npy, dataset, Strict(table), table):
        got = read_rows(source, index, dtype=np.float32)
        assert got.dtype == np.float32 and got.shape == (len(index), 3)
        np.testing.assert_array_equal(got, table[index].astype(np.float32))


def test_read_rows_into_out_and_checks(dataset, table):
    out = np.empty((3, 3), np.float32)
    assert read_rows(dataset, np.array([2, 0, 1]), out) is out
    np.testing.assert_array_equal(out, table[[2, 0, 1]])
    with pytest.raises(IndexError, match="the source has 60 rows"):
        read_rows(dataset, np.array([0, 60]))
    with pytest.raises(IndexError, match="negative"):
        read_rows(dataset, np.array([-1]))
    with pytest.raises(ValueError, match="out has shape"):
        read_rows(dataset, np.array([1, 2]), out)
    with pytest.raises(ValueError, match="1-D array of integer"):
        read_rows(dataset, np.array([0.5]))


def test_hdf5_reads_are_increasing(table):
    """A permuted block is read as one slice; scattered rows as one sorted array of distinct rows."""
    source = Strict(table)
    read_rows(source, np.array([12, 10, 11, 13]))
    assert source.reads == [slice(10, 14)]
    source.reads.clear()
    read_rows(source, np.array([50, 3, 50, 20]))
    np.testing.assert_array_equal(source.reads[0], [3, 20, 50])


# ------------------------------------------------------------------------------------------- the adapter


def test_adapter_unshuffled_batches(npy, table):
    y = np.arange(60) % 4  # in memory, with a memmapped x
    adapter = RowSourceAdapter(npy, y, batch_size=16, dtype=np.float32)
    assert adapter.num_batches == 4 and adapter.batch_size == 16 and adapter.kind == "memmap"
    got = [(xb.copy(), yb.copy(), sw) for xb, yb, sw in adapter.batches(0)]
    assert [len(b[0]) for b in got] == [16, 16, 16, 12]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), table.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y)
    assert all(b[0].dtype == np.float32 and b[1].dtype == y.dtype and b[2] is None for b in got)


@pytest.mark.parametrize("shuffle", [True, "batch"])
def test_adapter_shuffles_rows_together(dataset, table, shuffle):
    y = dataset.file["y"]  # both from the file
    sw = np.linspace(0.5, 1.5, 60)
    adapter = RowSourceAdapter(dataset, y, sw, batch_size=16, shuffle=shuffle, rng=np.random.default_rng(0))
    seen = []
    for xb, yb, swb in adapter.batches(0):
        np.testing.assert_array_equal(xb[:, 0], yb)  # x's first value is the row index
        np.testing.assert_allclose(swb, sw[yb])
        seen.append(yb.copy())
    assert xb.dtype == np.float64  # no dtype given: the file's
    rows = np.concatenate(seen)
    assert sorted(rows) == list(range(60)) and not np.array_equal(rows, np.arange(60))
    if shuffle == "batch":
        assert [sorted(b) for b in seen] == [list(range(s, min(s + 16, 60))) for s in range(0, 60, 16)]


def test_adapter_reuses_two_buffers(npy):
    adapter = RowSourceAdapter(npy, batch_size=8, shuffle=True, dtype=np.float32, rng=np.random.default_rng(0))
    batches = adapter.batches(0)
    first = next(batches)[0]
    kept = first.copy()
    second = next(batches)[0]
    np.testing.assert_array_equal(first, kept)  # still valid while the next one is read
    third = next(batches)[0]
    assert np.shares_memory(first, third) and not np.shares_memory(first, second)


def test_adapter_default_batch_size_and_peek(npy, table):
    assert RowSourceAdapter(npy).batch_size == 32  # Keras's default
    assert RowSourceAdapter(npy, steps=4).batch_size == 15  # ceil(60 / 4), as Keras's array adapter
    x, y, sw = RowSourceAdapter(npy, np.zeros(60), batch_size=10, shuffle=True).peek()
    np.testing.assert_array_equal(x, table[:10])
    assert y.shape == (10,) and sw is None


def test_adapter_split_and_rows(npy, table):
    train, val = RowSourceAdapter(npy, batch_size=16, shuffle=True, rng=np.random.default_rng(0)).split(48)
    assert (train.n, val.n, val.shuffle) == (48, 12, False)
    assert sorted(np.concatenate([b[0][:, 0].copy() for b in train.batches(0)])) == list(range(48))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in val.batches(0)]), table[48:])


def test_adapter_refuses_bad_input(npy, tmp_path):
    with pytest.raises(ValueError, match="same number of examples.*x has 60, y has 59"):
        RowSourceAdapter(npy, np.zeros(59))
    with pytest.raises(ValueError, match="shuffle must be"):
        RowSourceAdapter(npy, shuffle="rows")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        RowSourceAdapter(npy, batch_size=0)
    with pytest.raises(ValueError, match="y must hold numbers"):
        RowSourceAdapter(npy, np.array(["a"] * 60))
    adapter = RowSourceAdapter(npy)
    adapter.close()
    adapter.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        next(adapter.batches(0))


def test_adapter_for_picks_row_sources(npy, table):
    assert files.adapter_for(table, table[:, 0]) is None
    assert isinstance(files.adapter_for(npy, table[:, 0]), RowSourceAdapter)
    assert isinstance(files.adapter_for(table, npy[:, 0]), RowSourceAdapter)  # a memmapped y alone
