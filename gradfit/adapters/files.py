"""Row sources: data read batch by batch from a file (or another array-like too big to hold), never whole.

A *row source* is an array-like whose rows are read on demand: an ``np.memmap`` (also what
``np.load(path, mmap_mode="r")`` returns, and NumPy views of one), an ``h5py.Dataset``, or another object with
``shape``, a NumPy ``dtype``, ``__len__`` and ``__getitem__`` that is not an in-memory array (zarr, dask …).
Training on one reads each batch's rows into buffers of one batch, kept for the whole fit, so memory stays at a
few batches whatever the size of the file: the map's pages are the page cache's (file-backed, reclaimable).

* ``is_row_source(x)``: whether ``x`` is one;
* ``batch_order(n, batch_size, rng, shuffle)``: the order of the rows in one pass, for ``shuffle`` False, True
  (a permutation of all rows) or ``"batch"`` (Keras 3.15: the batches stay in file order, the rows within each
  batch-sized chunk are permuted, so every batch reads one contiguous block of the file);
* ``read_rows(source, index, out, dtype)``: the rows ``index`` (in that order) into ``out``; HDF5 reads need
  increasing indices, so the rows are read sorted (one contiguous block where the batch's rows lie close together,
  else HDF5's point selection) and put back in the asked order;
* ``RowSourceAdapter``: the ``Adapter`` (see ``gradfit.adapters``) that yields ``(x, y, sample_weight)`` per
  batch, each read from a row source or taken from an in-memory array.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np

from . import Adapter

__all__ = ["RowSourceAdapter", "adapter_for", "batch_order", "is_row_source", "read_rows"]

#: frameworks whose arrays are in memory: their objects are arrays (or tensors), not row sources
_IN_MEMORY_MODULES = frozenset({"numpy", "jax", "jaxlib", "torch", "tensorflow", "pandas", "scipy", "cupy"})
#: a batch whose rows span at most this many times its size is read as one contiguous block, then permuted
#: (an HDF5 point selection of 128 rows takes 6-30x as long as reading a 128-row block here)
_BLOCK_SPAN = 4


def _mapped(arr: np.ndarray) -> bool:
    """Whether the ndarray ``arr`` is a view of a memory map (``np.asarray`` of an ``np.memmap``, a slice …)."""
    base = arr.base
    for _ in range(32):  # views of views: the chain ends at the owner
        if base is None:
            return False
        if isinstance(base, np.memmap) or type(base).__name__ == "mmap":
            return True
        base = getattr(base, "base", None)
    return False


def _is_h5py_dataset(x) -> bool:
    # duck-typed by module, so that h5py is imported only by whoever made the dataset
    return type(x).__module__.startswith("h5py") and hasattr(x, "read_direct") and hasattr(x, "shape")


def is_row_source(x) -> bool:
    """Whether ``x`` is read row by row rather than held in memory: an ``np.memmap`` (``np.load(…,
    mmap_mode="r")``) or a NumPy view of one, an ``h5py.Dataset``, or another array-like with ``shape``, a numeric
    NumPy ``dtype``, ``__len__`` and ``__getitem__`` that is not an in-memory array, tensor, DataFrame or sparse
    matrix."""
    if isinstance(x, np.ndarray):
        return isinstance(x, np.memmap) or _mapped(x)
    if isinstance(x, (list, tuple, str, bytes, dict, numbers.Number)) or x is None:
        return False
    if _is_h5py_dataset(x):
        return True
    if type(x).__module__.split(".")[0] in _IN_MEMORY_MODULES:
        return False
    if hasattr(x, "numpy") or hasattr(x, "tocsr") or hasattr(x, "to_numpy"):  # tensors, sparse, pandas
        return False
    if not all(hasattr(x, a) for a in ("shape", "dtype", "__getitem__", "__len__")):
        return False
    try:
        dtype = np.dtype(x.dtype)
        shape = tuple(int(s) for s in x.shape)
    except (TypeError, ValueError):
        return False
    return dtype.kind in "biuf" and len(shape) >= 1


def batch_order(n: int, batch_size: int, rng: np.random.Generator, shuffle) -> np.ndarray:
    """The row indices of one pass over ``n`` rows, in the order they are trained on (batches are consecutive
    ``batch_size`` slices of it).

    * ``shuffle=False``: ``0, 1, …, n - 1``;
    * ``shuffle=True``: ``rng.permutation(n)`` (the permutation ``fit`` draws for arrays, so a seed gives the
      same order for an array and for a file);
    * ``shuffle="batch"``: Keras 3.15's ``ArrayDataAdapter``: batch ``i`` holds rows ``i * batch_size`` up to
      ``(i + 1) * batch_size`` (the last one shorter), batches in that order, the rows within each batch in a
      random order (``np.random.permutation(stop - start) + start`` per batch in Keras; here one
      ``rng.permuted`` over the full batches and one permutation of the last partial one).
    """
    if shuffle is False or shuffle is None:
        return np.arange(n, dtype=np.intp)
    if shuffle is True:
        return rng.permutation(n).astype(np.intp, copy=False)
    if shuffle != "batch":
        raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}.")
    order = np.arange(n, dtype=np.intp)
    full = n // batch_size * batch_size
    if full:
        order[:full] = rng.permuted(order[:full].reshape(-1, batch_size), axis=1).reshape(-1)
    if full < n:
        order[full:] = full + rng.permutation(n - full)
    return order


def _check_index(index, n: int) -> np.ndarray:
    index = np.asarray(index)
    if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
        raise ValueError(f"index must be a 1-D array of integer row indices, got shape {index.shape} {index.dtype}.")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= n):
        raise IndexError(
            f"index holds rows from {int(index.min())} to {int(index.max())}, but the source has {n} rows "
            f"(0 to {n - 1}); negative indices are not taken."
        )
    return index.astype(np.intp, copy=False)


def read_rows(source, index: np.ndarray, out: np.ndarray | None = None, dtype=None) -> np.ndarray:
    """``source``'s rows ``index`` in that order, as ``out`` (allocated as ``(len(index), *row shape)`` of
    ``dtype``, default the source's, when None), cast to ``out``'s type.

    NumPy arrays and memmaps: ``np.take`` into ``out``. HDF5 datasets and other row sources, which read
    increasing indices: one contiguous block ``[min, max]`` when it is at most 4x the batch (Keras's
    ``shuffle="batch"`` batches are exactly one block), else the sorted distinct rows; then put back in
    ``index``'s order. ``IndexError`` for rows out of range."""
    n = len(source)
    index = _check_index(index, n)
    row_shape = tuple(source.shape[1:])
    if out is None:
        out = np.empty((len(index), *row_shape), dtype=np.dtype(source.dtype) if dtype is None else dtype)
    elif out.shape != (len(index), *row_shape):
        raise ValueError(
            f"out has shape {out.shape}, but {len(index)} rows of {source.shape} need {(len(index), *row_shape)}."
        )
    elif dtype is not None and out.dtype != np.dtype(dtype):
        raise ValueError(f"out is {out.dtype}, but dtype={np.dtype(dtype)} was asked for.")
    _RowReader(source, out.dtype).read(index, out)
    return out


class _RowReader:
    """Reads rows of one source into caller's buffers, with a scratch buffer (rows of the target type) kept
    between batches for the block reads that are then permuted."""

    def __init__(self, source, dtype):
        self.source = source
        self.dtype = np.dtype(dtype)
        self.numpy = isinstance(source, np.ndarray)
        self.h5py = _is_h5py_dataset(source)
        self.row_shape = tuple(int(s) for s in source.shape[1:])
        self._scratch = np.empty((0, *self.row_shape), self.dtype)

    def scratch(self, rows: int) -> np.ndarray:
        if len(self._scratch) < rows:
            self._scratch = np.empty((rows, *self.row_shape), self.dtype)
        return self._scratch[:rows]

    def read_block(self, start: int, stop: int, out: np.ndarray) -> None:
        """Rows ``start:stop`` (in file order) into ``out``."""
        if self.numpy:
            out[...] = self.source[start:stop]
        elif self.h5py and out.flags.c_contiguous:
            if stop > start:  # HDF5 refuses an empty selection
                self.source.read_direct(out, np.s_[start:stop], np.s_[0 : stop - start])
        else:
            out[...] = np.asarray(self.source[start:stop])

    def read(self, index: np.ndarray, out: np.ndarray) -> None:
        """Rows ``index`` (in range: checked by the caller) into ``out`` (``len(index)`` rows)."""
        m = len(index)
        if m == 0:
            return
        if self.numpy:
            # mode="clip": the indices are in range, and clip spares the bounds-check buffering of out=
            np.take(self.source, index, axis=0, out=out, mode="clip")
            return
        lo, hi = int(index[0]), int(index[-1])
        if hi - lo + 1 == m and (m == 1 or bool(np.all(np.diff(index) == 1))):  # in file order: straight in
            self.read_block(lo, hi + 1, out)
            return
        lo, hi = int(index.min()), int(index.max())
        if hi - lo + 1 <= _BLOCK_SPAN * m:
            block = self.scratch(hi - lo + 1)
            self.read_block(lo, hi + 1, block)
            np.take(block, index - lo, axis=0, out=out, mode="clip")
            return
        rows, inverse = np.unique(index, return_inverse=True)  # increasing, distinct: what HDF5 reads
        block = self.scratch(len(rows))
        if self.h5py:
            self.source.read_direct(block, np.s_[rows], np.s_[0 : len(rows)])
        else:
            block[...] = np.asarray(self.source[rows])
        np.take(block, inverse.reshape(-1), axis=0, out=out, mode="clip")


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return "memmap" if is_row_source(x) else "array"
    if _is_h5py_dataset(x):
        return "HDF5 dataset"
    return type(x).__name__


class RowSourceAdapter(Adapter):
    """Batches of ``(x, y, sample_weight)`` read from row sources (memmaps, HDF5 datasets …) and in-memory
    arrays, in ``batch_order``'s order, into buffers of one batch reused for the whole fit.

    ``x`` is cast to ``dtype`` (the model's float type; None keeps the source's), float ``y`` and
    ``sample_weight`` too; integer labels keep their type. Two sets of buffers alternate, so a batch stays valid
    while the next one is read (the loop may look one batch ahead); a yielded batch is overwritten two batches
    later: copy it to keep it. With ``shuffle=False``, an in-memory or memmapped array already of the right type
    is yielded as a view (no copy at all).

    ``rows=(start, stop)`` restricts the adapter to those rows (``split`` uses it for ``validation_split``:
    slicing an HDF5 dataset would read it).
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        *,
        batch_size: int | None = None,
        shuffle=False,
        steps: int | None = None,
        dtype=None,
        rng: np.random.Generator | None = None,
        rows: tuple[int, int] | None = None,
        who: str = "fit",
    ):
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}.")
        self.kind = _describe(x)
        self.shuffle = shuffle
        self.who = who
        self._rng = rng
        names = ("x", "y", "sample_weight")
        self.sources = [_as_source(a, name) for a, name in zip((x, y, sample_weight), names)]
        lengths = {name: len(s) for name, s in zip(names, self.sources) if s is not None}
        if len(set(lengths.values())) > 1:
            given = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise ValueError(
                f"{who}: x, y and sample_weight must have the same number of examples (rows), but {given}."
            )
        total = lengths["x"]
        start, stop = (0, total) if rows is None else rows
        if not 0 <= start <= stop <= total:
            raise ValueError(f"rows must be (start, stop) with 0 <= start <= stop <= {total}, got {rows!r}.")
        self.rows = (start, stop)
        self.n = stop - start
        if batch_size is None:
            batch_size = int(math.ceil(self.n / steps)) if steps else 32  # Keras's array adapter
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.batch_size = int(max(1, min(batch_size, self.n))) if self.n else int(batch_size)
        self.num_batches = int(math.ceil(self.n / self.batch_size))
        self.dtypes = [None if s is None else _target_dtype(s, dtype, name) for s, name in zip(self.sources, names)]
        self._readers = [None if s is None else _RowReader(s, dt) for s, dt in zip(self.sources, self.dtypes)]
        self._buffers: list[list] | None = None
        self._closed = False

    # ----------------------------------------------------------------------------------- adapter interface

    def peek(self) -> tuple:
        """The first ``batch_size`` rows in file order, as new arrays (not the reused buffers)."""
        self._check_open()
        start = self.rows[0]
        index = np.arange(start, start + min(self.batch_size, self.n), dtype=np.intp)
        return tuple(
            None if r is None else self._read(r, index, np.empty((len(index), *r.row_shape), r.dtype))
            for r in self._readers
        )

    def batches(self, epoch: int = 0) -> Iterator[tuple]:
        """One pass: ``(x, y, sw)`` per batch, in ``batch_order``'s order (drawn from the generator given, else
        gradfit's, when the pass begins)."""
        self._check_open()
        if self.shuffle:
            from .. import backend

            rng = self._rng if self._rng is not None else backend.rng()
            order = batch_order(self.n, self.batch_size, rng, self.shuffle) + self.rows[0]
        else:
            order = None
        if self._buffers is None:
            self._buffers = [
                [None if r is None else np.empty((self.batch_size, *r.row_shape), r.dtype) for r in self._readers]
                for _ in range(2)
            ]
        bs, first = self.batch_size, self.rows[0]
        for i in range(self.num_batches):
            start, end = i * bs, min((i + 1) * bs, self.n)
            buffers = self._buffers[i % 2]
            if order is None:
                yield tuple(self._slice(r, first + start, first + end, buf) for r, buf in zip(self._readers, buffers))
            else:
                index = order[start:end]
                yield tuple(
                    None if r is None else self._read(r, index, buf[: end - start])
                    for r, buf in zip(self._readers, buffers)
                )

    def close(self) -> None:
        """Drops the buffers; the files stay open (they are the caller's)."""
        self._buffers = None
        self._closed = True

    # ----------------------------------------------------------------------------------- helpers

    def split(self, at: int) -> tuple[RowSourceAdapter, RowSourceAdapter]:
        """Two adapters over the first ``at`` rows and the rest (Keras's ``validation_split`` takes the last
        rows, before any shuffling); the second never shuffles (validation)."""
        if not 0 <= at <= self.n:
            raise ValueError(f"split: at must be in [0, {self.n}], got {at!r}.")
        start, stop = self.rows
        first = self._clone(rows=(start, start + at), shuffle=self.shuffle)
        second = self._clone(rows=(start + at, stop), shuffle=False)
        return first, second

    def _clone(self, rows, shuffle) -> RowSourceAdapter:
        clone = object.__new__(RowSourceAdapter)
        clone.__dict__.update(self.__dict__)
        clone.shuffle = shuffle
        clone.rows = rows
        clone.n = rows[1] - rows[0]
        clone.batch_size = max(1, min(self.batch_size, clone.n)) if clone.n else self.batch_size
        clone.num_batches = int(math.ceil(clone.n / clone.batch_size))
        clone._readers = [None if s is None else _RowReader(s, dt) for s, dt in zip(self.sources, self.dtypes)]
        clone._buffers = None
        return clone

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self.who}: this data adapter was closed; make a new one to read the data again.")

    @staticmethod
    def _read(reader: _RowReader, index: np.ndarray, out: np.ndarray) -> np.ndarray:
        reader.read(index, out)
        return out

    @staticmethod
    def _slice(reader: _RowReader | None, start: int, stop: int, buf) -> np.ndarray | None:
        if reader is None:
            return None
        if reader.numpy and reader.source.dtype == reader.dtype:
            return reader.source[start:stop].view(np.ndarray)  # in file order, no cast: no copy
        out = buf[: stop - start]
        reader.read_block(start, stop, out)
        return out


def _as_source(a, name: str):
    """A row source as given; anything else as an in-memory NumPy array (rows taken with ``np.take``)."""
    if a is None or is_row_source(a):
        return a
    arr = np.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array with one row per example, got a single number.")
    return arr


def _target_dtype(source, dtype, name: str) -> np.dtype:
    """What a source's rows are read as: ``dtype`` for ``x``, ``sample_weight`` and float targets; integer and
    bool labels ``y`` keep their type (sparse losses index with them)."""
    kind = np.dtype(source.dtype).kind
    if kind not in "biuf":
        raise ValueError(
            f"{name} must hold numbers, but its dtype is {np.dtype(source.dtype)}; convert the data to a "
            "numeric type first (e.g. float32)."
        )
    if dtype is None or (name == "y" and kind in "biu"):
        return np.dtype(source.dtype)
    return np.dtype(dtype)


def adapter_for(
    x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, steps=None, dtype=None, who: str = "fit"
) -> RowSourceAdapter | None:
    """A ``RowSourceAdapter`` when any of ``x``, ``y``, ``sample_weight`` is a row source, else None."""
    if not any(is_row_source(a) for a in (x, y, sample_weight) if a is not None):
        return None
    return RowSourceAdapter(
        x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps, dtype=dtype, who=who
    )
