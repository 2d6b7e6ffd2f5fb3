"""``tf.keras.utils``: ``to_categorical``, ``normalize``, ``split_dataset``, ``PyDataset`` (``Sequence``),
``set_random_seed`` (Keras 3.15's semantics).

``split_dataset`` differs from Keras in what it returns: Keras wraps each split in a ``tf.data.Dataset`` of
single examples; gradfit returns NumPy arrays (an array for an array, a tuple of arrays for a tuple or list of
arrays), which ``fit`` takes directly: ``(x_train, y_train), (x_val, y_val) = split_dataset((x, y), 0.8)``.
"""

from __future__ import annotations

import numbers
import random

import numpy as np

from ..adapters.pydataset import PyDataset, Sequence
from ..backend import set_seed as set_random_seed
from ..math import convert_float, wrap

__all__ = ["PyDataset", "Sequence", "normalize", "set_random_seed", "split_dataset", "to_categorical"]

# Keras's backend.epsilon(): the smallest norm normalize divides by, for what is not a NumPy array
_EPSILON = 1e-7


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows: ``out[..., k] = 1.0 where x == k`` (float64, shape ``x.shape + (num_classes,)``).

    ``x``: class indices (array-like; floats are truncated to integers, as Keras's ``int64`` cast does); a
    trailing axis of size 1 is dropped first (``(m, 1)`` gives ``(m, num_classes)``). ``num_classes``: None (or
    0, as in Keras) infers ``max(x) + 1``. Unlike Keras, a negative label is refused (Keras silently counts it
    from the end); a label ``>= num_classes`` raises ``IndexError`` as in Keras, with a message saying which.
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 0
    ):
        raise ValueError(f"num_classes must be a positive integer or None (inferred), got {num_classes!r}.")
    values = np.asarray(x)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"to_categorical takes class indices (integers), got an array of dtype {values.dtype}.")
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        raise ValueError("to_categorical: x holds NaN or infinite values; class indices must be finite integers.")
    labels = values.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:  # (..., 1): the class axis replaces the trailing 1
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise IndexError(
            f"to_categorical: x holds the negative class index {int(labels.min())}; class indices run from 0 to "
            "num_classes - 1."
        )
    if not num_classes:
        if labels.size == 0:
            raise ValueError("to_categorical: x is empty and num_classes is None; give num_classes.")
        num_classes = int(labels.max()) + 1
    num_classes = int(num_classes)
    if labels.size and labels.max() >= num_classes:
        raise IndexError(
            f"to_categorical: x holds the class index {int(labels.max())}, but num_classes={num_classes} allows "
            f"0 to {num_classes - 1}. Give a larger num_classes (or None to infer max(x) + 1)."
        )
    one_hot = np.zeros((labels.size, num_classes))
    one_hot[np.arange(labels.size), labels] = 1.0
    return one_hot.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``x / norm(x)`` along ``axis``, a normalized copy.

    A NumPy array (Keras's NumPy branch): the norm is ``np.linalg.norm(x, order, axis)``, a zero norm is taken
    as 1 (a zero row stays zero), and the norm is put back on ``axis`` (``axis=None``: Keras's ``-1``, after the
    norm over all of ``x``); the result has ``x``'s float dtype (float64 for integers) and, for a 1-D ``x``, shape
    ``(1, n)`` as in Keras. One deviation: Keras turns ``axis=0`` into ``-1`` (``axis or -1``), which fails or
    divides by the wrong norms; gradfit normalizes along axis 0.

    Anything else (a list, a number: Keras's tensor branch, ``keras.ops.normalize``): ``order`` must be an int
    >= 1; ``x`` becomes a tensor (float32 for Python floats and integers), order 2 gives
    ``x * min(1 / sqrt(sum x^2), 1 / epsilon)``, others ``x / max(norm, epsilon)``, with ``epsilon = 1e-7``, the
    norm kept on ``axis``; returned as a Tensor.
    """
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, -1 if axis is None else axis)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    values = convert_float(x)
    if values.ndim == 0:
        values = values[np.newaxis]
    axes = tuple(axis) if isinstance(axis, list) else axis
    with np.errstate(divide="ignore"):
        if order == 2:
            inverse_norm = 1.0 / np.sqrt(np.sum(np.square(values), axis=axes, keepdims=True))
            return wrap(values * np.minimum(inverse_norm, values.dtype.type(1.0 / _EPSILON)))
        norm = np.linalg.norm(values, ord=order, axis=axes, keepdims=True)
        return wrap(values / np.maximum(norm, values.dtype.type(_EPSILON)))


# ------------------------------------------------------------------------------------------------ split_dataset


def _split_sizes(left_size, right_size, total: int) -> tuple[int, int]:
    """``(left, right)`` example counts: Keras's ``_rescale_dataset_split_sizes`` (an int is a count in
    ``(0, total)``, a float a fraction in ``(0, 1)`` rounded half to even, None the complement)."""
    allowed = (int, float)  # exactly these types, as Keras: bool and NumPy scalars are refused
    left_type, right_type = type(left_size), type(right_size)
    if left_size is not None and left_type not in allowed and right_size is not None and right_type not in allowed:
        raise TypeError(
            "Invalid `left_size` and `right_size` Types. Expected: integer or float or None, Received: "
            f"type(left_size)={left_type} and type(right_size)={right_type}"
        )
    for size, size_type, side in ((left_size, left_type, "left"), (right_size, right_type, "right")):
        if size is not None and size_type not in allowed:
            raise TypeError(
                f"Invalid `{side}_size` Type. Expected: int or float or None, Received: type({side}_size)={size_type}."
            )
    if left_size == 0 and right_size == 0:
        raise ValueError(
            "Both `left_size` and `right_size` are zero. At least one of the split sizes must be non-zero."
        )
    for size, size_type, side in ((left_size, left_type, "left"), (right_size, right_type, "right")):
        if (size_type is int and not 0 < size < total) or (size_type is float and not 0 < size < 1):
            raise ValueError(
                f"`{side}_size` should be either a positive integer smaller than {total}, or a float within the "
                f"range `[0, 1]`. Received: {side}_size={size}"
            )
    if left_type is float and right_type is float and left_size + right_size > 1:
        raise ValueError(
            "The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal to 1."
        )
    left = round(left_size * total) if left_type is float else left_size
    right = round(right_size * total) if right_type is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: left_size + "
            f"right_size = {left + right} and total_length = {total}"
        )
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(
                f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}. Resulting {side} "
                "side dataset split will be empty. Adjust any of the aforementioned parameters."
            )
    return int(left), int(right)


def _example_count(dataset) -> int:
    """Examples in ``dataset`` (an array, or a list / tuple of arrays of one length), with Keras's checks."""
    if isinstance(dataset, np.ndarray):
        if dataset.ndim == 0:
            raise ValueError("split_dataset: `dataset` is a 0-d array (one number); give an array of examples.")
        total = len(dataset)
    else:
        kind = type(dataset).__name__
        if len(dataset) == 0:
            raise ValueError(f"Received an empty {kind} dataset. Please provide a non-empty {kind} of arrays.")
        for index, element in enumerate(dataset):
            if not isinstance(element, np.ndarray) or element.ndim == 0:
                raise ValueError(
                    f"Expected a {kind} of `numpy.ndarray` objects (one row per example), received "
                    f"{type(element)} at index {index}."
                )
            if len(element) != len(dataset[0]):
                raise ValueError(
                    f"Received a {kind} of NumPy arrays with different lengths. Mismatch found at index {index}, "
                    f"expected shape={dataset[0].shape}, received shape={element.shape}. Please provide a {kind} "
                    "of NumPy arrays of the same length."
                )
        total = len(dataset[0])
    if total == 0:
        raise ValueError(
            "Received an empty dataset. Argument `dataset` must be a non-empty list/tuple of `numpy.ndarray` "
            "objects or a non-empty array."
        )
    return total


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False, seed=None, preferred_backend=None):
    """The first ``left_size`` and the last ``right_size`` examples of ``dataset`` (shuffled first if asked).

    ``dataset``: a NumPy array, or a tuple / list of arrays of one length (e.g. ``(x, y)``). ``left_size`` /
    ``right_size``: an int (a number of examples), a float in ``(0, 1)`` (a fraction, rounded half to even), or
    None (the complement of the other; at least one must be given). ``shuffle``: shuffle the examples first, as
    Keras does: ``random.seed(seed)`` then ``random.shuffle`` (Python's global ``random``; ``seed=None`` draws
    one from it first), so a seed gives Keras's split.

    Returns ``(left, right)``: arrays for an array, tuples of arrays for a tuple or list (Keras returns
    ``tf.data.Dataset`` objects of single examples; gradfit has no datasets to return, and arrays feed ``fit``).
    """
    if not isinstance(dataset, (np.ndarray, list, tuple)):
        raise TypeError(
            f"Unsupported dataset type: {type(dataset)}. gradfit's split_dataset takes a NumPy array or a "
            "list/tuple of NumPy arrays (tf.data and torch datasets need their own libraries)."
        )
    if preferred_backend is not None:
        raise ValueError(
            f"split_dataset(preferred_backend={preferred_backend!r}): gradfit returns NumPy arrays only; leave "
            "preferred_backend=None."
        )
    if left_size is None and right_size is None:
        raise ValueError(
            "At least one of the `left_size` or `right_size` must be specified. Received: left_size=None and "
            "right_size=None"
        )
    total = _example_count(dataset)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)
        random.shuffle(order)  # the permutation depends on the length only: Keras's shuffle of the examples
    left, right = _split_sizes(left_size, right_size, total)
    left_rows, right_rows = np.asarray(order[:left]), np.asarray(order[-right:])
    if isinstance(dataset, np.ndarray):
        return dataset[left_rows], dataset[right_rows]
    return tuple(part[left_rows] for part in dataset), tuple(part[right_rows] for part in dataset)
