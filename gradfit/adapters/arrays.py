"""In-memory sources that are not NumPy arrays: pandas DataFrames / Series and SciPy sparse matrices.

Both are duck-typed: gradfit never imports pandas or SciPy.

* A DataFrame (``dtypes`` and ``to_numpy``) or Series becomes one NumPy array, its columns in order
  (``dataframe_to_array``); a column that is not numeric (strings, categories, dates) is refused by name. It then
  takes the array fast path (``gradfit.data.Data``).
* A sparse matrix (``tocsr``) is kept sparse and densified one batch at a time (``SparseAdapter``), so a matrix
  whose dense form would not fit in memory trains (Keras trains on sparse inputs too).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .. import backend
from . import Adapter
from .files import batch_order

__all__ = ["SparseAdapter", "adapter_for", "dataframe_to_array", "is_dataframe", "is_sparse"]


def is_dataframe(x) -> bool:
    """A pandas DataFrame or Series (duck-typed)."""
    return hasattr(x, "dtypes") and hasattr(x, "to_numpy") and not isinstance(x, np.ndarray)


def is_sparse(x) -> bool:
    """A SciPy sparse matrix or array (duck-typed)."""
    return hasattr(x, "tocsr") and hasattr(x, "nnz") and hasattr(x, "shape")


def _numpy_dtype(dtype) -> np.dtype | None:
    """The NumPy dtype a pandas column's dtype stands for (``Int64`` -> int64), or None if not numeric."""
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)  # pandas' nullable extension dtypes
    try:
        numpy_dtype = np.dtype(numpy_dtype)
    except TypeError:  # CategoricalDtype, DatetimeTZDtype, …
        return None
    return numpy_dtype if numpy_dtype.kind in "biuf" else None


def dataframe_to_array(frame, name: str) -> np.ndarray:
    """The values of a DataFrame (columns in order) or Series as one NumPy array of numbers.

    ``ValueError`` naming the columns that are not numbers (strings, categories, dates, mixed objects); a missing
    value (``NaN``, ``pd.NA``) becomes NaN, which the finite check then refuses."""
    dtypes = frame.dtypes
    if hasattr(dtypes, "items"):  # DataFrame: one dtype per column
        columns = list(dtypes.items())
    else:  # Series: one dtype
        columns = [(getattr(frame, "name", None), dtypes)]
    bad = [(column, dtype) for column, dtype in columns if _numpy_dtype(dtype) is None]
    if bad:
        listed = ", ".join(f"{column!r} ({dtype})" for column, dtype in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ValueError(
            f"{name} is a pandas {type(frame).__name__} with column(s) that are not numbers: {listed}{more}. "
            f"Encode them first (e.g. pd.get_dummies({name}, columns=[…]) for categories, "
            f"{name}[column].astype('float32') for numbers read as text) or drop them ({name}.drop(columns=[…]))."
        )
    if not columns:
        return np.empty((len(frame), 0), dtype=np.float32)
    common = np.result_type(*[_numpy_dtype(dtype) for _, dtype in columns])
    if any(getattr(dtype, "numpy_dtype", None) is not None for _, dtype in columns):
        # nullable columns may hold pd.NA, which only a float array can hold (as NaN)
        common = np.result_type(common, np.float32) if common.kind in "biu" else common
        return frame.to_numpy(dtype=common, na_value=np.nan)
    return frame.to_numpy(dtype=common)


class SparseAdapter(Adapter):
    """A SciPy sparse ``x`` (with arrays ``y`` and ``sample_weight``) in batches of ``batch_size`` rows, each
    densified on its own: ``x[rows].toarray()``.

    ``shuffle``: True or ``"batch"``, each pass in ``files.batch_order``'s order (the array path's)."""

    kind = "sparse matrix"

    def __init__(self, x, y=None, sample_weight=None, *, batch_size: int | None = None, shuffle=False, steps=None):
        from ..data import numeric_array

        self.x = x.tocsr()  # rows slice in O(rows) only in CSR
        self.n = self.x.shape[0]
        self.y = None if y is None else numeric_array(y, "y")
        self.sample_weight = None if sample_weight is None else numeric_array(sample_weight, "sample_weight")
        for other, label in ((self.y, "y"), (self.sample_weight, "sample_weight")):
            if other is not None and len(other) != self.n:
                raise ValueError(
                    f"x and {label} must have the same number of examples (rows), but x has {self.n} and {label} "
                    f"has {len(other)}."
                )
        if self.n == 0:
            raise ValueError("x is an empty sparse matrix; give at least one example.")
        # Keras's array adapter: without batch_size, ceil(n / steps) rows where steps are given, else 32
        self.batch_size = batch_size or (math.ceil(self.n / steps) if steps else 32)
        self.num_batches = math.ceil(self.n / self.batch_size)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f'shuffle must be True, False or "batch", got {shuffle!r}.')
        self.shuffle = shuffle

    def _rows(self, rows):
        y = None if self.y is None else self.y[rows]
        sw = None if self.sample_weight is None else self.sample_weight[rows]
        return self.x[rows].toarray(), y, sw

    def peek(self) -> tuple:
        return self._rows(slice(0, min(self.batch_size, self.n)))

    def batches(self, epoch: int) -> Iterator[tuple]:
        order = batch_order(self.n, self.batch_size, backend.rng(), self.shuffle) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            end = min(start + self.batch_size, self.n)
            yield self._rows(slice(start, end) if order is None else order[start:end])


def adapter_for(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, steps=None, who: str = "fit"):
    """A ``SparseAdapter`` for a sparse ``x``, else None."""
    if not is_sparse(x):
        return None
    if len(x.shape) != 2:
        raise ValueError(f"{who}: x is a sparse array of shape {x.shape}; give a 2-D (examples, features) matrix.")
    return SparseAdapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps)
