"""Data sources for ``fit`` / ``evaluate`` / ``predict`` that are not one array in memory.

An adapter turns what the user passed (a generator, a ``PyDataset``, a sparse matrix, a memmap …) into raw
batches ``(x, y, sample_weight)`` of NumPy arrays (``y`` / ``sample_weight`` may be None). It does no checking,
casting or target preparation: the loops in ``training.py`` do that per batch, with the same checks and
messages as for arrays (``gradfit.data``). In-memory arrays, lists and DataFrames do not use an adapter: they
go through ``gradfit.data.Data`` once, the fast path.

The interface every adapter follows (arrays.py, streams.py, pydataset.py and files.py implement it)::

    class Adapter:
        num_batches: int | None       # batches in one pass; None: unknown (a generator, infinite or not)
        kind: str                     # what the source is, for messages ("generator", "PyDataset", …)
        def peek(self) -> tuple         # the first raw batch (x, y, sw), without consuming it
        def batches(self, epoch) -> Iterator[tuple]   # raw (x, y, sw) per batch, one pass (shuffled as asked)
        def on_epoch_begin(self): ...
        def on_epoch_end(self): ...
        def close(self): ...          # idempotent; also the context manager's exit

``adapt(x, y, sample_weight, …)`` picks the adapter, or returns None for the array fast path.
"""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Iterator

import numpy as np

__all__ = ["Adapter", "adapt", "is_array_like", "unpack"]


class Adapter:
    """Base class of the data adapters: raw batches ``(x, y, sample_weight)``, one pass per ``batches(epoch)``."""

    #: batches in one pass over the source; None where unknown (a generator)
    num_batches: int | None = None
    #: what the source is, for messages
    kind: str = "data"
    #: rows per batch where the adapter decides it (arrays, memmaps); None where the source decides (a generator)
    batch_size: int | None = None

    def peek(self) -> tuple:
        """The first raw batch ``(x, y, sw)`` without consuming it (the loops build the model from it)."""
        raise NotImplementedError

    def batches(self, epoch: int) -> Iterator[tuple]:
        """One pass over the source: ``(x, y, sw)`` per batch (NumPy arrays; ``y``, ``sw`` may be None)."""
        raise NotImplementedError

    def on_epoch_begin(self) -> None:
        """Called by the loops at the start of every epoch (and of every ``evaluate`` / ``predict``)."""

    def on_epoch_end(self) -> None:
        """Called by the loops at the end of every epoch (a ``PyDataset``'s ``on_epoch_end``)."""

    def close(self) -> None:
        """Release workers, files … (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unpack(batch, kind: str = "generator") -> tuple:
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` as ``(x, y, sw)`` (Keras's
    ``unpack_x_y_sample_weight``); ``ValueError`` for anything else."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(
            f"A {kind} must yield x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)} items."
        )
    if isinstance(batch, list) and len(batch) in (2, 3) and all(hasattr(b, "shape") for b in batch if b is not None):
        # a torch DataLoader collates a TensorDataset's (x, y) into a list [x, y]
        return tuple(batch) + (None,) * (3 - len(batch))
    if batch is None or isinstance(batch, (str, bytes, dict)):
        raise ValueError(
            f"A {kind} must yield x, (x,), (x, y) or (x, y, sample_weight) of arrays; got {type(batch).__name__}."
        )
    return batch, None, None


def is_array_like(x) -> bool:
    """Whether ``x`` goes through the array fast path: NumPy arrays, lists, tuples, numbers, pandas DataFrames /
    Series (duck-typed), and objects with ``__array__`` or ``.numpy()`` that are not iterators (``adapt`` first
    sends memmaps and h5py datasets to the file adapters)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, numbers.Number, str, bytes, dict)):
        return True  # None, text and dicts too: the array path's messages refuse them
    if hasattr(x, "dtypes") and hasattr(x, "to_numpy"):  # pandas DataFrame / Series
        return True
    if hasattr(x, "tocsr"):  # scipy sparse: densified per batch
        return False
    if isinstance(x, collections.abc.Iterator):
        return False
    return hasattr(x, "__array__") or (hasattr(x, "numpy") and not hasattr(x, "__iter__"))


def adapt(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, steps=None, who: str = "fit"):
    """The adapter for ``x`` (with ``y`` / ``sample_weight`` where the source takes them), or None when ``x`` is
    array-like (the loops then use ``gradfit.data.Data``, the fast path).

    ``shuffle``: False, True or ``"batch"``; ``steps``: ``steps_per_epoch`` / ``steps`` as given (a generator
    without a length needs it to be infinite). Files are read in their own dtype: the loops cast ``x`` (sample
    weights stay float64, as the array path keeps them)."""
    files = _files()
    if files.is_row_source(x):  # memmaps (and NumPy views of them), h5py datasets: read batch by batch
        return files.adapter_for(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps, who=who)
    if is_array_like(x):
        return None
    from . import arrays, pydataset, streams

    for module in (pydataset, arrays, streams):  # each module's adapter_for: its adapter, or None
        if module is None:
            continue
        if module is arrays:
            adapter = arrays.adapter_for(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps)
        else:
            adapter = module.adapter_for(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, who=who)
        if adapter is not None:
            return adapter
    raise ValueError(
        f"{who}: x is a {type(x).__name__}, which gradfit cannot read: give a NumPy array (or a list, a pandas "
        "DataFrame, a SciPy sparse matrix, a memmap or h5py dataset), a generator or iterator of batches, or a "
        "keras.utils.PyDataset."
    )


def _files():
    from . import files

    return files
